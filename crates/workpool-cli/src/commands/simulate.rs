//! `workpool simulate`: replay an arrival trace against a scaling policy and report wait and cost.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use workpool_scaler::simulate::{render_svg, JobTimeDistribution, Simulation, Trace};
use workpool_scaler::{LatencyTarget, Policy, ScalingRules, Thresholds};

/// Which policy to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyName {
    /// Keep up with the estimated arrivals and start the backlog within 3L/4 (see
    /// `workpool_scaler::LatencyTarget`).
    LatencyTarget,
    /// Step out above `--high` messages per instance, in below `--low`.
    Thresholds,
}

/// Options of `workpool simulate`. Durations are in seconds.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The arrival trace: CSV with the header `second,arrivals`, one row per second with arrivals.
    #[arg(long)]
    trace: PathBuf,
    /// The policy under test.
    #[arg(long, value_enum, default_value = "latency-target")]
    policy: PolicyName,
    /// Jobs each instance runs at once (s).
    #[arg(long, default_value_t = 4)]
    slots: u32,
    /// Mean job time in seconds (T), both in the model and in the latency target.
    #[arg(long, default_value_t = 30)]
    job_time: u64,
    /// Every job takes exactly --job-time instead of an exponential draw around it.
    #[arg(long)]
    fixed_job_time: bool,
    /// Acceptable queue wait in seconds (L), for the latency target and the report's SLO line.
    #[arg(long, default_value_t = 120)]
    acceptable_wait: u64,
    /// Thresholds: scale out above this many visible messages per instance.
    #[arg(long)]
    high: Option<f64>,
    /// Thresholds: scale in below this many visible messages per instance.
    #[arg(long)]
    low: Option<f64>,
    /// Thresholds: instances added or removed per action.
    #[arg(long, default_value_t = 1)]
    step: u32,
    /// Thresholds: seconds between scale-outs.
    #[arg(long, default_value_t = 60)]
    scale_out_cooldown: u64,
    /// Thresholds: seconds between any scaling and a scale-in.
    #[arg(long, default_value_t = 300)]
    scale_in_cooldown: u64,
    /// Scale in only to the highest recommendation over this many seconds.
    #[arg(long, default_value_t = 300)]
    stabilization: u64,
    /// Seconds the queue must be empty before scaling to zero.
    #[arg(long, default_value_t = 300)]
    zero_cooldown: u64,
    /// Let an instance go once idle this many seconds with nothing waiting, whatever the
    /// stabilization window says [default: 120; B4 uses the boot time].
    #[arg(long, conflicts_with = "no_idle_release")]
    release_idle_after: Option<u64>,
    /// Never let idle instances go before the stabilization window does.
    #[arg(long)]
    no_idle_release: bool,
    /// Latency target: the wait W its backlog term aims for, in seconds [default: 3L/4].
    #[arg(long)]
    target_wait: Option<u64>,
    /// Seconds from launch to in service.
    #[arg(long, default_value_t = 60)]
    boot_time: u64,
    /// Seconds between controller evaluations.
    #[arg(long, default_value_t = 15)]
    interval: u64,
    /// The group's minimum size.
    #[arg(long, default_value_t = 0)]
    min: u32,
    /// The group's maximum size.
    #[arg(long, default_value_t = 1000)]
    max: u32,
    /// Instances in service at the start.
    #[arg(long, default_value_t = 0)]
    initial: u32,
    /// Seed of the job-time draws; the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write an SVG chart of backlog, desired and in-service capacity here.
    #[arg(long)]
    chart: Option<PathBuf>,
}

/// A burst, for the expected burst bound, follows this long without arrivals.
const BURST_QUIET_GAP: Duration = Duration::from_secs(600);

