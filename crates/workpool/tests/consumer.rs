//! The consumer runtime against the in-process queue: every test counts messages in and out.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workpool::OutgoingMessage;

use tokio::time::Instant;
use tower::service_fn;
use workpool::memory::{MemoryQueue, QueueConfig};
use workpool::{
    BoxError, Consumer, Discard, FailurePolicy, Json, Message, ReceiveRequest, Retry, Source,
    Summary,
};

fn queue(config: QueueConfig) -> MemoryQueue {
    MemoryQueue::new(config).expect("valid queue settings")
}

fn send_n(queue: &MemoryQueue, n: usize) {
    for i in 0..n {
        queue
            .send(OutgoingMessage::new(format!("{i}")))
            .expect("send");
    }
}

/// Resolves once `queue` has nothing visible, in flight or delayed.
async fn drained(queue: MemoryQueue) {
    loop {
        let counts = queue.attributes_now();
        if counts.visible + counts.not_visible + counts.delayed == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_deletes_every_message() {
    let jobs = queue(QueueConfig::standard("success"));
    send_n(&jobs, 500);
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let summary = Consumer::new(jobs.clone())
        .concurrency(32)
        .run(service_fn(move |_message: Message<String>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!(seen.load(Ordering::Relaxed), 500);
    assert_eq!(
        (summary.received, summary.succeeded, summary.deleted),
        (500, 500, 500)
    );
    assert_eq!(jobs.len(), 0);
    // Batched both ways: far from one receive and one delete per message (2.0). The B2 benchmark
    // measures the exact figure; under a loaded test machine a linger may expire early.
    assert!(summary.requests_per_message() < 0.5, "{summary:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failure_comes_back_after_the_backoff_and_then_succeeds() {
    let jobs = queue(QueueConfig::standard("backoff").visibility_timeout(Duration::from_secs(60)));
    send_n(&jobs, 1);
    let attempts: Arc<Mutex<Vec<(u32, Instant)>>> = Arc::default();
    let log = attempts.clone();
    let summary = Consumer::new(jobs.clone())
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(4),
            max: Duration::from_secs(60),
        })
        .run(service_fn(move |message: Message<String>| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push((message.receive_count(), Instant::now()));
                if message.receive_count() < 3 {
                    return Err::<(), BoxError>("not yet".into());
                }
                Ok(())
            }
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    let attempts = attempts.lock().unwrap().clone();
    let counts: Vec<u32> = attempts.iter().map(|(count, _)| *count).collect();
    assert_eq!(counts, [1, 2, 3]);
    let first_gap = attempts[1].1 - attempts[0].1;
    let second_gap = attempts[2].1 - attempts[1].1;
    // 4 s then 8 s (plus up to 10 % jitter), far below the queue's own 60 s timeout.
    assert!(
        first_gap >= Duration::from_secs(4) && first_gap < Duration::from_secs(6),
        "{first_gap:?}"
    );
    assert!(
        second_gap >= Duration::from_secs(8) && second_gap < Duration::from_secs(10),
        "{second_gap:?}"
    );
    assert_eq!(
        (summary.failed, summary.succeeded, summary.deleted),
        (2, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn the_heartbeat_keeps_a_slow_message_invisible_past_its_timeout() {
    let jobs = queue(QueueConfig::standard("slow").visibility_timeout(Duration::from_secs(3)));
    send_n(&jobs, 1);
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let watcher = jobs.clone();
    let peeks = tokio::spawn(async move {
        // While the handler runs for 20 s, nobody else may receive the message.
        let mut stolen = 0;
        for _ in 0..18 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let got = watcher
                .receive(ReceiveRequest::new(10, Duration::ZERO))
                .await
                .unwrap();
            stolen += got.len();
        }
        stolen
    });
    let summary = Consumer::new(jobs.clone())
        .run(service_fn(move |_message: Message<String>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(20)).await;
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!(
        peeks.await.unwrap(),
        0,
        "another receiver got the message while it was being handled"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert!(summary.extended >= 5, "{summary:?}");
    assert_eq!(summary.deleted, 1);
}

#[tokio::test(start_paused = true)]
async fn a_handler_can_set_its_own_visibility_timeout() {
    let jobs =
        queue(QueueConfig::standard("own-timeout").visibility_timeout(Duration::from_secs(3)));
    send_n(&jobs, 1);
    let watcher = jobs.clone();
    let peeks = tokio::spawn(async move {
        let mut stolen = 0;
        for _ in 0..110 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stolen += watcher
                .receive(ReceiveRequest::new(10, Duration::ZERO))
                .await
                .unwrap()
                .len();
        }
        stolen
    });
    let summary = Consumer::new(jobs.clone())
        .run(service_fn(|message: Message<String>| async move {
            // A job known to take about two minutes: ask for five, once.
            message.set_visibility_timeout(Duration::from_secs(300));
            tokio::time::sleep(Duration::from_secs(120)).await;
            Ok::<_, BoxError>(())
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!(peeks.await.unwrap(), 0, "the message stayed invisible");
    // One change to 300 s, and none of the forty-odd 3-second extensions the default would need.
    assert_eq!(summary.extended, 1, "{summary:?}");
    assert_eq!(summary.deleted, 1);
}

#[tokio::test(start_paused = true)]
async fn fifo_groups_run_in_order_one_at_a_time() {
    let jobs = queue(QueueConfig::fifo("orders.fifo").content_based_deduplication(true));
    for i in 0..30 {
        let group = ["a", "b", "c"][i % 3];
        jobs.send(OutgoingMessage::new(format!("{group}-{i}")).group_id(group))
            .unwrap();
    }
    let seen: Arc<Mutex<HashMap<String, Vec<usize>>>> = Arc::default();
    let running: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
    let (log, busy) = (seen.clone(), running.clone());
    let summary = Consumer::new(jobs.clone())
        .concurrency(10)
        .run(service_fn(move |message: Message<String>| {
            let (log, busy) = (log.clone(), busy.clone());
            async move {
                let group = message.group_id().unwrap().to_owned();
                let was_busy = busy
                    .lock()
                    .unwrap()
                    .insert(group.clone(), true)
                    .unwrap_or(false);
                assert!(!was_busy, "two messages of group {group} ran at once");
                tokio::time::sleep(Duration::from_millis(10 + fastrand::u64(0..20))).await;
                let index: usize = message.body().split('-').nth(1).unwrap().parse().unwrap();
                log.lock()
                    .unwrap()
                    .entry(group.clone())
                    .or_default()
                    .push(index);
                busy.lock().unwrap().insert(group, false);
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    for (group, order) in seen.iter() {
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, &sorted, "group {group} ran out of order");
        assert_eq!(order.len(), 10);
    }
    assert_eq!(summary.succeeded, 30);
}

#[tokio::test(start_paused = true)]
async fn a_fifo_failure_releases_the_rest_of_its_group_instead_of_running_it_out_of_order() {
    let jobs = queue(QueueConfig::fifo("fail.fifo").content_based_deduplication(true));
    for i in 0..5 {
        jobs.send(OutgoingMessage::new(format!("{i}")).group_id("g"))
            .unwrap();
    }
    let order: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = order.clone();
    let failed_once = Arc::new(AtomicU32::new(0));
    let summary = Consumer::new(jobs.clone())
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        })
        .run(service_fn(move |message: Message<String>| {
            let (log, failed_once) = (log.clone(), failed_once.clone());
            async move {
                log.lock().unwrap().push(message.body().clone());
                if message.body() == "2" && failed_once.fetch_add(1, Ordering::Relaxed) == 0 {
                    return Err::<(), BoxError>("first try of 2 fails".into());
                }
                Ok(())
            }
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!(*order.lock().unwrap(), ["0", "1", "2", "2", "3", "4"]);
    assert_eq!(summary.deleted, 5);
    assert_eq!(summary.released, 2, "3 and 4 were released after 2 failed");
}

#[tokio::test(start_paused = true)]
async fn shutdown_mid_flight_loses_nothing() {
    let jobs =
        queue(QueueConfig::standard("shutdown").visibility_timeout(Duration::from_secs(300)));
    send_n(&jobs, 60);
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let summary = Consumer::new(jobs.clone())
        .concurrency(20)
        .grace_period(Duration::from_secs(2))
        .run(service_fn(move |message: Message<String>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                // Even messages finish within the grace period, odd ones would not.
                let index: u64 = message.body().parse().unwrap();
                let work = if index % 2 == 0 { 1 } else { 600 };
                tokio::time::sleep(Duration::from_secs(work)).await;
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .into_future();
    let run = tokio::spawn(summary);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).unwrap();
    let summary: Summary = run.await.unwrap().unwrap();
    let counts = jobs.attributes_now();
    // Everything received was either deleted (finished in time) or released: visible again at once.
    assert_eq!(summary.received, 20, "only as many as there were slots");
    assert_eq!(
        summary.deleted + summary.released,
        summary.received,
        "{summary:?}"
    );
    assert_eq!(counts.not_visible, 0, "nothing left invisible: {counts:?}");
    assert_eq!(counts.visible + summary.deleted, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_does_not_stop_the_consumer() {
    let dlq = queue(QueueConfig::standard("panics-dlq"));
    let jobs = queue(
        QueueConfig::standard("panics")
            .visibility_timeout(Duration::from_secs(1))
            .redrive(dlq.clone(), 1),
    );
    send_n(&jobs, 100);
    let summary = Consumer::new(jobs.clone())
        .concurrency(8)
        .failure_policy(FailurePolicy::QueueTimeout)
        .run(service_fn(|message: Message<String>| async move {
            if message.body().parse::<u32>().unwrap() % 10 == 0 {
                panic!("handler bug on {}", message.body());
            }
            Ok::<_, BoxError>(())
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!(summary.panics, 10);
    assert_eq!(summary.succeeded, 90);
    assert_eq!(
        dlq.len(),
        10,
        "each panicking message ends in the dead-letter queue"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_and_discard_outcomes_do_what_they_say() {
    let jobs =
        queue(QueueConfig::standard("outcomes").visibility_timeout(Duration::from_secs(300)));
    jobs.send(OutgoingMessage::new("retry")).unwrap();
    jobs.send(OutgoingMessage::new("discard")).unwrap();
    let retried_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = retried_at.clone();
    let summary = Consumer::new(jobs.clone())
        .run(service_fn(move |message: Message<String>| {
            let log = log.clone();
            async move {
                match (message.body().as_str(), message.receive_count()) {
                    ("retry", 1) => {
                        log.lock().unwrap().push(Instant::now());
                        Err::<(), BoxError>(Retry::after(Duration::from_secs(42)).into())
                    }
                    ("retry", _) => {
                        log.lock().unwrap().push(Instant::now());
                        Ok(())
                    }
                    _ => Err(Discard::because("not for us").into()),
                }
            }
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    let times = retried_at.lock().unwrap().clone();
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_secs(42) && gap < Duration::from_secs(43),
        "{gap:?}"
    );
    assert_eq!(
        (summary.retried, summary.discarded, summary.succeeded),
        (1, 1, 1)
    );
    assert_eq!(summary.deleted, 2);
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Job {
    height: u32,
}

#[tokio::test(start_paused = true)]
async fn an_undecodable_body_is_a_failure_that_ends_in_the_dead_letter_queue() {
    let dlq = queue(QueueConfig::standard("bad-dlq"));
    let jobs = queue(
        QueueConfig::standard("bad")
            .visibility_timeout(Duration::from_secs(5))
            .redrive(dlq.clone(), 2),
    );
    for body in ["not json", r#"{"width": 3}"#, r#"{"height": 720}"#] {
        jobs.send(OutgoingMessage::new(body)).unwrap();
    }
    let handled = Arc::new(AtomicU32::new(0));
    let counter = handled.clone();
    let summary = Consumer::new(jobs.clone())
        .failure_policy(FailurePolicy::QueueTimeout)
        .run(service_fn(move |_message: Message<Json<Job>>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!(
        handled.load(Ordering::Relaxed),
        1,
        "only the good body reaches the handler"
    );
    assert_eq!(summary.failed, 4, "two bad bodies, two deliveries each");
    assert_eq!(dlq.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_idle_consumer_makes_at_most_three_receives_a_minute_per_poller() {
    let jobs = queue(QueueConfig::standard("idle"));
    let summary = Consumer::new(jobs.clone())
        .concurrency(40)
        .pollers(4)
        .run(service_fn(|_message: Message<String>| async {
            Ok::<_, BoxError>(())
        }))
        .with_graceful_shutdown(tokio::time::sleep(Duration::from_secs(60)))
        .await
        .unwrap();
    // The first poller long-polls (20 s a receive); the three others park after one empty receive.
    assert!(summary.receive_requests <= 3 + 3 + 1, "{summary:?}");
    assert!(summary.receive_requests >= 3, "{summary:?}");
}

#[tokio::test(start_paused = true)]
async fn pause_stops_receiving_and_resume_starts_again() {
    let jobs = queue(QueueConfig::standard("pause"));
    let consumer = Consumer::new(jobs.clone()).wait_time(Duration::from_secs(1));
    let control = consumer.control();
    control.pause();
    let run = tokio::spawn(
        consumer
            .run(service_fn(|_message: Message<String>| async {
                Ok::<_, BoxError>(())
            }))
            .with_graceful_shutdown(std::future::pending())
            .into_future(),
    );
    send_n(&jobs, 5);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        jobs.attributes_now().visible,
        5,
        "nothing received while paused"
    );
    control.resume();
    drained(jobs.clone()).await;
    control.shutdown();
    let summary = run.await.unwrap().unwrap();
    assert_eq!(summary.deleted, 5);
}

/// A source that fails its first `failures` receives, as an unreachable queue would.
struct Flaky {
    queue: MemoryQueue,
    failures: AtomicU32,
    /// Panic instead of returning an error.
    panics: bool,
    /// How many delete requests fail (as a throttled or unreachable queue would) before they pass.
    delete_failures: AtomicU32,
}

#[derive(Debug, thiserror::Error)]
#[error("connection refused")]
struct Outage;

impl Source for Flaky {
    type Error = Outage;

    async fn receive(&self, request: ReceiveRequest) -> Result<Vec<workpool::RawMessage>, Outage> {
        if self
            .failures
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            if self.panics {
                panic!("a bug in the source");
            }
            return Err(Outage);
        }
        Ok(self.queue.receive(request).await.expect("memory queue"))
    }

    async fn delete_batch(&self, handles: &[String]) -> Result<workpool::BatchOutcome, Outage> {
        if self
            .delete_failures
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Outage);
        }
        Ok(self
            .queue
            .delete_batch(handles)
            .await
            .expect("memory queue"))
    }

    async fn change_visibility_batch(
        &self,
        changes: &[workpool::VisibilityChange],
    ) -> Result<workpool::BatchOutcome, Outage> {
        Ok(self
            .queue
            .change_visibility_batch(changes)
            .await
            .expect("memory queue"))
    }

    async fn attributes(&self) -> Result<workpool::QueueAttributes, Outage> {
        Ok(self.queue.attributes().await.expect("memory queue"))
    }

    fn name(&self) -> &str {
        "flaky"
    }
}

#[tokio::test(start_paused = true)]
async fn receive_errors_back_off_and_the_consumer_recovers_by_itself() {
    let jobs = queue(QueueConfig::standard("flaky"));
    send_n(&jobs, 20);
    let source = Flaky {
        queue: jobs.clone(),
        failures: AtomicU32::new(8),
        panics: false,
        delete_failures: AtomicU32::new(0),
    };
    let started = Instant::now();
    let summary = Consumer::new(source)
        .pollers(1)
        .run(service_fn(|_message: Message<String>| async {
            Ok::<_, BoxError>(())
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!(summary.deleted, 20);
    assert_eq!(summary.request_errors, 8);
    // 8 failures back off 0.2, 0.4, … s (halved at most by jitter): more than 12 s in all, not a spin.
    assert!(
        started.elapsed() >= Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_poller_that_dies_is_restarted_and_nothing_is_lost() {
    let jobs = queue(QueueConfig::standard("panicky"));
    send_n(&jobs, 30);
    let source = Flaky {
        queue: jobs.clone(),
        failures: AtomicU32::new(2),
        panics: true,
        delete_failures: AtomicU32::new(0),
    };
    let summary = Consumer::new(source)
        .pollers(1)
        .run(service_fn(|_message: Message<String>| async {
            Ok::<_, BoxError>(())
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!(summary.poller_restarts, 2);
    assert_eq!(summary.deleted, 30);
}

#[tokio::test(start_paused = true)]
async fn a_message_redelivered_while_its_delete_is_retried_is_deleted_not_handled_twice() {
    // The queue's 1 s visibility runs out while the first deletes fail and back off: five failures
    // pause 50–100, 100–200, 200–400, 400–800 and 800–1600 ms (jittered), at least 1.55 s in all,
    // so the message comes back before any delete has gone through, whatever the jitter. (With four,
    // as at first, the pauses could add up to 0.75 s and the delete win the race now and then.)
    let jobs =
        queue(QueueConfig::standard("redelivered").visibility_timeout(Duration::from_secs(1)));
    send_n(&jobs, 1);
    let source = Flaky {
        queue: jobs.clone(),
        failures: AtomicU32::new(0),
        panics: false,
        delete_failures: AtomicU32::new(5),
    };
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let summary = Consumer::new(source)
        .heartbeat(false)
        .run(service_fn(move |_message: Message<String>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1, "{summary:?}");
    assert_eq!(summary.redeliveries_deleted, 1, "{summary:?}");
    assert_eq!(summary.received, 2);
    assert!(jobs.is_empty());
}

/// A queue across a network, as far as cancellation goes: each receive goes on in a task of its
/// own (the server's) even when the consumer drops it, and whatever it takes then is handed to
/// nobody.
struct Remote {
    queue: MemoryQueue,
}

impl Source for Remote {
    type Error = workpool::Error;

    async fn receive(
        &self,
        request: ReceiveRequest,
    ) -> Result<Vec<workpool::RawMessage>, workpool::Error> {
        let queue = self.queue.clone();
        tokio::spawn(async move { queue.receive(request).await })
            .await
            .expect("the server's task")
    }

    async fn delete_batch(
        &self,
        handles: &[String],
    ) -> Result<workpool::BatchOutcome, workpool::Error> {
        self.queue.delete_batch(handles).await
    }

    async fn change_visibility_batch(
        &self,
        changes: &[workpool::VisibilityChange],
    ) -> Result<workpool::BatchOutcome, workpool::Error> {
        self.queue.change_visibility_batch(changes).await
    }

    async fn attributes(&self) -> Result<workpool::QueueAttributes, workpool::Error> {
        self.queue.attributes().await
    }

    fn name(&self) -> &str {
        "remote"
    }
}

/// Runs a consumer of `source` whose two handlers wait for `release` and then give their messages
/// back (`Retry` at once); returns once both have started.
async fn two_held_handlers<S: Source>(
    source: S,
    release: tokio_util::sync::CancellationToken,
) -> (
    workpool::Control,
    tokio::task::JoinHandle<Result<Summary, workpool::Error>>,
) {
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    let consumer = Consumer::new(source)
        .concurrency(4)
        .wait_time(Duration::from_secs(20))
        .grace_period(Duration::from_secs(3600));
    let control = consumer.control();
    let run = tokio::spawn(
        consumer
            .run(service_fn(move |_message: Message<String>| {
                counter.fetch_add(1, Ordering::Relaxed);
                let release = release.clone();
                async move {
                    release.cancelled().await;
                    Err::<(), BoxError>(Retry::after(Duration::ZERO).into())
                }
            }))
            .into_future(),
    );
    while started.load(Ordering::Relaxed) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (control, run)
}

#[tokio::test(start_paused = true)]
async fn a_stop_lets_a_remote_receive_answer_so_nothing_made_visible_after_it_is_taken() {
    let jobs = queue(QueueConfig::standard("remote").visibility_timeout(Duration::from_secs(600)));
    send_n(&jobs, 2);
    let release = tokio_util::sync::CancellationToken::new();
    let (control, run) = two_held_handlers(
        Remote {
            queue: jobs.clone(),
        },
        release.clone(),
    )
    .await;
    // Two slots are free, so a receive is waiting on the empty queue.
    tokio::time::sleep(Duration::from_secs(1)).await;

    control.shutdown();
    let stopping = Instant::now();
    control.receiving_stopped().await;
    // The receive under way was given its wait (20 s at most) to answer, and answered empty.
    assert!(
        stopping.elapsed() <= Duration::from_secs(20),
        "{:?}",
        stopping.elapsed()
    );
    // What becomes visible now (new messages, or releases as on a Spot notice) stays visible.
    send_n(&jobs, 3);
    release.cancel();
    let summary = run.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(jobs.attributes_now().visible, 5, "{summary:?}");
    assert_eq!((summary.received, summary.retried), (2, 2), "{summary:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stop_drops_an_in_process_receive_at_once() {
    let jobs = queue(QueueConfig::standard("local").visibility_timeout(Duration::from_secs(600)));
    send_n(&jobs, 2);
    let release = tokio_util::sync::CancellationToken::new();
    let (control, run) = two_held_handlers(jobs.clone(), release.clone()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    control.shutdown();
    let stopping = Instant::now();
    control.receiving_stopped().await;
    assert!(
        stopping.elapsed() < Duration::from_millis(100),
        "{:?}",
        stopping.elapsed()
    );
    send_n(&jobs, 3);
    release.cancel();
    let summary = run.await.unwrap().unwrap();
    assert_eq!(jobs.attributes_now().visible, 5, "{summary:?}");
    assert_eq!((summary.received, summary.retried), (2, 2), "{summary:?}");
}

#[tokio::test(start_paused = true)]
async fn two_pollers_share_sixteen_slots_without_idling_them_for_each_other() {
    let jobs = queue(QueueConfig::standard("shares"));
    send_n(&jobs, 1600);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now_running, most_running) = (running.clone(), most.clone());
    let started = Instant::now();
    let summary = Consumer::new(jobs.clone())
        .concurrency(16)
        .receive_linger(Duration::from_millis(20))
        .run(service_fn(move |_message: Message<String>| {
            let (running, most) = (now_running.clone(), most_running.clone());
            async move {
                let now = running.fetch_add(1, Ordering::Relaxed) + 1;
                most.fetch_max(now, Ordering::Relaxed);
                // A fast app: done well within the receive linger.
                tokio::time::sleep(Duration::from_millis(5)).await;
                running.fetch_sub(1, Ordering::Relaxed);
                Ok::<_, BoxError>(())
            }
        }))
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(summary.deleted, 1600);
    assert_eq!(most.load(Ordering::Relaxed), 16, "every slot was used");
    // Sixteen at a time, 5 ms each: 500 ms. Had one poller held six slots idle while waiting for
    // the other's batch of ten to finish, batches of ten would run one after another: 800 ms.
    assert!(took < Duration::from_millis(650), "{took:?} {summary:?}");
}

/// A service whose readiness check panics once, then is fine.
#[derive(Clone)]
struct PanicsWhenAskedIfReady {
    panics_left: Arc<AtomicU32>,
}

impl tower::Service<Message<String>> for PanicsWhenAskedIfReady {
    type Response = ();
    type Error = BoxError;
    type Future = std::future::Ready<Result<(), BoxError>>;

    fn poll_ready(
        &mut self,
        _context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        if self
            .panics_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("readiness check broke");
        }
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _message: Message<String>) -> Self::Future {
        std::future::ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_readiness_check_is_a_failure_not_a_crash() {
    let jobs =
        queue(QueueConfig::standard("ready-panic").visibility_timeout(Duration::from_secs(5)));
    send_n(&jobs, 3);
    let summary = Consumer::new(jobs.clone())
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        })
        .run(PanicsWhenAskedIfReady {
            panics_left: Arc::new(AtomicU32::new(1)),
        })
        .with_graceful_shutdown(drained(jobs.clone()))
        .await
        .unwrap();
    assert_eq!((summary.panics, summary.failed), (1, 1), "{summary:?}");
    assert_eq!((summary.succeeded, summary.deleted), (3, 3), "{summary:?}");
}
