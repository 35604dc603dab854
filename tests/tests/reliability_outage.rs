//! Reliability, case 2: an outage of the queue service. The consumer, the sidecar and the controller
//! talk to the emulator through a loopback proxy ([`FaultProxy`]) that is stopped (connections
//! refused, open ones cut) and started again on the same port; moto keeps its messages, so "nothing
//! lost" is checked by counting. Each logs the outage, backs off and recovers without a restart; the
//! controller holds the group's capacity while blind.
//!
//! The tests run on a current-thread runtime so that [`LogCapture`] sees every task's logs.

use std::future::IntoFuture;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_sqs::config::Credentials;
use tower::service_fn;
use workpool::{BoxError, Consumer, FailurePolicy, Message};
use workpool_scaler::aws::AwsClients;
use workpool_scaler::{LatencyTarget, Policy, ScalingRules};
use workpool_sidecar::{AutoScalingMode, Ending, Mode, Sidecar, SidecarConfig};
use workpool_sqs::SqsSource;
use workpool_tests::reliability::{
    eventually, send_bodies, FaultProxy, Ledger, LogCapture, QueueProbe,
};
use workpool_tests::{aws_config, create_group, create_queue, endpoint, unique_name, QueueSpec};

/// An SDK configuration like [`aws_config`] but for `endpoint` (the proxy).
async fn config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "reliability"))
        .load()
        .await
}

const OUTAGE: Duration = Duration::from_secs(6);

#[tokio::test]
async fn the_consumer_logs_an_outage_backs_off_and_recovers_losing_nothing() {
    let (logs, _guard) = LogCapture::install();
    let direct = aws_config().await;
    let queue = create_queue(
        &direct,
        &unique_name("rel-outage-consumer"),
        QueueSpec::standard().visibility_timeout(Duration::from_secs(5)),
    )
    .await;
    let client = aws_sdk_sqs::Client::new(&direct);
    let probe = QueueProbe::new(client.clone(), &queue.url);
    let proxy = FaultProxy::start(&endpoint()).await;
    let through_proxy = config_for(&proxy.endpoint()).await;

    let before: Vec<String> = (0..100).map(|i| format!("before-{i}")).collect();
    let during: Vec<String> = (0..50).map(|i| format!("during-{i}")).collect();
    send_bodies(&client, &queue.url, &before).await;

    let ledger = Ledger::new();
    let handler_ledger = ledger.clone();
    let source = SqsSource::from_queue_url(&through_proxy, &queue.url).expect("queue URL");
    let consumer = Consumer::new(source)
        .concurrency(10)
        .wait_time(Duration::from_secs(1))
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        });
    let control = consumer.control();
    let running = tokio::spawn(
        consumer
            .run(service_fn(move |message: Message<String>| {
                let ledger = handler_ledger.clone();
                async move {
                    ledger.delivered(message.body());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    ledger.succeeded(message.body());
                    Ok::<_, BoxError>(())
                }
            }))
            .into_future(),
    );

    eventually(
        "30 processed before the outage",
        Duration::from_secs(60),
        || ledger.processed() >= 30,
    )
    .await;
    proxy.stop().await;
    let outage_started = Instant::now();
    let processed_at_outage = ledger.processed();
    // Messages keep arriving (straight to moto) while the consumer is blind.
    send_bodies(&client, &queue.url, &during).await;
    tokio::time::sleep(OUTAGE.saturating_sub(outage_started.elapsed())).await;
    let processed_in_outage = ledger.processed() - processed_at_outage;
    let accepted_before = proxy.accepted();
    proxy.resume().await;
    let resumed = Instant::now();

    let sent: Vec<String> = before.iter().chain(&during).cloned().collect();
    eventually("every message processed", Duration::from_secs(90), || {
        ledger.processed() >= sent.len()
    })
    .await;
    let recovered_after = resumed.elapsed();
    probe.wait_until_empty(Duration::from_secs(60)).await;
    control.shutdown();
    let summary = running
        .await
        .expect("the consumer task")
        .expect("the consumer runs");
    let report = ledger.report(&sent, &[]);
    println!(
        "reliability outage (consumer): {} messages ({} sent during a {:?} outage), lost {}, \
         duplicates {}, {} handled while blind (already received), all done {:.1} s after the \
         proxy came back, request errors {}, {summary:?}",
        report.sent,
        during.len(),
        OUTAGE,
        report.lost,
        report.duplicates,
        processed_in_outage,
        recovered_after.as_secs_f64(),
        summary.request_errors
    );
    assert_eq!(report.lost, 0, "lost: {:?}", report.lost_examples);
    assert!(summary.request_errors > 0, "{summary:?}");
    assert!(
        proxy.accepted() > accepted_before,
        "reconnected after the outage"
    );
    let failed_receives = logs.lines_with(&["receive failed; backing off"]);
    assert!(
        failed_receives >= 1,
        "the outage is logged:\n{}",
        logs.text()
    );
    // Backing off: far fewer failed receives than a tight loop would make in six seconds.
    assert!(
        failed_receives <= 40,
        "{failed_receives} failed receives logged"
    );
    assert!(
        logs.lines_with(&["receiving again after"]) >= 1,
        "the recovery is logged"
    );
    assert_eq!(probe.counts().await, (0, 0, 0));
}

