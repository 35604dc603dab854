//! HTTP hand-off end to end: the real sidecar polls a queue on the emulator and POSTs to a real local
//! app, which answers 200, 204, 500, 429 + Retry-After, hangs, or drops the connection; the sender id
//! SQS reports reaches the app; one keep-alive connection carries sequential messages; and an
//! address that never accepts fails a message after the connect timeout, not the inactivity timeout.

mod support;

use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use support::app::{App, Reply};
use support::blackhole::Blackhole;
use tokio::sync::oneshot;
use tokio::time::Instant;
use workpool::{Message, Metadata};
use workpool_sidecar::{
    AutoScalingMode, Ending, Error, HttpHandoff, HttpHandoffConfig, Report, Sidecar, SidecarConfig,
};

/// A sidecar for `queue_url` handing off to `app`, Auto Scaling off, status on a free port.
fn config(queue_url: &str, app: &App) -> SidecarConfig {
    SidecarConfig::new(queue_url)
        // A stop waits for the receive under way: keep the long poll short.
        .wait_time(Duration::from_secs(2))
        .endpoint_url(Some(support::endpoint()))
        .http_url(app.url().parse().unwrap())
        .auto_scaling(AutoScalingMode::Off)
        .listen("127.0.0.1:0")
        .concurrency(4)
        .grace_period(Duration::from_secs(5))
}

/// Starts the sidecar; the sender stops it.
async fn start(config: SidecarConfig) -> (oneshot::Sender<()>, tokio::task::JoinHandle<Report>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let bound = Sidecar::new(config).bind().await.expect("bind the sidecar");
    let task = tokio::spawn(async move {
        bound
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .expect("the sidecar runs")
    });
    (stop, task)
}

