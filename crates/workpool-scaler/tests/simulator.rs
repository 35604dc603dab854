//! The simulator on the standard traces: deterministic, drains the work, and the latency target holds
//! its wait; the B4 figures that are met stay met (BENCHMARKS.md, section B4).

use std::path::PathBuf;
use std::time::Duration;

use workpool_scaler::simulate::SimulationReport;
use workpool_scaler::simulate::{render_svg, JobTimeDistribution, Simulation, Trace};
use workpool_scaler::{LatencyTarget, Policy, ScalingRules, Thresholds};

fn trace(name: &str) -> Trace {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("traces")
        .join(format!("{name}.csv"));
    Trace::read(&path).expect("standard trace parses")
}

fn latency_simulation() -> Simulation {
    Simulation::new(Policy::latency_target(LatencyTarget::new(
        4,
        Duration::from_secs(30),
        Duration::from_secs(120),
    )))
}

/// B4's setup (examples/b4.rs): 4 slots, exponential 30 s jobs, L = 120 s, 60 s boot, 15 s
/// interval, idle instances released after the boot time.
fn b4(policy: Policy, window: u64) -> Simulation {
    let rules = ScalingRules::default()
        .scale_in_stabilization(Duration::from_secs(window))
        .release_idle_after(Some(Duration::from_secs(60)));
    Simulation::new(policy.with_rules(rules))
        .slots_per_instance(4)
        .mean_job_time(Duration::from_secs(30))
        .boot_time(Duration::from_secs(60))
        .interval(Duration::from_secs(15))
}

fn b4_latency_target() -> Simulation {
    b4_latency_target_with_window(300)
}

fn b4_latency_target_with_window(window: u64) -> Simulation {
    b4(
        Policy::latency_target(LatencyTarget::new(
            4,
            Duration::from_secs(30),
            Duration::from_secs(120),
        )),
        window,
    )
}

/// The thresholds setting B4 finds cheapest while meeting p99 ≤ L on all four traces.
fn b4_thresholds() -> Simulation {
    b4_thresholds_setting(16.0, 8, 15, 300)
}

/// A setting of B4's thresholds grid: `high` (low = high/2), `step`, scale-out cooldown in seconds,
/// stabilization window in seconds.
fn b4_thresholds_setting(high: f64, step: u32, out_cooldown: u64, window: u64) -> Simulation {
    b4(
        Policy::thresholds(
            Thresholds::new(high, high / 2.0)
                .step(step)
                .scale_out_cooldown(Duration::from_secs(out_cooldown)),
        ),
        window,
    )
}

/// The lower bound plus the run's booting time, in instance-seconds.
fn reactive_bound(report: &SimulationReport) -> f64 {
    (report.lower_bound_instance_seconds + report.booting_instance_seconds) as f64
}

#[test]
fn b4_what_is_met_stays_met() {
    let acceptable = Duration::from_secs(120);
    for name in ["steady", "spike", "diurnal", "idle-burst"] {
        let trace = trace(name);
        let latency = b4_latency_target().run(&trace).expect("runs");
        let thresholds = b4_thresholds().run(&trace).expect("runs");
        assert_eq!(latency.unfinished, 0, "{name}");
        assert!(
            latency.p99_wait <= acceptable,
            "{name}: p99 wait {:?}",
            latency.p99_wait
        );
        // Fewer instance-minutes than the thresholds policy at equal SLO.
        assert!(thresholds.p99_wait <= acceptable, "{name}: {thresholds}");
        assert!(
            latency.instance_seconds < thresholds.instance_seconds,
            "{name}: latency target\n{latency}\nthresholds\n{thresholds}"
        );
        let ratio = latency.cost_ratio();
        let to_reactive = latency.instance_seconds as f64 / reactive_bound(&latency);
        let offline = b4_latency_target().offline_bound(&trace, acceptable);
        let to_offline = latency.instance_seconds as f64 / offline.instance_seconds as f64;
        match name {
            // Met: at most 1.15 × the lower bound, the lower bound plus booting and the offline
            // bound with boot.
            "steady" | "spike" | "diurnal" => {
                assert!(ratio <= 1.15, "{name}: ratio {ratio:.3}");
                assert!(to_reactive <= 1.15, "{name}: {to_reactive:.3}");
                assert!(to_offline <= 1.15, "{name}: {to_offline:.3}");
            }
            // Missed against the lower bound and the offline bound (booting alone is over 0.2 × the
            // lower bound), met against the reactive bound; kept from getting worse than B4
            // records (1.359, 1.129 and 1.222).
            _ => {
                assert!(ratio <= 1.37, "{name}: ratio {ratio:.3}");
                assert!(to_reactive <= 1.15, "{name}: {to_reactive:.3}");
                assert!(to_offline <= 1.235, "{name}: {to_offline:.3}");
            }
        }
    }
}

