//! `workpool scale` and `workpool simulate` through the real binary: bad input is reported in full,
//! names what is wrong, exits 1 without a backtrace (even with RUST_BACKTRACE=1) and does nothing;
//! `scale --once` moves each target's group as its queue says, or holds it and says why.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workpool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workpool"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the binary runs")
}

/// `workpool scale --config CONFIG --once [EXTRA...] --endpoint-url ENDPOINT`.
fn scale_once(config: &std::path::Path, extra: &[&str], endpoint: &str) -> Output {
    let mut args = vec![
        "scale",
        "--config",
        config.to_str().expect("utf-8 path"),
        "--once",
    ];
    args.extend_from_slice(extra);
    args.extend(["--endpoint-url", endpoint]);
    workpool(&args)
}

/// The run failed the way bad input should: exit code 1, no panic, no backtrace.
fn assert_refused(output: &Output) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for forbidden in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!text.contains(forbidden), "`{forbidden}` in:\n{text}");
    }
}

fn emulator_endpoint() -> String {
    std::env::var("WORKPOOL_TEST_ENDPOINT")
        .expect("WORKPOOL_TEST_ENDPOINT must point at the emulator (scripts/test sets it)")
}

/// Runs a few lines of boto3 (the AWS SDK for Python, installed with the emulator) against the
/// emulator to set up or inspect what the binary is tested on; this package has no Rust AWS SDK of
/// its own. Returns its stdout, trimmed.
fn boto3(script: &str, args: &[&str]) -> String {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-emulator/bin/python");
    let prelude = "import sys, boto3\n\
        def client(name):\n    return boto3.client(name, endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n";
    let output = Command::new(&python)
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .arg(emulator_endpoint())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", python.display()));
    assert!(
        output.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Creates `queue` with `messages` waiting, and `group` with MinSize `min`, MaxSize `max` and
/// `desired` instances, on the emulator.
fn create_queue_and_group(
    queue: &str,
    messages: usize,
    group: &str,
    [min, max, desired]: [u32; 3],
) {
    boto3(
        "sqs = client('sqs')\n\
         url = sqs.create_queue(QueueName=sys.argv[2])['QueueUrl']\n\
         count = int(sys.argv[4])\n\
         for batch in range(0, count, 10):\n\
         \x20   sqs.send_message_batch(QueueUrl=url, Entries=[{'Id': str(n), 'MessageBody': 'job'} for n in range(batch, min(count, batch + 10))])\n\
         asg = client('autoscaling')\n\
         asg.create_launch_configuration(LaunchConfigurationName=sys.argv[3] + '-lc', ImageId='ami-12c6146b', InstanceType='t2.micro')\n\
         asg.create_auto_scaling_group(AutoScalingGroupName=sys.argv[3], LaunchConfigurationName=sys.argv[3] + '-lc', MinSize=int(sys.argv[5]), MaxSize=int(sys.argv[6]), DesiredCapacity=int(sys.argv[7]), AvailabilityZones=['us-east-1a'])\n",
        &[
            queue,
            group,
            &messages.to_string(),
            &min.to_string(),
            &max.to_string(),
            &desired.to_string(),
        ],
    );
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{:06x}",
        std::process::id(),
        fastrand::u32(..0xff_ffff)
    )
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

[[target]]
queue = "videos"
group = "encoders"
slots_per_instance = 0
mean_job_time = 30
release_idle_after = "later"
"#,
    );
    // No endpoint is reachable on purpose: a bad config must fail before any call.
    let output = scale_once(&config, &[], "http://127.0.0.1:9");
    assert_refused(&output);
    let text = stderr(&output);
    for expected in [
        "the configuration has 9 problem(s); nothing was done",
        "interval: must be at least 1 second",
        "target[0].group: missing",
        "target[0].acceptable_wait: missing",
        "target[0].high: unknown key",
        "target[1].low: must be below high (10), got 50",
        "target[1].step: must be at least 1",
        // A value problem is reported although another key of the same target is missing.
        "target[2].acceptable_wait: missing",
        "target[2].slots_per_instance: must be at least 1",
        "target[2].release_idle_after: must be a whole number of seconds or false",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
}

#[test]
fn a_group_with_min_above_max_is_named_and_nothing_is_done() {
    let endpoint = emulator_endpoint();
    let queue = unique("cli-bounds-jobs");
    let group = unique("cli-bounds-workers");
    let namespace = unique("CliBounds");
    // moto, unlike AWS, accepts a group whose MinSize is above its MaxSize.
    create_queue_and_group(&queue, 1, &group, [5, 2, 3]);
    let config = temp_file(
        "bounds.toml",
        &format!(
            "[[target]]\nqueue = \"{queue}\"\ngroup = \"{group}\"\nslots_per_instance = 4\nmean_job_time = 30\nacceptable_wait = 120\n"
        ),
    );
    let output = scale_once(&config, &["--namespace", &namespace], &endpoint);
    assert_refused(&output);
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "Auto Scaling group `{group}` has MinSize 5 above MaxSize 2"
        )),
        "{text}"
    );
    assert!(text.contains("nothing was done"), "{text}");
    // No action: the desired capacity is what it was and nothing was published.
    let after = boto3(
        "asg = client('autoscaling')\n\
         group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[sys.argv[2]])['AutoScalingGroups'][0]\n\
         metrics = client('cloudwatch').list_metrics(Namespace=sys.argv[3])['Metrics']\n\
         print(group['DesiredCapacity'], len(metrics))\n",
        &[&group, &namespace],
    );
    assert_eq!(after, "3 0");
}

