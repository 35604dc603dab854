//! The example as its README runs it: the `hello` binary against the emulator prints each message,
//! deletes it, and stops gracefully on Ctrl-C (SIGINT); without QUEUE_URL it says what to set.

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use workpool_tests::{aws_config, create_queue, endpoint, unique_name, QueueSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_prints_and_deletes_every_message_then_stops_on_ctrl_c() {
    let config = aws_config().await;
    let queue = create_queue(&config, &unique_name("hello"), QueueSpec::standard()).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bodies = ["hello, world", "hola", "bonjour"];
    for body in bodies {
        sqs.send_message()
            .queue_url(&queue.url)
            .message_body(body)
            .send()
            .await
            .expect("SendMessage");
    }

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hello"))
        .env("QUEUE_URL", &queue.url)
        .env("AWS_ENDPOINT_URL", endpoint())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start hello");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while printed.len() < bodies.len() {
        let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("only {printed:?} printed within a minute"))
            .expect("read stdout")
            .expect("hello ended early");
        printed.push(line);
    }
    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGINT).expect("SIGINT");
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.expect("read stdout") {
        rest.push(line);
    }
    let status = tokio::time::timeout(Duration::from_secs(40), child.wait())
        .await
        .expect("hello stops within its wait time and grace period")
        .expect("wait");

    assert!(status.success(), "{status}");
    for body in bodies {
        assert!(
            printed
                .iter()
                .any(|line| line.ends_with(&format!(": {body}"))),
            "{body} not in {printed:?}"
        );
    }
    assert_eq!(rest, vec!["handled 3 messages".to_owned()]);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes");
    let count = |name: &str| {
        attributes
            .attributes()
            .and_then(|all| {
                all.iter()
                    .find(|(key, _)| key.as_str() == name)
                    .map(|(_, value)| value.clone())
            })
            .unwrap_or_default()
    };
    assert_eq!(
        (
            count("ApproximateNumberOfMessages"),
            count("ApproximateNumberOfMessagesNotVisible")
        ),
        ("0".to_owned(), "0".to_owned()),
        "every message deleted"
    );
}

#[test]
fn without_a_queue_url_hello_says_what_to_set() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hello"))
        .env_remove("QUEUE_URL")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run hello");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("set QUEUE_URL"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}
