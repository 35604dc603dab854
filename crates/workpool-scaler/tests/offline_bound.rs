//! The offline bound with boot is a lower bound: no simulated run that does its work with p99 wait
//! within L costs less, whatever the policy, its settings, the model and the trace; and it is never
//! below the report's lower bound.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use workpool_scaler::simulate::{
    offline_bound_with_boot, BoundModel, Job, JobTimeDistribution, Simulation, Trace,
};
use workpool_scaler::{LatencyTarget, Policy, ScalingRules, Thresholds};

/// Arrivals over a few minutes: a background of single messages and bursts.
fn trace() -> impl Strategy<Value = Trace> {
    (
        proptest::collection::vec((0u64..900, 1u32..4), 0..40),
        proptest::collection::vec((0u64..900, 1u64..120, 1u32..12), 0..3),
    )
        .prop_map(|(singles, bursts)| {
            let mut per_second = std::collections::BTreeMap::new();
            for (second, count) in singles {
                *per_second.entry(second).or_insert(0) += count;
            }
            for (start, length, rate) in bursts {
                for second in start..start + length {
                    *per_second.entry(second).or_insert(0) += rate;
                }
            }
            Trace::from_pairs(per_second.into_iter().collect())
        })
}

#[derive(Debug, Clone)]
struct Case {
    trace: Trace,
    slots: u32,
    job: u64,
    fixed: bool,
    boot: u64,
    wait: u64,
    interval: u64,
    initial: u32,
    seed: u64,
    policy: Policy,
}

fn case() -> impl Strategy<Value = Case> {
    (
        trace(),
        (1u32..6, 1u64..60, any::<bool>(), 0u64..150, 0u64..240),
        (1u64..20, 0u32..3, any::<u64>()),
        (
            any::<bool>(),
            1.0f64..40.0,
            1u32..8,
            0u64..120,
            0u64..400,
            proptest::option::of(0u64..200),
        ),
    )
        .prop_map(
            |(
                trace,
                (slots, job, fixed, boot, wait),
                (interval, initial, seed),
                (latency, high, step, cooldown, window, idle),
            )| {
                let rules = ScalingRules::default()
                    .scale_in_stabilization(Duration::from_secs(window))
                    .release_idle_after(idle.map(Duration::from_secs));
                let policy = if latency {
                    Policy::latency_target(LatencyTarget::new(
                        slots,
                        Duration::from_secs(job),
                        Duration::from_secs(wait.max(1)),
                    ))
                } else {
                    Policy::thresholds(
                        Thresholds::new(high, high / 2.0)
                            .step(step)
                            .scale_out_cooldown(Duration::from_secs(cooldown)),
                    )
                }
                .with_rules(rules);
                Case {
                    trace,
                    slots,
                    job,
                    fixed,
                    boot,
                    wait,
                    interval,
                    initial,
                    seed,
                    policy,
                }
            },
        )
}

#[test]
fn no_run_meeting_the_slo_costs_less_than_the_offline_bound() {
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    let checked = std::cell::Cell::new(0u32);
    runner
        .run(&case(), |case| {
            let simulation = Simulation::new(case.policy.clone())
                .slots_per_instance(case.slots)
                .mean_job_time(Duration::from_secs(case.job))
                .distribution(if case.fixed {
                    JobTimeDistribution::Fixed
                } else {
                    JobTimeDistribution::Exponential
                })
                .boot_time(Duration::from_secs(case.boot))
                .interval(Duration::from_secs(case.interval))
                .initial_instances(case.initial)
                .seed(case.seed);
            let wait = Duration::from_secs(case.wait);
            let report = simulation.run(&case.trace).map_err(|e| {
                TestCaseError::fail(format!("the simulation refused the case: {e}"))
            })?;
            let bound = simulation.offline_bound(&case.trace, wait);
            prop_assert!(bound.instance_seconds >= report.lower_bound_instance_seconds);
            prop_assert_eq!(
                bound.work_instance_seconds,
                report.lower_bound_instance_seconds
            );
            // Drained: every job done and the group back at zero before the drain limit.
            let drained = report.simulated_seconds < case.trace.duration_secs() + 3600;
            if report.unfinished == 0 && drained && report.p99_wait <= wait {
                checked.set(checked.get() + 1);
                prop_assert!(
                    report.instance_seconds >= bound.instance_seconds,
                    "cost {} below the offline bound {} ({:?})\n{report}",
                    report.instance_seconds,
                    bound.instance_seconds,
                    bound.windows
                );
            }
            Ok(())
        })
        .expect("no run meeting the SLO below the bound");
    // Not vacuous: most runs meet the SLO they are checked against.
    assert!(checked.get() >= 100, "only {} runs checked", checked.get());
}

