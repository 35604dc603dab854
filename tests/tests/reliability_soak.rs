//! Reliability, case 5: a soak. `WORKPOOL_SOAK_MESSAGES` messages (default 1,000) through the consumer
//! on the emulator, 20 % of deliveries failing at random and coming back after a one-second backoff,
//! fed by a producer that keeps the queue shallow. Counts in and out (lost 0, duplicates reported),
//! and this process's resident memory and open file descriptors are flat from the end of a warm-up to
//! the end of the run.
//!
//! The figures for BENCHMARKS.md come from a long release run:
//! `WORKPOOL_SOAK_MESSAGES=100000 cargo test --release -p workpool-tests --test reliability_soak -- --nocapture`.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tower::service_fn;
use workpool::{BoxError, Consumer, FailurePolicy, Message};
use workpool_sqs::SqsSource;
use workpool_tests::reliability::{feed, open_fds, rss_kib, Ledger, QueueProbe};
use workpool_tests::{aws_config, create_queue, unique_name, QueueSpec};

/// The variable that sets how many messages the soak sends.
const MESSAGES_VARIABLE: &str = "WORKPOOL_SOAK_MESSAGES";

/// Messages when the variable is not set: enough to reach a steady state, and under a minute in a
/// debug build against moto on a loaded 2-core machine (2,000 took 26–79 s there).
const DEFAULT_MESSAGES: usize = 1_000;

/// The share of deliveries that fail.
const FAILURE_RATE: f64 = 0.20;

/// At most this many messages sent and not yet processed: moto's receive slows as the queue deepens.
const MAX_AHEAD: usize = 200;

/// Allowed resident memory growth from the warm-up to the end.
const MAX_RSS_GROWTH_KIB: u64 = 30 * 1024;

/// Allowed growth in open file descriptors from the warm-up to the end. (Fewer is fine: pooled
/// connections opened at a busy moment close when idle.)
const MAX_FD_GROWTH: usize = 8;

fn messages() -> usize {
    match std::env::var(MESSAGES_VARIABLE) {
        Err(_) => DEFAULT_MESSAGES,
        Ok(text) => text
            .trim()
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{MESSAGES_VARIABLE}={text:?} is not a number of messages")),
    }
}

/// Memory and descriptors of this process at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    processed: usize,
    rss_kib: u64,
    fds: usize,
}

impl Sample {
    fn now(processed: usize) -> Self {
        Self {
            processed,
            rss_kib: rss_kib(),
            fds: open_fds(),
        }
    }
}

