//! B4: the controller on the standard traces in the simulator.
//!
//! For each trace, runs the latency-target policy with its defaults, and the thresholds policy over
//! a grid of settings at the same common rules: the cheapest setting meeting the same SLO (p99 wait
//! ≤ L) on that trace alone (picked with hindsight), and the cheapest single setting meeting it on
//! all four traces. Then both again at the grid's shorter stabilization window. Prints a
//! Markdown table with the lower bound, the reactive bound (the lower bound plus the run's
//! booting time) and the offline bound with boot (a lower bound for every policy meeting the SLO,
//! clairvoyant ones included: `offline_bound_with_boot`), the verdicts, checks that no run of the
//! grid meeting the SLO costs less than the offline bound, compares the latency target over
//! job-time seeds 1–5 with the expected burst bound (the least a policy reacting to the queue pays
//! on average: `expected_burst_bound`) and on idle→burst with the best fixed-fleet reaction, and
//! writes the spike trace's charts under `crates/workpool-scaler/docs/`.
//!
//! ```text
//! cargo run --release -p workpool-scaler --example b4
//! ```

use std::path::PathBuf;
use std::time::Duration;

use workpool_scaler::simulate::{render_svg, OfflineBound, Simulation, SimulationReport, Trace};
use workpool_scaler::{LatencyTarget, Policy, ScalingRules, Thresholds};

const SLOTS: u32 = 4;
const JOB: Duration = Duration::from_secs(30);
const ACCEPTABLE_WAIT: Duration = Duration::from_secs(120);
const BOOT: Duration = Duration::from_secs(60);
const TRACES: [&str; 4] = ["steady", "spike", "diurnal", "idle-burst"];
/// The issue's target: instance-minutes at most this many times the lower bound.
const TARGET_RATIO: f64 = 1.15;

fn simulation(policy: Policy) -> Simulation {
    Simulation::new(policy)
        .slots_per_instance(SLOTS)
        .mean_job_time(JOB)
        .boot_time(BOOT)
        .interval(Duration::from_secs(15))
}

/// The common rules of every run: the defaults, with idle instances released after the model's
/// boot time (the rent-or-buy point) instead of the default 120 s.
fn rules(window: Duration) -> ScalingRules {
    ScalingRules::default()
        .scale_in_stabilization(window)
        .release_idle_after(Some(BOOT))
}

/// The stabilization window of the common rules' defaults, which the headline rows compare at.
const DEFAULT_WINDOW: u64 = 300;
/// The shorter window of the grid, at which the policies are compared again.
const SHORT_WINDOW: u64 = 60;

fn latency_policy() -> Policy {
    latency_policy_with_window(DEFAULT_WINDOW)
}

fn latency_policy_with_window(window: u64) -> Policy {
    Policy::latency_target(LatencyTarget::new(SLOTS, JOB, ACCEPTABLE_WAIT))
        .with_rules(rules(Duration::from_secs(window)))
}

/// One thresholds setting of the grid.
#[derive(Debug, Clone, Copy)]
struct Setting {
    high: f64,
    step: u32,
    out_cooldown: u64,
    window: u64,
}

impl Setting {
    fn policy(self) -> Policy {
        Policy::thresholds(
            Thresholds::new(self.high, self.high / 2.0)
                .step(self.step)
                .scale_out_cooldown(Duration::from_secs(self.out_cooldown)),
        )
        .with_rules(rules(Duration::from_secs(self.window)))
    }

    fn label(self) -> String {
        format!(
            "high {}, low {}, step {}, out cooldown {} s, window {} s",
            self.high,
            self.high / 2.0,
            self.step,
            self.out_cooldown,
            self.window
        )
    }
}

/// 176 settings: high 2…64 (low = high/2), step 1…8, scale-out cooldown 15/60 s, window 300/60 s.
fn grid() -> Vec<Setting> {
    let mut settings = Vec::new();
    for high in [2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0] {
        for step in [1, 2, 4, 8] {
            for out_cooldown in [15, 60] {
                for window in [DEFAULT_WINDOW, SHORT_WINDOW] {
                    settings.push(Setting {
                        high,
                        step,
                        out_cooldown,
                        window,
                    });
                }
            }
        }
    }
    settings
}

fn meets_slo(report: &SimulationReport) -> bool {
    report.p99_wait <= ACCEPTABLE_WAIT
}

