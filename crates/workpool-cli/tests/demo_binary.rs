//! `workpool demo` through the real binary: a short run scales the fleet, loses nothing, prints its
//! summary and writes a chart; a bad flag is named and fails the run without a panic or backtrace.

use std::path::PathBuf;
use std::process::{Command, Output};

fn workpool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workpool"))
        .args(args)
        .env_remove("RUST_LOG")
        // A panic would print a backtrace: bad input must be reported, not crash.
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the binary runs")
}

/// Runs `workpool args`, which must fail with a non-zero exit code (not a signal) and no panic or
/// backtrace; returns its stderr.
fn refused(args: &[&str]) -> String {
    let output = workpool(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        matches!(output.status.code(), Some(code) if code != 0),
        "{args:?} exited with {}:\n{stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "{args:?}:\n{stderr}");
    assert!(!stderr.contains("backtrace"), "{args:?}:\n{stderr}");
    stderr
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
    let stderr = refused(&["demo", "--slots", "0", "--job-jitter", "2"]);
    assert!(stderr.contains("--slots: must be at least 1"), "{stderr}");
    assert!(stderr.contains("--job-jitter: "), "{stderr}");

    let stderr = refused(&["demo", "--duration", "soon"]);
    assert!(stderr.contains("--duration"), "{stderr}");
    assert!(stderr.contains("is not a duration"), "{stderr}");

    let stderr = refused(&["demo", "--trace", "/no/such/trace.csv"]);
    assert!(stderr.contains("--trace"), "{stderr}");

    let stderr = refused(&["demo", "--no-such-flag", "1"]);
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
}

#[test]
fn a_trace_file_with_a_bad_row_is_named() {
    let trace = temp_dir("bad-trace").join("bad.csv");
    std::fs::write(&trace, "second,arrivals\n0,3\n1,lots\n").expect("write trace");
    let stderr = refused(&["demo", "--trace", trace.to_str().expect("utf-8 path")]);
    assert!(stderr.contains("--trace"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
}
