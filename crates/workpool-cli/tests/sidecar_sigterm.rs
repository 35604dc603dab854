//! SIGTERM to the real `workpool sidecar` process while it is busy: it stops receiving, lets the
//! running hand-offs finish (each is answered and its message deleted), leaves the rest in the
//! queue, visible, and exits 0 well within its grace period. Messages are counted in and out on
//! the emulator's queue through the real AWS SDK.
//!
//! The local app is a small keep-alive HTTP/1.1 server that takes about a second per message and
//! records which bodies it started and which it answered.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::time::Instant;
use workpool::{ReceiveRequest, Source};
use workpool_sqs::{OutgoingMessage, Producer, SqsSource};

/// How long the app works on each message.
const WORK: Duration = Duration::from_secs(1);
/// The sidecar's grace period.
const GRACE: Duration = Duration::from_secs(10);

/// What the app has seen: bodies whose hand-off started, and those it answered 200.
#[derive(Debug, Default)]
struct AppLog {
    started: Vec<String>,
    answered: Vec<String>,
}

/// A local HTTP app answering 200 to each POST after [`WORK`].
struct SlowApp {
    url: String,
    log: Arc<Mutex<AppLog>>,
}

impl SlowApp {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the app");
        let url = format!("http://{}/work", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(AppLog::default()));
        let connections = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, connections.clone()));
            }
        });
        Self { url, log }
    }

    /// (started, answered) so far.
    fn counts(&self) -> (usize, usize) {
        let log = self.log.lock().unwrap();
        (log.started.len(), log.answered.len())
    }
}

/// Serves one keep-alive connection: request after request, each answered after [`WORK`].
async fn serve(stream: TcpStream, log: Arc<Mutex<AppLog>>) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    loop {
        let mut content_length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().expect("a Content-Length");
                }
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let body = String::from_utf8(body).expect("a UTF-8 body");
        log.lock().unwrap().started.push(body.clone());
        tokio::time::sleep(WORK).await;
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone";
        if writer.write_all(answer).await.is_err() {
            return;
        }
        log.lock().unwrap().answered.push(body);
    }
}

/// Polls `condition` every 50 ms until it holds, failing with `what` after `limit`.
async fn eventually(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn endpoint() -> String {
    std::env::var("WORKPOOL_TEST_ENDPOINT").expect(
        "WORKPOOL_TEST_ENDPOINT is not set: run the tests with scripts/test, or start the emulator \
         (scripts/emulator start) and export WORKPOOL_TEST_ENDPOINT=<its endpoint>",
    )
}

/// A fresh standard queue on the emulator (30 s visibility), made with the SDK client of `any`
/// (a source for any queue URL on the emulator); its URL.
async fn create_queue(any: &SqsSource) -> String {
    let client = any.client();
    let name = format!(
        "sidecar-sigterm-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    );
    client
        .create_queue()
        .queue_name(name)
        .attributes("VisibilityTimeout".into(), "30")
        .send()
        .await
        .expect("CreateQueue on the emulator")
        .queue_url()
        .expect("a queue URL")
        .to_owned()
}

/// Receives and deletes what is visible in the queue until it is empty; the bodies.
async fn drain(source: &SqsSource) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let received = source
            .receive(ReceiveRequest::new(10, Duration::from_secs(1)))
            .await
            .expect("ReceiveMessage");
        if received.is_empty() {
            return bodies;
        }
        let handles: Vec<String> = received
            .iter()
            .map(|m| m.metadata.receipt_handle.clone())
            .collect();
        source
            .delete_batch(&handles)
            .await
            .expect("DeleteMessageBatch");
        bodies.extend(received.into_iter().map(|m| m.body));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_running_hand_offs_and_leaves_the_rest_in_the_queue() {
    let config = workpool_sqs::aws_config_for(Some(&endpoint())).await;
    let bootstrap = format!("{}/000000000000/bootstrap", endpoint());
    let queue_url = create_queue(&SqsSource::from_queue_url(&config, &bootstrap).unwrap()).await;
    let queue = SqsSource::from_queue_url(&config, &queue_url).unwrap();
    let app = SlowApp::start().await;
    let sent: Vec<String> = (0..8).map(|n| format!("job {n}")).collect();
    let producer = Producer::from_queue_url(&config, &queue_url).unwrap();
    for body in &sent {
        producer
            .send(OutgoingMessage::new(body.clone()))
            .await
            .expect("SendMessage");
    }

    let mut command = Command::new(env!("CARGO_BIN_EXE_workpool"));
    command
        .args(["sidecar", "--queue-url", &queue_url])
        .args(["--endpoint-url", &endpoint(), "--http-url", &app.url])
        .args(["--auto-scaling", "off", "--listen", "127.0.0.1:0"])
        .args(["--concurrency", "2", "--wait-time", "1s"])
        .args(["--grace-period", &format!("{}s", GRACE.as_secs())])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, _) in std::env::vars() {
        // Other settings of the test's environment are not the sidecar's.
        if name.starts_with("WORKPOOL_") {
            command.env_remove(name);
        }
    }
    let mut sidecar = command.spawn().expect("start workpool sidecar");
    let mut stderr = sidecar.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    // Both slots busy, and at least one message done: mid-run.
    eventually(
        "two hand-offs running after one finished",
        Duration::from_secs(30),
        || {
            let (started, answered) = app.counts();
            answered >= 1 && started - answered == 2
        },
    )
    .await;
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &sidecar.id().expect("a pid").to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = tokio::time::timeout(GRACE + Duration::from_secs(20), sidecar.wait())
        .await
        .expect("the sidecar exits")
        .expect("wait for the sidecar");
    let took = signalled.elapsed();
    let logs = logs.await.unwrap();

    assert!(status.success(), "{status}; logs:\n{logs}");
    assert!(took < GRACE, "exited {took:?} after SIGTERM; logs:\n{logs}");
    assert!(logs.contains("SIGTERM received"), "{logs}");
    let (started_list, answered_list) = {
        let log = app.log.lock().unwrap();
        (log.started.clone(), log.answered.clone())
    };
    let started: BTreeSet<&String> = started_list.iter().collect();
    let answered: BTreeSet<&String> = answered_list.iter().collect();
    // Drained: every hand-off under way at SIGTERM was answered, none was cut off.
    assert_eq!(started, answered, "hand-offs cut off by the stop");
    assert_eq!(
        started_list.len(),
        started.len(),
        "a message was handed off twice"
    );

    // In: eight. Out: the answered ones deleted; the rest visible in the queue (none in flight,
    // none left invisible until its timeout), each exactly once.
    let attributes = queue.attributes().await.expect("GetQueueAttributes");
    assert_eq!(attributes.not_visible, 0, "{attributes:?}");
    assert_eq!(
        attributes.visible as usize + answered.len(),
        sent.len(),
        "{attributes:?}, answered {answered:?}"
    );
    let left = drain(&queue).await;
    let left_set: BTreeSet<&String> = left.iter().collect();
    assert_eq!(
        left.len(),
        left_set.len(),
        "a message is in the queue twice"
    );
    assert!(
        left_set.is_disjoint(&answered),
        "answered yet not deleted: {:?}",
        left_set.intersection(&answered).collect::<Vec<_>>()
    );
    let out: BTreeSet<&String> = answered.union(&left_set).copied().collect();
    let sent_set: BTreeSet<&String> = sent.iter().collect();
    assert_eq!(out, sent_set, "lost: {:?}", sent_set.difference(&out));
    assert!(
        !left.is_empty(),
        "nothing was left to release: the stop came too late"
    );
}