/// A shorter controller interval sees the end of a burst over more, smaller readings: the window
/// still forgets the burst, so idle→burst at 5 s costs about what it costs at B4's 15 s (before
/// drops were judged over a run of readings, 879 against 814 instance-minutes; now 804 against
/// 808), with the same p99 ≤ L.
#[test]
fn at_a_5_s_interval_the_window_still_forgets_a_burst_that_ended() {
    let trace = trace("idle-burst");
    let at_15 = b4_latency_target().run(&trace).expect("runs");
    let at_5 = b4_latency_target()
        .interval(Duration::from_secs(5))
        .run(&trace)
        .expect("runs");
    assert!(at_5.p99_wait <= Duration::from_secs(120), "{at_5}");
    let ratio = at_5.instance_seconds as f64 / at_15.instance_seconds as f64;
    assert!(
        ratio <= 1.05,
        "5 s against 15 s: {ratio:.3}\n{at_5}\n{at_15}"
    );
}

/// On diurnal, the trace where a thresholds setting comes closest, the latency target is cheaper
/// than the settings B4 picks with hindsight for that trace alone, at each window of its grid
/// (both policies at the same common rules; the window-60 s setting runs the queue hotter).
#[test]
fn on_diurnal_the_latency_target_is_cheaper_than_the_hindsight_thresholds_at_the_same_window() {
    let trace = trace("diurnal");
    let acceptable = Duration::from_secs(120);
    for (window, hindsight) in [
        (300, b4_thresholds_setting(16.0, 4, 15, 300)),
        (60, b4_thresholds_setting(6.0, 2, 60, 60)),
    ] {
        let latency = b4_latency_target_with_window(window)
            .run(&trace)
            .expect("runs");
        let hindsight = hindsight.run(&trace).expect("runs");
        assert!(latency.p99_wait <= acceptable, "window {window}: {latency}");
        assert!(
            hindsight.p99_wait <= acceptable,
            "window {window}: {hindsight}"
        );
        assert!(
            latency.instance_seconds < hindsight.instance_seconds,
            "window {window}: latency target\n{latency}\nthresholds\n{hindsight}"
        );
    }
}

/// The offline bound with boot holds for every policy meeting the SLO: on the standard traces it is
/// at least the lower bound and at most what both B4 policies pay when they meet it, in every seed
/// B4 reports.
#[test]
fn the_offline_bound_is_below_every_b4_run() {
    let acceptable = Duration::from_secs(120);
    let mut checked = 0;
    for name in ["steady", "spike", "diurnal", "idle-burst"] {
        let trace = trace(name);
        for seed in 1..=5 {
            let bound = b4_latency_target()
                .seed(seed)
                .offline_bound(&trace, acceptable);
            for (policy, simulation) in [
                ("latency target", b4_latency_target()),
                ("thresholds", b4_thresholds()),
            ] {
                let report = simulation.seed(seed).run(&trace).expect("runs");
                assert_eq!(report.unfinished, 0);
                // The bound is for runs meeting the SLO; the thresholds setting was picked on
                // seed 1 and misses it in some other seeds.
                if report.p99_wait > acceptable {
                    assert_eq!(policy, "thresholds", "{name}, seed {seed}");
                    continue;
                }
                checked += 1;
                assert_eq!(
                    bound.work_instance_seconds,
                    report.lower_bound_instance_seconds
                );
                assert!(bound.instance_seconds >= report.lower_bound_instance_seconds);
                assert!(
                    bound.instance_seconds <= report.instance_seconds,
                    "{name}, seed {seed}: bound {} above the run's cost\n{report}",
                    bound.instance_seconds
                );
            }
            // It counts boot where a run must boot from zero: more than the work alone.
            assert!(bound.instance_seconds > bound.work_instance_seconds);
        }
    }
    assert!(checked >= 30, "{checked} runs checked");
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let steady = trace("steady");
    let first = latency_simulation().run(&steady).expect("runs");
    let second = latency_simulation().run(&steady).expect("runs");
    assert_eq!(first, second);
    let other_seed = latency_simulation().seed(7).run(&steady).expect("runs");
    assert_ne!(
        first.lower_bound_instance_seconds,
        other_seed.lower_bound_instance_seconds
    );
}

