//! `workpool demo`: the whole loop on one machine, no AWS account. A producer follows an arrival trace
//! into a `MemoryQueue`; a `LocalFleet` plays the Auto Scaling group, each in-service instance running
//! a real `workpool::Consumer`; the real controller (`decide` and its loop) resizes the fleet against
//! the queue's depth every tick. Progress is shown live; at the end the run drains, prints what it
//! measured and writes a chart.

mod chart;
mod duration_flag;
mod fleet_runner;
mod jobs;
mod logging;
mod producer;
mod progress;
mod queue_depth;
mod report;
mod schedule;
mod settings;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::instrument::WithSubscriber;
use workpool::memory::{MemoryQueue, QueueConfig};
use workpool_scaler::memory::RecordingMetrics;
use workpool_scaler::simulate::Sample;
use workpool_scaler::{run_every, Capacity, Controller, LocalFleet};

use self::duration_flag::{parse_duration, show_duration};
use self::fleet_runner::{FleetRunner, InstanceSettings};
use self::jobs::Tally;
use self::progress::{Progress, ScalingAction, Status};
use self::queue_depth::MemoryQueueDepth;
use self::report::{percentile, DemoReport};
use self::schedule::{load_trace, Schedule};
use self::settings::{PolicyName, Settings};

/// How often the fleet's instances are matched with running consumers and the figures are read.
const RECONCILE_EVERY: Duration = Duration::from_millis(100);

/// Options of `workpool demo`. Durations take a unit: `200ms`, `8s`, `1m` (a bare number is seconds).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The arrival trace: a standard one (spike, idle-burst, steady, diurnal) or a CSV file with the
    /// header `second,arrivals`. It is compressed (or stretched) to last --duration.
    #[arg(long, default_value = "spike")]
    trace: String,
    /// Arrivals per second at the compressed trace's busiest second; the trace's shape is kept.
    #[arg(long, default_value_t = 150.0)]
    peak_rate: f64,
    /// How long the producer runs; then the queue drains and the demo ends.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// The scaling policy.
    #[arg(long, value_enum, default_value = "latency-target")]
    policy: PolicyName,
    /// Jobs each instance runs at once (its consumer's handler slots).
    #[arg(long, default_value_t = 4)]
    slots: u32,
    /// Mean job time (a sleep); also the latency target's T.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    job_time: Duration,
    /// Job times spread uniformly over ± this fraction of --job-time.
    #[arg(long, default_value_t = 0.5)]
    job_jitter: f64,
    /// Time from an instance's launch to its consumer starting.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    boot_delay: Duration,
    /// Latency target: how long a message may wait (L).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    acceptable_wait: Duration,
    /// Thresholds: scale out above this many waiting messages per instance.
    #[arg(long, default_value_t = 20.0)]
    high: f64,
    /// Thresholds: scale in below this many waiting messages per instance.
    #[arg(long, default_value_t = 2.0)]
    low: f64,
    /// Thresholds: instances added or removed per action.
    #[arg(long, default_value_t = 1)]
    step: u32,
    /// Thresholds: least time between scale-outs.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    scale_out_cooldown: Duration,
    /// Thresholds: least time between any scaling action and a scale-in.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    scale_in_cooldown: Duration,
    /// Scale in only to the highest recommendation over this window.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    stabilization: Duration,
    /// How long the queue must be empty before the last instance goes.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    zero_cooldown: Duration,
    /// Time between controller evaluations.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    interval: Duration,
    /// The fleet's minimum size.
    #[arg(long, default_value_t = 0)]
    min: u32,
    /// The fleet's maximum size.
    #[arg(long, default_value_t = 10)]
    max: u32,
    /// Longest the queue may take to drain after --duration before the demo stops anyway.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    drain_limit: Duration,
    /// Where to write the SVG chart of backlog and capacity over time.
    #[arg(long, default_value = "workpool-demo.svg")]
    chart: PathBuf,
}

