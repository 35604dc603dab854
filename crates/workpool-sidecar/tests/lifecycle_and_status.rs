//! The sidecar's own edges, end to end on the emulator: shutdown drains within the grace period and
//! releases the rest; SNS envelopes are unwrapped on request; `/healthz` follows the app's health URL
//! and `/metrics` serves Prometheus text.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use support::app::{App, Reply};
use tokio::sync::oneshot;
use workpool_sidecar::{AutoScalingMode, Ending, Report, Sidecar, SidecarConfig};

fn config(queue_url: &str, app: &App) -> SidecarConfig {
    SidecarConfig::new(queue_url)
        // A stop waits for the receive under way: keep the long poll short.
        .wait_time(Duration::from_secs(2))
        .endpoint_url(Some(support::endpoint()))
        .http_url(app.url().parse().unwrap())
        .auto_scaling(AutoScalingMode::Off)
        .listen("127.0.0.1:0")
        .concurrency(4)
}

struct Running {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Report>,
    status: std::net::SocketAddr,
}

async fn start(sidecar: Sidecar) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let bound = sidecar.bind().await.expect("bind the sidecar");
    let status = bound.status_address().expect("a status address");
    let task = tokio::spawn(async move {
        bound
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .expect("the sidecar runs")
    });
    Running { stop, task, status }
}

async fn stop(running: Running) -> Report {
    let _ = running.stop.send(());
    let report = tokio::time::timeout(Duration::from_secs(30), running.task)
        .await
        .expect("the sidecar stops")
        .expect("the sidecar task");
    assert_eq!(report.ending, Ending::Shutdown);
    report
}

async fn get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client
        .get(format!("http://{address}{path}").parse().unwrap())
        .await
        .expect("GET the status server");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_hand_offs_finish_within_the_grace_period() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-drain", Duration::from_secs(60)).await;
    let app = App::start(|_, _| Reply::Status {
        status: 200,
        headers: Vec::new(),
        after: Duration::from_secs(1),
    })
    .await;
    support::send_all(&sqs, &queue_url, &["a".to_owned(), "b".to_owned()]).await;
    let running = start(Sidecar::new(
        config(&queue_url, &app).grace_period(Duration::from_secs(5)),
    ))
    .await;
    support::eventually("the app got both", Duration::from_secs(20), || async {
        app.count() >= 2
    })
    .await;
    let report = stop(running).await;

    assert_eq!(report.summary.received, 2);
    assert_eq!(report.summary.succeeded, 2);
    assert_eq!(report.summary.deleted, 2);
    assert_eq!(report.summary.released, 0);
    assert_eq!(support::queue_counts(&sqs, &queue_url).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_what_outlives_the_grace_period() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-release", Duration::from_secs(60)).await;
    let app = App::start(|_, _| Reply::Hang).await;
    support::send_all(&sqs, &queue_url, &["stuck".to_owned()]).await;
    let running = start(Sidecar::new(
        config(&queue_url, &app).grace_period(Duration::from_millis(300)),
    ))
    .await;
    support::eventually("the app got it", Duration::from_secs(20), || async {
        app.count() >= 1
    })
    .await;
    let report = stop(running).await;

    assert_eq!(report.summary.received, 1);
    assert_eq!(report.summary.released, 1, "{:?}", report.summary);
    assert_eq!(report.summary.succeeded, 0);
    // Visibility timeout 60 s: visible at once only because it was released.
    assert_eq!(support::queue_counts(&sqs, &queue_url).await, (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_unwrapping_hands_off_the_inner_message() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-sns", Duration::from_secs(30)).await;
    let app = App::start(|_, _| Reply::ok()).await;
    let envelope = serde_json::json!({
        "Type": "Notification",
        "MessageId": "sns-1",
        "TopicArn": "arn:aws:sns:us-east-1:000000000000:jobs",
        "Message": "{\"height\":720}",
    })
    .to_string();
    support::send_all(&sqs, &queue_url, &[envelope]).await;
    let running = start(Sidecar::new(config(&queue_url, &app).sns_unwrap(true))).await;
    support::eventually("the queue is empty", Duration::from_secs(20), || async {
        support::queue_counts(&sqs, &queue_url).await == (0, 0)
    })
    .await;
    let report = stop(running).await;

    assert_eq!(report.summary.received, 1);
    assert_eq!(report.summary.succeeded, 1);
    let received = app.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, "{\"height\":720}");
}

fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            workpool_sidecar::install_prometheus_recorder().expect("install the recorder")
        })
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_follows_the_app_health_url_and_metrics_are_served() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-status", Duration::from_secs(30)).await;
    let healthy = Arc::new(AtomicBool::new(true));
    let app_healthy = healthy.clone();
    let app = App::start(move |request, _| {
        let is_health_check = !request.headers.contains_key("x-aws-sqsd-msgid");
        if is_health_check && !app_healthy.load(Ordering::SeqCst) {
            Reply::status(503)
        } else {
            Reply::ok()
        }
    })
    .await;
    let running = start(
        Sidecar::new(config(&queue_url, &app).health_url(Some(app.url().parse().unwrap())))
            .metrics(Some(metrics_handle())),
    )
    .await;

    assert_eq!(get(running.status, "/healthz").await.0, 200);
    healthy.store(false, Ordering::SeqCst);
    let (status, body) = get(running.status, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("answered 503"), "{body}");
    healthy.store(true, Ordering::SeqCst);
    assert_eq!(get(running.status, "/healthz").await.0, 200);

    support::send_all(&sqs, &queue_url, &["counted".to_owned()]).await;
    support::eventually("the queue is empty", Duration::from_secs(20), || async {
        support::queue_counts(&sqs, &queue_url).await == (0, 0)
    })
    .await;
    let (status, metrics) = get(running.status, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("workpool_messages_received_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("workpool_sidecar_http_responses_total{status=\"200\"}"),
        "{metrics}"
    );
    assert_eq!(get(running.status, "/nowhere").await.0, 404);
    let report = stop(running).await;
    assert_eq!(report.summary.received, 1);
    assert_eq!(report.summary.succeeded, 1);
}
