//! Reliability, case 3: SIGTERM and SIGKILL of a consumer process (`test_consumer`) mid-run, on the
//! emulator. After SIGTERM every message is deleted or released within the grace period (nothing left
//! in flight); after SIGKILL the unfinished messages come back after their visibility timeout and a
//! second consumer processes them. Messages are counted in and out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tower::service_fn;
use workpool::{BoxError, Consumer, Message};
use workpool_sqs::SqsSource;
use workpool_tests::reliability::{send_bodies, Ledger, QueueProbe};
use workpool_tests::{aws_config, create_queue, unique_name, QueueSpec};

struct Run {
    directory: PathBuf,
    record: PathBuf,
    child: Child,
}

fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(unique_name(name));
    std::fs::create_dir_all(&directory).expect("a scratch directory");
    directory
}

/// Starts `test_consumer` on `queue_url`; its stderr goes to a file shown when a check fails.
fn spawn_consumer(queue_url: &str, name: &str, args: &[&str]) -> Run {
    let directory = scratch(name);
    let record = directory.join("record.txt");
    let stderr = std::fs::File::create(directory.join("stderr.txt")).expect("stderr file");
    let child = Command::new(env!("CARGO_BIN_EXE_test_consumer"))
        .arg(queue_url)
        .args(args)
        .arg("--record")
        .arg(&record)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .kill_on_drop(true)
        .spawn()
        .expect("start test_consumer");
    Run {
        directory,
        record,
        child,
    }
}

/// (body, receive count) of each `kind` line (`start` or `done`) of a record file.
fn records(path: &Path, kind: &str) -> Vec<(String, u32)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            (parts.next()? == kind).then_some(())?;
            Some((parts.next()?.to_owned(), parts.next()?.parse().ok()?))
        })
        .collect()
}

impl Run {
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.directory.join("stderr.txt")).unwrap_or_default()
    }

    async fn wait_for_records(&self, kind: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while records(&self.record, kind).len() < count {
            assert!(
                Instant::now() < deadline,
                "test_consumer never recorded {count} `{kind}` lines; its stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a handler is running: the record has more `start` lines than `done` lines.
    async fn wait_for_a_running_handler(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let record = std::fs::read_to_string(&self.record).unwrap_or_default();
            let count = |kind: &str| {
                record
                    .lines()
                    .filter(|line| line.split(' ').next() == Some(kind))
                    .count()
            };
            if count("start") > count("done") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "test_consumer never started another handler; its stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the child runs").to_string();
        let status = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Waits for the child to exit (within `limit` of `since`) and parses its summary line; the
    /// duration returned is from `since` to the exit.
    async fn finish(
        self,
        since: Instant,
        limit: Duration,
    ) -> (Duration, BTreeMap<String, u64>, Run) {
        let Run {
            directory,
            record,
            child,
        } = self;
        let output = tokio::time::timeout_at((since + limit).into(), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("test_consumer did not exit within {limit:?}"))
            .expect("wait for test_consumer");
        let took = since.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = std::fs::read_to_string(directory.join("stderr.txt")).unwrap_or_default();
        assert!(
            output.status.success(),
            "test_consumer exited with {}; stdout:\n{stdout}\nstderr:\n{stderr}",
            output.status
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        let summary: BTreeMap<String, u64> = stdout
            .lines()
            .find_map(|line| line.strip_prefix("summary "))
            .unwrap_or_else(|| panic!("no summary line in:\n{stdout}\nstderr:\n{stderr}"))
            .split(' ')
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                Some((key.to_owned(), value.parse().ok()?))
            })
            .collect();
        let child = Command::new("true").spawn().expect("a placeholder child");
        (
            took,
            summary,
            Run {
                directory,
                record,
                child,
            },
        )
    }
}

struct Fixture {
    url: String,
    probe: QueueProbe,
    bodies: Vec<String>,
    config: aws_config::SdkConfig,
}

async fn fixture(name: &str, messages: usize, visibility: Duration) -> Fixture {
    let config = aws_config().await;
    let spec = QueueSpec::standard().visibility_timeout(visibility);
    let queue = create_queue(&config, &unique_name(name), spec).await;
    let client = aws_sdk_sqs::Client::new(&config);
    let bodies: Vec<String> = (0..messages).map(|i| format!("{name}-{i}")).collect();
    send_bodies(&client, &queue.url, &bodies).await;
    Fixture {
        probe: QueueProbe::new(client, &queue.url),
        url: queue.url,
        bodies,
        config,
    }
}

impl Fixture {
    /// A second consumer, in this process, until the queue is empty; its deliveries in `ledger` and
    /// (body, receive count) pairs returned.
    async fn second_consumer(&self, ledger: &Ledger) -> Vec<(String, u32, Instant)> {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (handler_ledger, handler_seen) = (ledger.clone(), seen.clone());
        let probe = self.probe.clone();
        let source = SqsSource::from_queue_url(&self.config, &self.url).expect("queue URL");
        Consumer::new(source)
            .concurrency(10)
            .wait_time(Duration::from_secs(1))
            .run(service_fn(move |message: Message<String>| {
                let (ledger, seen) = (handler_ledger.clone(), handler_seen.clone());
                async move {
                    let body = message.body().clone();
                    seen.lock().unwrap().push((
                        body.clone(),
                        message.receive_count(),
                        Instant::now(),
                    ));
                    ledger.delivered(&body);
                    ledger.succeeded(&body);
                    Ok::<_, BoxError>(())
                }
            }))
            .with_graceful_shutdown(async move {
                probe.wait_until_empty(Duration::from_secs(60)).await;
            })
            .await
            .expect("the second consumer runs");
        let seen = seen.lock().unwrap().clone();
        seen
    }
}

/// When SIGTERM is sent, once the first batch's handlers are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignalWhen {
    /// As soon as a handler of the next batch is running.
    HandlersRunning,
    /// At once: the next receive is on its way.
    ReceiveUnderWay,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_handlers_finish_and_leaves_nothing_in_flight() {
    sigterm_mid_run("rel-term", SignalWhen::HandlersRunning).await;
}

/// SIGTERM right as the first batch is done: the next receive is on its way (the queue may already
/// have handed its messages out). They must be released too, not left invisible until the queue's
/// 30 s timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_receive_releases_what_it_returns() {
    sigterm_mid_run("rel-term-receive", SignalWhen::ReceiveUnderWay).await;
}