/// Runs `workpool demo`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::from_args(&args)?;
    let (trace_name, trace) = load_trace(&args.trace)?;
    let schedule = Schedule::compress(&trace, settings.duration, settings.peak_rate);
    if schedule.total() == 0 {
        bail!("--trace {trace_name}: the trace has no arrivals");
    }
    println!(
        "workpool demo: the {trace_name} trace in {} ({} jobs, peak {} jobs/s); instances of {} slots, jobs of {} ± {:.0}%, boot delay {}",
        show_duration(settings.duration),
        schedule.total(),
        settings.peak_rate,
        settings.slots,
        show_duration(settings.job_model.mean),
        settings.job_model.jitter * 100.0,
        show_duration(settings.boot_delay),
    );
    println!("policy: {}", settings.policy_line());
    println!("{}", progress::LEGEND);
    let logs = logging::demo_logs();
    let (report, samples) = run_loop(&settings, schedule, logs.clone())
        .with_subscriber(logs)
        .await?;
    println!("\nsummary");
    println!("{report}");
    let title = format!(
        "workpool demo · {trace_name} trace · {:?} policy",
        args.policy
    );
    std::fs::write(&args.chart, chart::chart_svg(&samples, &report, &title))
        .with_context(|| format!("--chart: cannot write {}", args.chart.display()))?;
    println!("chart              {}", args.chart.display());
    if report.lost() != 0 {
        bail!(
            "{} messages were lost (in {}, deleted {}, still queued {})",
            report.lost(),
            report.sent,
            report.deleted,
            report.still_queued
        );
    }
    Ok(())
}

