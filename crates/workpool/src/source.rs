//! The seam between the consumer runtime and a queue: [`Source`].
//!
//! A `Source` speaks the four SQS operations a consumer needs — receive, delete in batches, change
//! visibility in batches, read the queue's attributes — and nothing else. [`crate::memory::MemoryQueue`]
//! implements it in process; `workpool_sqs::SqsSource` implements it over the AWS SDK.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use crate::message::Metadata;

/// The most messages one receive may return, and the most entries in one batch call (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// The longest a receive may wait for a message (SQS's long-poll limit).
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// The longest a delivery may stay invisible, counted from its receive (SQS's 12-hour cap; a
/// redelivery starts again).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// A queue the consumer can receive from and acknowledge to.
///
/// Every method is a single request: implementations do not retry. Batch methods return a
/// [`BatchOutcome`] that names each failed entry by its index in the request, so one bad receipt handle
/// never hides the success of the others.
pub trait Source: Send + Sync + 'static {
    /// The error a request that failed as a whole returns (unreachable endpoint, throttled, no such queue).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Receives up to `request.max_messages` messages, waiting up to `request.wait` for the first.
    fn receive(
        &self,
        request: ReceiveRequest,
    ) -> impl Future<Output = Result<Vec<RawMessage>, Self::Error>> + Send;

    /// Deletes the messages with these receipt handles (at most [`MAX_BATCH`]).
    fn delete_batch(
        &self,
        receipt_handles: &[String],
    ) -> impl Future<Output = Result<BatchOutcome, Self::Error>> + Send;

    /// Sets the visibility timeout of in-flight messages, counted from now (at most [`MAX_BATCH`]).
    fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> impl Future<Output = Result<BatchOutcome, Self::Error>> + Send;

    /// Reads the queue's approximate counts and settings.
    fn attributes(&self) -> impl Future<Output = Result<QueueAttributes, Self::Error>> + Send;

    /// A name for logs and metrics (the queue name).
    fn name(&self) -> &str;

    /// Whether dropping a [`receive`](Self::receive) before it answers leaves nothing taken. True for
    /// an in-process queue that takes messages only in the instant it returns them. False (the
    /// default) for a queue across a network: the request goes on at the server, which can hand its
    /// messages to a receive nobody reads any more, leaving them invisible for their whole timeout.
    /// A stopping consumer therefore lets such a receive answer (at most its wait time) and releases
    /// what it returns.
    fn receive_is_cancel_safe(&self) -> bool {
        false
    }
}

/// What one receive asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveRequest {
    /// How many messages at most, 1 to [`MAX_BATCH`].
    pub max_messages: usize,
    /// How long to wait for the first message (long polling), up to [`MAX_WAIT`].
    pub wait: Duration,
    /// The visibility timeout for the received messages; `None` keeps the queue's default.
    pub visibility_timeout: Option<Duration>,
}

impl ReceiveRequest {
    /// A request for up to `max_messages` (clamped to 1..=10), waiting up to `wait` (clamped to 20 s).
    pub fn new(max_messages: usize, wait: Duration) -> Self {
        Self {
            max_messages: max_messages.clamp(1, MAX_BATCH),
            wait: wait.min(MAX_WAIT),
            visibility_timeout: None,
        }
    }

    /// Sets the visibility timeout the received messages get.
    pub fn with_visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = Some(timeout.min(MAX_VISIBILITY));
        self
    }
}

/// One entry of a [`Source::change_visibility_batch`] request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityChange {
    /// The receipt handle of the message's latest receive.
    pub receipt_handle: String,
    /// The new visibility timeout, counted from now; zero makes the message visible at once.
    pub timeout: Duration,
}

/// The entries of a batch request that failed; the others succeeded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The failed entries, each naming its index in the request.
    pub failed: Vec<EntryFailure>,
}

impl BatchOutcome {
    /// True when every entry succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Why one entry of a batch request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    /// The entry's index in the request.
    pub index: usize,
    /// The service's error code, such as `ReceiptHandleIsInvalid`.
    pub code: String,
    /// The service's message.
    pub message: String,
    /// True when the request was at fault (retrying the same entry will fail again).
    pub sender_fault: bool,
}

/// A queue's approximate counts and settings, as `GetQueueAttributes` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueAttributes {
    /// Messages available to receive (`ApproximateNumberOfMessages`).
    pub visible: u64,
    /// Messages received and not yet deleted or visible again (`ApproximateNumberOfMessagesNotVisible`).
    pub not_visible: u64,
    /// Messages waiting out a delay (`ApproximateNumberOfMessagesDelayed`).
    pub delayed: u64,
    /// The queue's default visibility timeout.
    pub visibility_timeout: Duration,
    /// True for a FIFO queue.
    pub fifo: bool,
}

/// A message as a [`Source`] returns it, before its body is decoded: what the queue reports about
/// it and the body as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
    /// Everything the queue reports about the message apart from its body.
    pub metadata: Metadata,
    /// The body, as sent.
    pub body: String,
}

impl RawMessage {
    /// A message with just an id, a receipt handle and a body; the rest empty, receive count 1
    /// (see [`Metadata::new`]).
    pub fn new(
        message_id: impl Into<String>,
        receipt_handle: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            metadata: Metadata::new(message_id, receipt_handle),
            body: body.into(),
        }
    }
}

/// One message attribute: a data type (`String`, `Number`, `Binary`, optionally with a custom suffix
/// such as `String.json`) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// The data type as SQS names it.
    pub data_type: String,
    /// The value.
    pub value: AttributeValue,
}

impl MessageAttribute {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        Self {
            data_type: "String".into(),
            value: AttributeValue::Text(value.into()),
        }
    }

    /// A `Number` attribute (SQS carries numbers as text).
    pub fn number(value: impl ToString) -> Self {
        Self {
            data_type: "Number".into(),
            value: AttributeValue::Text(value.to_string()),
        }
    }

    /// A `Binary` attribute.
    pub fn binary(value: impl Into<Bytes>) -> Self {
        Self {
            data_type: "Binary".into(),
            value: AttributeValue::Binary(value.into()),
        }
    }
}

/// The value of a [`MessageAttribute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// `String` and `Number` attributes.
    Text(String),
    /// `Binary` attributes.
    Binary(Bytes),
}
