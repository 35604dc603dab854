//! # workpool
//!
//! The core of workpool, an autoscaling worker-pool runtime for Amazon SQS: the [`Consumer`] that
//! runs a `tower::Service` per message, many at once, and acknowledges each by its typed [`Outcome`];
//! the [`Source`] seam every queue implements; and [`memory::MemoryQueue`], an in-process queue with
//! SQS semantics for development, tests and the demo. This crate has no AWS dependency:
//! `workpool_sqs::SqsSource` is the Source for Amazon SQS.
//!
//! ## Quickstart
//!
//! ```
//! use std::time::Duration;
//! use tower::service_fn;
//! use workpool::memory::{MemoryQueue, QueueConfig};
//! use workpool::{BoxError, Consumer, Json, Message, OutgoingMessage};
//!
//! #[derive(serde::Deserialize)]
//! struct Resize { width: u32 }
//!
//! async fn resize(message: Message<Json<Resize>>) -> Result<(), BoxError> {
//!     println!("resize to {} px (delivery {})", message.body().width, message.receive_count());
//!     Ok(()) // Ok deletes the message; Err backs off and lets it come back.
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), workpool::Error> {
//! let queue = MemoryQueue::new(QueueConfig::standard("jobs"))?;
//! queue.send(OutgoingMessage::new(r#"{"width": 640}"#))?;
//!
//! let drained = queue.clone();
//! let summary = Consumer::new(queue)
//!     .concurrency(32)
//!     .run(service_fn(resize))
//!     // In a service: `.with_graceful_shutdown(workpool::shutdown_signal())`.
//!     .with_graceful_shutdown(async move {
//!         while !drained.is_empty() { tokio::time::sleep(Duration::from_millis(5)).await }
//!     })
//!     .await?;
//! assert_eq!(summary.deleted, 1);
//! # Ok(()) }
//! ```
//!
//! The [`consumer`] module explains the runtime; [`memory`] the in-process queue.

mod body;
pub mod consumer;
mod error;
mod error_chain;
mod failure_policy;
pub mod memory;
mod message;
pub mod metric_names;
mod outcome;
mod outgoing_message;
mod shutdown;
mod source;

pub use body::{BodyError, FromBody, Json, Sns};
pub use consumer::{Consumer, Control, Run, Summary};
pub use error::Error;
pub use error_chain::error_chain;
pub use failure_policy::FailurePolicy;
pub use message::{Message, Metadata};
pub use outcome::{BoxError, Discard, Outcome, Retry};
pub use outgoing_message::OutgoingMessage;
pub use shutdown::shutdown_signal;
pub use source::{
    AttributeValue, BatchOutcome, EntryFailure, MessageAttribute, QueueAttributes, RawMessage,
    ReceiveRequest, Source, VisibilityChange, MAX_BATCH, MAX_VISIBILITY, MAX_WAIT,
};