fn delivered_bodies(directory: &Path) -> Vec<String> {
    let mut bodies: Vec<String> = std::fs::read_dir(directory)
        .expect("the sidecar's output directory")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .filter(|body| !body.is_empty())
        .collect();
    bodies.sort();
    bodies
}

#[tokio::test]
async fn the_sidecar_rides_out_an_outage_and_loses_nothing() {
    let (logs, _guard) = LogCapture::install();
    let direct = aws_config().await;
    let queue = create_queue(
        &direct,
        &unique_name("rel-outage-sidecar"),
        QueueSpec::standard().visibility_timeout(Duration::from_secs(5)),
    )
    .await;
    let client = aws_sdk_sqs::Client::new(&direct);
    let probe = QueueProbe::new(client.clone(), &queue.url);
    let proxy = FaultProxy::start(&endpoint()).await;
    let out = std::env::temp_dir().join(unique_name("rel-outage-sidecar"));
    std::fs::create_dir_all(&out).expect("an output directory");
    // One file per delivery (a redelivery makes a second file): duplicates stay countable. The
    // file is written under a temporary name and renamed once complete.
    let command = format!(
        r#"d={}; t=$(mktemp -p "$d" .part.XXXXXX) && cat > "$t" && mv "$t" "$t.done""#,
        out.display()
    );
    let config = SidecarConfig::new(&queue.url)
        .endpoint_url(Some(proxy.endpoint()))
        .mode(Mode::Exec)
        .command(Some(command))
        .auto_scaling(AutoScalingMode::Off)
        .listen("127.0.0.1:0")
        .concurrency(4)
        .wait_time(Duration::from_secs(2))
        .grace_period(Duration::from_secs(5));
    let bound = Sidecar::new(config).bind().await.expect("bind the sidecar");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(bound.run(async move {
        let _ = stopped.await;
    }));

    let before: Vec<String> = (0..30).map(|i| format!("sidecar-before-{i}")).collect();
    let during: Vec<String> = (0..20).map(|i| format!("sidecar-during-{i}")).collect();
    send_bodies(&client, &queue.url, &before).await;
    let done = |out: &Path| {
        std::fs::read_dir(out)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|entry| entry.file_name().to_string_lossy().ends_with(".done"))
                    .count()
            })
            .unwrap_or(0)
    };
    eventually(
        "10 handed off before the outage",
        Duration::from_secs(60),
        || done(&out) >= 10,
    )
    .await;
    proxy.stop().await;
    send_bodies(&client, &queue.url, &during).await;
    tokio::time::sleep(OUTAGE).await;
    proxy.resume().await;
    let sent: Vec<String> = before.iter().chain(&during).cloned().collect();
    probe.wait_until_empty(Duration::from_secs(90)).await;
    let _ = stop.send(());
    let report = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the sidecar stops")
        .expect("the sidecar task")
        .expect("the sidecar runs");
    assert_eq!(report.ending, Ending::Shutdown);

    let bodies = delivered_bodies(&out);
    let ledger = Ledger::new();
    for body in &bodies {
        ledger.delivered(body);
        ledger.succeeded(body);
    }
    let counted = ledger.report(&sent, &[]);
    println!(
        "reliability outage (sidecar): {} messages, {} hand-offs, lost {}, duplicates {}, {:?}",
        counted.sent,
        bodies.len(),
        counted.lost,
        counted.duplicates,
        report.summary
    );
    assert_eq!(counted.lost, 0, "lost: {:?}", counted.lost_examples);
    assert_eq!(counted.unknown, 0, "{counted:?}");
    assert!(report.summary.request_errors > 0, "{:?}", report.summary);
    assert!(
        logs.lines_with(&["receive failed; backing off"]) >= 1,
        "the outage is logged:\n{}",
        logs.text()
    );
    assert!(logs.lines_with(&["receiving again after"]) >= 1);
    let _ = std::fs::remove_dir_all(&out);
}