#[test]
fn every_message_is_handled_and_the_group_returns_to_zero() {
    let spike = trace("spike");
    let report = latency_simulation().run(&spike).expect("runs");
    assert_eq!(report.messages, spike.total_arrivals());
    assert_eq!(report.unfinished, 0);
    let last = report.samples.last().expect("samples");
    assert_eq!(last.desired, 0, "scaled back to zero after the work");
    assert!(report.instance_seconds >= report.lower_bound_instance_seconds);
    assert!(report.scale_outs > 0 && report.scale_ins > 0);
}

#[test]
fn the_latency_target_keeps_p99_wait_within_the_acceptable_wait() {
    for name in ["steady", "spike", "diurnal", "idle-burst"] {
        let report = latency_simulation().run(&trace(name)).expect("runs");
        assert!(
            report.p99_wait <= Duration::from_secs(120),
            "{name}: p99 wait {:?}",
            report.p99_wait
        );
    }
}

#[test]
fn a_fixed_job_time_costs_exactly_its_work_in_the_lower_bound() {
    let trace = Trace::from_pairs(vec![(0, 8), (10, 8)]);
    let report = latency_simulation()
        .distribution(JobTimeDistribution::Fixed)
        .run(&trace)
        .expect("runs");
    // 16 jobs of 30 s on 4 slots: 120 instance-seconds at best.
    assert_eq!(report.lower_bound_instance_seconds, 120);
    assert_eq!(report.messages, 16);
}

/// What a run bills splits exactly into booting, the work, free slots beside running jobs, and
/// instances with none running.
fn assert_the_bill_adds_up(name: &str, report: &SimulationReport) {
    let slots = u64::from(report.slots_per_instance);
    let in_service_slot_seconds =
        (report.instance_seconds - report.booting_instance_seconds) * slots;
    let working = in_service_slot_seconds
        - report.free_slot_seconds_beside_jobs
        - report.idle_instance_seconds * slots;
    assert_eq!(
        working.div_ceil(slots),
        report.lower_bound_instance_seconds,
        "{name}: slot-seconds running jobs against the work"
    );
}

#[test]
fn the_bill_splits_into_booting_work_free_slots_and_idle_instances() {
    // One 30 s job: a 60 s boot, then 3 of the 4 slots free while it runs.
    let report = latency_simulation()
        .distribution(JobTimeDistribution::Fixed)
        .run(&Trace::from_pairs(vec![(0, 1)]))
        .expect("runs");
    assert_eq!(report.booting_instance_seconds, 60);
    assert_eq!(report.free_slot_seconds_beside_jobs, 3 * 30);
    assert!(
        report.idle_instance_seconds > 0,
        "kept through the quiet cooldown"
    );
    assert_the_bill_adds_up("one job", &report);
    let text = report.to_string();
    assert!(
        text.contains(" in free slots beside running jobs, ")
            && text.contains(" with none running"),
        "{text}"
    );
    for name in ["steady", "spike", "diurnal", "idle-burst"] {
        let report = b4_latency_target().run(&trace(name)).expect("runs");
        assert!(report.free_slot_seconds_beside_jobs > 0, "{name}");
        assert_the_bill_adds_up(name, &report);
    }
}

#[test]
fn a_starved_group_reports_unfinished_work() {
    let trace = Trace::from_pairs(vec![(0, 100)]);
    let report = Simulation::new(Policy::thresholds(Thresholds::new(5.0, 1.0)))
        .bounds(0, 1)
        .drain_limit(Duration::from_secs(60))
        .run(&trace)
        .expect("runs");
    assert!(report.unfinished > 0);
    assert!(report.max_wait >= Duration::from_secs(60));
}

#[test]
fn an_invalid_policy_is_refused() {
    let policy = Policy::latency_target(LatencyTarget::new(
        0,
        Duration::ZERO,
        Duration::from_secs(1),
    ));
    let error = Simulation::new(policy)
        .run(&Trace::from_pairs(vec![]))
        .expect_err("invalid");
    assert_eq!(
        error.to_string(),
        "invalid policy: slots_per_instance: must be at least 1; mean_job_time: must be more than zero"
    );
}

#[test]
fn more_instances_at_the_start_than_the_group_s_max_are_refused() {
    let simulation = Simulation::new(Policy::latency_target(LatencyTarget::new(
        4,
        Duration::from_secs(30),
        Duration::from_secs(120),
    )))
    .bounds(0, 10);
    let trace = Trace::from_pairs(vec![(0, 1)]);
    let error = simulation
        .clone()
        .initial_instances(11)
        .run(&trace)
        .expect_err("refused");
    assert_eq!(
        error.to_string(),
        "invalid simulation setting `initial_instances`: must not be above max"
    );
    assert!(simulation.initial_instances(10).run(&trace).is_ok());
}