/// Waits until `ledger` has processed `count` messages, printing progress every tenth of `total`.
///
/// # Panics
/// At `deadline`.
async fn processed(
    ledger: &Ledger,
    count: usize,
    total: usize,
    deadline: Instant,
    started: Instant,
) {
    let step = (total / 10).max(1);
    let mut next_report = (ledger.processed() / step + 1) * step;
    loop {
        let done = ledger.processed();
        if done >= next_report && total >= 10_000 {
            println!(
                "  soak: {done} of {total} processed after {:.0} s, rss {} KiB, fds {}",
                started.elapsed().as_secs_f64(),
                rss_kib(),
                open_fds()
            );
            next_report = (done / step + 1) * step;
        }
        if done >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {count} messages processed by the deadline"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_with_random_failures_loses_nothing_and_keeps_memory_and_fds_flat() {
    let total = messages();
    let started = Instant::now();
    let config = aws_config().await;
    let queue = create_queue(&config, &unique_name("rel-soak"), QueueSpec::standard()).await;
    let client = aws_sdk_sqs::Client::new(&config);
    let probe = QueueProbe::new(client.clone(), &queue.url);

    let bodies: Arc<Vec<String>> = Arc::new((0..total).map(|i| format!("soak-{i}")).collect());
    // Every key known up front: the ledger does not grow while memory is measured.
    let ledger = Ledger::expecting(bodies.iter());
    let failures = Arc::new(AtomicU64::new(0));
    let (handler_ledger, handler_failures) = (ledger.clone(), failures.clone());
    let handler = service_fn(move |message: Message<String>| {
        let (ledger, failures) = (handler_ledger.clone(), handler_failures.clone());
        async move {
            ledger.delivered(message.body());
            if fastrand::f64() < FAILURE_RATE {
                failures.fetch_add(1, Ordering::Relaxed);
                return Err::<(), BoxError>(format!("{}: injected failure", message.body()).into());
            }
            ledger.succeeded(message.body());
            Ok(())
        }
    });
    let source = SqsSource::from_queue_url(&config, &queue.url).expect("queue URL");
    let consumer = Consumer::new(source)
        .concurrency(20)
        .wait_time(Duration::from_secs(1))
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        });
    let control = consumer.control();
    let running = tokio::spawn(consumer.run(handler).into_future());
    let (feed_client, feed_url, feed_bodies, feed_ledger) = (
        client.clone(),
        queue.url.clone(),
        bodies.clone(),
        ledger.clone(),
    );
    let feeding = tokio::spawn(async move {
        feed(&feed_client, &feed_url, &feed_bodies, MAX_AHEAD, || {
            feed_ledger.processed()
        })
        .await;
    });

    // At least 20 messages a second, and a minute to spare.
    let deadline = started + Duration::from_secs(60) + Duration::from_millis(50) * total as u32;
    let warm_up = (total / 10).clamp(1, 2_000);
    processed(&ledger, warm_up, total, deadline, started).await;
    let warm = Sample::now(ledger.processed());
    let warm_at = Instant::now();
    processed(&ledger, total, total, deadline, started).await;
    let end = Sample::now(ledger.processed());
    let steady_rate = (end.processed - warm.processed) as f64 / warm_at.elapsed().as_secs_f64();
    feeding.await.expect("the feeder");
    probe.wait_until_empty(Duration::from_secs(60)).await;
    control.shutdown();
    let summary = running
        .await
        .expect("the consumer task")
        .expect("the consumer runs");
    let stopped = Sample::now(ledger.processed());

    let report = ledger.report(bodies.iter(), &[]);
    let failures = failures.load(Ordering::Relaxed);
    println!(
        "reliability soak: {total} messages, {} deliveries, {failures} injected failures ({:.0} %), \
         lost {}, duplicates {}; rss {} KiB after {} processed -> {} KiB at the end ({:+} KiB), \
         {} after stopping; fds {} -> {} ({:+}), {} after stopping; {steady_rate:.0} msgs/s after \
         the warm-up, {:.0} s in all",
        report.deliveries,
        100.0 * failures as f64 / report.deliveries.max(1) as f64,
        report.lost,
        report.duplicates,
        warm.rss_kib,
        warm.processed,
        end.rss_kib,
        end.rss_kib as i64 - warm.rss_kib as i64,
        stopped.rss_kib,
        warm.fds,
        end.fds,
        end.fds as i64 - warm.fds as i64,
        stopped.fds,
        started.elapsed().as_secs_f64()
    );
    println!("  {summary:?}");

    assert_eq!(report.lost, 0, "lost: {:?}", report.lost_examples);
    assert_eq!(report.unknown, 0, "{report:?}");
    assert_eq!(report.processed, total, "{report:?}");
    assert!(failures > 0, "failures were injected");
    assert_eq!(summary.failed, failures, "{summary:?}");
    assert_eq!(summary.panics, 0, "{summary:?}");
    assert_eq!(summary.received, report.deliveries, "{summary:?}");
    assert_eq!(
        summary.succeeded,
        total as u64 + report.duplicates as u64,
        "{summary:?}"
    );
    assert!(
        end.rss_kib <= warm.rss_kib + MAX_RSS_GROWTH_KIB,
        "resident memory grew from {} KiB to {} KiB",
        warm.rss_kib,
        end.rss_kib
    );
    assert!(
        end.fds <= warm.fds + MAX_FD_GROWTH,
        "open file descriptors went from {} to {}",
        warm.fds,
        end.fds
    );
    assert_eq!(probe.counts().await, (0, 0, 0));
}