/// Whether a run meeting the SLO costs less than the offline bound: the bound would be wrong.
fn undercuts(report: &SimulationReport, bound: &OfflineBound) -> bool {
    meets_slo(report) && report.instance_seconds < bound.instance_seconds
}

/// The lower bound plus the instance-minutes this run spent booting: what perfect packing would cost
/// with the launches this run made. A reactive policy must launch capacity before it can use it.
fn reactive_bound_minutes(report: &SimulationReport) -> f64 {
    report.lower_bound_minutes() + report.booting_minutes()
}

/// The offline bound with boot of `trace` with this seed's job times: no run meeting p99 ≤ L costs
/// less, whatever its policy.
fn offline_bound(trace: &Trace, seed: u64) -> OfflineBound {
    simulation(latency_policy())
        .seed(seed)
        .offline_bound(trace, ACCEPTABLE_WAIT)
}

fn offline_ratio(report: &SimulationReport, bound: &OfflineBound) -> f64 {
    report.instance_seconds as f64 / bound.instance_seconds as f64
}

fn row(trace: &str, policy: &str, report: &SimulationReport, bound: &OfflineBound) -> String {
    format!(
        "| {trace} | {policy} | {} | {} | {:.0} | {:.0} | {:.3} | {:.0} | {:.0} | {:.3} | {:.0} | {:.3} | {} | {} |",
        report.p50_wait.as_secs(),
        report.p99_wait.as_secs(),
        report.instance_minutes(),
        report.lower_bound_minutes(),
        report.cost_ratio(),
        report.booting_minutes(),
        reactive_bound_minutes(report),
        report.instance_minutes() / reactive_bound_minutes(report),
        bound.minutes(),
        offline_ratio(report, bound),
        report.scale_outs + report.scale_ins,
        if meets_slo(report) { "yes" } else { "no" },
    )
}

