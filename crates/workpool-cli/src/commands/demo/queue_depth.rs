//! The controller's view of the demo queue: a [`QueueDepth`] that reads the `MemoryQueue`'s counts, as
//! the SQS adapter reads `GetQueueAttributes`.

use workpool::memory::MemoryQueue;
use workpool_scaler::{Error, QueueDepth, QueueReading};

/// Reads visible, in-flight and delayed counts straight from a [`MemoryQueue`].
#[derive(Debug, Clone)]
pub struct MemoryQueueDepth {
    queue: MemoryQueue,
}

impl MemoryQueueDepth {
    /// The depth of `queue`.
    pub fn new(queue: MemoryQueue) -> Self {
        Self { queue }
    }
}

impl QueueDepth for MemoryQueueDepth {
    fn queue_name(&self) -> &str {
        self.queue.name()
    }

    async fn read(&self) -> Result<QueueReading, Error> {
        let attributes = self.queue.attributes_now();
        Ok(QueueReading {
            visible: attributes.visible,
            not_visible: attributes.not_visible,
            delayed: attributes.delayed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workpool::memory::QueueConfig;
    use workpool::OutgoingMessage;

    #[tokio::test]
    async fn reads_the_queue_counts() {
        let queue = MemoryQueue::new(QueueConfig::standard("jobs")).expect("valid");
        queue.send(OutgoingMessage::new("1")).expect("sent");
        queue.send(OutgoingMessage::new("2")).expect("sent");
        let depth = MemoryQueueDepth::new(queue);
        assert_eq!(depth.queue_name(), "jobs");
        let reading = depth.read().await.expect("readable");
        assert_eq!(
            (reading.visible, reading.not_visible, reading.delayed),
            (2, 0, 0)
        );
    }
}
