//! An Auto Scaling group with one instance on the emulator, and the emulator's record of lifecycle
//! action calls.

use std::time::Duration;

use aws_sdk_autoscaling::types::Tag;
use aws_sdk_autoscaling::Client;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;

/// A group with one in-service instance and a termination lifecycle hook.
pub struct Group {
    pub client: Client,
    pub name: String,
    pub hook: String,
    pub instance_id: String,
}

impl Group {
    /// Creates a launch configuration, a group of one in us-east-1a, and a hook on termination.
    pub async fn create(config: &aws_config::SdkConfig, prefix: &str) -> Self {
        Self::create_booting(config, prefix, Duration::ZERO).await
    }

    /// [`Group::create`], its instance booting (`Pending`) for `boot` after its launch: the
    /// emulator keeps a group tagged `workpool:emulator:boot-seconds` so
    /// (scripts/emulator.d/instance_boot.py).
    pub async fn create_booting(
        config: &aws_config::SdkConfig,
        prefix: &str,
        boot: Duration,
    ) -> Self {
        let client = Client::new(config);
        let name = super::unique_name(prefix);
        let launch = format!("{name}-launch");
        client
            .create_launch_configuration()
            .launch_configuration_name(&launch)
            .image_id("ami-12345678")
            .instance_type("t2.micro")
            .send()
            .await
            .expect("CreateLaunchConfiguration");
        let mut create = client.create_auto_scaling_group();
        if !boot.is_zero() {
            create = create.tags(
                Tag::builder()
                    .resource_id(&name)
                    .resource_type("auto-scaling-group")
                    .key("workpool:emulator:boot-seconds")
                    .value(boot.as_secs_f64().to_string())
                    .propagate_at_launch(false)
                    .build(),
            );
        }
        create
            .auto_scaling_group_name(&name)
            .launch_configuration_name(&launch)
            .min_size(0)
            .max_size(2)
            .desired_capacity(1)
            .availability_zones("us-east-1a")
            .send()
            .await
            .expect("CreateAutoScalingGroup");
        let hook = format!("{name}-drain");
        client
            .put_lifecycle_hook()
            .auto_scaling_group_name(&name)
            .lifecycle_hook_name(&hook)
            .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
            .heartbeat_timeout(300)
            .send()
            .await
            .expect("PutLifecycleHook");
        let groups = client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&name)
            .send()
            .await
            .expect("DescribeAutoScalingGroups");
        let instance_id = groups.auto_scaling_groups()[0].instances()[0]
            .instance_id()
            .expect("an instance")
            .to_owned();
        Self {
            client,
            name,
            hook,
            instance_id,
        }
    }

    /// The instance as `DescribeAutoScalingInstances` reports it.
    async fn describe_instance(&self) -> aws_sdk_autoscaling::types::AutoScalingInstanceDetails {
        let output = self
            .client
            .describe_auto_scaling_instances()
            .instance_ids(&self.instance_id)
            .send()
            .await
            .expect("DescribeAutoScalingInstances");
        output.auto_scaling_instances()[0].clone()
    }

    /// The instance's `ProtectedFromScaleIn`.
    pub async fn protected(&self) -> bool {
        self.describe_instance()
            .await
            .protected_from_scale_in()
            .expect("ProtectedFromScaleIn")
    }

    /// The instance's `LifecycleState` (`Pending`, `InService`, ...).
    pub async fn lifecycle_state(&self) -> String {
        self.describe_instance()
            .await
            .lifecycle_state()
            .expect("LifecycleState")
            .to_owned()
    }

    /// The lifecycle action calls the emulator recorded for this group, oldest first.
    pub async fn lifecycle_actions(&self) -> Vec<serde_json::Value> {
        let client = HttpClient::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
        let url = format!("{}/_workpool/lifecycle-actions", super::endpoint());
        let response = client
            .get(url.parse().expect("a URL"))
            .await
            .expect("GET /_workpool/lifecycle-actions");
        assert!(response.status().is_success(), "{}", response.status());
        let body = response
            .into_body()
            .collect()
            .await
            .expect("the log")
            .to_bytes();
        let entries: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a JSON list");
        entries
            .into_iter()
            .filter(|entry| entry["parameters"]["AutoScalingGroupName"] == self.name.as_str())
            .collect()
    }
}