fn yes(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "NO"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let traces = TRACES
        .iter()
        .map(|name| Trace::read(&root.join("traces").join(format!("{name}.csv"))))
        .collect::<Result<Vec<_>, _>>()?;
    let grid = grid();
    // runs[setting][trace]
    let mut runs = Vec::with_capacity(grid.len());
    for setting in &grid {
        let reports = traces
            .iter()
            .map(|trace| simulation(setting.policy()).run(trace))
            .collect::<Result<Vec<_>, _>>()?;
        runs.push(reports);
    }
    let bounds: Vec<OfflineBound> = traces.iter().map(|trace| offline_bound(trace, 1)).collect();
    // The bound is a bound: no run meeting the SLO costs less, whatever its settings.
    let mut checked = 0;
    for reports in &runs {
        for ((name, report), bound) in TRACES.iter().zip(reports).zip(&bounds) {
            if meets_slo(report) && report.unfinished == 0 {
                checked += 1;
                if undercuts(report, bound) {
                    return Err(format!(
                        "{name}: a run meeting the SLO costs {} instance-seconds, below the offline bound with boot {}:\n{report}",
                        report.instance_seconds, bound.instance_seconds
                    )
                    .into());
                }
            }
        }
    }
    // The headline rows compare policies at the same common rules: the thresholds settings are
    // picked among those with the latency target's window.
    let single = (0..grid.len())
        .filter(|&s| grid[s].window == DEFAULT_WINDOW && runs[s].iter().all(meets_slo))
        .min_by_key(|&s| runs[s].iter().map(|r| r.instance_seconds).sum::<u64>());

    println!(
        "slots per instance {SLOTS}, exponential jobs of mean {} s, L = {} s, boot {} s, interval 15 s, seed 1\n",
        JOB.as_secs(),
        ACCEPTABLE_WAIT.as_secs(),
        BOOT.as_secs()
    );
    println!("| trace | policy | p50 wait s | p99 wait s | instance-min | lower bound | ratio | booting min | reactive bound | ratio to reactive | offline bound with boot | ratio to it | actions | p99 ≤ L |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut verdicts = Vec::new();
    let mut offline_verdicts = Vec::new();
    for (index, (name, trace)) in TRACES.iter().zip(&traces).enumerate() {
        let bound = &bounds[index];
        let latency = simulation(latency_policy()).run(trace)?;
        if undercuts(&latency, bound) {
            return Err(
                format!("{name}: the latency target costs less than the offline bound").into(),
            );
        }
        println!(
            "{}",
            row(name, "latency target (defaults)", &latency, bound)
        );
        let best = cheapest_meeting_slo(&grid, &runs, index, DEFAULT_WINDOW);
        let best_label = best.map(|s| grid[s].label());
        if let Some(s) = best {
            println!(
                "{}",
                row(
                    name,
                    &format!("thresholds, best for this trace: {}", grid[s].label()),
                    &runs[s][index],
                    bound
                )
            );
        }
        if let Some(s) = single {
            println!(
                "{}",
                row(
                    name,
                    &format!("thresholds, best for all traces: {}", grid[s].label()),
                    &runs[s][index],
                    bound
                )
            );
        }
        let cheaper = |s: Option<usize>| {
            s.map_or("no thresholds setting meets the SLO", |s| {
                yes(latency.instance_seconds < runs[s][index].instance_seconds)
            })
        };
        verdicts.push(format!(
            "- {name}: p99 ≤ L {}; ratio ≤ {TARGET_RATIO} {} ({:.3}); ratio to the reactive bound ≤ {TARGET_RATIO} {} ({:.3}); fewer instance-minutes than the thresholds best for this trace {}, than the thresholds best for all traces {}",
            yes(meets_slo(&latency)),
            yes(latency.cost_ratio() <= TARGET_RATIO),
            latency.cost_ratio(),
            yes(latency.instance_minutes() <= TARGET_RATIO * reactive_bound_minutes(&latency)),
            latency.instance_minutes() / reactive_bound_minutes(&latency),
            cheaper(best),
            cheaper(single),
        ));
        let windows: Vec<String> = bound
            .windows
            .iter()
            .map(|w| format!("{}–{} s needs {}", w.start, w.end, w.instances))
            .collect();
        offline_verdicts.push(format!(
            "- {name}: ratio to the offline bound with boot ≤ {TARGET_RATIO} {} ({:.3}; bound {:.0} = lower bound {:.0} + {:.0} of boot; windows: {})",
            yes(offline_ratio(&latency, bound) <= TARGET_RATIO),
            offline_ratio(&latency, bound),
            bound.minutes(),
            bound.work_instance_seconds as f64 / 60.0,
            bound.boot_instance_seconds() as f64 / 60.0,
            windows.join(", "),
        ));
        if *name == "spike" {
            let docs = root.join("docs");
            std::fs::create_dir_all(&docs)?;
            std::fs::write(
                docs.join("spike-latency-target.svg"),
                render_svg(&latency, "spike trace, latency-target policy (defaults)"),
            )?;
            if let (Some(s), Some(label)) = (best, best_label) {
                std::fs::write(
                    docs.join("spike-thresholds.svg"),
                    render_svg(
                        &runs[s][index],
                        &format!("spike trace, thresholds best for this trace: {label}"),
                    ),
                )?;
            }
        }
    }
    println!();
    for verdict in verdicts {
        println!("{verdict}");
    }
    println!("\nAgainst the offline bound with boot (valid for every policy meeting p99 ≤ L, clairvoyant ones included; {checked} runs of the grid meet the SLO on a trace, none costs less than its bound):\n");
    for verdict in offline_verdicts {
        println!("{verdict}");
    }
    // The latency target with each job-time seed, run once for the three comparisons below.
    let seed_runs = latency_seed_runs(&traces)?;
    burst_bound_verdicts(&traces, &seed_runs);
    same_rules_table(&traces, &grid, &runs)?;
    seeds_table(&traces, &seed_runs, single.map(|s| grid[s]))?;
    let idle_burst = TRACES
        .iter()
        .position(|name| *name == "idle-burst")
        .ok_or("idle-burst is not among the traces")?;
    fixed_fleet_table(&traces[idle_burst], &seed_runs[idle_burst])?;
    Ok(())
}

/// The job-time seeds the verdicts are checked over.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=5;

/// The latency target's run of each trace with each of [`SEEDS`]: `[trace][seed - 1]`.
fn latency_seed_runs(
    traces: &[Trace],
) -> Result<Vec<Vec<SimulationReport>>, Box<dyn std::error::Error>> {
    let mut runs = Vec::with_capacity(traces.len());
    for trace in traces {
        let mut by_seed = Vec::new();
        for seed in SEEDS {
            by_seed.push(simulation(latency_policy()).seed(seed).run(trace)?);
        }
        runs.push(by_seed);
    }
    Ok(runs)
}

/// The grid setting with stabilization window `window` that costs least on trace `index` and
/// meets the SLO there.
fn cheapest_meeting_slo(
    grid: &[Setting],
    runs: &[Vec<SimulationReport>],
    index: usize,
    window: u64,
) -> Option<usize> {
    (0..grid.len())
        .filter(|&s| grid[s].window == window && meets_slo(&runs[s][index]))
        .min_by_key(|&s| runs[s][index].instance_seconds)
}

/// Both policies at the same common rules, for each window of the grid: the latency target with
/// that window against the thresholds setting with that window cheapest on the trace (hindsight).
fn same_rules_table(
    traces: &[Trace],
    grid: &[Setting],
    runs: &[Vec<SimulationReport>],
) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "\nAt the same common rules, per stabilization window: the latency target with that window against the thresholds setting cheapest on the trace with that window (picked with hindsight, p99 ≤ L)\n"
    );
    println!("| trace | window s | latency target instance-min | its p99 s | thresholds best with that window | its instance-min | its p99 s | latency target cheaper |");
    println!("|---|---|---|---|---|---|---|---|");
    for (index, (name, trace)) in TRACES.iter().zip(traces).enumerate() {
        for window in [DEFAULT_WINDOW, SHORT_WINDOW] {
            let latency = simulation(latency_policy_with_window(window)).run(trace)?;
            let Some(s) = cheapest_meeting_slo(grid, runs, index, window) else {
                println!(
                    "| {name} | {window} | {:.0} | {} | no setting meets the SLO | | | |",
                    latency.instance_minutes(),
                    latency.p99_wait.as_secs()
                );
                continue;
            };
            let thresholds = &runs[s][index];
            println!(
                "| {name} | {window} | {:.0} | {} | {} | {:.0} | {} | {} |",
                latency.instance_minutes(),
                latency.p99_wait.as_secs(),
                grid[s].label(),
                thresholds.instance_minutes(),
                thresholds.p99_wait.as_secs(),
                yes(meets_slo(&latency) && latency.instance_seconds < thresholds.instance_seconds),
            );
        }
    }
    Ok(())
}

