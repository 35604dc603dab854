//! `workpool scale` and `workpool simulate` through the real binary: bad input is reported in full,
//! names what is wrong, exits non-zero and does nothing.

use std::path::PathBuf;
use std::process::{Command, Output};

fn workpool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workpool"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("workpool-cli-test-{}-{}", std::process::id(), name));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write temp file");
    path
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_config_names_every_bad_key_and_does_nothing() {
    let config = temp_file(
        "bad.toml",
        r#"
interval = 0
[[target]]
queue = "jobs"
policy = "latency-target"
slots_per_instance = 4
mean_job_time = 30
high = 5

[[target]]
queue = "mail"
group = "mailers"
policy = "thresholds"
high = 10
low = 50
step = 0
"#,
    );
    // No endpoint is reachable on purpose: a bad config must fail before any call.
    let output = workpool(&[
        "scale",
        "--config",
        config.to_str().expect("utf-8 path"),
        "--once",
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]);
    assert!(!output.status.success());
    let text = stderr(&output);
    for expected in [
        "the configuration has 6 problem(s); nothing was done",
        "interval: must be at least 1 second",
        "target[0].group: missing",
        "target[0].acceptable_wait: missing",
        "target[0].high: unknown key",
        "target[1].low: must be below high (10), got 50",
        "target[1].step: must be at least 1",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
}

#[test]
fn unknown_queue_and_group_are_named_and_nothing_is_done() {
    let endpoint = std::env::var("WORKPOOL_TEST_ENDPOINT")
        .expect("WORKPOOL_TEST_ENDPOINT must point at the emulator (scripts/test sets it)");
    let config = temp_file(
        "unknown.toml",
        r#"
[[target]]
queue = "no-such-queue-cli"
group = "no-such-group-cli"
slots_per_instance = 4
mean_job_time = 30
acceptable_wait = 120
"#,
    );
    let output = workpool(&[
        "scale",
        "--config",
        config.to_str().expect("utf-8 path"),
        "--once",
        "--endpoint-url",
        &endpoint,
    ]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("2 problem(s) with the targets; nothing was done"),
        "{text}"
    );
    assert!(
        text.contains("queue `no-such-queue-cli` does not exist"),
        "{text}"
    );
    assert!(
        text.contains("Auto Scaling group `no-such-group-cli` does not exist"),
        "{text}"
    );
}

#[test]
fn simulate_names_the_bad_trace_row() {
    let trace = temp_file("bad.csv", "second,arrivals\n0,2\n5,two\n");
    let output = workpool(&["simulate", "--trace", trace.to_str().expect("utf-8 path")]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("trace line 3, column `arrivals`: `two` is not a whole number"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn simulate_reports_and_writes_the_chart() {
    let trace = temp_file("small.csv", "second,arrivals\n0,8\n30,8\n60,8\n");
    let chart = trace.with_extension("svg");
    let output = workpool(&[
        "simulate",
        "--trace",
        trace.to_str().expect("utf-8 path"),
        "--chart",
        chart.to_str().expect("utf-8 path"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("messages          24"), "{text}");
    assert!(text.contains("lower bound"), "{text}");
    let svg = std::fs::read_to_string(&chart).expect("chart written");
    assert!(svg.starts_with("<svg"));
}

#[test]
fn simulate_thresholds_needs_its_thresholds() {
    let trace = temp_file("tiny.csv", "second,arrivals\n0,1\n");
    let output = workpool(&[
        "simulate",
        "--trace",
        trace.to_str().expect("utf-8 path"),
        "--policy",
        "thresholds",
        "--high",
        "5",
    ]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--policy thresholds needs both --high and --low"));
}

#[test]
fn simulate_refuses_a_min_above_the_max() {
    let trace = temp_file("bounds.csv", "second,arrivals\n0,1\n");
    let output = workpool(&[
        "simulate",
        "--trace",
        trace.to_str().expect("utf-8 path"),
        "--min",
        "5",
        "--max",
        "2",
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("invalid simulation setting `min`: must not be above max"),
        "{}",
        stderr(&output)
    );
}