/// Runs producer, controller and fleet until the schedule is sent and the queue has drained (or the
/// drain limit passed), showing progress; returns the measured report and one sample per second.
async fn run_loop(
    settings: &Settings,
    schedule: Schedule,
    logs: tracing::Dispatch,
) -> anyhow::Result<(DemoReport, Vec<Sample>)> {
    let queue = MemoryQueue::new(QueueConfig::standard("demo-jobs"))?;
    let fleet = LocalFleet::new("demo-fleet")
        .boot_delay(settings.boot_delay)
        .bounds(settings.min, settings.max);
    let tally = Arc::new(Tally::default());
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();

    let producer = tokio::spawn(
        producer::produce(queue.clone(), schedule, start, sent.clone())
            .with_subscriber(logs.clone()),
    );
    let actions = Arc::new(Mutex::new(Vec::<ScalingAction>::new()));
    let (stop_controller, controller_stopped) = oneshot::channel::<()>();
    let controller = Controller::new(
        MemoryQueueDepth::new(queue.clone()),
        fleet.clone(),
        RecordingMetrics::new(),
        settings.policy.clone(),
    );
    let interval = settings.interval;
    let recorded = actions.clone();
    let controller_task = tokio::spawn(
        async move {
            let mut controllers = [controller];
            let stopped = async {
                let _ = controller_stopped.await;
            };
            run_every(&mut controllers, interval, stopped, |_, reports| {
                let mut actions = recorded.lock().unwrap_or_else(PoisonError::into_inner);
                for report in reports.iter().filter(|report| report.applied) {
                    if let (Some(from), Some(to)) =
                        (report.decision.current, report.decision.desired)
                    {
                        actions.push(ScalingAction {
                            at: start.elapsed(),
                            from,
                            to,
                            reason: report.decision.reason.to_string(),
                        });
                    }
                }
            })
            .await;
        }
        .with_subscriber(logs.clone()),
    );

    let instance_settings = InstanceSettings {
        slots: settings.slots as usize,
        job_model: settings.job_model,
        grace_period: settings
            .job_model
            .mean
            .mul_f64(1.0 + settings.job_model.jitter)
            + Duration::from_secs(5),
    };
    let mut runner = FleetRunner::new(
        fleet.clone(),
        queue.clone(),
        instance_settings,
        tally.clone(),
        logs,
    );
    let mut progress = Progress::for_stdout();
    let mut ticker = tokio::time::interval(RECONCILE_EVERY);
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_sample = Duration::ZERO;
    let mut last_sample = (start, 0_u64);
    let mut last_tick = start;
    let mut instance_seconds = 0.0;
    let mut peak_in_service = 0;
    let mut actions_shown = 0;
    let mut drain_announced = false;
    let drained = loop {
        ticker.tick().await;
        runner.reconcile();
        let now = Instant::now();
        let elapsed = now - start;
        let group = fleet.describe().await?;
        let billed = group.in_service + group.pending + runner.draining() as u32;
        instance_seconds += f64::from(billed) * (now - last_tick).as_secs_f64();
        last_tick = now;
        peak_in_service = peak_in_service.max(group.in_service);
        {
            let actions = actions.lock().unwrap_or_else(PoisonError::into_inner);
            for action in &actions[actions_shown..] {
                progress.note(&action.to_string());
            }
            actions_shown = actions.len();
        }
        let produced = producer.is_finished();
        if produced && !drain_announced {
            progress.note(&format!(
                "{:>4.1}s  the producer is done: draining the queue",
                elapsed.as_secs_f64()
            ));
            drain_announced = true;
        }
        let visible = queue.attributes_now().visible;
        if elapsed >= next_sample {
            let completed = tally.completed();
            let since = (now - last_sample.0).as_secs_f64();
            let throughput = if since > 0.0 {
                (completed - last_sample.1) as f64 / since
            } else {
                0.0
            };
            last_sample = (now, completed);
            samples.push(Sample {
                second: elapsed.as_secs(),
                visible,
                in_flight: tally.in_flight(),
                desired: group.desired,
                in_service: group.in_service,
            });
            progress.status(&Status {
                elapsed,
                sent: sent.load(Ordering::Relaxed),
                backlog: visible,
                in_flight: tally.in_flight(),
                desired: group.desired,
                running: runner.running() as u32,
                throughput,
            });
            next_sample = Duration::from_secs(elapsed.as_secs() + 1);
        }
        if produced && queue.is_empty() && tally.in_flight() == 0 {
            break true;
        }
        if elapsed >= settings.duration + settings.drain_limit {
            break false;
        }
    };
    progress.finish();
    if !drained {
        println!(
            "the queue did not drain within --drain-limit {}; stopping anyway",
            show_duration(settings.drain_limit)
        );
    }
    let _ = stop_controller.send(());
    controller_task
        .await
        .context("the controller task failed")?;
    let elapsed = start.elapsed();
    let group = fleet.describe().await?;
    samples.push(Sample {
        second: elapsed.as_secs_f64().ceil() as u64,
        visible: queue.attributes_now().visible,
        in_flight: tally.in_flight(),
        desired: group.desired,
        in_service: group.in_service,
    });
    let summaries = runner.stop_all().await?;
    producer
        .await
        .context("the producer task failed")?
        .context("the producer failed")?;

    let actions = actions.lock().unwrap_or_else(PoisonError::into_inner);
    let mut waits = tally.waits();
    let report = DemoReport {
        sent: sent.load(Ordering::Relaxed),
        deleted: summaries.iter().map(|summary| summary.deleted).sum(),
        still_queued: queue.len() as u64,
        completed: tally.completed(),
        duplicates: tally.duplicates(),
        p50_wait: percentile(&mut waits, 0.50),
        p99_wait: percentile(&mut waits, 0.99),
        max_wait: waits.iter().max().copied().unwrap_or_default(),
        instance_seconds,
        lower_bound_instance_seconds: tally.busy_time().as_secs_f64() / f64::from(settings.slots),
        scale_outs: actions.iter().filter(|a| a.to > a.from).count() as u32,
        scale_ins: actions.iter().filter(|a| a.to < a.from).count() as u32,
        peak_in_service,
        elapsed,
    };
    Ok((report, samples))
}
