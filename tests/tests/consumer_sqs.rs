//! The consumer runtime end to end: the real AWS SDK against the emulator (moto), counting messages in
//! and out.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use tower::service_fn;
use workpool::{BoxError, Consumer, FailurePolicy, Message};
use workpool_sqs::SqsSource;
use workpool_tests::{aws_config, create_queue, unique_name, QueueSpec};

struct TestQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    source: SqsSource,
}

async fn test_queue(prefix: &str, spec: QueueSpec) -> TestQueue {
    let config = aws_config().await;
    let created = create_queue(&config, &unique_name(prefix), spec).await;
    let source = SqsSource::from_queue_url(&config, &created.url).expect("queue URL");
    TestQueue {
        client: aws_sdk_sqs::Client::new(&config),
        url: created.url,
        source,
    }
}

impl TestQueue {
    async fn send(&self, bodies: impl IntoIterator<Item = (String, Option<String>)>) {
        let entries: Vec<_> = bodies.into_iter().collect();
        for (batch_index, chunk) in entries.chunks(10).enumerate() {
            let mut request = self.client.send_message_batch().queue_url(&self.url);
            for (i, (body, group)) in chunk.iter().enumerate() {
                let mut entry = SendMessageBatchRequestEntry::builder()
                    .id(format!("{batch_index}-{i}"))
                    .message_body(body);
                if let Some(group) = group {
                    entry = entry.message_group_id(group).message_deduplication_id(body);
                }
                request = request.entries(entry.build().unwrap());
            }
            let sent = request.send().await.expect("SendMessageBatch");
            assert!(sent.failed().is_empty(), "{:?}", sent.failed());
        }
    }

