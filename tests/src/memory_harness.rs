//! [`MemoryHarness`]: the conformance suite's backend for [`MemoryQueue`].

use workpool::memory::{MemoryQueue, QueueConfig};
use workpool_sqs::OutgoingMessage;

use crate::conformance::{HarnessQueue, KnownDifference, QueueHarness, QueueSettings};
use crate::unique_name;

/// Runs the conformance suite against [`MemoryQueue`], which follows SQS in every respect the
/// suite checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryHarness;

impl MemoryHarness {
    fn config(name: String, settings: &QueueSettings) -> QueueConfig {
        let config = if settings.is_fifo() {
            QueueConfig::fifo(format!("{name}.fifo"))
        } else {
            QueueConfig::standard(name)
        };
        config
            .visibility_timeout(settings.get_visibility_timeout())
            .content_based_deduplication(settings.is_content_based_dedup())
    }
}

impl QueueHarness for MemoryHarness {
    type Source = MemoryQueue;

    async fn create(&self, prefix: &str, settings: &QueueSettings) -> HarnessQueue<MemoryQueue> {
        let name = unique_name(prefix);
        let mut config = Self::config(name.clone(), settings);
        let mut dead_letter = None;
        if let Some(max_receive_count) = settings.get_dead_letter_after() {
            let dlq_settings = if settings.is_fifo() {
                QueueSettings::fifo()
            } else {
                QueueSettings::standard()
            };
            let dlq = MemoryQueue::new(Self::config(format!("{name}-dlq"), &dlq_settings))
                .expect("a valid dead-letter queue configuration");
            config = config.redrive(dlq.clone(), max_receive_count);
            dead_letter = Some(dlq);
        }
        let queue = MemoryQueue::new(config).expect("a valid queue configuration");
        HarnessQueue { queue, dead_letter }
    }

    async fn send(&self, queue: &MemoryQueue, message: OutgoingMessage) -> String {
        match queue.send(message) {
            Ok(receipt) => receipt.message_id,
            Err(error) => panic!("send to {} failed: {error}", queue.name()),
        }
    }

    fn differs_from_sqs(&self, _difference: KnownDifference) -> bool {
        false
    }
}
