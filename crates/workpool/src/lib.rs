//! # workpool
//!
//! The core of workpool, an autoscaling worker-pool runtime for Amazon SQS. This crate has no AWS
//! dependency: it holds the [`Source`] seam every queue implements, the in-process
//! [`memory::MemoryQueue`] with SQS semantics, and (in later modules) the consumer runtime.
//!
//! ## Quickstart
//!
//! ```
//! use std::time::Duration;
//! use workpool::memory::{MemoryQueue, QueueConfig, SendRequest};
//! use workpool::{ReceiveRequest, Source};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), workpool::Error> {
//! let queue = MemoryQueue::new(QueueConfig::standard("jobs"))?;
//! queue.send(SendRequest::new("hello"))?;
//!
//! let received = queue.receive(ReceiveRequest::new(10, Duration::ZERO)).await?;
//! assert_eq!(received[0].body, "hello");
//! let outcome = queue.delete_batch(&[received[0].receipt_handle.clone()]).await?;
//! assert!(outcome.all_succeeded());
//! assert!(queue.is_empty());
//! # Ok(()) }
//! ```

mod body;
pub mod consumer;
mod error;
mod failure_policy;
pub mod memory;
mod message;
pub mod metric_names;
mod outcome;
mod shutdown;
mod source;

pub use body::{BodyError, FromBody, Json, Sns};
pub use consumer::{Consumer, Control, Run, Summary};
pub use error::Error;
pub use failure_policy::FailurePolicy;
pub use message::{Message, Metadata};
pub use outcome::{BoxError, Discard, Outcome, Retry};
pub use shutdown::shutdown_signal;
pub use source::{
    AttributeValue, BatchOutcome, EntryFailure, MessageAttribute, QueueAttributes, RawMessage,
    ReceiveRequest, Source, VisibilityChange, MAX_BATCH, MAX_VISIBILITY, MAX_WAIT,
};
