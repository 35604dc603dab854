//! Each tick's figures to CloudWatch with one `PutMetricData` call.

use std::time::SystemTime;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use super::aws_error;
use crate::error::Error;
use crate::ports::{MetricsSink, TickMetrics};

/// The CloudWatch namespace used unless another is set.
pub const DEFAULT_NAMESPACE: &str = "Workpool";

/// Publishes `ApproximateNumberOfMessages`, `…NotVisible`, `…Delayed`, `BacklogPerInstance` and
/// `DesiredCapacity`, with dimensions `QueueName` and `AutoScalingGroupName`.
#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
}

impl CloudWatchMetrics {
    /// Publishes into the [`DEFAULT_NAMESPACE`] ("Workpool").
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        Self {
            client,
            namespace: DEFAULT_NAMESPACE.to_owned(),
        }
    }

    /// The namespace to publish into (default "Workpool").
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }
}

impl MetricsSink for CloudWatchMetrics {
    async fn publish(&self, metrics: &TickMetrics) -> Result<(), Error> {
        let dimensions = vec![
            Dimension::builder()
                .name("QueueName")
                .value(&metrics.queue_name)
                .build(),
            Dimension::builder()
                .name("AutoScalingGroupName")
                .value(&metrics.group_name)
                .build(),
        ];
        let timestamp = DateTime::from(SystemTime::now());
        let mut figures = vec![
            ("ApproximateNumberOfMessages", metrics.visible as f64),
            (
                "ApproximateNumberOfMessagesNotVisible",
                metrics.not_visible as f64,
            ),
            ("ApproximateNumberOfMessagesDelayed", metrics.delayed as f64),
        ];
        if let Some(backlog) = metrics.backlog_per_instance {
            figures.push(("BacklogPerInstance", backlog));
        }
        if let Some(desired) = metrics.desired_capacity {
            figures.push(("DesiredCapacity", f64::from(desired)));
        }
        let data = figures
            .into_iter()
            .map(|(name, value)| {
                MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dimensions.clone()))
                    .value(value)
                    .unit(StandardUnit::Count)
                    .timestamp(timestamp)
                    .build()
            })
            .collect();
        self.client
            .put_metric_data()
            .namespace(&self.namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|e| aws_error("PutMetricData", &self.namespace, e))?;
        Ok(())
    }
}