#[test]
fn the_chart_covers_the_run() {
    let report = latency_simulation().run(&trace("spike")).expect("runs");
    let svg = render_svg(&report, "spike");
    assert_eq!(svg.matches("<polyline").count(), 4);
}

/// Idle→burst's 1.15 × the lower bound is out of reach of the best fixed-fleet reaction to its
/// bursts (BENCHMARKS.md, B4), a schedule more generous than any policy that reacts to the queue:
/// it costs over 1.2 × in every seed, meets the SLO, and stays above the offline bound (which
/// holds for every run meeting the SLO; this cross-checks both).
#[test]
fn the_best_fixed_fleet_reaction_to_idle_burst_is_over_1_2_times_the_lower_bound() {
    let trace = trace("idle-burst");
    for seed in 1..=5 {
        let simulation = b4_latency_target().seed(seed);
        let fleet = simulation
            .best_fixed_fleet(&trace, Duration::from_secs(120), Duration::from_secs(600))
            .expect("some fleet meets");
        let bound = simulation.offline_bound(&trace, Duration::from_secs(120));
        assert!(fleet.p99_wait <= 120, "seed {seed}: {fleet:?}");
        let ratio = fleet.instance_seconds as f64 / bound.work_instance_seconds as f64;
        assert!(ratio > 1.2, "seed {seed}: {ratio:.3} ({fleet:?})");
        assert!(
            fleet.instance_seconds >= bound.instance_seconds,
            "seed {seed}: {fleet:?} under the offline bound {}",
            bound.instance_seconds
        );
        // About what a fluid count gives: 2,400 jobs of 30 s to start on 4 slots an instance
        // between the first boot (60 s in) and the last deadline (L after the burst's end).
        assert!(
            (40..=60).contains(&fleet.instances),
            "seed {seed}: {fleet:?}"
        );
    }
}

/// What the latency target pays on idle→burst against the least a reacting policy pays on average
/// (the expected burst bound): within 1.15 × on average over job-time seeds 1–5, as B4 records
/// (1.129 on average; 1.106–1.142 run by run).
#[test]
fn on_idle_burst_the_latency_target_is_within_1_15_times_the_expected_burst_bound() {
    let trace = trace("idle-burst");
    let (wait, gap) = (Duration::from_secs(120), Duration::from_secs(600));
    let bound = b4_latency_target().expected_burst_bound(&trace, wait, gap);
    let costs: Vec<f64> = (1..=5)
        .map(|seed| {
            let run = b4_latency_target().seed(seed).run(&trace).expect("runs");
            assert!(run.p99_wait <= wait, "seed {seed}: {run}");
            run.instance_seconds as f64
        })
        .collect();
    let mean = costs.iter().sum::<f64>() / costs.len() as f64;
    let ratio = mean / bound.instance_seconds();
    assert!(ratio <= 1.15, "on average {ratio:.3} × {bound:?}");
}

#[test]
fn on_idle_burst_no_reacting_policy_meets_1_15_times_the_work_on_average() {
    // The expected burst bound: each burst's 2,400 messages must start between the first boot and
    // L after the burst's end, which takes about 46 instances at once, each billed a minute of boot
    // and 22.5 s of idle slots while its last jobs end: 1.21 × the expected work.
    let trace = trace("idle-burst");
    let (wait, gap) = (Duration::from_secs(120), Duration::from_secs(600));
    let bound = b4_latency_target().expected_burst_bound(&trace, wait, gap);
    assert!((1.20..1.22).contains(&bound.ratio_to_work()), "{bound:?}");
    for instances in &bound.burst_instances {
        assert!((45.0..48.0).contains(instances), "{bound:?}");
    }
    let instances: f64 = bound.burst_instances.iter().sum();
    assert!((bound.drain_instance_seconds - 22.5 * instances).abs() < 1e-9);
    // Both reactions cost more than it in every seed (it holds on average; these are well over).
    for seed in 1..=5 {
        let simulation = b4_latency_target().seed(seed);
        let latency = simulation.run(&trace).expect("runs");
        let fleet = simulation
            .best_fixed_fleet(&trace, wait, gap)
            .expect("meets");
        let bound = simulation.expected_burst_bound(&trace, wait, gap);
        assert!(
            latency.instance_seconds as f64 > bound.instance_seconds(),
            "seed {seed}"
        );
        assert!(
            fleet.instance_seconds as f64 > bound.instance_seconds(),
            "seed {seed}"
        );
    }
}
