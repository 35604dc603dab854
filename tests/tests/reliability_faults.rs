//! Reliability, case 1: handlers that fail at random, panic, or run past the visibility timeout, on
//! the emulator with a dead-letter queue. Every message ends processed (deleted) or in the DLQ, and the
//! heartbeat keeps a slow but healthy message from being delivered twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tower::service_fn;
use workpool::{BoxError, Consumer, FailurePolicy, Message};
use workpool_sqs::SqsSource;
use workpool_tests::reliability::{send_bodies, Ledger, QueueProbe};
use workpool_tests::{aws_config, create_queue, unique_name, QueueSpec};

const MESSAGES: usize = 200;
/// The heartbeat extends a lease with a third of it left: at 3 s that leaves 1 s for the extension
/// to reach the emulator. At 2 s (0.67 s left) one clean run of 2 December lost a lease and handled
/// two slow messages twice, most likely an extension that arrived too late; it did not recur in
/// nine runs here, loaded or not.
const VISIBILITY: Duration = Duration::from_secs(3);
const MAX_RECEIVES: u32 = 3;

/// What a handler does with message `index` on a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Runs 2.5 × the visibility timeout, then succeeds (every 25th message).
    Slow,
    /// Fails on every delivery (every 50th, offset 7): must end in the DLQ.
    Poison,
    /// 30 % fail, 5 % panic, the rest succeed — drawn anew on each delivery.
    Random,
}

fn fate(index: usize) -> Fate {
    if index % 25 == 0 {
        Fate::Slow
    } else if index % 50 == 7 {
        Fate::Poison
    } else {
        Fate::Random
    }
}

#[derive(Default)]
struct Injected {
    failures: AtomicU64,
    panics: AtomicU64,
    successes: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_failures_panics_and_slow_handlers_end_processed_or_dead_lettered() {
    let started = Instant::now();
    let config = aws_config().await;
    let dlq = create_queue(
        &config,
        &unique_name("rel-faults-dlq"),
        QueueSpec::standard(),
    )
    .await;
    let spec = QueueSpec::standard()
        .visibility_timeout(VISIBILITY)
        .redrive(dlq.arn.clone(), MAX_RECEIVES);
    let queue = create_queue(&config, &unique_name("rel-faults"), spec).await;
    let client = aws_sdk_sqs::Client::new(&config);
    let main_probe = QueueProbe::new(client.clone(), &queue.url);
    let dlq_probe = QueueProbe::new(client.clone(), &dlq.url);

    let bodies: Vec<String> = (0..MESSAGES).map(|i| format!("m{i}")).collect();
    send_bodies(&client, &queue.url, &bodies).await;

    let ledger = Ledger::new();
    let injected = Arc::new(Injected::default());
    let (handler_ledger, handler_injected) = (ledger.clone(), injected.clone());
    let handler = service_fn(move |message: Message<String>| {
        let (ledger, injected) = (handler_ledger.clone(), handler_injected.clone());
        async move {
            let body = message.body().clone();
            let index: usize = body[1..].parse().expect("bodies are m<index>");
            ledger.delivered(&body);
            match fate(index) {
                Fate::Slow => {
                    tokio::time::sleep(VISIBILITY.mul_f64(2.5)).await;
                }
                Fate::Poison => {
                    injected.failures.fetch_add(1, Ordering::Relaxed);
                    return Err::<(), BoxError>(format!("{body} is poison").into());
                }
                Fate::Random => {
                    let draw = fastrand::f64();
                    if draw < 0.30 {
                        injected.failures.fetch_add(1, Ordering::Relaxed);
                        return Err(format!("{body}: injected failure").into());
                    }
                    if draw < 0.35 {
                        injected.panics.fetch_add(1, Ordering::Relaxed);
                        panic!("{body}: injected panic");
                    }
                }
            }
            injected.successes.fetch_add(1, Ordering::Relaxed);
            ledger.succeeded(&body);
            Ok(())
        }
    });

    let source = SqsSource::from_queue_url(&config, &queue.url).expect("queue URL");
    let drained_probe = main_probe.clone();
    let summary = Consumer::new(source)
        .concurrency(20)
        .wait_time(Duration::from_secs(1))
        .grace_period(Duration::from_secs(10))
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        })
        .run(handler)
        .with_graceful_shutdown(async move {
            drained_probe
                .wait_until_empty(Duration::from_secs(150))
                .await;
        })
        .await
        .expect("the consumer runs");

    let dead = dlq_probe.drain_bodies(Duration::from_secs(5)).await;
    let report = ledger.report(&bodies, &dead);
    let (failures, panics, successes) = (
        injected.failures.load(Ordering::Relaxed),
        injected.panics.load(Ordering::Relaxed),
        injected.successes.load(Ordering::Relaxed),
    );
    println!(
        "reliability faults: {} messages, {} deliveries, injected {failures} failures + {panics} \
         panics, {} processed, {} dead-lettered, lost {}, duplicates {}, heartbeat extensions {}, \
         {:.1} s",
        report.sent,
        report.deliveries,
        report.processed,
        report.dead_lettered,
        report.lost,
        report.duplicates,
        summary.extended,
        started.elapsed().as_secs_f64()
    );
    println!("{summary:?}");

    assert_eq!(report.lost, 0, "lost: {:?}", report.lost_examples);
    assert_eq!((report.both, report.unknown), (0, 0), "{report:?}");
    assert_eq!(
        report.processed + report.dead_lettered,
        MESSAGES,
        "{report:?}"
    );
    assert_eq!(report.duplicates, 0, "{report:?}");
    assert!(failures > 0 && panics > 0, "faults were injected");

    // The consumer's own counts agree with what the handlers did.
    assert_eq!(summary.panics, panics, "{summary:?}");
    assert_eq!(summary.failed, failures + panics, "{summary:?}");
    assert_eq!(summary.succeeded, successes, "{summary:?}");
    assert_eq!(summary.deleted, successes, "{summary:?}");
    assert_eq!(summary.received, report.deliveries, "{summary:?}");

    // Poison messages all went to the DLQ after exactly maxReceiveCount deliveries; every message
    // in the DLQ had them.
    for (index, body) in bodies.iter().enumerate() {
        if fate(index) == Fate::Poison {
            assert!(dead.contains(body), "{body} is not in the DLQ");
        }
    }
    for body in &dead {
        assert_eq!(
            ledger.deliveries_of(body),
            MAX_RECEIVES,
            "{body} reached the DLQ after {} deliveries",
            ledger.deliveries_of(body)
        );
    }
    // Slow messages that succeeded on their first delivery were never delivered again: the
    // heartbeat kept them invisible for 2.5 × the visibility timeout.
    let slow: Vec<&String> = bodies
        .iter()
        .enumerate()
        .filter(|(index, _)| fate(*index) == Fate::Slow)
        .map(|(_, body)| body)
        .collect();
    for body in &slow {
        assert_eq!(
            ledger.deliveries_of(body),
            1,
            "{body} (slow, healthy) was delivered again"
        );
    }
    assert!(
        summary.extended >= slow.len() as u64,
        "each slow message was extended at least once: {summary:?}"
    );
    assert_eq!(main_probe.counts().await, (0, 0, 0));
    assert_eq!(dlq_probe.counts().await, (0, 0, 0));
}