async fn desired_capacity(autoscaling: &AutoScaling, group: &str) -> i32 {
    autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .expect("describe the group")
        .auto_scaling_groups()[0]
        .desired_capacity()
        .expect("a desired capacity")
}

#[tokio::test]
async fn the_controller_holds_capacity_while_blind_and_acts_again_after() {
    let (logs, _guard) = LogCapture::install();
    let direct = aws_config().await;
    let queue_name = unique_name("rel-outage-scaler");
    let queue = create_queue(&direct, &queue_name, QueueSpec::standard()).await;
    let group = unique_name("rel-outage-workers");
    let autoscaling = AutoScaling::new(&direct);
    create_group(&autoscaling, &group, 3, 10, Duration::ZERO).await;
    let client = aws_sdk_sqs::Client::new(&direct);
    let bodies: Vec<String> = (0..12).map(|i| format!("job-{i}")).collect();
    send_bodies(&client, &queue.url, &bodies).await;

    let proxy = FaultProxy::start(&endpoint()).await;
    let clients = AwsClients::from_config(&config_for(&proxy.endpoint()).await);
    // 2 slots per instance, T = L: 12 visible messages want 6 instances; an empty queue wants 0.
    let policy = Policy::latency_target(LatencyTarget::new(
        2,
        Duration::from_secs(60),
        Duration::from_secs(60),
    ))
    .with_rules(
        ScalingRules::default()
            .scale_in_stabilization(Duration::ZERO)
            .scale_to_zero_cooldown(Duration::ZERO),
    );
    let mut controller = clients
        .controller(&queue_name, &group, &unique_name("WorkpoolRel"), policy)
        .await
        .expect("queue and group exist");

    proxy.stop().await;
    let mut blind_ticks = 0;
    for _ in 0..3 {
        let report = controller.tick(std::time::SystemTime::now()).await;
        assert!(!report.errors.is_empty(), "{report:?}");
        assert!(!report.applied, "{report:?}");
        assert_eq!(report.decision.desired, None, "a hold: {report:?}");
        blind_ticks += 1;
    }
    assert_eq!(
        desired_capacity(&autoscaling, &group).await,
        3,
        "capacity held while blind"
    );
    assert!(
        logs.lines_with(&["hold"]) >= blind_ticks,
        "each blind tick logs a hold:\n{}",
        logs.text()
    );

    proxy.resume().await;
    let report = controller.tick(std::time::SystemTime::now()).await;
    println!(
        "reliability outage (controller): {blind_ticks} blind ticks held desired at 3; after the \
         outage: {:?} -> {:?} ({}), errors {:?}",
        report.decision.current, report.decision.desired, report.decision.reason, report.errors
    );
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(report.applied, "{report:?}");
    assert_eq!(desired_capacity(&autoscaling, &group).await, 6);
    // Nothing was consumed: the 12 messages are all still there.
    let probe = QueueProbe::new(client, &queue.url);
    assert_eq!(probe.counts().await, (12, 0, 0));
    let drained = probe.drain_bodies(Duration::from_secs(2)).await;
    assert_eq!(drained.len(), bodies.len());
}
