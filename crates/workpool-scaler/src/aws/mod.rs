//! The ports over AWS: queue depth from SQS, metrics to CloudWatch, capacity in EC2 Auto Scaling.

mod activities;
mod autoscaling;
mod cloudwatch;
mod sqs;

pub use autoscaling::AutoScalingCapacity;
pub use cloudwatch::{CloudWatchMetrics, DEFAULT_NAMESPACE};
pub use sqs::SqsQueueDepth;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::Error;

/// An AWS call's error as [`Error::Aws`], in a line a log can show: the service's error code and
/// message when the service answered, else the chain of causes (a connection refused, a timeout).
fn aws_error<E>(operation: &'static str, resource: &str, error: E) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    Error::Aws {
        operation,
        resource: resource.to_owned(),
        message: workpool_sqs::service_error_text(&error),
    }
}

/// The three AWS clients the controller needs, built from one SDK configuration.
#[derive(Debug, Clone)]
pub struct AwsClients {
    sqs: aws_sdk_sqs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    autoscaling: aws_sdk_autoscaling::Client,
}

/// The ports of one scaling target over AWS.
pub type AwsController = crate::Controller<SqsQueueDepth, AutoScalingCapacity, CloudWatchMetrics>;

impl AwsClients {
    /// Clients from the usual AWS configuration chain (environment, profile, instance role), talking
    /// to `endpoint_url` instead of AWS when given (an emulator).
    pub async fn load(endpoint_url: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        Self::from_config(&loader.load().await)
    }

    /// Clients from an SDK configuration.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self {
            sqs: aws_sdk_sqs::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
        }
    }

    /// A controller for `queue` and `group`, publishing into `namespace`; fails with every problem
    /// found, such as [`Error::UnknownQueue`] and [`Error::UnknownGroup`] when they do not exist.
    pub async fn controller(
        &self,
        queue: &str,
        group: &str,
        namespace: &str,
        policy: crate::Policy,
    ) -> Result<AwsController, Vec<Error>> {
        let (depth, capacity) = tokio::join!(
            SqsQueueDepth::resolve(self.sqs.clone(), queue),
            AutoScalingCapacity::resolve(self.autoscaling.clone(), group)
        );
        let metrics = CloudWatchMetrics::new(self.cloudwatch.clone()).namespace(namespace);
        match (depth, capacity) {
            (Ok(depth), Ok(capacity)) => {
                Ok(crate::Controller::new(depth, capacity, metrics, policy))
            }
            (depth, capacity) => Err(depth.err().into_iter().chain(capacity.err()).collect()),
        }
    }
}
