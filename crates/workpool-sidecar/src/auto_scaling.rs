//! The Auto Scaling requests the sidecar makes, behind a small trait ([`AutoScalingApi`]), and its
//! implementation over `aws-sdk-autoscaling` ([`AwsAutoScaling`]).

use std::future::Future;

use aws_config::SdkConfig;
use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::Client;

use crate::error::Error;

/// The termination lifecycle action this instance is in: what `CompleteLifecycleAction` and
/// `RecordLifecycleActionHeartbeat` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleAction {
    /// The Auto Scaling group.
    pub group: String,
    /// The lifecycle hook (on `autoscaling:EC2_INSTANCE_TERMINATING`).
    pub hook: String,
    /// This instance.
    pub instance_id: String,
}

/// The Auto Scaling operations the sidecar needs.
pub trait AutoScalingApi: Send + Sync + 'static {
    /// The group `instance_id` belongs to, if any (`DescribeAutoScalingInstances`).
    fn group_of(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// The name of the group's lifecycle hook on instance termination, if it has one
    /// (`DescribeLifecycleHooks`).
    fn termination_hook(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// Turns scale-in protection of `instance_id` on or off (`SetInstanceProtection`);
    /// [`Error::NotInService`] when Auto Scaling refuses because the instance is not in service yet.
    fn set_protection(
        &self,
        group: &str,
        instance_id: &str,
        protected: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Extends the lifecycle action's timeout (`RecordLifecycleActionHeartbeat`).
    fn record_heartbeat(
        &self,
        action: &LifecycleAction,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Lets the termination go on (`CompleteLifecycleAction` with result `CONTINUE`).
    fn complete(&self, action: &LifecycleAction) -> impl Future<Output = Result<(), Error>> + Send;
}

/// [`AutoScalingApi`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct AwsAutoScaling {
    client: Client,
}

impl AwsAutoScaling {
    /// A client from this AWS configuration (its region, credentials and endpoint).
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }
}

/// Whether an Auto Scaling error is its refusal of an instance that is not in service yet, as
/// `SetInstanceProtection` words it: `ValidationError`, "The instance i-… is not in InService or
/// EnteringStandby or Standby."
fn refuses_not_in_service(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationError") && message.is_some_and(|m| m.contains("is not in InService"))
}

/// An Auto Scaling call's error in one line: the service's code and message when it answered, else
/// the chain of causes (a connection refused, a timeout).
fn failed<E>(operation: &'static str, error: E) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    Error::AutoScaling {
        operation,
        reason: workpool_sqs::service_error_text(&error),
    }
}

impl AutoScalingApi for AwsAutoScaling {
    async fn group_of(&self, instance_id: &str) -> Result<Option<String>, Error> {
        let output = self
            .client
            .describe_auto_scaling_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|error| failed("DescribeAutoScalingInstances", error))?;
        Ok(output
            .auto_scaling_instances()
            .iter()
            .find(|instance| instance.instance_id() == Some(instance_id))
            .and_then(|instance| instance.auto_scaling_group_name())
            .map(str::to_owned))
    }

    async fn termination_hook(&self, group: &str) -> Result<Option<String>, Error> {
        let output = self
            .client
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(|error| failed("DescribeLifecycleHooks", error))?;
        Ok(output
            .lifecycle_hooks()
            .iter()
            .find(|hook| {
                hook.lifecycle_transition() == Some("autoscaling:EC2_INSTANCE_TERMINATING")
            })
            .and_then(|hook| hook.lifecycle_hook_name())
            .map(str::to_owned))
    }

    async fn set_protection(
        &self,
        group: &str,
        instance_id: &str,
        protected: bool,
    ) -> Result<(), Error> {
        self.client
            .set_instance_protection()
            .auto_scaling_group_name(group)
            .instance_ids(instance_id)
            .protected_from_scale_in(protected)
            .send()
            .await
            .map_err(|error| {
                if refuses_not_in_service(error.code(), error.message()) {
                    Error::NotInService {
                        instance_id: instance_id.to_owned(),
                    }
                } else {
                    failed("SetInstanceProtection", error)
                }
            })?;
        Ok(())
    }

    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), Error> {
        self.client
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook)
            .instance_id(&action.instance_id)
            .send()
            .await
            .map_err(|error| failed("RecordLifecycleActionHeartbeat", error))?;
        Ok(())
    }

    async fn complete(&self, action: &LifecycleAction) -> Result<(), Error> {
        self.client
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook)
            .instance_id(&action.instance_id)
            .lifecycle_action_result("CONTINUE")
            .send()
            .await
            .map_err(|error| failed("CompleteLifecycleAction", error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::refuses_not_in_service;

    #[test]
    fn only_the_not_in_service_refusal_is_read_as_one() {
        let refusal = "The instance i-0abc is not in InService or EnteringStandby or Standby.";
        assert!(refuses_not_in_service(
            Some("ValidationError"),
            Some(refusal)
        ));
        assert!(!refuses_not_in_service(
            Some("ValidationError"),
            Some("The instance ID or group name is invalid")
        ));
        assert!(!refuses_not_in_service(Some("Throttling"), Some(refusal)));
        assert!(!refuses_not_in_service(None, None));
    }
}
