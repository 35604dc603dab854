//! Each tick's figures to CloudWatch with one `PutMetricData` call, and the published depth read
//! back with one `GetMetricData` call.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit,
};

use super::aws_error;
use crate::error::Error;
use crate::ports::{MetricsSink, PublishedDepth, TickMetrics};

/// The three depth figures, as published.
const DEPTH_METRICS: [&str; 3] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
];

/// The period the published depth is read back in: CloudWatch keeps standard-resolution figures
/// per minute.
const READ_BACK_PERIOD: Duration = Duration::from_secs(60);

/// The two dimensions every figure carries.
fn dimensions(queue_name: &str, group_name: &str) -> Vec<Dimension> {
    vec![
        Dimension::builder()
            .name("QueueName")
            .value(queue_name)
            .build(),
        Dimension::builder()
            .name("AutoScalingGroupName")
            .value(group_name)
            .build(),
    ]
}

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
        let dimensions = dimensions(&metrics.queue_name, &metrics.group_name);
        let timestamp = DateTime::from(metrics.at);
        let [visible, not_visible, delayed] = DEPTH_METRICS;
        let mut figures = vec![
            (visible, metrics.visible as f64),
            (not_visible, metrics.not_visible as f64),
            (delayed, metrics.delayed as f64),
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

    /// The per-minute maximum of each depth figure, summed minute by minute.
    async fn published_depth(
        &self,
        queue_name: &str,
        group_name: &str,
        since: SystemTime,
    ) -> Result<Vec<PublishedDepth>, Error> {
        let period = READ_BACK_PERIOD.as_secs() as i32;
        let queries: Vec<MetricDataQuery> = DEPTH_METRICS
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let metric = Metric::builder()
                    .namespace(&self.namespace)
                    .metric_name(*name)
                    .set_dimensions(Some(dimensions(queue_name, group_name)))
                    .build();
                MetricDataQuery::builder()
                    .id(format!("depth{index}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(period)
                            .stat("Maximum")
                            .build(),
                    )
                    .build()
            })
            .collect();
        // A page after the first must repeat the request, the time range included.
        let (start, end) = (
            DateTime::from(since),
            DateTime::from(SystemTime::now() + READ_BACK_PERIOD),
        );
        let mut most_by_minute: BTreeMap<SystemTime, u64> = BTreeMap::new();
        let mut next_token = None;
        loop {
            let output = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(start)
                .end_time(end)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| aws_error("GetMetricData", &self.namespace, e))?;
            for result in output.metric_data_results() {
                for (at, value) in result.timestamps().iter().zip(result.values()) {
                    let Ok(at) = SystemTime::try_from(*at) else {
                        continue;
                    };
                    *most_by_minute.entry(at).or_default() += value.max(0.0).ceil() as u64;
                }
            }
            next_token = output.next_token().map(str::to_owned);
            if next_token.is_none() {
                break;
            }
        }
        Ok(most_by_minute
            .into_iter()
            .map(|(from, most)| PublishedDepth {
                from,
                until: from + READ_BACK_PERIOD,
                most,
            })
            .collect())
    }
}