/// Runs `workpool simulate`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let policy = policy(&args)?;
    let trace = Trace::read(&args.trace)?;
    let simulation = Simulation::new(policy)
        .slots_per_instance(args.slots)
        .mean_job_time(Duration::from_secs(args.job_time))
        .distribution(if args.fixed_job_time {
            JobTimeDistribution::Fixed
        } else {
            JobTimeDistribution::Exponential
        })
        .boot_time(Duration::from_secs(args.boot_time))
        .interval(Duration::from_secs(args.interval))
        .bounds(args.min, args.max)
        .initial_instances(args.initial)
        .seed(args.seed);
    let report = simulation.run(&trace)?;
    println!("trace             {}", args.trace.display());
    println!("{report}");
    let acceptable_wait = Duration::from_secs(args.acceptable_wait);
    let met = report.p99_wait <= acceptable_wait;
    println!(
        "p99 wait ≤ {} s    {}",
        args.acceptable_wait,
        if met { "yes" } else { "no" }
    );
    // A lower bound for every run meeting p99 ≤ L, whatever its policy: the work plus the boot
    // (and idle slots kept through gaps) it cannot avoid.
    let bound = simulation.offline_bound(&trace, acceptable_wait);
    println!(
        "offline bound     {:.1} with boot, any policy meeting p99 ≤ {} s (ratio {:.3})",
        bound.minutes(),
        args.acceptable_wait,
        report.instance_seconds as f64 / bound.instance_seconds.max(1) as f64
    );
    // On average over job times, for every policy that has nothing in service as a burst begins,
    // does not know job times in advance and stops no running job; it assumes the group starts
    // empty.
    if args.initial == 0 && args.min == 0 {
        let bound = simulation.expected_burst_bound(&trace, acceptable_wait, BURST_QUIET_GAP);
        println!(
            "burst bound       {:.1} on average, any policy at zero as each burst begins (after {} min without arrivals) meeting p99 ≤ {} s (ratio {:.3}; {:.3} × the expected work)",
            bound.minutes(),
            BURST_QUIET_GAP.as_secs() / 60,
            args.acceptable_wait,
            report.instance_seconds as f64 / bound.instance_seconds().max(1.0),
            bound.ratio_to_work()
        );
        println!(
            "                  = expected work {:.1} + boot {:.1} + last-job drain {:.1} of {:.1} instance(s) busy at once over the bursts",
            bound.work_instance_seconds / 60.0,
            bound.boot_instance_seconds / 60.0,
            bound.drain_instance_seconds / 60.0,
            bound.burst_instances.iter().sum::<f64>()
        );
    }
    if let Some(path) = &args.chart {
        let title = format!(
            "{} · {:?} policy",
            args.trace
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default(),
            args.policy
        );
        std::fs::write(path, render_svg(&report, &title))
            .with_context(|| format!("cannot write the chart to {}", path.display()))?;
        println!("chart             {}", path.display());
    }
    Ok(())
}

fn policy(args: &Args) -> anyhow::Result<Policy> {
    let mut rules = ScalingRules::default()
        .scale_in_stabilization(Duration::from_secs(args.stabilization))
        .scale_to_zero_cooldown(Duration::from_secs(args.zero_cooldown));
    if args.no_idle_release {
        rules = rules.release_idle_after(None);
    } else if let Some(seconds) = args.release_idle_after {
        rules = rules.release_idle_after(Some(Duration::from_secs(seconds)));
    }
    let policy = match args.policy {
        PolicyName::LatencyTarget => {
            let mut target = LatencyTarget::new(
                args.slots,
                Duration::from_secs(args.job_time),
                Duration::from_secs(args.acceptable_wait),
            );
            if let Some(wait) = args.target_wait {
                target = target.target_wait(Duration::from_secs(wait));
            }
            Policy::latency_target(target)
        }
        PolicyName::Thresholds => {
            let (Some(high), Some(low)) = (args.high, args.low) else {
                bail!("--policy thresholds needs both --high and --low (visible messages per instance)");
            };
            Policy::thresholds(
                Thresholds::new(high, low)
                    .step(args.step)
                    .scale_out_cooldown(Duration::from_secs(args.scale_out_cooldown))
                    .scale_in_cooldown(Duration::from_secs(args.scale_in_cooldown)),
            )
        }
    };
    Ok(policy.with_rules(rules))
}
