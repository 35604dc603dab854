//! [`OutgoingMessage`]: a message to send, built with documented setters; the one type both
//! [`crate::memory::MemoryQueue::send`] and `workpool_sqs::Producer` take.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{AttributeValue, MessageAttribute};

/// A message to send: a body plus the optional settings of SQS's `SendMessage`. The in-memory
/// queue checks it as SQS does when it is sent ([`crate::memory::MemoryQueue::send`]);
/// `workpool_sqs::Producer` sends it to Amazon SQS.
///
/// ```
/// use std::time::Duration;
/// use workpool::{MessageAttribute, OutgoingMessage};
///
/// let message = OutgoingMessage::new(r#"{"input":"a.mov"}"#)
///     .group_id("customer-7")
///     .deduplication_id("a.mov-v1")
///     .attribute("content-type", MessageAttribute::string("application/json"));
/// assert_eq!(message.body(), r#"{"input":"a.mov"}"#);
/// let later = OutgoingMessage::new("x").delay(Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    pub(crate) body: String,
    pub(crate) group_id: Option<String>,
    pub(crate) deduplication_id: Option<String>,
    pub(crate) delay: Option<Duration>,
    pub(crate) attributes: BTreeMap<String, MessageAttribute>,
}

impl OutgoingMessage {
    /// A message with this body (SQS takes 1 byte to 256 KiB of XML-safe Unicode text); no group,
    /// no deduplication id, no delay (the queue's default applies), no attributes.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            group_id: None,
            deduplication_id: None,
            delay: None,
            attributes: BTreeMap::new(),
        }
    }

    /// Sets the message group (`MessageGroupId`): required on FIFO queues, which deliver a group in
    /// order; carried but not ordered on standard queues. Default: none.
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// Sets the deduplication id (`MessageDeduplicationId`) for FIFO queues; a message with the same
    /// id within 5 minutes is accepted but not delivered again. Default: none (the queue must then
    /// use content-based deduplication). A standard queue refuses a message that has one.
    pub fn deduplication_id(mut self, deduplication_id: impl Into<String>) -> Self {
        self.deduplication_id = Some(deduplication_id.into());
        self
    }

    /// Delays delivery by this long, in whole seconds up to 15 minutes (`DelaySeconds`; standard
    /// queues only). Default: none, so the queue's delay applies.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Adds a message attribute (at most 10 per message). Default: none.
    pub fn attribute(mut self, name: impl Into<String>, attribute: MessageAttribute) -> Self {
        self.attributes.insert(name.into(), attribute);
        self
    }

    /// The body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The message group, if set.
    pub fn get_group_id(&self) -> Option<&str> {
        self.group_id.as_deref()
    }

    /// The deduplication id, if set.
    pub fn get_deduplication_id(&self) -> Option<&str> {
        self.deduplication_id.as_deref()
    }

    /// The delay, if set.
    pub fn get_delay(&self) -> Option<Duration> {
        self.delay
    }

    /// The message attributes.
    pub fn attributes(&self) -> &BTreeMap<String, MessageAttribute> {
        &self.attributes
    }

    /// The size SQS counts against its limit: the body plus each attribute's name, type and value.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(name, attribute)| attribute_size(name, attribute))
                .sum::<usize>()
    }
}

/// The bytes an attribute counts toward SQS's message size limit: name, data type and value.
fn attribute_size(name: &str, attribute: &MessageAttribute) -> usize {
    let value = match &attribute.value {
        AttributeValue::Text(text) => text.len(),
        AttributeValue::Binary(bytes) => bytes.len(),
    };
    name.len() + attribute.data_type.len() + value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_counts_body_and_attributes() {
        let message = OutgoingMessage::new("12345").attribute("k", MessageAttribute::number(7));
        assert_eq!(message.size(), 5 + 1 + "Number".len() + 1);
    }
}
