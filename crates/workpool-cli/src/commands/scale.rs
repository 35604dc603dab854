//! `workpool scale`: publish queue depth to CloudWatch and steer Auto Scaling groups, one or more
//! targets from a configuration file (see [`config`] for its format).

pub mod config;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use workpool_scaler::aws::{AwsClients, AwsController, DEFAULT_NAMESPACE};
use workpool_scaler::{Capacity, QueueDepth, TickReport};

/// Default seconds between evaluations.
const DEFAULT_INTERVAL_SECONDS: u64 = 15;

/// Options of `workpool scale`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file (TOML): settings and one `[[target]]` per queue and group.
    #[arg(long, short)]
    config: PathBuf,
    /// Decide and log only: publish nothing, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Evaluate every target once and exit (for cron or a scheduled function); exits non-zero when
    /// anything could not be read, published or applied.
    ///
    /// Each run starts from what it can read back: the cooldowns and the stabilization window from
    /// the group's scaling activities, how long the queue has been empty from the depth published
    /// by earlier runs (a run with --dry-run publishes nothing, so it adds nothing to that). With one
    /// reading per run, the latency target takes the arrival rate to be the rate jobs complete, and
    /// no instance has been seen idle for long, so `release_idle_after` does not act: the loop
    /// learns both from reading to reading. The loop also holds each group's size for one
    /// stabilization window from its first reading before scaling in (a restart does not shrink a
    /// group on one reading); a run with --once does not, or it would never scale in.
    #[arg(long)]
    once: bool,
    /// Seconds between evaluations [default: the file's `interval`, else 15].
    #[arg(long)]
    interval: Option<u64>,
    /// CloudWatch namespace [default: the file's `namespace`, else "Workpool"].
    #[arg(long)]
    namespace: Option<String>,
    /// Talk to this endpoint instead of AWS (an emulator); AWS_ENDPOINT_URL works too.
    #[arg(long, env = "WORKPOOL_ENDPOINT_URL")]
    endpoint_url: Option<String>,
}

/// Runs `workpool scale`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read the configuration {}", args.config.display()))?;
    let config = config::parse(&text)
        .map_err(|report| anyhow::anyhow!("{}: {report}", args.config.display()))?;
    let interval = match args.interval {
        Some(0) => bail!("--interval must be at least 1 second"),
        Some(seconds) => Duration::from_secs(seconds),
        None => config
            .interval
            .unwrap_or(Duration::from_secs(DEFAULT_INTERVAL_SECONDS)),
    };
    let namespace = args
        .namespace
        .or(config.namespace)
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());

    let clients = AwsClients::load(args.endpoint_url.as_deref()).await;
    let mut controllers = Vec::new();
    let mut problems = Vec::new();
    for (index, target) in config.targets.into_iter().enumerate() {
        match clients
            .controller(&target.queue, &target.group, &namespace, target.policy)
            .await
        {
            Ok(controller) => controllers.push(
                controller
                    .dry_run(args.dry_run)
                    .hold_initial_capacity(!args.once),
            ),
            Err(errors) => problems.extend(errors.into_iter().map(|error| {
                format!(
                    "target[{index}] ({} → {}): {error}",
                    target.queue, target.group
                )
            })),
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} problem(s) with the targets; nothing was done:\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        );
    }
    for controller in &mut controllers {
        if let Err(error) = controller.restore(SystemTime::now()).await {
            tracing::warn!(%error, "cannot read the group's past scaling activities or the depth published before; what was read is used and the rest is relearnt");
        }
    }
    tracing::info!(
        targets = controllers.len(),
        interval_seconds = interval.as_secs(),
        dry_run = args.dry_run,
        once = args.once,
        "workpool scale started"
    );

    if args.once {
        let reports = workpool_scaler::tick_all(&mut controllers, SystemTime::now()).await;
        print_round(&controllers, &reports);
        let failures: Vec<String> = reports.iter().flat_map(|r| r.errors.clone()).collect();
        if !failures.is_empty() {
            bail!(
                "{} error(s) this evaluation:\n  - {}",
                failures.len(),
                failures.join("\n  - ")
            );
        }
        return Ok(());
    }
    // On SIGINT or SIGTERM the evaluation under way ends (a change it decided is applied whole),
    // then the loop stops.
    let shutdown = async {
        workpool::shutdown_signal().await;
        tracing::info!("stopping once the evaluation under way has ended");
    };
    workpool_scaler::run_every(&mut controllers, interval, shutdown, print_round).await;
    tracing::info!("workpool scale stopped");
    Ok(())
}

/// Prints one line per target: queue → group: what was decided and why.
fn print_round(controllers: &[AwsController], reports: &[TickReport]) {
    for (controller, report) in controllers.iter().zip(reports) {
        println!(
            "{} → {}: {}",
            QueueDepth::queue_name(controller.queue()),
            Capacity::group_name(controller.capacity()),
            summary(report)
        );
    }
}

fn summary(report: &TickReport) -> String {
    let decision = &report.decision;
    match (decision.current, decision.desired) {
        (Some(from), Some(to)) if from != to => format!(
            "desired {from} → {to}{} ({})",
            if report.applied { "" } else { " [not applied]" },
            decision.reason
        ),
        (Some(current), _) => format!("desired {current} ({})", decision.reason),
        (None, _) => decision.reason.to_string(),
    }
}