#[test]
fn the_jobs_are_the_runs_jobs() {
    let trace = Trace::from_pairs(vec![(0, 5), (3, 2), (40, 7)]);
    for seed in 1..=5 {
        let simulation = Simulation::new(Policy::latency_target(LatencyTarget::new(
            4,
            Duration::from_secs(30),
            Duration::from_secs(120),
        )))
        .seed(seed);
        let jobs = simulation.jobs(&trace);
        let report = simulation.run(&trace).expect("runs");
        assert_eq!(jobs.len() as u64, report.messages);
        let work: u64 = jobs.iter().map(|job| job.duration).sum();
        assert_eq!(work.div_ceil(4), report.lower_bound_instance_seconds);
        let arrivals: Vec<u64> = jobs.iter().map(|job| job.arrival).collect();
        assert_eq!(arrivals, [0, 0, 0, 0, 0, 3, 3, 40, 40, 40, 40, 40, 40, 40]);
    }
}

/// The cheapest run of a few jobs, by brute force over every start time each job may take
/// (`r … r + L`; with fewer than 100 jobs p99 ≤ L means every job) and every split of the jobs
/// among instances. An instance running a set of jobs costs at least B + (last end − first start):
/// launched B before its first job (not before second 0), released after its last; the set fits if
/// at most `slots` of its jobs run at once. `None` if no run meets the SLO.
fn cheapest(jobs: &[Job], slots: u64, boot: u64, wait: u64) -> Option<u64> {
    let n = jobs.len();
    let mut starts = vec![0u64; n];
    let mut best = None;
    loop {
        for (start, job) in starts.iter_mut().zip(jobs) {
            *start = (*start).max(job.arrival);
        }
        if let Some(cost) = cheapest_split(jobs, &starts, slots, boot) {
            best = Some(best.map_or(cost, |b: u64| b.min(cost)));
        }
        // The next start vector, in odometer order.
        let mut i = 0;
        loop {
            if i == n {
                return best;
            }
            if starts[i] < jobs[i].arrival + wait {
                starts[i] += 1;
                break;
            }
            starts[i] = jobs[i].arrival;
            i += 1;
        }
    }
}

fn cheapest_split(jobs: &[Job], starts: &[u64], slots: u64, boot: u64) -> Option<u64> {
    let n = jobs.len();
    let full = (1usize << n) - 1;
    let one = |set: usize| -> Option<u64> {
        let members: Vec<usize> = (0..n).filter(|i| set & (1 << i) != 0).collect();
        let first = members.iter().map(|&i| starts[i]).min()?;
        let last = members
            .iter()
            .map(|&i| starts[i] + jobs[i].duration)
            .max()?;
        if first < boot {
            return None;
        }
        for t in first..last {
            let running = members
                .iter()
                .filter(|&&i| starts[i] <= t && t < starts[i] + jobs[i].duration)
                .count() as u64;
            if running > slots {
                return None;
            }
        }
        Some(boot + last - first)
    };
    let mut best: Vec<Option<u64>> = vec![None; full + 1];
    best[0] = Some(0);
    for set in 1..=full {
        let lowest = set & set.wrapping_neg();
        let mut sub = set;
        while sub > 0 {
            if sub & lowest != 0 {
                if let (Some(cost), Some(rest)) = (one(sub), best[set & !sub]) {
                    let total = cost + rest;
                    if best[set].is_none_or(|b| total < b) {
                        best[set] = Some(total);
                    }
                }
            }
            sub = (sub - 1) & set;
        }
    }
    best[full]
}

proptest! {
    #![proptest_config(Config { cases: 300, ..Config::default() })]

    #[test]
    fn the_offline_bound_is_at_most_the_cheapest_run(
        raw in proptest::collection::vec((0u64..14, 1u64..7), 1..=5),
        slots in 1u32..=2,
        boot in 0u64..7,
        wait in 0u64..4,
    ) {
        let jobs: Vec<Job> = raw
            .iter()
            .map(|&(arrival, duration)| Job { arrival: arrival + boot, duration })
            .collect();
        let cheapest = cheapest(&jobs, u64::from(slots), boot, wait)
            .expect("every job can start on an instance launched at its arrival − B");
        for model in [
            BoundModel::new(slots, Duration::from_secs(boot), Duration::from_secs(wait)).grid(
                Duration::from_secs(1),
                Duration::from_secs(40),
                Duration::from_secs(40),
            ),
            BoundModel::new(slots, Duration::from_secs(boot), Duration::from_secs(wait)),
        ] {
            let bound = offline_bound_with_boot(&jobs, &model);
            prop_assert!(
                bound.instance_seconds <= cheapest,
                "bound {} above the cheapest run {} ({:?})",
                bound.instance_seconds,
                cheapest,
                bound.windows
            );
            prop_assert!(bound.instance_seconds >= bound.work_instance_seconds);
        }
    }
}