/// The expected burst bound of each trace (`expected_burst_bound`): what a policy that has nothing
/// in service as a burst begins pays at the least on average over job times, whether 1.15 × the
/// expected work is within its reach, and what the latency target pays against it on average over
/// job-time seeds 1–5 (the bound holds on average, not run by run).
fn burst_bound_verdicts(traces: &[Trace], seed_runs: &[Vec<SimulationReport>]) {
    println!("\nAgainst the expected burst bound (policies that react to the queue: nothing in service as a burst begins, job times unknown until they end, no running job stopped; on average over job times; bursts follow 10 minutes without arrivals):\n");
    for ((name, trace), runs) in TRACES.iter().zip(traces).zip(seed_runs) {
        let bound =
            simulation(latency_policy()).expected_burst_bound(trace, ACCEPTABLE_WAIT, BOOT * 10);
        let needs: Vec<String> = bound
            .burst_instances
            .iter()
            .map(|p| format!("{p:.1}"))
            .collect();
        let costs: Vec<f64> = runs.iter().map(|run| run.instance_seconds as f64).collect();
        let mean = costs.iter().sum::<f64>() / costs.len() as f64;
        let ratio = mean / bound.instance_seconds();
        println!(
            "- {name}: bound {:.0} = expected work {:.0} + boot {:.1} and last-job drain {:.1} of {} instances; over the expected work {:.3}, so ≤ {TARGET_RATIO} × the work is {} on average; the latency target, seeds 1–5: {:.0} on average, {ratio:.3} × the bound (≤ {TARGET_RATIO} {})",
            bound.minutes(),
            bound.work_instance_seconds / 60.0,
            bound.boot_instance_seconds / 60.0,
            bound.drain_instance_seconds / 60.0,
            needs.join(" + "),
            bound.ratio_to_work(),
            if bound.ratio_to_work() <= TARGET_RATIO { "within reach" } else { "out of reach" },
            mean / 60.0,
            yes(ratio <= TARGET_RATIO),
        );
    }
}

