//! B4: the controller on the standard traces in the simulator.
//!
//! For each trace, runs the latency-target policy, and the thresholds policy over a grid of settings,
//! keeping the cheapest thresholds setting that meets the same SLO (p99 wait ≤ L). Prints a Markdown
//! table and writes the spike trace's charts under `crates/workpool-scaler/docs/`.
//!
//! ```text
//! cargo run --release -p workpool-scaler --example b4
//! ```

use std::path::PathBuf;
use std::time::Duration;

use workpool_scaler::simulate::{render_svg, Simulation, SimulationReport, Trace};
use workpool_scaler::{LatencyTarget, Policy, ScalingRules, Thresholds};

const SLOTS: u32 = 4;
const JOB: Duration = Duration::from_secs(30);
const ACCEPTABLE_WAIT: Duration = Duration::from_secs(120);

fn simulation(policy: Policy) -> Simulation {
    Simulation::new(policy)
        .slots_per_instance(SLOTS)
        .mean_job_time(JOB)
        .boot_time(Duration::from_secs(60))
        .interval(Duration::from_secs(15))
}

fn row(trace: &str, policy: &str, report: &SimulationReport) -> String {
    format!(
        "| {trace} | {policy} | {} | {} | {:.0} | {:.0} | {:.3} | {} | {} |",
        report.p50_wait.as_secs(),
        report.p99_wait.as_secs(),
        report.instance_minutes(),
        report.lower_bound_minutes(),
        report.cost_ratio(),
        report.scale_outs + report.scale_ins,
        if report.p99_wait <= ACCEPTABLE_WAIT {
            "yes"
        } else {
            "no"
        },
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    println!(
        "slots per instance {SLOTS}, exponential jobs of mean {} s, L = {} s, boot 60 s, interval 15 s, seed 1\n",
        JOB.as_secs(),
        ACCEPTABLE_WAIT.as_secs()
    );
    println!("| trace | policy | p50 wait s | p99 wait s | instance-min | lower bound | ratio | actions | p99 ≤ L |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut verdicts = Vec::new();
    for name in ["steady", "spike", "diurnal", "idle-burst"] {
        let trace = Trace::read(&root.join("traces").join(format!("{name}.csv")))?;
        let mut latency_runs = Vec::new();
        for window in WINDOWS {
            let latency_policy =
                Policy::latency_target(LatencyTarget::new(SLOTS, JOB, ACCEPTABLE_WAIT))
                    .with_rules(rules(window));
            let latency = simulation(latency_policy).run(&trace)?;
            println!(
                "{}",
                row(
                    name,
                    &format!("latency target, window {window} s"),
                    &latency
                )
            );
            latency_runs.push((window, latency));
        }

        let mut best: Option<(String, SimulationReport)> = None;
        let mut best_missing: Option<(String, SimulationReport)> = None;
        for high in [2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0] {
            for step in [1, 2, 4, 8] {
                for (out_cooldown, window) in [15, 60]
                    .into_iter()
                    .flat_map(|cooldown| WINDOWS.map(|window| (cooldown, window)))
                {
                    let thresholds = Thresholds::new(high, high / 2.0)
                        .step(step)
                        .scale_out_cooldown(Duration::from_secs(out_cooldown));
                    let report =
                        simulation(Policy::thresholds(thresholds).with_rules(rules(window)))
                            .run(&trace)?;
                    let label = format!(
                        "best thresholds: high {high}, low {}, step {step}, out cooldown {out_cooldown} s, window {window} s",
                        high / 2.0
                    );
                    let slot = if report.p99_wait <= ACCEPTABLE_WAIT {
                        &mut best
                    } else {
                        &mut best_missing
                    };
                    let better = match slot {
                        Some((_, kept)) if slot_is_met(kept) => {
                            report.instance_seconds < kept.instance_seconds
                        }
                        Some((_, kept)) => report.p99_wait < kept.p99_wait,
                        None => true,
                    };
                    if better {
                        *slot = Some((label, report));
                    }
                }
            }
        }
        let (label, thresholds) = best.or(best_missing).expect("the grid is not empty");
        println!("{}", row(name, &label, &thresholds));
        for (window, latency) in &latency_runs {
            verdicts.push(format!(
                "{name}, latency target with window {window} s: p99 ≤ L {}, ratio ≤ 1.15 {}, fewer instance-minutes than the best thresholds at equal SLO {}",
                yes(latency.p99_wait <= ACCEPTABLE_WAIT),
                yes(latency.cost_ratio() <= 1.15),
                yes(latency.instance_seconds < thresholds.instance_seconds
                    || thresholds.p99_wait > ACCEPTABLE_WAIT),
            ));
        }
        if name == "spike" {
            let latency = &latency_runs[0].1;
            let docs = root.join("docs");
            std::fs::create_dir_all(&docs)?;
            std::fs::write(
                docs.join("spike-latency-target.svg"),
                render_svg(
                    latency,
                    "spike trace, latency-target policy (default rules)",
                ),
            )?;
            std::fs::write(
                docs.join("spike-thresholds.svg"),
                render_svg(&thresholds, &format!("spike trace, {label}")),
            )?;
        }
    }
    println!();
    for verdict in verdicts {
        println!("{verdict}");
    }
    Ok(())
}

/// Scale-in stabilization windows tried, in seconds: the default, and a short one.
const WINDOWS: [u64; 2] = [300, 60];

fn rules(window: u64) -> ScalingRules {
    ScalingRules::default().scale_in_stabilization(Duration::from_secs(window))
}

fn slot_is_met(report: &SimulationReport) -> bool {
    report.p99_wait <= ACCEPTABLE_WAIT
}

fn yes(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "NO"
    }
}