    /// (visible, not visible)
    async fn counts(&self) -> (u64, u64) {
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("GetQueueAttributes");
        let get = |name: QueueAttributeName| -> u64 {
            attributes
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Resolves once the queue holds nothing, visible or not.
    fn drained(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (client, url) = (self.client.clone(), self.url.clone());
        async move {
            let probe = TestQueue {
                source: SqsSource::from_client(client.clone(), &url).unwrap(),
                client,
                url,
            };
            let deadline = Instant::now() + Duration::from_secs(120);
            while probe.counts().await != (0, 0) {
                assert!(Instant::now() < deadline, "the queue never drained");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

fn bodies(n: usize) -> Vec<(String, Option<String>)> {
    (0..n).map(|i| (format!("{i}"), None)).collect()
}

#[tokio::test]
async fn success_deletes_every_message_with_few_requests() {
    let queue = test_queue("consumer-ok", QueueSpec::default()).await;
    queue.send(bodies(120)).await;
    let summary = Consumer::new(queue.source.clone())
        .concurrency(40)
        .wait_time(Duration::from_secs(1))
        .run(service_fn(|_message: Message<String>| async {
            Ok::<_, BoxError>(())
        }))
        .with_graceful_shutdown(queue.drained())
        .await
        .unwrap();
    assert_eq!(
        (summary.received, summary.succeeded, summary.deleted),
        (120, 120, 120),
        "{summary:?}"
    );
    assert_eq!(queue.counts().await, (0, 0));
}

#[tokio::test]
async fn a_failure_comes_back_after_the_backoff_not_the_queue_timeout() {
    let spec = QueueSpec {
        visibility_timeout: Some(Duration::from_secs(60)),
        ..QueueSpec::default()
    };
    let queue = test_queue("consumer-backoff", spec).await;
    queue.send(bodies(1)).await;
    let attempts: Arc<Mutex<Vec<(u32, Instant)>>> = Arc::default();
    let log = attempts.clone();
    let summary = Consumer::new(queue.source.clone())
        .wait_time(Duration::from_secs(1))
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(60),
        })
        .run(service_fn(move |message: Message<String>| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push((message.receive_count(), Instant::now()));
                if message.receive_count() == 1 {
                    return Err::<(), BoxError>("first delivery fails".into());
                }
                Ok(())
            }
        }))
        .with_graceful_shutdown(queue.drained())
        .await
        .unwrap();
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(attempts.iter().map(|a| a.0).collect::<Vec<_>>(), [1, 2]);
    let gap = attempts[1].1 - attempts[0].1;
    assert!(
        gap >= Duration::from_secs(2) && gap < Duration::from_secs(20),
        "{gap:?}"
    );
    assert_eq!(
        (summary.failed, summary.succeeded, summary.deleted),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn the_heartbeat_keeps_a_slow_message_invisible_past_its_timeout() {
    let spec = QueueSpec {
        visibility_timeout: Some(Duration::from_secs(2)),
        ..QueueSpec::default()
    };
    let queue = test_queue("consumer-slow", spec).await;
    queue.send(bodies(1)).await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let (thief_client, thief_url) = (queue.client.clone(), queue.url.clone());
    let thief = tokio::spawn(async move {
        let mut stolen = 0;
        tokio::time::sleep(Duration::from_millis(500)).await;
        for _ in 0..10 {
            let got = thief_client
                .receive_message()
                .queue_url(&thief_url)
                .visibility_timeout(0)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap();
            stolen += got.messages().len();
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        stolen
    });
    let summary = Consumer::new(queue.source.clone())
        .wait_time(Duration::from_secs(1))
        .run(service_fn(move |_message: Message<String>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(6)).await;
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(queue.drained())
        .await
        .unwrap();
    assert_eq!(
        thief.await.unwrap(),
        0,
        "another receiver got the message while it was being handled"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert!(summary.extended >= 2, "{summary:?}");
}

#[tokio::test]
async fn fifo_messages_of_a_group_run_in_order_one_at_a_time_and_a_failure_holds_the_rest() {
    let spec = QueueSpec {
        fifo: true,
        ..QueueSpec::default()
    };
    let queue = test_queue("consumer-fifo", spec).await;
    let messages = (0..30).map(|i| (format!("{i}"), Some(["a", "b", "c"][i % 3].to_owned())));
    queue.send(messages).await;
    // Every attempt, in the order they started: (group, body, succeeded).
    let attempts: Arc<Mutex<Vec<(String, u32, bool)>>> = Arc::default();
    let running: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let overlaps = Arc::new(AtomicU32::new(0));
    let (log, busy, overlapped) = (attempts.clone(), running.clone(), overlaps.clone());
    let summary = Consumer::new(queue.source.clone())
        .concurrency(10)
        .wait_time(Duration::from_secs(1))
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        })
        .run(service_fn(move |message: Message<String>| {
            let (log, busy, overlapped) = (log.clone(), busy.clone(), overlapped.clone());
            async move {
                let group = message.group_id().unwrap().to_owned();
                let body: u32 = message.body().parse().unwrap();
                {
                    let mut busy = busy.lock().unwrap();
                    let now = busy.entry(group.clone()).or_default();
                    *now += 1;
                    if *now > 1 {
                        overlapped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(fastrand_ms())).await;
                *busy.lock().unwrap().get_mut(&group).unwrap() -= 1;
                // Message 4 (group b) fails on its first delivery.
                let succeeded = !(body == 4 && message.receive_count() == 1);
                log.lock().unwrap().push((group, body, succeeded));
                if succeeded {
                    Ok::<_, BoxError>(())
                } else {
                    Err("the first delivery of 4 fails".into())
                }
            }
        }))
        .with_graceful_shutdown(queue.drained())
        .await
        .unwrap();
    assert_eq!(
        overlaps.load(Ordering::Relaxed),
        0,
        "a group ran two at once"
    );
    let attempts = attempts.lock().unwrap();
    for group in ["a", "b", "c"] {
        let done: Vec<u32> = attempts
            .iter()
            .filter(|(g, _, succeeded)| g == group && *succeeded)
            .map(|(_, body, _)| *body)
            .collect();
        let mut sorted = done.clone();
        sorted.sort_unstable();
        assert_eq!(done, sorted, "group {group} ran out of order");
        assert_eq!(done.len(), 10, "group {group}: {done:?}");
    }
    // After 4 failed, the next attempt in group b is 4 again: nothing of b ran past it.
    let b: Vec<(u32, bool)> = attempts
        .iter()
        .filter(|(g, _, _)| g == "b")
        .map(|(_, body, succeeded)| (*body, *succeeded))
        .collect();
    let failed_at = b.iter().position(|attempt| *attempt == (4, false)).unwrap();
    assert_eq!(b[failed_at + 1], (4, true), "{b:?}");
    assert_eq!((summary.failed, summary.deleted), (1, 30), "{summary:?}");
}

fn fastrand_ms() -> u64 {
    fastrand::u64(0..30)
}

#[tokio::test]
async fn shutdown_mid_flight_loses_nothing() {
    let spec = QueueSpec {
        visibility_timeout: Some(Duration::from_secs(120)),
        ..QueueSpec::default()
    };
    let queue = test_queue("consumer-shutdown", spec).await;
    queue.send(bodies(40)).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(
        Consumer::new(queue.source.clone())
            .concurrency(10)
            .wait_time(Duration::from_secs(1))
            .grace_period(Duration::from_secs(1))
            .run(service_fn(|message: Message<String>| async move {
                let index: u64 = message.body().parse().unwrap();
                // Half finish within the grace period; the others would run for minutes.
                let work = if index % 2 == 0 { 200 } else { 300_000 };
                tokio::time::sleep(Duration::from_millis(work)).await;
                Ok::<_, BoxError>(())
            }))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.send(()).unwrap();
    let summary = run.await.unwrap().unwrap();
    assert_eq!(
        summary.deleted + summary.released,
        summary.received,
        "{summary:?}"
    );
    let (visible, not_visible) = queue.counts().await;
    assert_eq!(not_visible, 0, "a received message was left invisible");
    assert_eq!(visible + summary.deleted, 40, "{summary:?}");
}

#[tokio::test]
async fn a_panicking_handler_does_not_stop_the_consumer() {
    let queue = test_queue("consumer-panic", QueueSpec::default()).await;
    queue.send(bodies(30)).await;
    let panics = Arc::new(AtomicU32::new(0));
    let counter = panics.clone();
    let summary = Consumer::new(queue.source.clone())
        .wait_time(Duration::from_secs(1))
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        })
        .run(service_fn(move |message: Message<String>| {
            let counter = counter.clone();
            async move {
                if message.body().ends_with('7') && message.receive_count() == 1 {
                    counter.fetch_add(1, Ordering::Relaxed);
                    panic!("handler bug on {}", message.body());
                }
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(queue.drained())
        .await
        .unwrap();
    assert_eq!(panics.load(Ordering::Relaxed), 3);
    assert_eq!(summary.panics, 3);
    assert_eq!(summary.deleted, 30, "{summary:?}");
}