async fn stop(stop: oneshot::Sender<()>, task: tokio::task::JoinHandle<Report>) -> Report {
    let _ = stop.send(());
    let report = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the sidecar stops")
        .expect("the sidecar task");
    assert_eq!(report.ending, Ending::Shutdown);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_deletes_each_message_and_the_app_gets_sqsd_headers() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-ok", Duration::from_secs(30)).await;
    let queue_name = queue_url.rsplit('/').next().unwrap().to_owned();
    let app = App::start(|_, _| Reply::ok()).await;
    let bodies: Vec<String> = (0..6).map(|n| format!(r#"{{"job":{n}}}"#)).collect();
    let ids = support::send_all(&sqs, &queue_url, &bodies).await;

    let (stopper, task) = start(config(&queue_url, &app).content_type("application/x-job")).await;
    support::eventually("the app got all six", Duration::from_secs(20), || async {
        app.count() >= 6
    })
    .await;
    support::eventually("the queue is empty", Duration::from_secs(10), || async {
        support::queue_counts(&sqs, &queue_url).await == (0, 0)
    })
    .await;
    let report = stop(stopper, task).await;

    assert_eq!(report.summary.received, 6);
    assert_eq!(report.summary.succeeded, 6);
    assert_eq!(report.summary.deleted, 6);
    assert_eq!(report.summary.failed, 0);
    let received = app.received();
    assert_eq!(received.len(), 6, "each message handed off exactly once");
    let mut got_bodies: Vec<String> = received.iter().map(|r| r.body.clone()).collect();
    got_bodies.sort();
    let mut sent = bodies.clone();
    sent.sort();
    assert_eq!(got_bodies, sent);
    for request in &received {
        let header = |name: &str| request.headers.get(name).cloned().unwrap_or_default();
        assert!(
            ids.contains(&header("x-aws-sqsd-msgid")),
            "{:?}",
            request.headers
        );
        assert_eq!(header("x-aws-sqsd-queue"), queue_name);
        assert_eq!(header("x-aws-sqsd-receive-count"), "1");
        assert_eq!(header("x-aws-sqsd-attr-colour"), "blue");
        assert_eq!(header("content-type"), "application/x-job");
        let first_received = header("x-aws-sqsd-first-received-at");
        assert!(
            first_received.len() == 20
                && first_received.ends_with('Z')
                && first_received.as_bytes()[10] == b'T',
            "ISO 8601: {first_received}"
        );
        assert!(header("user-agent").starts_with("aws-sqsd"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_a_failure_and_the_message_stays() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-500", Duration::from_secs(30)).await;
    let app = App::start(|_, _| Reply::status(500)).await;
    support::send_all(&sqs, &queue_url, &["boom".to_owned()]).await;

    let (stopper, task) = start(config(&queue_url, &app)).await;
    support::eventually("the app got it", Duration::from_secs(20), || async {
        app.count() >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = stop(stopper, task).await;

    assert_eq!(report.summary.received, 1);
    assert_eq!(report.summary.failed, 1);
    assert_eq!(report.summary.succeeded, 0);
    assert_eq!(report.summary.deleted, 0);
    let (visible, in_flight) = support::queue_counts(&sqs, &queue_url).await;
    assert_eq!(
        visible + in_flight,
        1,
        "the failed message is still in the queue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_brings_the_message_back_after_that_long() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-429", Duration::from_secs(30)).await;
    let app = App::start(|_, attempt| {
        if attempt == 0 {
            Reply::Status {
                status: 429,
                headers: vec![("Retry-After".into(), "2".into())],
                after: Duration::ZERO,
            }
        } else {
            Reply::ok()
        }
    })
    .await;
    support::send_all(&sqs, &queue_url, &["later".to_owned()]).await;

    let (stopper, task) = start(config(&queue_url, &app)).await;
    support::eventually("the app got it twice", Duration::from_secs(20), || async {
        app.count() >= 2
    })
    .await;
    support::eventually("the queue is empty", Duration::from_secs(10), || async {
        support::queue_counts(&sqs, &queue_url).await == (0, 0)
    })
    .await;
    let report = stop(stopper, task).await;

    let received = app.received();
    assert_eq!(received.len(), 2);
    let waited = received[1].at - received[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "came back after {waited:?}, asked for 2 s"
    );
    assert!(
        waited < Duration::from_secs(10),
        "came back after {waited:?}, asked for 2 s"
    );
    assert_eq!(received[1].headers["x-aws-sqsd-receive-count"], "2");
    assert_eq!(report.summary.received, 2);
    assert_eq!(report.summary.retried, 1);
    assert_eq!(report.summary.succeeded, 1);
    assert_eq!(report.summary.deleted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_silent_past_the_inactivity_timeout_fails_the_message() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-hang", Duration::from_secs(30)).await;
    let app = App::start(|_, _| Reply::Hang).await;
    support::send_all(&sqs, &queue_url, &["slow".to_owned()]).await;

    let started = tokio::time::Instant::now();
    let (stopper, task) =
        start(config(&queue_url, &app).inactivity_timeout(Duration::from_secs(1))).await;
    support::eventually("the app got it", Duration::from_secs(20), || async {
        app.count() >= 1
    })
    .await;
    let handed_off = app.received()[0].at;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let report = stop(stopper, task).await;

    assert_eq!(report.summary.received, 1);
    assert_eq!(report.summary.failed, 1, "{:?}", report.summary);
    assert_eq!(report.summary.succeeded, 0);
    assert_eq!(
        report.summary.released, 0,
        "failed by the timeout, not released at shutdown"
    );
    assert!(handed_off >= started);
    let (visible, in_flight) = support::queue_counts(&sqs, &queue_url).await;
    assert_eq!(visible + in_flight, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_a_failure_not_a_success() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-drop", Duration::from_secs(30)).await;
    let app = App::start(|_, _| Reply::Drop).await;
    support::send_all(&sqs, &queue_url, &["dropped".to_owned()]).await;

    let (stopper, task) = start(config(&queue_url, &app)).await;
    support::eventually("the app got it", Duration::from_secs(20), || async {
        app.count() >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = stop(stopper, task).await;

    assert_eq!(report.summary.received, 1);
    assert_eq!(report.summary.failed, 1);
    assert_eq!(report.summary.succeeded, 0);
    assert_eq!(report.summary.deleted, 0);
    let (visible, in_flight) = support::queue_counts(&sqs, &queue_url).await;
    assert_eq!(visible + in_flight, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_id_sqs_reports_reaches_the_app() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-sender", Duration::from_secs(30)).await;
    let app = App::start(|_, _| Reply::ok()).await;
    support::send_all(&sqs, &queue_url, &["who sent me".to_owned()]).await;
    // What SQS itself says about the sender, read with the SDK; then the message is put back.
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .message_system_attribute_names(MessageSystemAttributeName::SenderId)
        .wait_time_seconds(5)
        .send()
        .await
        .expect("ReceiveMessage on the emulator");
    let message = &received.messages()[0];
    let sender = message
        .attributes()
        .and_then(|attributes| attributes.get(&MessageSystemAttributeName::SenderId))
        .expect("SQS reports a SenderId")
        .clone();
    assert!(!sender.is_empty());
    sqs.change_message_visibility()
        .queue_url(&queue_url)
        .receipt_handle(message.receipt_handle().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .expect("ChangeMessageVisibility");

    let (stopper, task) = start(config(&queue_url, &app)).await;
    support::eventually("the app got it", Duration::from_secs(20), || async {
        app.count() >= 1
    })
    .await;
    support::eventually("the queue is empty", Duration::from_secs(10), || async {
        support::queue_counts(&sqs, &queue_url).await == (0, 0)
    })
    .await;
    let report = stop(stopper, task).await;

    assert_eq!((report.summary.received, report.summary.deleted), (1, 1));
    let request = &app.received()[0];
    assert_eq!(
        request.headers.get("x-aws-sqsd-sender-id"),
        Some(&sender),
        "{:?}",
        request.headers
    );
    assert_eq!(request.headers["x-aws-sqsd-receive-count"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_204_is_a_success_only_when_any_2xx_is_accepted() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let strict_queue = support::create_queue(&sqs, "sidecar-204", Duration::from_secs(30)).await;
    let lenient_queue = support::create_queue(&sqs, "sidecar-2xx", Duration::from_secs(30)).await;
    let strict_app = App::start(|_, _| Reply::status(204)).await;
    let lenient_app = App::start(|_, _| Reply::status(204)).await;
    support::send_all(&sqs, &strict_queue, &["no content".to_owned()]).await;
    support::send_all(&sqs, &lenient_queue, &["no content".to_owned()]).await;

    let (strict_stop, strict) = start(config(&strict_queue, &strict_app)).await;
    let (lenient_stop, lenient) =
        start(config(&lenient_queue, &lenient_app).accept_any_2xx(true)).await;
    support::eventually("both apps got theirs", Duration::from_secs(20), || async {
        strict_app.count() >= 1 && lenient_app.count() >= 1
    })
    .await;
    support::eventually(
        "the lenient queue is empty",
        Duration::from_secs(10),
        || async { support::queue_counts(&sqs, &lenient_queue).await == (0, 0) },
    )
    .await;
    let lenient = stop(lenient_stop, lenient).await;
    let strict = stop(strict_stop, strict).await;

    // Accepted: one in, one done and deleted.
    assert_eq!(
        (
            lenient.summary.received,
            lenient.summary.succeeded,
            lenient.summary.deleted,
            lenient.summary.failed
        ),
        (1, 1, 1, 0),
        "{:?}",
        lenient.summary
    );
    // Only 200 is success (as sqsd): the 204 failed and the message is still in the queue.
    assert!(strict.summary.failed >= 1, "{:?}", strict.summary);
    assert_eq!(
        (strict.summary.succeeded, strict.summary.deleted),
        (0, 0),
        "{:?}",
        strict.summary
    );
    let (visible, in_flight) = support::queue_counts(&sqs, &strict_queue).await;
    assert_eq!(visible + in_flight, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_messages_share_one_keep_alive_connection() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-reuse", Duration::from_secs(30)).await;
    let app = App::start(|_, _| Reply::ok()).await;
    let bodies: Vec<String> = (0..5).map(|n| format!("sequential {n}")).collect();
    support::send_all(&sqs, &queue_url, &bodies).await;

    // One slot: each hand-off starts after the one before has been answered.
    let (stopper, task) = start(config(&queue_url, &app).concurrency(1)).await;
    support::eventually("the app got all five", Duration::from_secs(30), || async {
        app.count() >= 5
    })
    .await;
    support::eventually("the queue is empty", Duration::from_secs(10), || async {
        support::queue_counts(&sqs, &queue_url).await == (0, 0)
    })
    .await;
    let report = stop(stopper, task).await;

    assert_eq!(
        (report.summary.received, report.summary.deleted),
        (5, 5),
        "{:?}",
        report.summary
    );
    assert_eq!(app.count(), 5);
    assert_eq!(app.connections(), 1, "five requests, one connection");
}

/// A queue whose messages move to a dead-letter queue at their second receive: (queue, DLQ).
async fn queue_dead_lettering_after_one_receive(sqs: &aws_sdk_sqs::Client) -> (String, String) {
    let dead = support::create_queue(sqs, "sidecar-connect-dlq", Duration::from_secs(30)).await;
    let dead_arn = sqs
        .get_queue_attributes()
        .queue_url(&dead)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes()
        .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn).cloned())
        .expect("a queue ARN");
    let queue = support::create_queue(sqs, "sidecar-connect", Duration::from_secs(30)).await;
    sqs.set_queue_attributes()
        .queue_url(&queue)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dead_arn}","maxReceiveCount":"1"}}"#),
        )
        .send()
        .await
        .expect("SetQueueAttributes");
    (queue, dead)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_never_accepts_fails_the_message_after_the_connect_timeout() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let (queue_url, dead_url) = queue_dead_lettering_after_one_receive(&sqs).await;
    let blackhole = Blackhole::start().await;
    let sidecar = SidecarConfig::new(&queue_url)
        .wait_time(Duration::from_secs(1))
        .endpoint_url(Some(support::endpoint()))
        .http_url(blackhole.url().parse().unwrap())
        .auto_scaling(AutoScalingMode::Off)
        .listen("127.0.0.1:0")
        .concurrency(1)
        .grace_period(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(1))
        .inactivity_timeout(Duration::from_secs(60));
    let (stopper, task) = start(sidecar).await;
    let sent = Instant::now();
    support::send_all(&sqs, &queue_url, &["knock knock".to_owned()]).await;

    // Failed after the 1 s connect timeout, back after the 2 s failure backoff, then dead-lettered
    // at its second receive: a few seconds. Bound only by the 60 s inactivity timeout, it would be
    // a minute.
    support::eventually(
        "the message reaches the dead-letter queue",
        Duration::from_secs(30),
        || async { support::queue_counts(&sqs, &dead_url).await.0 == 1 },
    )
    .await;
    let dead_lettered_after = sent.elapsed();
    let report = stop(stopper, task).await;

    assert!(
        dead_lettered_after < Duration::from_secs(30),
        "{dead_lettered_after:?}"
    );
    assert_eq!(
        (
            report.summary.received,
            report.summary.failed,
            report.summary.deleted
        ),
        (1, 1, 0),
        "{:?}",
        report.summary
    );
    assert_eq!(support::queue_counts(&sqs, &queue_url).await, (0, 0));
}

#[tokio::test]
async fn the_connect_timeout_bounds_a_hand_off_to_an_app_that_never_accepts() {
    let blackhole = Blackhole::start().await;
    let handoff = HttpHandoff::new(
        HttpHandoffConfig::new(blackhole.url().parse().unwrap(), "jobs")
            .connect_timeout(Duration::from_secs(1))
            .inactivity_timeout(Duration::from_secs(60)),
    );
    let (metadata, body) = (Metadata::new("id", "receipt"), "knock knock".to_owned());

    let started = Instant::now();
    let error = handoff
        .hand_off(Message::new(body, metadata))
        .await
        .expect_err("nothing accepts the connection");
    let took = started.elapsed();

    assert!(
        matches!(error, Error::AppUnreachable { .. }),
        "not a connect failure: {error}"
    );
    assert!(took >= Duration::from_millis(900), "gave up after {took:?}");
    // About the connect timeout (1 s), far from the inactivity timeout (60 s).
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");
}