async fn sigterm_mid_run(name: &str, when: SignalWhen) {
    const MESSAGES: usize = 40;
    let fixture = fixture(name, MESSAGES, Duration::from_secs(30)).await;
    let grace = Duration::from_secs(10);
    let run = spawn_consumer(
        &fixture.url,
        name,
        &[
            "--concurrency",
            "8",
            "--handle-ms",
            "1500",
            "--grace-ms",
            "10000",
        ],
    );
    run.wait_for_records("done", 8).await;
    if when == SignalWhen::HandlersRunning {
        run.wait_for_a_running_handler().await;
    }
    run.signal("-TERM");
    let signalled = Instant::now();
    let (took, summary, run) = run.finish(signalled, grace + Duration::from_secs(10)).await;
    let counts = fixture.probe.counts().await;
    let started = records(&run.record, "start");
    let done = records(&run.record, "done");
    println!(
        "reliability SIGTERM ({name}): {MESSAGES} messages, exit after {:.1} s, {summary:?}, \
         queue after exit (visible, in flight, delayed) = {counts:?}",
        took.as_secs_f64()
    );
    assert!(took <= grace, "exited after {took:?}, grace {grace:?}");
    assert_eq!(counts.1, 0, "nothing left in flight after SIGTERM");
    assert_eq!(
        started.len(),
        done.len(),
        "every handler started ran to the end"
    );
    assert_eq!(summary["succeeded"], done.len() as u64, "{summary:?}");
    assert_eq!(summary["deleted"], summary["succeeded"], "{summary:?}");
    assert_eq!(
        summary["received"],
        summary["succeeded"] + summary["released"] + summary["failed"],
        "{summary:?}"
    );
    assert_eq!(
        counts.0 + summary["deleted"],
        MESSAGES as u64,
        "what is left plus what was deleted is what was sent"
    );

    let ledger = Ledger::new();
    for (body, _) in &done {
        ledger.delivered(body);
        ledger.succeeded(body);
    }
    fixture.second_consumer(&ledger).await;
    let report = ledger.report(&fixture.bodies, &[]);
    println!("  then a second consumer: {report:?}");
    assert_eq!(report.lost, 0, "lost: {:?}", report.lost_examples);
    assert_eq!(report.duplicates, 0, "{report:?}");
    assert_eq!(fixture.probe.counts().await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_handlers_slower_than_the_grace_period_releases_them() {
    const MESSAGES: usize = 20;
    let fixture = fixture("rel-term-slow", MESSAGES, Duration::from_secs(60)).await;
    let run = spawn_consumer(
        &fixture.url,
        "rel-term-slow",
        &[
            "--concurrency",
            "5",
            "--handle-ms",
            "60000",
            "--grace-ms",
            "2000",
        ],
    );
    run.wait_for_records("start", 5).await;
    run.signal("-TERM");
    let signalled = Instant::now();
    let (took, summary, run) = run.finish(signalled, Duration::from_secs(15)).await;
    let counts = fixture.probe.counts().await;
    println!(
        "reliability SIGTERM (grace runs out): {MESSAGES} messages, exit after {:.1} s, {summary:?}, \
         queue after exit = {counts:?}",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(6), "exited after {took:?}");
    assert!(records(&run.record, "done").is_empty());
    assert_eq!(summary["succeeded"], 0, "{summary:?}");
    assert_eq!(summary["released"], summary["received"], "{summary:?}");
    assert_eq!(summary["received"], 5, "{summary:?}");
    // Released, not waiting out the queue's 60 s visibility timeout.
    assert_eq!(
        counts,
        (MESSAGES as u64, 0, 0),
        "every message visible again"
    );

    let ledger = Ledger::new();
    let seen = fixture.second_consumer(&ledger).await;
    let report = ledger.report(&fixture.bodies, &[]);
    println!("  then a second consumer: {report:?}");
    assert_eq!(report.lost, 0, "lost: {:?}", report.lost_examples);
    assert_eq!(report.duplicates, 0, "{report:?}");
    let redelivered = seen.iter().filter(|(_, count, _)| *count >= 2).count();
    assert_eq!(
        redelivered, 5,
        "the five released messages came back at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_unfinished_messages_come_back_after_their_timeout() {
    const MESSAGES: usize = 30;
    let visibility = Duration::from_secs(4);
    let fixture = fixture("rel-kill", MESSAGES, visibility).await;
    let mut run = spawn_consumer(
        &fixture.url,
        "rel-kill",
        &["--concurrency", "6", "--handle-ms", "1000"],
    );
    run.wait_for_records("done", 6).await;
    // Kill mid-handler: as soon as a handler of the next receive is running (each takes 1 s).
    run.wait_for_a_running_handler().await;
    run.child.start_kill().expect("SIGKILL");
    let killed_at = Instant::now();
    let status = run.child.wait().await.expect("wait for the killed child");
    assert!(!status.success(), "{status}");
    let started = records(&run.record, "start");
    let done = records(&run.record, "done");
    let done_bodies: BTreeSet<&String> = done.iter().map(|(body, _)| body).collect();
    let unfinished: BTreeSet<&String> = started
        .iter()
        .map(|(body, _)| body)
        .filter(|body| !done_bodies.contains(body))
        .collect();
    let counts = fixture.probe.counts().await;
    assert!(!unfinished.is_empty(), "killed mid-handler");
    assert!(counts.1 >= unfinished.len() as u64, "{counts:?}");

    let ledger = Ledger::new();
    for (body, _) in &done {
        ledger.delivered(body);
        ledger.succeeded(body);
    }
    let seen = fixture.second_consumer(&ledger).await;
    let report = ledger.report(&fixture.bodies, &[]);
    println!(
        "reliability SIGKILL: {MESSAGES} messages, {} done and {} unfinished in the killed process, \
         in flight at the kill {}, then a second consumer: {report:?}",
        done.len(),
        unfinished.len(),
        counts.1
    );
    assert_eq!(report.lost, 0, "lost: {:?}", report.lost_examples);
    for body in &unfinished {
        let (_, count, at) = seen
            .iter()
            .find(|(seen_body, _, _)| seen_body == *body)
            .unwrap_or_else(|| panic!("{body} (unfinished) was not redelivered"));
        assert!(*count >= 2, "{body} came back with receive count {count}");
        // Its visibility timeout began at most `visibility` before the kill, and it came back only
        // once it ran out: not before the kill, nor long after the timeout.
        let after_kill = at.duration_since(killed_at);
        assert!(
            after_kill < visibility + Duration::from_secs(10),
            "{body} came back {after_kill:?} after the kill"
        );
    }
    // Messages the killed process finished but could not delete in time come back as duplicates:
    // reported, not lost.
    println!(
        "  duplicates (finished but not yet deleted at the kill): {}",
        report.duplicates
    );
    assert_eq!(fixture.probe.counts().await, (0, 0, 0));
}
