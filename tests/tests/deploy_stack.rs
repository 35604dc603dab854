//! deploy/cloudformation/workpool.yaml created as a stack on the emulator's CloudFormation through the
//! real AWS SDK; then the stack's own controller configuration (its `ControllerConfig` output, the
//! same text the controller instance runs with) drives the built `workpool scale --once` binary
//! against the stack's queue and worker group, and desired capacity moves.
//!
//! What moto 5.2.5 does not model, and these tests therefore cannot see: CloudWatch alarms in a
//! stack (moto logs "No Moto CloudFormation support for AWS::CloudWatch::Alarm" and skips them), and
//! an Auto Scaling group's `LifecycleHookSpecificationList` and `MetricsCollection` (accepted and
//! ignored). cfn-lint in `scripts/test` checks those parts of the template.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client as Sqs;
use workpool_tests::reliability::send_bodies;
use workpool_tests::{aws_config, describe_group, endpoint, unique_name};

const TEMPLATE: &str = include_str!("../../deploy/cloudformation/workpool.yaml");

/// What the template expects to exist already: a VPC and a subnet (moto checks that they do).
const NETWORK_TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: { CidrBlock: 10.42.0.0/16 }
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: { VpcId: !Ref Vpc, CidrBlock: 10.42.1.0/24, AvailabilityZone: us-east-1a }
Outputs:
  VpcId: { Value: !Ref Vpc }
  SubnetId: { Value: !Ref Subnet }
"#;