/// The best fixed-fleet reaction to idle→burst's bursts (`best_fixed_fleet`): what a policy that
/// reacts to the queue could pay at best, were it told each burst's size at its first message,
/// against what the latency target pays, seeds 1–5.
fn fixed_fleet_table(
    trace: &Trace,
    latency_runs: &[SimulationReport],
) -> Result<(), Box<dyn std::error::Error>> {
    // A burst follows ten minutes without arrivals: there keeping an instance costs ten boots.
    let quiet_gap = BOOT * 10;
    println!(
        "\nidle-burst against the best fixed-fleet reaction (P instances launched at the first message of each burst, released the second they are idle once the burst is over; the cheapest P meeting p99 ≤ L):\n"
    );
    println!("| seed | P | fixed fleet instance-min | its ratio to the lower bound | its p99 s | latency target instance-min | latency target / fixed fleet |");
    println!("|---|---|---|---|---|---|---|");
    for (seed, latency) in SEEDS.zip(latency_runs) {
        let fleet = simulation(latency_policy())
            .seed(seed)
            .best_fixed_fleet(trace, ACCEPTABLE_WAIT, quiet_gap)
            .ok_or("no fixed fleet meets the SLO on idle-burst")?;
        println!(
            "| {seed} | {} | {:.0} | {:.3} | {} | {:.0} | {:.3} |",
            fleet.instances,
            fleet.minutes(),
            fleet.minutes() / latency.lower_bound_minutes(),
            fleet.p99_wait,
            latency.instance_minutes(),
            latency.instance_minutes() / fleet.minutes(),
        );
    }
    Ok(())
}

/// The same runs with other job-time seeds: how much the verdicts owe to seed 1.
fn seeds_table(
    traces: &[Trace],
    seed_runs: &[Vec<SimulationReport>],
    single: Option<Setting>,
) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "\nJob-time seeds {}–{}: latency target ratio (min–max), ratio to the reactive bound (min–max), ratio to the offline bound with boot (min–max), p99 max, in how many seeds it uses fewer instance-minutes than the thresholds best for all traces, and in how many seeds that setting meets p99 ≤ L itself (the comparison is at equal SLO only in those)\n",
        SEEDS.start(),
        SEEDS.end()
    );
    println!("| trace | ratio | ratio to reactive | ratio to offline bound with boot | p99 max s | cheaper than thresholds | thresholds p99 ≤ L |");
    println!("|---|---|---|---|---|---|---|");
    for ((name, trace), latency_runs) in TRACES.iter().zip(traces).zip(seed_runs) {
        let mut ratios = Vec::new();
        let mut reactive = Vec::new();
        let mut offline = Vec::new();
        let mut p99 = Duration::ZERO;
        let mut cheaper = 0;
        let mut thresholds_met = 0;
        for (seed, latency) in SEEDS.zip(latency_runs) {
            ratios.push(latency.cost_ratio());
            reactive.push(latency.instance_minutes() / reactive_bound_minutes(latency));
            let bound = offline_bound(trace, seed);
            offline.push(offline_ratio(latency, &bound));
            if undercuts(latency, &bound) {
                return Err(format!(
                    "{name}, seed {seed}: the latency target costs less than the offline bound"
                )
                .into());
            }
            p99 = p99.max(latency.p99_wait);
            if let Some(setting) = single {
                let thresholds = simulation(setting.policy()).seed(seed).run(trace)?;
                if latency.instance_seconds < thresholds.instance_seconds {
                    cheaper += 1;
                }
                if meets_slo(&thresholds) {
                    thresholds_met += 1;
                }
                if undercuts(&thresholds, &bound) {
                    return Err(format!(
                        "{name}, seed {seed}: the thresholds setting costs less than the offline bound"
                    )
                    .into());
                }
            }
        }
        let range = |values: &[f64]| {
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(0.0, f64::max);
            format!("{low:.3}–{high:.3}")
        };
        println!(
            "| {name} | {} | {} | {} | {} | {cheaper} of {seeds} | {thresholds_met} of {seeds} |",
            range(&ratios),
            range(&reactive),
            range(&offline),
            p99.as_secs(),
            seeds = SEEDS.count()
        );
    }
    Ok(())
}
