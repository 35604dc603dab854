//! Reliability, case 2 (real restart): `scripts/emulator restart` mid-run. moto keeps everything in
//! memory, so the queue is gone until it is created again; the running consumer logs the errors,
//! backs off, and processes the new messages once the queue exists again — without a restart of its
//! own.
//!
//! This file holds one test on purpose: the restart wipes every queue of the emulator, and cargo runs
//! test binaries one after another, so no other test is running against the emulator meanwhile.
//! It restarts the emulator named by `WORKPOOL_EMULATOR_DIR` (`scripts/test` sets it to its private
//! one).

use std::future::IntoFuture;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tower::service_fn;
use workpool::{BoxError, Consumer, Message};
use workpool_sqs::SqsSource;
use workpool_tests::reliability::{eventually, send_bodies, Ledger, LogCapture, QueueProbe};
use workpool_tests::{aws_config, create_queue, unique_name, QueueSpec};

fn emulator_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/emulator")
}

#[tokio::test]
async fn the_consumer_recovers_by_itself_after_the_emulator_restarts() {
    let emulator_dir = std::env::var("WORKPOOL_EMULATOR_DIR").expect(
        "WORKPOOL_EMULATOR_DIR must name the emulator to restart (scripts/test sets it; by hand: \
         WORKPOOL_EMULATOR_DIR=/tmp/emu scripts/emulator start)",
    );
    let (logs, _guard) = LogCapture::install();
    let config = aws_config().await;
    let name = unique_name("rel-restart");
    let spec = QueueSpec::standard().visibility_timeout(Duration::from_secs(5));
    let queue = create_queue(&config, &name, spec.clone()).await;
    let client = aws_sdk_sqs::Client::new(&config);
    let first: Vec<String> = (0..20).map(|i| format!("first-{i}")).collect();
    let second: Vec<String> = (0..20).map(|i| format!("second-{i}")).collect();
    send_bodies(&client, &queue.url, &first).await;

    let ledger = Ledger::new();
    let handler_ledger = ledger.clone();
    // The visibility timeout is given, so the consumer never needs the queue's attributes again.
    let consumer = Consumer::new(SqsSource::from_queue_url(&config, &queue.url).expect("URL"))
        .concurrency(5)
        .wait_time(Duration::from_secs(1))
        .visibility_timeout(Duration::from_secs(5));
    let control = consumer.control();
    let running = tokio::spawn(
        consumer
            .run(service_fn(move |message: Message<String>| {
                let ledger = handler_ledger.clone();
                async move {
                    ledger.delivered(message.body());
                    ledger.succeeded(message.body());
                    Ok::<_, BoxError>(())
                }
            }))
            .into_future(),
    );
    eventually(
        "the first messages processed",
        Duration::from_secs(60),
        || ledger.processed() >= first.len(),
    )
    .await;
    // Let the deletes reach the queue before it is wiped.
    QueueProbe::new(client.clone(), &queue.url)
        .wait_until_empty(Duration::from_secs(30))
        .await;

    let restarted_at = Instant::now();
    let status = tokio::process::Command::new(emulator_script())
        .arg("restart")
        .env("WORKPOOL_EMULATOR_DIR", &emulator_dir)
        // It prints the endpoint, which is known already; an unread pipe would kill it (SIGPIPE).
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .expect("run scripts/emulator restart");
    assert!(status.success(), "scripts/emulator restart: {status}");
    let restart_took = restarted_at.elapsed();
    // The consumer meets a queue that does not exist; wait for a failed receive (the backoff
    // doubles from 200 ms, so after a slow restart the next attempt may be many seconds away).
    let errors_before = logs.lines_with(&["receive failed; backing off"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while logs.lines_with(&["receive failed; backing off"]) < errors_before + 1 {
        assert!(
            Instant::now() < deadline,
            "no failed receive logged after the restart:\n{}",
            logs.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!running.is_finished(), "the consumer is still running");

    // The same name on the same port gives the same URL.
    let again = create_queue(&config, &name, spec).await;
    assert_eq!(again.url, queue.url);
    send_bodies(&client, &queue.url, &second).await;
    let recreated_at = Instant::now();
    eventually(
        "the second messages processed",
        Duration::from_secs(90),
        || ledger.processed() >= first.len() + second.len(),
    )
    .await;
    let recovered_after = recreated_at.elapsed();
    QueueProbe::new(client.clone(), &queue.url)
        .wait_until_empty(Duration::from_secs(30))
        .await;
    control.shutdown();
    let summary = running
        .await
        .expect("the consumer task")
        .expect("the consumer runs");
    let sent: Vec<String> = first.iter().chain(&second).cloned().collect();
    let report = ledger.report(&sent, &[]);
    println!(
        "reliability emulator restart: restart took {:.1} s, {} failed receives logged, the new \
         messages all processed {:.1} s after the queue was created again; {} messages, lost {}, \
         duplicates {}, {summary:?}",
        restart_took.as_secs_f64(),
        logs.lines_with(&["receive failed; backing off"]),
        recovered_after.as_secs_f64(),
        report.sent,
        report.lost,
        report.duplicates
    );
    assert_eq!(report.lost, 0, "lost: {:?}", report.lost_examples);
    assert_eq!(report.duplicates, 0, "{report:?}");
    assert!(summary.request_errors >= 1, "{summary:?}");
    assert!(
        logs.lines_with(&["receiving again after"]) >= 1,
        "the recovery is logged"
    );
}