/// Creates a stack, waits until it is done and returns its outputs; panics with the failed
/// resources' reasons when it is not `CREATE_COMPLETE`.
async fn create_stack(
    cloudformation: &CloudFormation,
    name: &str,
    template: &str,
    parameters: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut request = cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(template)
        .capabilities(Capability::CapabilityIam);
    for (key, value) in parameters {
        request = request.parameters(
            Parameter::builder()
                .parameter_key(*key)
                .parameter_value(*value)
                .build(),
        );
    }
    request
        .send()
        .await
        .unwrap_or_else(|error| panic!("create stack {name}: {error:?}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let stack = loop {
        let stacks = cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .expect("describe the stack");
        let stack = stacks.stacks()[0].clone();
        let status = stack.stack_status().expect("a status").clone();
        if !status.as_str().ends_with("_IN_PROGRESS") || Instant::now() > deadline {
            break stack;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if stack.stack_status() != Some(&StackStatus::CreateComplete) {
        let events = cloudformation
            .describe_stack_events()
            .stack_name(name)
            .send()
            .await
            .expect("describe the stack's events");
        let failures: Vec<String> = events
            .stack_events()
            .iter()
            .filter(|event| {
                event
                    .resource_status()
                    .is_some_and(|status| status.as_str().ends_with("FAILED"))
            })
            .map(|event| {
                format!(
                    "{}: {}",
                    event.logical_resource_id().unwrap_or("?"),
                    event.resource_status_reason().unwrap_or("no reason")
                )
            })
            .collect();
        panic!(
            "stack {name} is {:?} ({}); failed resources: {failures:#?}",
            stack.stack_status(),
            stack.stack_status_reason().unwrap_or("no reason")
        );
    }
    stack
        .outputs()
        .iter()
        .map(|output| {
            (
                output.output_key().expect("output key").to_owned(),
                output.output_value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The network stack's VPC and subnet.
async fn network(cloudformation: &CloudFormation) -> (String, String) {
    let outputs = create_stack(
        cloudformation,
        &unique_name("workpool-network"),
        NETWORK_TEMPLATE,
        &[],
    )
    .await;
    (outputs["VpcId"].clone(), outputs["SubnetId"].clone())
}

/// The `workpool` binary that `cargo test --workspace --all-targets` (scripts/test) builds next to
/// this test's executable: target/<profile>/deps/deploy_stack-… → target/<profile>/workpool.
fn workpool_binary() -> PathBuf {
    let test_executable = std::env::current_exe().expect("the test's own path");
    let profile_dir = test_executable
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/<profile>/deps");
    let binary = profile_dir.join(format!("workpool{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} does not exist: build it first (`cargo build -p workpool-cli`; scripts/test builds it \
         with `cargo test --workspace --all-targets`)",
        binary.display()
    );
    binary
}

async fn group_sizes(autoscaling: &AutoScaling, name: &str) -> (i32, i32, i32) {
    let group = describe_group(autoscaling, name).await;
    (
        group.min_size().expect("min"),
        group.desired_capacity().expect("desired"),
        group.max_size().expect("max"),
    )
}

async fn group_arn(autoscaling: &AutoScaling, name: &str) -> String {
    describe_group(autoscaling, name)
        .await
        .auto_scaling_group_arn()
        .expect("the group's ARN")
        .to_owned()
}

async fn send_jobs(sqs: &Sqs, queue_url: &str, count: usize) {
    let bodies: Vec<String> = (0..count).map(|n| format!("{{\"job\":{n}}}")).collect();
    send_bodies(sqs, queue_url, &bodies).await;
}

/// Runs `workpool scale --once` with `config_text` against the emulator; returns its stdout.
fn scale_once(config_text: &str, extra: &[&str]) -> String {
    let path = std::env::temp_dir().join(format!("{}.toml", unique_name("deploy-scale")));
    std::fs::write(&path, config_text).expect("write the controller configuration");
    let output = Command::new(workpool_binary())
        .arg("scale")
        .arg("--config")
        .arg(&path)
        .arg("--once")
        .args(extra)
        .arg("--endpoint-url")
        .arg(endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run workpool scale");
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "workpool scale --once failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

struct Stack {
    outputs: HashMap<String, String>,
    sqs: Sqs,
    autoscaling: AutoScaling,
}

/// The workpool stack with test-sized parameters: 5 slots per instance and a job time equal to the
/// acceptable wait, so the latency-target policy asks for one instance per 5 visible messages.
async fn workpool_stack(extra: &[(&str, &str)]) -> Stack {
    let config = aws_config().await;
    let cloudformation = CloudFormation::new(&config);
    let (vpc, subnet) = network(&cloudformation).await;
    let mut parameters = vec![
        ("ImageId", "ami-12c6146b"),
        ("VpcId", vpc.as_str()),
        ("Subnets", subnet.as_str()),
        ("ArtifactBucket", "workpool-artifacts"),
        ("WorkpoolBinaryKey", "releases/0.1.0/workpool"),
        ("DataBucket", "workpool-data"),
        ("VisibilityTimeoutSeconds", "45"),
        ("MaxReceiveCount", "3"),
        ("MinSize", "0"),
        ("MaxSize", "6"),
        ("SlotsPerInstance", "5"),
        ("MeanJobSeconds", "60"),
        ("AcceptableWaitSeconds", "60"),
    ];
    parameters.extend_from_slice(extra);
    let outputs = create_stack(
        &cloudformation,
        &unique_name("workpool-deploy"),
        TEMPLATE,
        &parameters,
    )
    .await;
    Stack {
        outputs,
        sqs: Sqs::new(&config),
        autoscaling: AutoScaling::new(&config),
    }
}

#[tokio::test]
async fn the_stack_creates_the_queues_with_redrive_and_the_groups() {
    let stack = workpool_stack(&[]).await;
    let outputs = &stack.outputs;

    let queue_url = stack
        .sqs
        .get_queue_url()
        .queue_name(&outputs["QueueName"])
        .send()
        .await
        .expect("the job queue exists")
        .queue_url()
        .expect("its URL")
        .to_owned();
    let attributes = stack
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("the job queue's attributes");
    let attributes = attributes.attributes().expect("attributes");
    assert_eq!(
        attributes[&QueueAttributeName::VisibilityTimeout],
        "45",
        "{attributes:?}"
    );
    assert_eq!(
        attributes[&QueueAttributeName::ReceiveMessageWaitTimeSeconds],
        "20"
    );
    let redrive = &attributes[&QueueAttributeName::RedrivePolicy];
    assert!(
        redrive.contains(&format!("\"{}\"", outputs["DeadLetterQueueArn"])),
        "{redrive}"
    );
    assert!(
        redrive.contains("\"maxReceiveCount\": 3") || redrive.contains("\"maxReceiveCount\":3"),
        "{redrive}"
    );
    stack
        .sqs
        .get_queue_url()
        .queue_name(format!("{}-dlq", outputs["QueueName"]))
        .send()
        .await
        .expect("the dead-letter queue exists");

    assert_eq!(
        group_sizes(&stack.autoscaling, &outputs["WorkerGroupName"]).await,
        (0, 0, 6),
        "workers: min 0, no desired capacity set by the stack (the controller owns it), max 6"
    );
    assert_eq!(
        group_sizes(&stack.autoscaling, &outputs["ControllerGroupName"]).await,
        (1, 1, 1),
        "the controller runs on exactly one instance"
    );
    assert_eq!(outputs["ControllerMode"], "active");

    // The roles scope their writes with these patterns; the real resources must match them.
    assert_eq!(
        attributes[&QueueAttributeName::QueueArn],
        outputs["QueueArn"],
        "the roles name the queue by this ARN"
    );
    let group_arn = group_arn(&stack.autoscaling, &outputs["WorkerGroupName"]).await;
    assert!(
        group_arn.starts_with("arn:aws:autoscaling:us-east-1:")
            && group_arn.contains(":autoScalingGroup:")
            && group_arn.ends_with(&format!(
                ":autoScalingGroupName/{}",
                outputs["WorkerGroupName"]
            )),
        "the template's IAM pattern arn:…:autoScalingGroup:*:autoScalingGroupName/<stack>-workers \
         must match the group's ARN {group_arn}"
    );
    let template_pattern = "autoScalingGroup:*:autoScalingGroupName/${AWS::StackName}-workers";
    assert_eq!(
        TEMPLATE.matches(template_pattern).count(),
        2,
        "both roles scope their group writes with {template_pattern}"
    );
    assert_eq!(
        outputs["LifecycleHookName"],
        format!(
            "{}-drain",
            outputs["WorkerGroupName"].trim_end_matches("-workers")
        )
    );
    assert!(
        outputs["WorkerRoleArn"].starts_with("arn:aws:iam::")
            && outputs["ControllerRoleArn"].starts_with("arn:aws:iam::")
            && outputs["WorkerRoleArn"] != outputs["ControllerRoleArn"],
        "two distinct roles: {outputs:?}"
    );
}

#[tokio::test]
async fn the_stacks_own_controller_config_scales_its_worker_group() {
    let stack = workpool_stack(&[]).await;
    let outputs = &stack.outputs;
    let group = &outputs["WorkerGroupName"];
    let controller_config = &outputs["ControllerConfig"];
    assert!(
        controller_config.contains(&format!("queue = \"{}\"", outputs["QueueName"]))
            && controller_config.contains(&format!("group = \"{group}\"")),
        "{controller_config}"
    );
    assert_eq!(group_sizes(&stack.autoscaling, group).await.1, 0);

    // 20 visible messages, 5 slots per instance, job time = acceptable wait: 20 / 5 = 4 instances.
    send_jobs(&stack.sqs, &outputs["QueueUrl"], 20).await;
    let stdout = scale_once(controller_config, &[]);
    assert!(stdout.contains("desired 0 → 4"), "{stdout}");
    assert_eq!(
        group_sizes(&stack.autoscaling, group).await,
        (0, 4, 6),
        "{stdout}"
    );

    // More work than the group may hold: clamped to MaxSize.
    send_jobs(&stack.sqs, &outputs["QueueUrl"], 30).await;
    let stdout = scale_once(controller_config, &[]);
    assert!(stdout.contains("desired 4 → 6"), "{stdout}");
    assert_eq!(group_sizes(&stack.autoscaling, group).await.1, 6);
}

#[tokio::test]
async fn a_dry_run_stack_reports_its_mode_and_changes_nothing() {
    let stack = workpool_stack(&[("ControllerDryRun", "true")]).await;
    let outputs = &stack.outputs;
    assert_eq!(outputs["ControllerMode"], "dry-run");
    let group = &outputs["WorkerGroupName"];
    send_jobs(&stack.sqs, &outputs["QueueUrl"], 10).await;
    // What the controller instance runs in this mode: the same config with --dry-run.
    let stdout = scale_once(&outputs["ControllerConfig"], &["--dry-run"]);
    assert!(stdout.contains("[not applied]"), "{stdout}");
    assert_eq!(group_sizes(&stack.autoscaling, group).await.1, 0);
}