#[test]
fn unknown_queue_and_group_are_named_and_nothing_is_done() {
    let endpoint = emulator_endpoint();
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
    let output = scale_once(&config, &[], &endpoint);
    assert_refused(&output);
    let text = stderr(&output);
    assert!(
        text.contains("2 problem(s) with the targets; nothing was done"),
        "{text}"
    );
    assert!(
        text.contains(
            "target[0] (no-such-queue-cli → no-such-group-cli): queue `no-such-queue-cli` does not exist"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "target[0] (no-such-queue-cli → no-such-group-cli): Auto Scaling group `no-such-group-cli` does not exist"
        ),
        "{text}"
    );
}

#[test]
fn simulate_names_the_bad_trace_row() {
    let trace = temp_file("bad.csv", "second,arrivals\n0,2\n5,two\n");
    let output = workpool(&["simulate", "--trace", trace.to_str().expect("utf-8 path")]);
    assert_refused(&output);
    assert!(
        stderr(&output).contains("trace line 3, column `arrivals`: `two` is not a whole number"),
        "{}",
        stderr(&output)
    );
}

/// Runs `workpool simulate` on `trace` with a chart beside it; returns its output and the chart's path.
fn simulate_with_chart(trace: &Path) -> (Output, PathBuf) {
    let chart = trace.with_extension("svg");
    let output = workpool(&[
        "simulate",
        "--trace",
        trace.to_str().expect("utf-8 path"),
        "--chart",
        chart.to_str().expect("utf-8 path"),
    ]);
    (output, chart)
}

#[test]
fn simulate_names_every_bad_trace_row_at_once_and_writes_no_chart() {
    let trace = temp_file(
        "several-bad.csv",
        "second,arrivals\n0,2\n5,two\nsix,1\n7,1\n3,1\n",
    );
    let (output, chart) = simulate_with_chart(&trace);
    assert_refused(&output);
    let text = stderr(&output);
    assert!(text.contains("the trace has 3 bad row(s):"), "{text}");
    for row in [
        "trace line 3, column `arrivals`: `two` is not a whole number of messages",
        "trace line 4, column `second`: `six` is not a whole number of seconds",
        "trace line 6, column `second`: 3 does not come after the previous row's 7",
    ] {
        assert!(text.contains(row), "{row} missing from: {text}");
    }
    assert!(!chart.exists(), "a chart was written for a bad trace");
}

