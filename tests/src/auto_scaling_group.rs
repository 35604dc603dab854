//! Auto Scaling groups on the emulator, created through the SDK.

use std::time::Duration;

use aws_sdk_autoscaling::types::{AutoScalingGroup, Tag};
use aws_sdk_autoscaling::Client as AutoScaling;

/// The emulator's group tag asking its instances to boot (read `Pending`) for that many seconds
/// after each launch (scripts/emulator.d/instance_boot.py); without it they are in service at once.
pub const EMULATOR_BOOT_TAG: &str = "workpool:emulator:boot-seconds";

/// Creates the Auto Scaling group `name` of `max` at most, starting at `desired`, in us-east-1a,
/// from a fresh launch configuration, its instances booting for `boot` after each launch
/// (`Duration::ZERO`: in service at once).
///
/// # Panics
/// When the emulator refuses the launch configuration or the group.
pub async fn create_group(
    autoscaling: &AutoScaling,
    name: &str,
    desired: i32,
    max: i32,
    boot: Duration,
) {
    let launch = format!("{name}-launch");
    autoscaling
        .create_launch_configuration()
        .launch_configuration_name(&launch)
        .image_id("ami-12c6146b")
        .instance_type("t2.micro")
        .send()
        .await
        .expect("create the launch configuration");
    let mut create = autoscaling.create_auto_scaling_group();
    if !boot.is_zero() {
        create = create.tags(
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(EMULATOR_BOOT_TAG)
                .value(boot.as_secs_f64().to_string())
                .propagate_at_launch(false)
                .build(),
        );
    }
    create
        .auto_scaling_group_name(name)
        .launch_configuration_name(&launch)
        .min_size(0)
        .max_size(max)
        .desired_capacity(desired)
        .availability_zones("us-east-1a")
        .send()
        .await
        .expect("create the group");
}

/// The group named `name` as `DescribeAutoScalingGroups` reads it.
///
/// # Panics
/// When the call fails or no such group exists.
pub async fn describe_group(autoscaling: &AutoScaling, name: &str) -> AutoScalingGroup {
    let output = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .unwrap_or_else(|error| panic!("describe the group {name}: {error:?}"));
    output
        .auto_scaling_groups()
        .first()
        .unwrap_or_else(|| panic!("the group {name} exists"))
        .clone()
}
