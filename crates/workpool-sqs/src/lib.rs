//! # workpool-sqs
//!
//! Amazon SQS for [workpool]: [`SqsSource`], the [`workpool::Source`] over `aws-sdk-sqs`
//! that the consumer receives from, and [`Producer`], which sends messages in batches. Errors are one
//! enum, [`Error`], whose messages name the queue (and endpoint) and say what to do.
//!
//! ## Quickstart
//!
//! ```no_run
//! use std::time::Duration;
//! use workpool::{ReceiveRequest, Source};
//! use workpool_sqs::{aws_config_for, OutgoingMessage, Producer, SqsSource};
//!
//! # async fn run() -> Result<(), workpool_sqs::Error> {
//! // `None` uses the normal AWS configuration; `Some(url)` points at an emulator.
//! let config = aws_config_for(Some("http://127.0.0.1:4566")).await;
//! let queue = SqsSource::from_queue_name(&config, "jobs").await?;
//!
//! let report = Producer::for_source(&queue)
//!     .send_all((0..25).map(|n| OutgoingMessage::new(format!("job {n}"))))
//!     .await?;
//! assert!(report.all_sent());
//!
//! let messages = queue.receive(ReceiveRequest::new(10, Duration::from_secs(20))).await?;
//! let handles: Vec<String> = messages.iter().map(|m| m.metadata.receipt_handle.clone()).collect();
//! let outcome = queue.delete_batch(&handles).await?;
//! assert!(outcome.all_succeeded());
//! # Ok(())
//! # }
//! ```

mod attributes;
mod config;
mod error;
mod producer;
mod queue_url;
mod service_error;
mod source;

pub use config::{aws_config_for, EMULATOR_DEFAULT_REGION};
pub use error::Error;
pub use producer::{
    Producer, SendFailure, SendReport, SentMessage, DEFAULT_MAX_MESSAGE_BYTES, MAX_DELAY,
    SQS_MAX_MESSAGE_BYTES,
};
pub use queue_url::QueueUrl;
pub use service_error::{is_missing_queue_code, service_error_text};
pub use source::SqsSource;
/// The message [`Producer`] sends: workpool's own, so one value serves this crate and the
/// in-memory queue alike.
pub use workpool::OutgoingMessage;
