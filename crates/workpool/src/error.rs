//! The one error type of the `workpool` crate.

/// Everything that can go wrong in the core crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A queue setting is out of range; the message names the setting, the value and the allowed range.
    #[error("queue `{queue}`: invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The queue the setting belongs to.
        queue: String,
        /// The setting's name, as SQS calls it (e.g. `VisibilityTimeout`).
        setting: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// A message could not be sent; the message names the queue and the reason.
    #[error("queue `{queue}`: cannot send message: {reason}")]
    InvalidMessage {
        /// The queue the message was sent to.
        queue: String,
        /// What is wrong with the message.
        reason: String,
    },
    /// A batch request had more entries than SQS allows, or none.
    #[error("queue `{queue}`: a batch must have 1 to 10 entries, got {entries}")]
    BatchSize {
        /// The queue.
        queue: String,
        /// How many entries the request had.
        entries: usize,
    },
    /// The consumer could not start: a setting is invalid or the queue could not be read.
    #[error("consumer for queue `{queue}`: {reason}")]
    Consumer {
        /// The queue.
        queue: String,
        /// What went wrong.
        reason: String,
    },
}
