//! The controller's seams to the world: where queue depth comes from, where metrics go, and what
//! holds the capacity. AWS implementations live in [`aws`](crate::aws); in-memory ones in
//! [`memory`](crate::memory) and [`LocalFleet`](crate::LocalFleet).

use std::future::Future;
use std::time::SystemTime;

use crate::error::Error;
use crate::history::ScalingEvent;
use crate::observation::{GroupReading, QueueReading};

/// Reads a queue's depth.
pub trait QueueDepth: Send + Sync {
    /// The queue's name, for logs and metric dimensions.
    fn queue_name(&self) -> &str;

    /// Reads visible, in-flight and delayed message counts.
    fn read(&self) -> impl Future<Output = Result<QueueReading, Error>> + Send;
}

/// Where each tick's figures are published, and read back after a restart.
pub trait MetricsSink: Send + Sync {
    /// Publishes one tick's figures (one call).
    fn publish(&self, metrics: &TickMetrics) -> impl Future<Output = Result<(), Error>> + Send;

    /// The queue depth published for `queue_name` and `group_name` since `since`, period by period
    /// (one call), so that a restarted controller (or one run with `--once`) knows how long the queue
    /// has been empty.
    fn published_depth(
        &self,
        queue_name: &str,
        group_name: &str,
        since: SystemTime,
    ) -> impl Future<Output = Result<Vec<PublishedDepth>, Error>> + Send;
}

/// The most messages (visible, in flight and delayed together) the published figures show over one
/// period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedDepth {
    /// The period's start.
    pub from: SystemTime,
    /// The period's end: the figures in it were published at or after `from` and before `until`
    /// (the same instant for a single figure).
    pub until: SystemTime,
    /// At most this many messages at any figure of the period; 0 only if every figure was 0.
    pub most: u64,
}

/// The fleet whose size the controller steers.
pub trait Capacity: Send + Sync {
    /// The group's name, for logs and metric dimensions.
    fn group_name(&self) -> &str;

    /// Reads desired capacity, bounds and instances.
    fn describe(&self) -> impl Future<Output = Result<GroupReading, Error>> + Send;

    /// Sets the desired capacity.
    fn set_desired(&self, desired: u32) -> impl Future<Output = Result<(), Error>> + Send;

    /// Terminates one instance and lowers the desired capacity by one.
    fn terminate_with_decrement(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Past changes of the desired capacity since `since`, to rebuild cooldown state after a restart.
    fn scaling_events(
        &self,
        since: SystemTime,
    ) -> impl Future<Output = Result<Vec<ScalingEvent>, Error>> + Send;
}

/// One tick's figures, as published to CloudWatch.
#[derive(Debug, Clone, PartialEq)]
pub struct TickMetrics {
    /// When the tick read these figures: the data points' timestamp.
    pub at: SystemTime,
    /// The `QueueName` dimension.
    pub queue_name: String,
    /// The `AutoScalingGroupName` dimension.
    pub group_name: String,
    /// `ApproximateNumberOfMessages`.
    pub visible: u64,
    /// `ApproximateNumberOfMessagesNotVisible`.
    pub not_visible: u64,
    /// `ApproximateNumberOfMessagesDelayed`.
    pub delayed: u64,
    /// `BacklogPerInstance`: visible messages per in-service instance (all of them when none is in
    /// service); absent when the group could not be read.
    pub backlog_per_instance: Option<f64>,
    /// `DesiredCapacity` as decided this tick; absent when the group could not be read.
    pub desired_capacity: Option<u32>,
}

impl TickMetrics {
    /// The figures read at `at` for a readable queue and, if readable, group, with the capacity
    /// decided.
    pub fn new(
        at: SystemTime,
        queue_name: &str,
        group_name: &str,
        queue: &QueueReading,
        group: Option<&GroupReading>,
        desired_capacity: Option<u32>,
    ) -> Self {
        Self {
            at,
            queue_name: queue_name.to_owned(),
            group_name: group_name.to_owned(),
            visible: queue.visible,
            not_visible: queue.not_visible,
            delayed: queue.delayed,
            backlog_per_instance: group
                .map(|group| queue.visible as f64 / f64::from(group.in_service.max(1))),
            desired_capacity,
        }
    }
}