#[test]
fn simulate_reports_and_writes_the_chart() {
    let trace = temp_file("small.csv", "second,arrivals\n0,8\n30,8\n60,8\n");
    let (output, chart) = simulate_with_chart(&trace);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("messages          24"), "{text}");
    assert!(text.contains("lower bound"), "{text}");
    assert!(text.contains("offline bound"), "{text}");
    // One burst of 24 jobs of 30 s on 4 slots: 180 instance-seconds of work, all started within
    // [60, 180] s, which takes 30·24 / (4·(120 + 30)) = 1.2 instances, each billed 60 s of boot
    // and, the job times being exponential, 30·3/4 = 22.5 s of idle slots while its last jobs end:
    // 180 + 72 + 27 = 279 instance-seconds.
    assert!(text.contains("burst bound       4.7 on average"), "{text}");
    assert!(text.contains("1.550 × the expected work"), "{text}");
    assert!(
        text.contains(
            "= expected work 3.0 + boot 1.2 + last-job drain 0.5 of 1.2 instance(s) busy at once"
        ),
        "{text}"
    );
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
    assert_refused(&output);
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
    assert_refused(&output);
    assert!(
        stderr(&output).contains("invalid simulation setting `min`: must not be above max"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn once_with_two_targets_in_one_config_moves_each_group_as_its_queue_says() {
    let endpoint = emulator_endpoint();
    let namespace = unique("CliTwoTargets");
    let (videos, encoders) = (unique("cli-videos"), unique("cli-encoders"));
    let (mail, mailers) = (unique("cli-mail"), unique("cli-mailers"));
    // 12 videos waiting for a latency target, its group at 1; 30 mails for thresholds, its group
    // at 0 (a group created with instances starts the thresholds' scale-out cooldown, as on AWS:
    // `scaler_aws.rs` tests that).
    create_queue_and_group(&videos, 12, &encoders, [0, 20, 1]);
    create_queue_and_group(&mail, 30, &mailers, [0, 20, 0]);
    let config = temp_file(
        "two-targets.toml",
        &format!(
            r#"
namespace = "{namespace}"

[[target]]
queue = "{videos}"
group = "{encoders}"
slots_per_instance = 2
mean_job_time = 60
acceptable_wait = 120

[[target]]
queue = "{mail}"
group = "{mailers}"
policy = "thresholds"
high = 5
low = 1
step = 3
"#
        ),
    );
    let output = scale_once(&config, &[], &endpoint);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", stderr(&output));
    // Videos: 12 waiting should start within W = 3L/4 = 90 s, one and a half job times: 4
    // instances of 2 slots start 8 at once and 8 more one job time later.
    // Mail: 30 waiting on none is above 5 per instance: one step of 3, to 3.
    assert!(
        stdout.contains(&format!("{videos} → {encoders}: desired 1 → 4")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{mail} → {mailers}: desired 0 → 3")),
        "{stdout}"
    );
    let after = boto3(
        "asg = client('autoscaling')\n\
         cloudwatch = client('cloudwatch')\n\
         for queue, group in [(sys.argv[3], sys.argv[4]), (sys.argv[5], sys.argv[6])]:\n\
         \x20   desired = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])['AutoScalingGroups'][0]['DesiredCapacity']\n\
         \x20   dimensions = [{'Name': 'QueueName', 'Value': queue}, {'Name': 'AutoScalingGroupName', 'Value': group}]\n\
         \x20   names = sorted(m['MetricName'] for m in cloudwatch.list_metrics(Namespace=sys.argv[2], Dimensions=dimensions)['Metrics'])\n\
         \x20   print(desired, ','.join(names))\n",
        &[&namespace, &videos, &encoders, &mail, &mailers],
    );
    let names = "ApproximateNumberOfMessages,ApproximateNumberOfMessagesDelayed,ApproximateNumberOfMessagesNotVisible,BacklogPerInstance,DesiredCapacity";
    assert_eq!(after, format!("4 {names}\n3 {names}"));
}

/// Two groups just created with 3 instances each, their queues empty; the first group's instances
/// are still booting (the emulator keeps a group tagged `workpool:emulator:boot-seconds` Pending
/// that long, scripts/emulator.d/instance_boot.py). `scale --once` reads each creation back as a
/// scale-out and holds both, and says why: the booting instances for the first, the stabilization
/// window for the second.
#[test]
fn once_holds_a_group_whose_instances_are_booting_and_says_so() {
    let endpoint = emulator_endpoint();
    let namespace = unique("CliBooting");
    let (jobs, booting) = (unique("cli-boot-jobs"), unique("cli-booting"));
    let (other_jobs, booted) = (unique("cli-boot-other-jobs"), unique("cli-booted"));
    boto3(
        "sqs = client('sqs')\n\
         asg = client('autoscaling')\n\
         for queue, group, boot in [(sys.argv[2], sys.argv[3], '600'), (sys.argv[4], sys.argv[5], None)]:\n\
         \x20   sqs.create_queue(QueueName=queue)\n\
         \x20   asg.create_launch_configuration(LaunchConfigurationName=group + '-lc', ImageId='ami-12c6146b', InstanceType='t2.micro')\n\
         \x20   tags = [{'ResourceId': group, 'ResourceType': 'auto-scaling-group', 'Key': 'workpool:emulator:boot-seconds', 'Value': boot, 'PropagateAtLaunch': False}] if boot else []\n\
         \x20   asg.create_auto_scaling_group(AutoScalingGroupName=group, LaunchConfigurationName=group + '-lc', MinSize=0, MaxSize=10, DesiredCapacity=3, AvailabilityZones=['us-east-1a'], Tags=tags)\n",
        &[&jobs, &booting, &other_jobs, &booted],
    );
    let target = |queue: &str, group: &str| {
        format!("[[target]]\nqueue = \"{queue}\"\ngroup = \"{group}\"\nslots_per_instance = 4\nmean_job_time = 30\nacceptable_wait = 120\n")
    };
    let config = temp_file(
        "booting.toml",
        &format!(
            "{}\n{}",
            target(&jobs, &booting),
            target(&other_jobs, &booted)
        ),
    );
    let output = scale_once(&config, &["--namespace", &namespace], &endpoint);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", stderr(&output));
    assert!(
        stdout.contains(&format!(
            "{jobs} → {booting}: desired 3 (hold: 3 instance(s) launched within the stabilization window are still booting)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{other_jobs} → {booted}: desired 3 (hold: the policy recommends 0 but 3 was recommended within the stabilization window)"
        )),
        "{stdout}"
    );
    let after = boto3(
        "asg = client('autoscaling')\n\
         for group in sys.argv[2:]:\n\
         \x20   found = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])['AutoScalingGroups'][0]\n\
         \x20   print(found['DesiredCapacity'], ','.join(sorted(i['LifecycleState'] for i in found['Instances'])))\n",
        &[&booting, &booted],
    );
    assert_eq!(
        after,
        "3 Pending,Pending,Pending\n3 InService,InService,InService"
    );
}

/// Run from cron, each `scale --once` is a fresh process: the quiet cooldown is measured from the
/// depth earlier runs published to CloudWatch. Here, with no stabilization window and no quiet
/// cooldown: the first run sees the queue empty but has no earlier figure, so it holds the last
/// instance; the second reads the first one's zero back and scales to zero.
#[test]
fn once_from_cron_scales_to_zero_from_the_quiet_earlier_runs_published() {
    let endpoint = emulator_endpoint();
    let namespace = unique("CliQuiet");
    let (jobs, workers) = (unique("cli-quiet-jobs"), unique("cli-quiet-workers"));
    create_queue_and_group(&jobs, 0, &workers, [0, 10, 1]);
    let config = temp_file(
        "quiet.toml",
        &format!(
            "namespace = \"{namespace}\"\n\n[[target]]\nqueue = \"{jobs}\"\ngroup = \"{workers}\"\nslots_per_instance = 4\nmean_job_time = 30\nacceptable_wait = 120\nscale_in_stabilization = 0\nscale_to_zero_cooldown = 0\n"
        ),
    );
    let first = scale_once(&config, &[], &endpoint);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{stdout}\n{}", stderr(&first));
    assert!(
        stdout.contains(&format!(
            "{jobs} → {workers}: desired 1 (hold at one: the queue must read empty at one more evaluation before scaling to zero)"
        )),
        "{stdout}"
    );
    let second = scale_once(&config, &[], &endpoint);
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{stdout}\n{}", stderr(&second));
    assert!(
        stdout.contains(&format!("{jobs} → {workers}: desired 1 → 0")),
        "{stdout}"
    );
    assert_eq!(desired_capacity(&workers), "0");
}

/// `workpool scale --config CONFIG --endpoint-url ENDPOINT` running as a loop, its stdout read
/// line by line; killed if the test ends without [`ScaleLoop::terminate`].
struct ScaleLoop {
    child: Option<std::process::Child>,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl ScaleLoop {
    fn start(config: &Path, endpoint: &str) -> Self {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;

        let mut child = Command::new(env!("CARGO_BIN_EXE_workpool"))
            .args(["scale", "--config", config.to_str().expect("utf-8 path")])
            .args(["--endpoint-url", endpoint])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (sender, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child: Some(child),
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to a minute for a line containing `wanted`, and returns it; kills the loop and
    /// fails with everything printed when it does not come.
    fn wait_for(&mut self, wanted: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(wanted) {
                        return line;
                    }
                }
                Err(_) => {
                    self.kill();
                    panic!(
                        "`{wanted}` never printed; printed:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Sends SIGTERM and waits for the loop to exit.
    fn terminate(mut self) -> Output {
        let child = self.child.take().expect("still running");
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        child.wait_with_output().expect("the binary exits")
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ScaleLoop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The group's desired capacity, read with boto3.
fn desired_capacity(group: &str) -> String {
    boto3(
        "asg = client('autoscaling')\n\
         print(asg.describe_auto_scaling_groups(AutoScalingGroupNames=[sys.argv[2]])['AutoScalingGroups'][0]['DesiredCapacity'])\n",
        &[group],
    )
}

/// The loop, as systemd runs it: it activates the group for a backlog, follows the queue back to
/// zero once it empties, and on SIGTERM ends the evaluation under way and exits cleanly.
#[test]
fn the_loop_scales_out_then_back_to_zero_and_stops_on_sigterm() {
    let endpoint = emulator_endpoint();
    let namespace = unique("CliLoop");
    let (queue, group) = (unique("cli-loop"), unique("cli-loop-workers"));
    create_queue_and_group(&queue, 20, &group, [0, 10, 0]);
    let config = temp_file(
        "loop.toml",
        &format!(
            r#"
interval = 1
namespace = "{namespace}"

[[target]]
queue = "{queue}"
group = "{group}"
slots_per_instance = 4
mean_job_time = 30
acceptable_wait = 120
scale_in_stabilization = 1
scale_to_zero_cooldown = 2
"#
        ),
    );
    let mut scale = ScaleLoop::start(&config, &endpoint);
    // 20 waiting on 4 slots of 30 s jobs, to start within 90 s: two instances.
    scale.wait_for(&format!(
        "{queue} → {group}: desired 0 → 2 (activate: 20 visible message(s)"
    ));
    boto3(
        "sqs = client('sqs')\n\
         sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=sys.argv[2])['QueueUrl'])\n",
        &[&queue],
    );
    // Empty: one stays for the quiet cooldown, then none.
    scale.wait_for("desired 2 → 1 (scale in: the highest recommendation over the stabilization window is 0; one stays until the queue has been empty");
    scale.wait_for("desired 1 → 0 (scale to zero: the queue has been empty for 2s)");

    let output = scale.terminate();
    let text = stderr(&output);
    assert!(output.status.success(), "{:?}\n{text}", output.status);
    assert!(text.contains("SIGTERM received"), "{text}");
    assert!(text.contains("workpool scale stopped"), "{text}");
    assert_eq!(desired_capacity(&group), "0");
}

/// A loop that starts (or restarts, after a deploy) beside a group of three with nothing to do
/// holds the three for one stabilization window of its own readings before scaling in, as
/// Kubernetes' autoscaler does; one run with --once acts on its reading at once (down to one: it
/// has no earlier reading of an empty queue).
#[test]
fn a_starting_loop_holds_the_group_for_one_window_where_once_scales_in() {
    let endpoint = emulator_endpoint();
    let namespace = unique("CliStart");
    let (queue, looped, once) = (
        unique("cli-start"),
        unique("cli-start-loop"),
        unique("cli-start-once"),
    );
    create_queue_and_group(&queue, 0, &looped, [0, 10, 3]);
    create_queue_and_group(&queue, 0, &once, [0, 10, 3]);
    let settings = "slots_per_instance = 4\nmean_job_time = 30\nacceptable_wait = 120\nscale_in_stabilization = 2\nscale_to_zero_cooldown = 0\nrelease_idle_after = false\n";
    let config = |group: &str| {
        temp_file(
            &format!("{group}.toml"),
            &format!(
                "interval = 1\nnamespace = \"{namespace}\"\n\n[[target]]\nqueue = \"{queue}\"\ngroup = \"{group}\"\n{settings}"
            ),
        )
    };
    // The groups' creation is a scale-out the restored window remembers: let it pass.
    std::thread::sleep(std::time::Duration::from_secs(3));

    let output = scale_once(&config(&once), &[], &endpoint);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", stderr(&output));
    assert!(
        stdout.contains(&format!("{queue} → {once}: desired 3 → 1 (scale in")),
        "{stdout}"
    );

    let mut scale = ScaleLoop::start(&config(&looped), &endpoint);
    let first = scale.wait_for(&format!("{queue} → {looped}: "));
    assert_eq!(
        first,
        format!(
            "{queue} → {looped}: desired 3 (hold: the policy recommends 0 but 3 was recommended within the stabilization window)"
        )
    );
    // Past the window it scales in; it has seen the queue empty for the (zero) quiet cooldown.
    scale.wait_for(&format!("{queue} → {looped}: desired 3 → 0 (scale to zero"));
    let output = scale.terminate();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(desired_capacity(&once), "1");
}
