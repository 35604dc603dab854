//! B2 and B3: the consumer against the emulator, through the real AWS SDK.
//!
//! - B3: throughput of a naive loop (receive one, handle, delete one) and of the workpool consumer, in
//!   the same run, on the same queue kept shallow by a producer (moto's receive slows as a queue deepens).
//! - B2: requests per message at saturation (from the consumer's own counts), and receives per minute
//!   of an idle consumer.
//!
//! Run with: `endpoint=$(scripts/emulator start) WORKPOOL_TEST_ENDPOINT=$endpoint AWS_ACCESS_KEY_ID=test
//! AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 cargo bench -p workpool-tests --bench sqs_throughput`

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use tower::service_fn;
use workpool::{BoxError, Consumer, Message};
use workpool_sqs::SqsSource;
use workpool_tests::{aws_config, create_queue, unique_name, QueueSpec};

/// Keeps about `depth` messages waiting until `total` have been sent, with four senders at once (one
/// sender alone cannot outpace the consumer); returns how many were sent.
fn spawn_producer(
    client: aws_sdk_sqs::Client,
    url: String,
    total: u64,
    consumed: Arc<AtomicU64>,
    depth: u64,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let reserved = Arc::new(AtomicU64::new(0));
        let mut senders = Vec::new();
        for _ in 0..4 {
            let (client, url, consumed, reserved) = (
                client.clone(),
                url.clone(),
                consumed.clone(),
                reserved.clone(),
            );
            senders.push(tokio::spawn(async move {
                loop {
                    let claimed = reserved.load(Ordering::Relaxed);
                    if claimed >= total {
                        return;
                    }
                    if claimed - consumed.load(Ordering::Relaxed).min(claimed) >= depth {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    let n = 10.min(total - claimed);
                    if reserved
                        .compare_exchange(
                            claimed,
                            claimed + n,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    let mut request = client.send_message_batch().queue_url(&url);
                    for i in 0..n {
                        request = request.entries(
                            SendMessageBatchRequestEntry::builder()
                                .id(format!("{i}"))
                                .message_body(format!("job {}", claimed + i))
                                .build()
                                .unwrap(),
                        );
                    }
                    request.send().await.expect("SendMessageBatch");
                }
            }));
        }
        for sender in senders {
            sender.await.unwrap();
        }
        reserved.load(Ordering::Relaxed)
    })
}

async fn naive_loop(client: &aws_sdk_sqs::Client, url: &str, total: u64) -> Duration {
    let consumed = Arc::new(AtomicU64::new(0));
    let producer = spawn_producer(client.clone(), url.to_owned(), total, consumed.clone(), 100);
    let started = Instant::now();
    while consumed.load(Ordering::Relaxed) < total {
        let received = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        for message in received.messages() {
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .expect("DeleteMessage");
            consumed.fetch_add(1, Ordering::Relaxed);
        }
    }
    producer.await.unwrap();
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let config = aws_config().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let created = create_queue(&config, &unique_name("bench"), QueueSpec::default()).await;
    let url = created.url;

    // `cargo test --all-targets` runs this program without `--bench`: then a short run checks it works.
    let full = std::env::args().any(|arg| arg == "--bench");
    let naive_total = if full { 300 } else { 30 };
    let naive = naive_loop(&client, &url, naive_total).await;
    let naive_rate = naive_total as f64 / naive.as_secs_f64();
    println!(
        "B3 naive loop      messages={naive_total} time={:.2}s throughput={naive_rate:.0} msgs/s",
        naive.as_secs_f64()
    );

    let total: u64 = std::env::var("WORKPOOL_BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full { 4_000 } else { 200 });
    let consumed = Arc::new(AtomicU64::new(0));
    let producer = spawn_producer(client.clone(), url.clone(), total, consumed.clone(), 100);
    let counter = consumed.clone();
    let finished = Arc::new(AtomicBool::new(false));
    let done_flag = finished.clone();
    let started = Instant::now();
    let summary = Consumer::new(SqsSource::from_queue_url(&config, &url).unwrap())
        .concurrency(100)
        .wait_time(Duration::from_secs(1))
        .run(service_fn(move |_message: Message<String>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(async move {
            while consumed.load(Ordering::Relaxed) < total {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            done_flag.store(true, Ordering::Relaxed);
        })
        .await
        .unwrap();
    let elapsed = started.elapsed();
    producer.await.unwrap();
    let rate = summary.succeeded as f64 / elapsed.as_secs_f64();
    println!(
        "B3 workpool        messages={} time={:.2}s throughput={rate:.0} msgs/s ratio={:.1}x",
        summary.succeeded,
        elapsed.as_secs_f64(),
        rate / naive_rate
    );
    println!(
        "B2 saturation      requests={} (receive {}, empty {}) deleted={} requests/msg={:.3}",
        summary.requests,
        summary.receive_requests,
        summary.empty_receives,
        summary.deleted,
        summary.requests_per_message()
    );
    assert!(finished.load(Ordering::Relaxed));

    let idle_for = Duration::from_secs(
        std::env::var("WORKPOOL_BENCH_IDLE_SECONDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(if full { 60 } else { 3 }),
    );
    let idle = Consumer::new(SqsSource::from_queue_url(&config, &url).unwrap())
        .concurrency(40)
        .pollers(4)
        .run(service_fn(|_message: Message<String>| async {
            Ok::<_, BoxError>(())
        }))
        .with_graceful_shutdown(tokio::time::sleep(idle_for))
        .await
        .unwrap();
    let per_minute = idle.receive_requests as f64 * 60.0 / idle_for.as_secs_f64();
    println!(
        "B2 idle            pollers=4 seconds={} receives={} → {per_minute:.1} ReceiveMessage/min in all ({:.2} per poller)",
        idle_for.as_secs(),
        idle.receive_requests,
        per_minute / 4.0
    );
}
