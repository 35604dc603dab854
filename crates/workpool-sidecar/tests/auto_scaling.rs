//! The Auto Scaling integration end to end: a real Auto Scaling group on the emulator, a local server
//! standing in for instance metadata, a real local app. Scale-in protection follows the busy slots;
//! a termination drains, heartbeats and completes the lifecycle action; a Spot notice releases the
//! in-flight messages; protection refused while the instance boots is asked for again.

mod support;

use std::time::Duration;

use support::app::{App, Reply};
use support::auto_scaling::Group;
use support::fake_imds::FakeImds;
use tokio::sync::oneshot;
use workpool_sidecar::{
    AutoScalingApi, AutoScalingMode, AwsAutoScaling, Ending, Error, Report, Sidecar, SidecarConfig,
};

const TARGET_LIFECYCLE_STATE: &str = "/latest/meta-data/autoscaling/target-lifecycle-state";
const SPOT_INSTANCE_ACTION: &str = "/latest/meta-data/spot/instance-action";

fn config(queue_url: &str, app: &App, imds: &FakeImds) -> SidecarConfig {
    SidecarConfig::new(queue_url)
        // A stop waits for the receive under way: keep the long poll short.
        .wait_time(Duration::from_secs(2))
        .endpoint_url(Some(support::endpoint()))
        .http_url(app.url().parse().unwrap())
        .listen("127.0.0.1:0")
        .concurrency(4)
        .grace_period(Duration::from_secs(10))
        .auto_scaling(AutoScalingMode::On)
        .imds_endpoint(Some(imds.endpoint()))
        .protection_idle_delay(Duration::from_millis(500))
        .lifecycle_heartbeat_interval(Duration::from_millis(400))
        .metadata_poll_interval(Duration::from_millis(100))
}

/// Starts the sidecar; it stops by itself on a notice, or when the sender is dropped.
async fn start(
    config: SidecarConfig,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Report>,
    std::net::SocketAddr,
) {
    let (stop, stopped) = oneshot::channel::<()>();
    let bound = Sidecar::new(config).bind().await.expect("bind the sidecar");
    let status = bound.status_address().expect("a status address");
    let task = tokio::spawn(async move {
        bound
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .expect("the sidecar runs")
    });
    (stop, task, status)
}

