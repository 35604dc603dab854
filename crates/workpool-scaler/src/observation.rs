//! What the controller sees each tick: the queue's depth and the group's state, each of which may have
//! failed to read.

use std::fmt;

/// One tick's inputs to [`decide`](crate::decide). Each half is read separately and may fail; any
/// failure makes the decision a hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The queue's depth, or why it could not be read.
    pub queue: Result<QueueReading, ReadError>,
    /// The group's state, or why it could not be read.
    pub group: Result<GroupReading, ReadError>,
}

/// The queue's approximate depth, as SQS `GetQueueAttributes` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueReading {
    /// `ApproximateNumberOfMessages`: messages waiting to be received (V).
    pub visible: u64,
    /// `ApproximateNumberOfMessagesNotVisible`: messages received and being worked on (F).
    pub not_visible: u64,
    /// `ApproximateNumberOfMessagesDelayed`: messages not yet visible because of a delay (D).
    pub delayed: u64,
}

impl QueueReading {
    /// Every message in the queue, whatever its state: V + F + D.
    pub fn total(&self) -> u64 {
        self.visible + self.not_visible + self.delayed
    }
}

/// The Auto Scaling group's state, as `DescribeAutoScalingGroups` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupReading {
    /// The group's desired capacity now (counts instances still booting).
    pub desired: u32,
    /// The group's minimum size.
    pub min: u32,
    /// The group's maximum size.
    pub max: u32,
    /// Instances in service.
    pub in_service: u32,
    /// Instances launched but not in service yet.
    pub pending: u32,
    /// Instances that are busy: protected from scale-in (the sidecar protects an instance while any of
    /// its slots works). The controller never scales below this count.
    pub busy: u32,
    /// In-service instances known to be idle (not protected), by id; the first candidates to terminate
    /// when scaling in.
    pub idle_instances: Vec<String>,
}

/// Which input a [`ReadError`] concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The queue's depth.
    Queue,
    /// The Auto Scaling group's state.
    Group,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Input::Queue => "queue depth",
            Input::Group => "group state",
        })
    }
}

/// An input that could not be read this tick, kept as text so observations stay plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// What went wrong, for the log.
    pub message: String,
}

impl ReadError {
    /// A read error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
