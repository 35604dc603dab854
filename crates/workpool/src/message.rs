//! [`Message<T>`]: what a handler receives — a decoded body plus the queue's metadata.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::consumer::LeaseRef;
use crate::source::MessageAttribute;

/// A message handed to a handler: the body decoded as `T` plus everything the queue said about it.
///
/// `T` is any [`FromBody`](crate::FromBody) type: [`String`], [`bytes::Bytes`],
/// [`Json<U>`](crate::Json) or [`Sns<U>`](crate::Sns).
#[derive(Debug)]
pub struct Message<T> {
    body: T,
    metadata: Metadata,
    lease: LeaseRef,
}

/// What the queue reports about a message, apart from its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// The queue's id for the message, the same on every delivery.
    pub message_id: String,
    /// The handle of this delivery (deleting and extending use it).
    pub receipt_handle: String,
    /// How many times the message has been received, this delivery included.
    pub receive_count: u32,
    /// When the message was sent.
    pub sent_at: Option<SystemTime>,
    /// When the message was first received.
    pub first_received_at: Option<SystemTime>,
    /// The sender's account or principal id, when the queue reports it.
    pub sender_id: Option<String>,
    /// The message group (FIFO queues).
    pub group_id: Option<String>,
    /// The deduplication id (FIFO queues).
    pub deduplication_id: Option<String>,
    /// The sequence number (FIFO queues).
    pub sequence_number: Option<String>,
    /// The sender's message attributes.
    pub attributes: BTreeMap<String, MessageAttribute>,
}

impl Metadata {
    /// The metadata of a message with just an id and a receipt handle; the rest empty, receive
    /// count 1.
    pub fn new(message_id: impl Into<String>, receipt_handle: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            receipt_handle: receipt_handle.into(),
            receive_count: 1,
            sent_at: None,
            first_received_at: None,
            sender_id: None,
            group_id: None,
            deduplication_id: None,
            sequence_number: None,
            attributes: BTreeMap::new(),
        }
    }
}

impl<T> Message<T> {
    /// A message with this body and metadata. The consumer builds these; tests of handlers may too.
    pub fn new(body: T, metadata: Metadata) -> Self {
        Self {
            body,
            metadata,
            lease: LeaseRef::detached(),
        }
    }

    pub(crate) fn leased(body: T, metadata: Metadata, lease: LeaseRef) -> Self {
        Self {
            body,
            metadata,
            lease,
        }
    }

    /// The decoded body.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// Takes the decoded body.
    pub fn into_body(self) -> T {
        self.body
    }

    /// Everything the queue reported about the message.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The queue's id for the message.
    pub fn id(&self) -> &str {
        &self.metadata.message_id
    }

    /// How many times the message has been received, this delivery included.
    pub fn receive_count(&self) -> u32 {
        self.metadata.receive_count
    }

    /// The message group (FIFO queues).
    pub fn group_id(&self) -> Option<&str> {
        self.metadata.group_id.as_deref()
    }

    /// One message attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&MessageAttribute> {
        self.metadata.attributes.get(name)
    }

    /// Cancelled when the consumer lost this delivery: extending its visibility failed (the receipt is
    /// gone, so another consumer may already have it) or the consumer is shutting down past its grace
    /// period. A long handler can `select!` on `lease_lost().cancelled()` to stop early instead of
    /// running on as a duplicate.
    pub fn lease_lost(&self) -> &CancellationToken {
        self.lease.lost()
    }

    /// Keeps this delivery invisible for `timeout` from now (the whole stay is capped at SQS's 12
    /// hours), for a job whose length is known only once it starts — a video's duration, say. The
    /// consumer's heartbeat changes the message's visibility at once and from then on extends it by
    /// `timeout` whenever less than a third is left, instead of by the consumer's visibility timeout.
    /// Does nothing once the lease is lost, when the consumer's heartbeat is off, or for a message
    /// built with [`Message::new`].
    pub fn set_visibility_timeout(&self, timeout: Duration) {
        self.lease.request_timeout(timeout);
    }
}
