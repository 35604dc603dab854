//! `workpool sidecar` as a user meets it: `--help` documents every option with its default, and a
//! bad configuration names every bad key at once and exits non-zero without a backtrace.

use std::process::{Command, Output};

use workpool_sidecar::CONFIG_KEYS;

fn workpool(args: &[&str], environment: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_workpool"));
    command.args(args).env("RUST_BACKTRACE", "1");
    for (name, _) in std::env::vars() {
        if name.starts_with("WORKPOOL_") {
            command.env_remove(name);
        }
    }
    for (name, value) in environment {
        command.env(name, value);
    }
    command.output().expect("run the workpool binary")
}

#[test]
fn help_documents_every_option_with_its_default() {
    let output = workpool(&["sidecar", "--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for key in CONFIG_KEYS {
        let line = help
            .lines()
            .position(|line| line.trim_start().starts_with(key.flag))
            .unwrap_or_else(|| panic!("{} missing from --help:\n{help}", key.flag));
        let described: String = help
            .lines()
            .skip(line)
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            described.contains(&format!("[default: {}]", key.default)),
            "{} has no default in --help: {described}",
            key.flag
        );
    }
    assert!(help.contains("--config <PATH>"));
    assert!(help.contains("WORKPOOL_"));
}

#[test]
fn every_bad_key_is_named_at_once_and_the_exit_is_non_zero() {
    let directory =
        std::env::temp_dir().join(format!("workpool-cli-sidecar-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join("sidecar.toml");
    std::fs::write(&file, "concurency = 4\nmode = \"carrier-pigeon\"\n").unwrap();
    let output = workpool(
        &[
            "sidecar",
            "--config",
            file.to_str().unwrap(),
            "--http-url",
            "ftp://nowhere",
            "--grace-period",
            "forever",
        ],
        &[("WORKPOOL_CONCURRENCY", "lots")],
    );
    assert!(!output.status.success());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    for expected in [
        "invalid configuration (6 problems)",
        "`concurency` (in ",
        "unknown key",
        "`mode` (in ",
        "`http_url` (from flag --http-url)",
        "`grace_period` (from flag --grace-period)",
        "`concurrency` (from environment variable WORKPOOL_CONCURRENCY)",
        "`queue_url`: required",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from:\n{stderr}"
        );
    }
    assert!(!stderr.contains("backtrace"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn flags_win_over_the_environment_and_the_file() {
    let directory =
        std::env::temp_dir().join(format!("workpool-cli-layers-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join("sidecar.toml");
    std::fs::write(
        &file,
        "queue_url = \"http://127.0.0.1:9/000000000000/q\"\nconcurrency = \"bad in the file\"\n",
    )
    .unwrap();
    // The file's bad value is overridden by the environment, whose bad value is overridden by the flag:
    // only the flag's own bad value is left to report.
    let output = workpool(
        &[
            "sidecar",
            "--config",
            file.to_str().unwrap(),
            "--concurrency",
            "0",
        ],
        &[("WORKPOOL_CONCURRENCY", "also bad")],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("invalid configuration (1 problem)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`concurrency` (from flag --concurrency)"),
        "{stderr}"
    );
    assert!(stderr.contains("got \"0\""), "{stderr}");
}
