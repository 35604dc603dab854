//! [`MemoryQueue`]: an in-process queue with Amazon SQS's semantics — visibility timeouts, receive
//! counts, redrive to a dead-letter queue, delays, FIFO groups and deduplication, long polling —
//! cheap enough for a million messages a second.
//!
//! ```
//! use std::time::Duration;
//! use workpool::memory::{MemoryQueue, QueueConfig};
//! use workpool::{MessageAttribute, OutgoingMessage, ReceiveRequest, Source};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), workpool::Error> {
//! let dead_letters = MemoryQueue::new(QueueConfig::fifo("jobs-dlq.fifo"))?;
//! let queue = MemoryQueue::new(
//!     QueueConfig::fifo("jobs.fifo")
//!         .visibility_timeout(Duration::from_secs(30))
//!         .redrive(dead_letters.clone(), 5)
//!         .content_based_deduplication(true),
//! )?;
//! let receipt = queue.send(
//!     OutgoingMessage::new("encode video 7")
//!         .group_id("customer-1")
//!         .attribute("priority", MessageAttribute::number(3)),
//! )?;
//! assert!(receipt.sequence_number.is_some());
//!
//! let received = queue.receive(ReceiveRequest::new(10, Duration::from_secs(20))).await?;
//! assert_eq!(received[0].metadata.message_id, receipt.message_id);
//! assert_eq!(queue.attributes_now().not_visible, 1);
//! # Ok(()) }
//! ```

mod clock;
mod config;
mod deadlines;
mod deduplication;
mod fifo_groups;
mod identifiers;
mod queue;
mod queue_state;
mod receipt_handle;
mod sending;
mod stored_message;

pub use config::{QueueConfig, MAX_DELAY, MAX_QUEUE_NAME_LENGTH, MAX_RECEIVE_COUNT_LIMIT};
pub use deduplication::DEDUPLICATION_WINDOW;
pub use queue::MemoryQueue;
pub use sending::{SendReceipt, MAX_ID_LENGTH, MAX_MESSAGE_ATTRIBUTES, MAX_MESSAGE_SIZE};

#[cfg(test)]
mod no_loss_proptest;
#[cfg(test)]
mod tests;
