//! B1: consumer overhead. A no-op handler drains 1,000,000 messages from a `MemoryQueue` that a
//! producer keeps topped up (at most 20,000 deep), so what is measured is the runtime itself. A last
//! row drains a queue filled beforehand, so the producer's share of the two cores is left out too.
//!
//! Run with: `cargo bench -p workpool --bench consumer` (set `WORKPOOL_BENCH_MESSAGES` to change the count).

use std::time::{Duration, Instant};
use workpool::OutgoingMessage;

// A production binary would pick a fast allocator too; glibc malloc costs ~25 % of this run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use tower::service_fn;
use workpool::memory::{MemoryQueue, QueueConfig};
use workpool::{BoxError, Consumer, Message};

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| {
                    line.split_whitespace()
                        .nth(1)
                        .and_then(|kib| kib.parse().ok())
                })
        })
        .unwrap_or(0)
}

fn main() {
    // `cargo test --all-targets` runs this program without `--bench`: then a quick run checks it works.
    let full = std::env::args().any(|arg| arg == "--bench");
    let total: u64 = std::env::var("WORKPOOL_BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full { 1_000_000 } else { 20_000 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        for (concurrency, pollers) in [(64, 4), (256, 8), (1024, 16)] {
            let queue = MemoryQueue::new(QueueConfig::standard("bench")).unwrap();
            let producer_queue = queue.clone();
            let producer = tokio::spawn(async move {
                let mut sent = 0u64;
                while sent < total {
                    if producer_queue.len() < 20_000 {
                        for _ in 0..100.min((total - sent).div_ceil(10)) {
                            let batch = (total - sent).min(10);
                            send(&producer_queue, batch);
                            sent += batch;
                        }
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
            });
            drain(
                "topped-up",
                queue,
                concurrency,
                pollers,
                total,
                Some(producer),
            )
            .await;
        }
        let queue = MemoryQueue::new(QueueConfig::standard("bench")).unwrap();
        let mut sent = 0;
        while sent < total {
            let batch = (total - sent).min(10);
            send(&queue, batch);
            sent += batch;
        }
        drain("prefilled", queue, 256, 8, total, None).await;
    });
}

/// Sends `count` (at most ten) messages in one batch.
fn send(queue: &MemoryQueue, count: u64) {
    let requests = (0..count).map(|_| OutgoingMessage::new("x")).collect();
    queue.send_batch(requests).unwrap();
}

/// Runs a consumer with a no-op handler until `total` messages are deleted (and the producer, if
/// any, is done), and prints the row.
async fn drain(
    mode: &str,
    queue: MemoryQueue,
    concurrency: usize,
    pollers: usize,
    total: u64,
    producer: Option<tokio::task::JoinHandle<()>>,
) {
    let rss_before = resident_kib();
    let started = Instant::now();
    let control_queue = queue.clone();
    let done = async move {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let counts = control_queue.attributes_now();
            let producer_done = producer.as_ref().is_none_or(|p| p.is_finished());
            if producer_done && counts.visible + counts.not_visible == 0 {
                return;
            }
        }
    };
    let summary = Consumer::new(queue)
        .concurrency(concurrency)
        .pollers(pollers)
        .wait_time(Duration::from_millis(100))
        .run(service_fn(|_message: Message<String>| async {
            Ok::<_, BoxError>(())
        }))
        .with_graceful_shutdown(done)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(summary.deleted, total, "{summary:?}");
    println!(
        "B1 {mode:<9} concurrency={concurrency:<5} pollers={pollers:<3} messages={total} time={:.2}s \
         throughput={:.0} msgs/s requests/msg={:.3} rss_before={}KiB rss_after={}KiB",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        summary.requests_per_message(),
        rss_before,
        resident_kib(),
    );
}
