//! HTTP hand-off end to end: the real sidecar polls a queue on the emulator and POSTs to a real local
//! app, which answers 200, 500, 429 + Retry-After, hangs, or drops the connection.

mod support;

use std::time::Duration;

use support::app::{App, Reply};
use tokio::sync::oneshot;
use workpool_sidecar::{AutoScalingMode, Ending, Report, Sidecar, SidecarConfig};

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
