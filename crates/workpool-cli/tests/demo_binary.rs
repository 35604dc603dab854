//! `workpool demo` through the real binary: a short run scales the fleet, loses nothing, prints its
//! summary and writes a chart; a bad flag is named and fails the run.

use std::path::PathBuf;
use std::process::{Command, Output};

fn workpool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workpool"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "workpool-demo-test-{}-{}",
        std::process::id(),
        name
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The number after `label` on its summary line.
fn figure(stdout: &str, label: &str) -> i64 {
    let line = stdout
        .lines()
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{stdout}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no number on `{line}`"))
}

#[test]
fn a_short_demo_scales_loses_nothing_and_charts_the_run() {
    let chart = temp_dir("short").join("demo.svg");
    let output = workpool(&[
        "demo",
        "--duration",
        "8s",
        "--peak-rate",
        "60",
        "--job-time",
        "50ms",
        "--boot-delay",
        "500ms",
        "--stabilization",
        "2s",
        "--chart",
        chart.to_str().expect("utf-8 path"),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    assert!(
        stdout
            .lines()
            .filter(|line| line.contains("backlog"))
            .count()
            >= 8,
        "a live line per second:\n{stdout}"
    );
    let sent = figure(&stdout, "messages in");
    assert!(sent > 0, "{stdout}");
    assert_eq!(figure(&stdout, "lost"), 0, "{stdout}");
    assert_eq!(
        figure(&stdout, "messages out") + figure(&stdout, "still queued"),
        sent,
        "{stdout}"
    );
    assert!(figure(&stdout, "scaling actions") >= 1, "{stdout}");
    assert!(
        stdout.contains("desired 0 -> "),
        "the first action starts the fleet:\n{stdout}"
    );
    for label in [
        "duplicates",
        "queue wait p50",
        "queue wait p99",
        "instance-minutes",
    ] {
        assert!(stdout.contains(label), "{label} in:\n{stdout}");
    }

    let svg = std::fs::read_to_string(&chart).expect("the chart is written");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 4, "{svg}");
    assert_eq!(
        svg.matches('<').count(),
        svg.matches('>').count(),
        "balanced tags"
    );
}

#[test]
fn a_bad_flag_is_named_and_fails() {
    let output = workpool(&["demo", "--slots", "0", "--job-jitter", "2"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--slots: must be at least 1"), "{stderr}");
    assert!(stderr.contains("--job-jitter: "), "{stderr}");

    let output = workpool(&["demo", "--duration", "soon"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--duration"), "{stderr}");
    assert!(stderr.contains("is not a duration"), "{stderr}");

    let output = workpool(&["demo", "--trace", "/no/such/trace.csv"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--trace"), "{stderr}");
}

#[test]
fn a_trace_file_with_a_bad_row_is_named() {
    let trace = temp_dir("bad-trace").join("bad.csv");
    std::fs::write(&trace, "second,arrivals\n0,3\n1,lots\n").expect("write trace");
    let output = workpool(&["demo", "--trace", trace.to_str().expect("utf-8 path")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--trace"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
}
