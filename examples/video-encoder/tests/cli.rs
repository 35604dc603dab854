//! The built `video-encoder` binary: `handle` (the sidecar's exec-mode command), `submit`'s
//! refusal of an invalid job and `worker`'s of a bad setting. No queue is needed for any.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the binary with `arguments`, `stdin` on its standard input, and no AWS setup from the host.
fn video_encoder(arguments: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_video-encoder"))
        .args(arguments)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn job_json(input: &Path, prefix: &Path) -> String {
    format!(
        r#"{{"input": "{}", "outputs": [{{"height": 120, "bitrate": "200k"}}], "output_prefix": "{}"}}"#,
        input.display(),
        prefix.display()
    )
}

#[test]
fn handle_encodes_the_job_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let input = support::test_video(dir.path(), "clip.mp4", 1, 320, 240);
    let out = dir.path().join("out");
    let output = video_encoder(&["handle"], &job_json(&input, &out));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.join("120p.mp4").is_file());
}

#[test]
fn handle_fails_a_broken_input_with_ffprobes_words() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.mp4");
    std::fs::write(&broken, b"not a video").unwrap();
    let output = video_encoder(&["handle"], &job_json(&broken, &dir.path().join("out")));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Invalid data found"), "{stderr}");
}

#[test]
fn submit_refuses_an_invalid_job_before_touching_aws() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("clip.mp4");
    std::fs::write(&input, b"anything").unwrap();
    let output = video_encoder(
        &[
            "submit",
            "--input",
            &input.display().to_string(),
            // Nothing listens here: reaching the queue would fail differently.
            "--queue-url",
            "http://127.0.0.1:9/123456789012/jobs",
            "--output-prefix",
            "s3://media/out",
            "--rendition",
            "361:800k",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("height 361 is odd"), "{stderr}");
}

#[test]
fn worker_refuses_a_negative_encode_factor_before_touching_aws() {
    let output = video_encoder(
        &[
            "worker",
            "--queue-url",
            "http://127.0.0.1:9/123456789012/jobs",
            "--encode-factor=-1",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--encode-factor"), "{stderr}");
    assert!(stderr.contains("zero or more"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
