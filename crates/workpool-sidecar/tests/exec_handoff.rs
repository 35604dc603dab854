//! Exec hand-off end to end: the real sidecar polls a queue on the emulator and runs a shell command
//! per message, the body on stdin and the metadata in the environment.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::oneshot;
use workpool_sidecar::{AutoScalingMode, Ending, Mode, Report, Sidecar, SidecarConfig};

fn scratch_directory(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(support::unique_name(name));
    std::fs::create_dir_all(&directory).expect("a scratch directory");
    directory
}

fn config(queue_url: &str, command: String) -> SidecarConfig {
    SidecarConfig::new(queue_url)
        // A stop waits for the receive under way: keep the long poll short.
        .wait_time(Duration::from_secs(2))
        .endpoint_url(Some(support::endpoint()))
        .mode(Mode::Exec)
        .command(Some(command))
        .auto_scaling(AutoScalingMode::Off)
        .listen("127.0.0.1:0")
        .concurrency(3)
        .grace_period(Duration::from_secs(5))
}

async fn run_until(config: SidecarConfig, done: impl std::future::Future<Output = ()>) -> Report {
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
    done.await;
    let _ = stop.send(());
    let report = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the sidecar stops")
        .expect("the sidecar task");
    assert_eq!(report.ending, Ending::Shutdown);
    report
}

fn files_in(directory: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(directory)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_0_deletes_and_the_command_gets_body_and_metadata() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-exec-ok", Duration::from_secs(30)).await;
    let queue_name = queue_url.rsplit('/').next().unwrap().to_owned();
    let out = scratch_directory("exec-ok");
    let bodies: Vec<String> = (0..4).map(|n| format!("body number {n}")).collect();
    let ids = support::send_all(&sqs, &queue_url, &bodies).await;
    let command = format!(
        r#"d={}; cat > "$d/$WORKPOOL_MESSAGE_ID.body" && printf '%s|%s|%s' "$WORKPOOL_QUEUE" "$WORKPOOL_RECEIVE_COUNT" "$WORKPOOL_ATTR_colour" > "$d/$WORKPOOL_MESSAGE_ID.env""#,
        out.display()
    );

    let report = run_until(config(&queue_url, command), async {
        support::eventually("the queue is empty", Duration::from_secs(20), || async {
            support::queue_counts(&sqs, &queue_url).await == (0, 0)
        })
        .await;
    })
    .await;

    assert_eq!(report.summary.received, 4);
    assert_eq!(report.summary.succeeded, 4);
    assert_eq!(report.summary.deleted, 4);
    assert_eq!(report.summary.failed, 0);
    assert_eq!(files_in(&out).len(), 8, "{:?}", files_in(&out));
    for (id, body) in ids.iter().zip(&bodies) {
        assert_eq!(
            &std::fs::read_to_string(out.join(format!("{id}.body"))).unwrap(),
            body
        );
        assert_eq!(
            std::fs::read_to_string(out.join(format!("{id}.env"))).unwrap(),
            format!("{queue_name}|1|blue")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_1_is_a_failure_and_the_message_stays() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url = support::create_queue(&sqs, "sidecar-exec-fail", Duration::from_secs(30)).await;
    let out = scratch_directory("exec-fail");
    support::send_all(
        &sqs,
        &queue_url,
        &["doomed".to_owned(), "doomed too".to_owned()],
    )
    .await;
    let command = format!(r#"cat > "{}/$WORKPOOL_MESSAGE_ID"; exit 1"#, out.display());

    let report = run_until(config(&queue_url, command), async {
        support::eventually("both commands ran", Duration::from_secs(20), || async {
            files_in(&out).len() >= 2
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    })
    .await;

    assert_eq!(report.summary.received, 2);
    assert_eq!(report.summary.failed, 2);
    assert_eq!(report.summary.succeeded, 0);
    assert_eq!(report.summary.deleted, 0);
    let (visible, in_flight) = support::queue_counts(&sqs, &queue_url).await;
    assert_eq!(visible + in_flight, 2, "failed messages stay in the queue");
}

/// True while the process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_limit_kills_the_whole_process_group() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url =
        support::create_queue(&sqs, "sidecar-exec-limit", Duration::from_secs(30)).await;
    let out = scratch_directory("exec-limit");
    support::send_all(&sqs, &queue_url, &["forever".to_owned()]).await;
    // A background grandchild and the shell itself both outlive the limit unless the group is killed.
    let command = format!(
        r#"sleep 120 & echo $! > "{dir}/grandchild.pid"; echo $$ > "{dir}/shell.pid"; sleep 120"#,
        dir = out.display()
    );

    let started = tokio::time::Instant::now();
    let report = run_until(
        config(&queue_url, command).command_timeout(Some(Duration::from_secs(1))),
        async {
            support::eventually("the command started", Duration::from_secs(20), || async {
                files_in(&out).len() >= 2
            })
            .await;
            tokio::time::sleep(Duration::from_millis(1800)).await;
        },
    )
    .await;

    let read_pid = |name: &str| -> u32 {
        std::fs::read_to_string(out.join(name))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (grandchild, shell) = (read_pid("grandchild.pid"), read_pid("shell.pid"));
    support::eventually("the group is gone", Duration::from_secs(5), || async {
        !alive(grandchild) && !alive(shell)
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "nothing waited for the 120 s sleeps"
    );
    assert_eq!(report.summary.received, 1);
    assert_eq!(report.summary.failed, 1, "{:?}", report.summary);
    assert_eq!(
        report.summary.released, 0,
        "failed by the limit, not released at shutdown"
    );
    let (visible, in_flight) = support::queue_counts(&sqs, &queue_url).await;
    assert_eq!(visible + in_flight, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_never_reads_a_large_body_still_meets_its_time_limit() {
    let sqs = aws_sdk_sqs::Client::new(&support::aws_config().await);
    let queue_url =
        support::create_queue(&sqs, "sidecar-exec-unread", Duration::from_secs(30)).await;
    let out = scratch_directory("exec-unread");
    // Far more than a pipe holds (64 KiB), so writing it blocks while the command does not read.
    let body = "x".repeat(200 * 1024);
    support::send_all(&sqs, &queue_url, &[body]).await;
    let command = format!(r#"touch "{}/started"; sleep 120"#, out.display());

    let report = run_until(
        config(&queue_url, command).command_timeout(Some(Duration::from_secs(1))),
        async {
            support::eventually("the command started", Duration::from_secs(20), || async {
                !files_in(&out).is_empty()
            })
            .await;
            tokio::time::sleep(Duration::from_millis(1800)).await;
        },
    )
    .await;

    assert_eq!(report.summary.received, 1);
    assert_eq!(report.summary.failed, 1, "{:?}", report.summary);
    assert_eq!(
        report.summary.released, 0,
        "failed by the limit, not released at shutdown"
    );
    let (visible, in_flight) = support::queue_counts(&sqs, &queue_url).await;
    assert_eq!(visible + in_flight, 1);
}