/// The status code of `GET /healthz`.
async fn healthz(status: std::net::SocketAddr) -> u16 {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client
        .get(format!("http://{status}/healthz").parse().unwrap())
        .await
        .expect("GET /healthz");
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protection_follows_busy_slots_and_termination_drains_then_completes() {
    let aws = support::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let group = Group::create(&aws, "sidecar-asg").await;
    let queue_url = support::create_queue(&sqs, "sidecar-asg", Duration::from_secs(30)).await;
    let imds = FakeImds::start(&group.instance_id).await;
    let app = App::start(|_, _| Reply::Status {
        status: 200,
        headers: Vec::new(),
        after: Duration::from_secs(2),
    })
    .await;
    assert!(!group.protected().await);

    let (_stop, task, status) = start(config(&queue_url, &app, &imds)).await;
    assert_eq!(healthz(status).await, 200);

    // Busy: protected within the job's 2 s; idle: unprotected after the idle delay.
    support::send_all(&sqs, &queue_url, &["first".to_owned()]).await;
    support::eventually("the app got the first", Duration::from_secs(20), || async {
        app.count() >= 1
    })
    .await;
    let first_at = app.received()[0].at;
    support::eventually("protected while busy", Duration::from_secs(2), || {
        group.protected()
    })
    .await;
    assert!(
        first_at.elapsed() < Duration::from_secs(2),
        "protected before the job ended"
    );
    support::eventually("the first is deleted", Duration::from_secs(10), || async {
        support::queue_counts(&sqs, &queue_url).await == (0, 0)
    })
    .await;
    support::eventually("unprotected when idle", Duration::from_secs(5), || async {
        !group.protected().await
    })
    .await;

    // Terminating while a job runs: drain (with heartbeats), then complete.
    support::send_all(&sqs, &queue_url, &["second".to_owned()]).await;
    support::eventually(
        "the app got the second",
        Duration::from_secs(20),
        || async { app.count() >= 2 },
    )
    .await;
    imds.set(TARGET_LIFECYCLE_STATE, "Terminated");
    support::eventually("/healthz says stopping", Duration::from_secs(2), || async {
        healthz(status).await == 503
    })
    .await;
    let report = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the sidecar ends by itself after the termination")
        .expect("the sidecar task");
    let job_done = app.received()[1].at + Duration::from_secs(2);

    assert_eq!(report.ending, Ending::Terminated);
    assert_eq!(report.summary.received, 2);
    assert_eq!(report.summary.succeeded, 2);
    assert_eq!(report.summary.deleted, 2);
    assert_eq!(support::queue_counts(&sqs, &queue_url).await, (0, 0));

    let actions = group.lifecycle_actions().await;
    let heartbeats: Vec<_> = actions
        .iter()
        .filter(|entry| entry["action"] == "RecordLifecycleActionHeartbeat")
        .collect();
    let completes: Vec<_> = actions
        .iter()
        .filter(|entry| entry["action"] == "CompleteLifecycleAction")
        .collect();
    assert!(
        !heartbeats.is_empty(),
        "heartbeats while draining: {actions:?}"
    );
    assert_eq!(completes.len(), 1, "{actions:?}");
    for entry in &actions {
        assert_eq!(entry["accepted"], true, "{entry}");
        assert_eq!(
            entry["parameters"]["LifecycleHookName"],
            group.hook.as_str()
        );
        assert_eq!(
            entry["parameters"]["InstanceId"],
            group.instance_id.as_str()
        );
    }
    assert_eq!(
        completes[0]["parameters"]["LifecycleActionResult"],
        "CONTINUE"
    );
    let imds_requests = imds.requests();
    assert!(
        imds_requests.iter().any(|r| r == "PUT /latest/api/token"),
        "IMDSv2 token: {imds_requests:?}"
    );
    assert!(imds_requests
        .iter()
        .any(|r| r == "GET /latest/meta-data/instance-id"));
    let last_heartbeat = heartbeats.last().unwrap()["timestamp"].as_f64().unwrap();
    assert!(completes[0]["timestamp"].as_f64().unwrap() >= last_heartbeat);
    assert!(
        tokio::time::Instant::now() >= job_done,
        "completed only after the running job finished"
    );
}

/// A job can start before the sidecar's instance is in service: the emulator keeps a tagged
/// group's instance `Pending` while it boots, and refuses to protect it then, as AWS does ("is not
/// in InService or EnteringStandby or Standby"), which the sidecar reads as
/// `Error::NotInService`. The job runs and is deleted all the same, and protection is asked for
/// again until the instance is in service, while the job still runs; once idle, it goes off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protection_refused_while_the_instance_boots_is_asked_again_until_it_is_in_service() {
    // The boot outlasts the sidecar's start and first receive on a busy machine; the job outlasts
    // the boot plus the 5 s between protection requests.
    let boot = Duration::from_secs(8);
    let job = Duration::from_secs(20);
    let aws = support::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let group = Group::create_booting(&aws, "sidecar-boot", boot).await;
    let queue_url = support::create_queue(&sqs, "sidecar-boot", Duration::from_secs(60)).await;
    let imds = FakeImds::start(&group.instance_id).await;
    let app = App::start(move |_, _| Reply::Status {
        status: 200,
        headers: Vec::new(),
        after: job,
    })
    .await;
    let (stop, task, _status) = start(config(&queue_url, &app, &imds)).await;

    support::send_all(&sqs, &queue_url, &["early".to_owned()]).await;
    support::eventually("the app got the job", Duration::from_secs(20), || async {
        app.count() >= 1
    })
    .await;
    let started = app.received()[0].at;
    assert_eq!(group.lifecycle_state().await, "Pending");
    assert!(
        !group.protected().await,
        "a booting instance is not protected"
    );
    // The refusal reaches the sidecar as the expected wait it is, not as a failure.
    let refused = AwsAutoScaling::new(&aws)
        .set_protection(&group.name, &group.instance_id, true)
        .await;
    assert!(
        matches!(&refused, Err(Error::NotInService { instance_id }) if *instance_id == group.instance_id),
        "{refused:?}"
    );

    support::eventually(
        "protected once in service",
        boot + Duration::from_secs(8),
        || group.protected(),
    )
    .await;
    assert_eq!(group.lifecycle_state().await, "InService");
    assert!(
        started.elapsed() < job,
        "protected while the job still ran ({:?} after it started)",
        started.elapsed()
    );
    support::eventually(
        "the job is deleted",
        job + Duration::from_secs(10),
        || async { support::queue_counts(&sqs, &queue_url).await == (0, 0) },
    )
    .await;
    support::eventually("unprotected when idle", Duration::from_secs(5), || async {
        !group.protected().await
    })
    .await;

    drop(stop);
    let report = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the sidecar stops")
        .expect("the sidecar task");
    assert_eq!(report.summary.received, 1);
    assert_eq!(report.summary.succeeded, 1);
    assert_eq!(report.summary.deleted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spot_notice_releases_in_flight_messages_at_once() {
    let aws = support::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let group = Group::create(&aws, "sidecar-spot").await;
    let queue_url = support::create_queue(&sqs, "sidecar-spot", Duration::from_secs(60)).await;
    let imds = FakeImds::start(&group.instance_id).await;
    let app = App::start(|_, _| Reply::Hang).await;
    support::send_all(&sqs, &queue_url, &["one".to_owned(), "two".to_owned()]).await;

    let (_stop, task, _status) = start(config(&queue_url, &app, &imds)).await;
    support::eventually("the app got both", Duration::from_secs(20), || async {
        app.count() >= 2
    })
    .await;
    support::eventually("protected while busy", Duration::from_secs(2), || {
        group.protected()
    })
    .await;
    let noticed = tokio::time::Instant::now();
    imds.set(
        SPOT_INSTANCE_ACTION,
        r#"{"action": "terminate", "time": "2030-01-01T00:02:00Z"}"#,
    );
    let report = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the sidecar ends by itself after the notice")
        .expect("the sidecar task");

    assert_eq!(report.ending, Ending::SpotInterruption);
    assert!(
        noticed.elapsed() < Duration::from_secs(5),
        "released in {:?}",
        noticed.elapsed()
    );
    assert_eq!(report.summary.received, 2);
    assert_eq!(
        report.summary.retried, 2,
        "both released: {:?}",
        report.summary
    );
    assert_eq!(report.summary.succeeded, 0);
    // The queue's visibility timeout is 60 s: visible now only because they were released.
    assert_eq!(support::queue_counts(&sqs, &queue_url).await, (2, 0));
    assert!(
        !group.protected().await,
        "protection is turned off on the way out"
    );
    assert!(group.lifecycle_actions().await.is_empty());
}
