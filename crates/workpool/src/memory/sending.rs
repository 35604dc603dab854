//! Sending: SQS's limits and checks on an [`OutgoingMessage`], and [`SendReceipt`], what a send answers.

use super::config::{Settings, MAX_DELAY};
use crate::{AttributeValue, Error, MessageAttribute, OutgoingMessage};

/// The largest message, body and attributes together (SQS's classic 256 KiB limit).
pub const MAX_MESSAGE_SIZE: usize = 256 * 1024;

/// The most attributes one message may carry (SQS's limit).
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// The longest message group id or deduplication id (SQS's limit).
pub const MAX_ID_LENGTH: usize = 128;

impl OutgoingMessage {
    /// Checks the message against the queue's kind and SQS's limits.
    pub(super) fn check(&self, settings: &Settings) -> Result<(), Error> {
        self.problem(settings).map_or(Ok(()), |reason| {
            Err(Error::InvalidMessage {
                queue: settings.name.clone(),
                reason,
            })
        })
    }

    fn problem(&self, settings: &Settings) -> Option<String> {
        if self.body.is_empty() {
            return Some("the body is empty; SQS needs at least one character".into());
        }
        let size = self.size();
        if size > MAX_MESSAGE_SIZE {
            return Some(format!(
                "the message is {size} bytes, more than the 262144-byte limit"
            ));
        }
        if let Some(bad) = first_refused_character(&self.body) {
            return Some(format!(
                "the body holds the character U+{:04X}, which SQS does not accept",
                u32::from(bad)
            ));
        }
        if self.attributes.len() > MAX_MESSAGE_ATTRIBUTES {
            return Some(format!(
                "{} message attributes, more than the limit of 10",
                self.attributes.len()
            ));
        }
        if let Some(problem) = self
            .attributes
            .iter()
            .find_map(|(name, a)| attribute_problem(name, a))
        {
            return Some(problem);
        }
        let ids = [
            ("MessageGroupId", &self.group_id),
            ("MessageDeduplicationId", &self.deduplication_id),
        ];
        if let Some(problem) = ids
            .iter()
            .find_map(|(what, id)| id.as_deref().and_then(|id| id_problem(what, id)))
        {
            return Some(problem);
        }
        if let Some(delay) = self.delay {
            if settings.fifo {
                return Some(
                    "FIFO queues take no per-message delay; set the queue's delay instead".into(),
                );
            }
            if delay > MAX_DELAY {
                return Some(format!(
                    "a delay of {delay:?} is longer than the 15-minute maximum"
                ));
            }
        }
        if settings.fifo {
            if self.group_id.is_none() {
                return Some("a FIFO queue needs a MessageGroupId on every message".into());
            }
            if self.deduplication_id.is_none() && !settings.content_based_deduplication {
                return Some(
                    "a FIFO queue needs a MessageDeduplicationId or content-based deduplication"
                        .into(),
                );
            }
        } else if self.deduplication_id.is_some() {
            return Some("MessageDeduplicationId applies to FIFO queues only".into());
        }
        None
    }
}

/// The first character of `body` SQS refuses, if any (a byte scan for the common all-ASCII body).
fn first_refused_character(body: &str) -> Option<char> {
    let lowest = body.bytes().fold(u8::MAX, u8::min);
    if lowest >= 0x20 && body.is_ascii() {
        return None;
    }
    body.chars().find(|&c| !is_allowed_in_body(c))
}

/// The characters SQS accepts in a body: `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`.
fn is_allowed_in_body(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Returns why a group or deduplication id is invalid: 1 to 128 printable ASCII characters.
fn id_problem(what: &str, id: &str) -> Option<String> {
    if id.is_empty() || id.len() > MAX_ID_LENGTH || !id.bytes().all(|b| b.is_ascii_graphic()) {
        Some(format!(
            "{what} `{id}` must be 1 to 128 printable ASCII characters"
        ))
    } else {
        None
    }
}

fn attribute_problem(name: &str, attribute: &MessageAttribute) -> Option<String> {
    if name.is_empty() || name.len() > 256 {
        return Some(format!(
            "attribute name `{name}` must be 1 to 256 characters"
        ));
    }
    let base = attribute.data_type.split('.').next().unwrap_or_default();
    if !matches!(base, "String" | "Number" | "Binary") {
        return Some(format!(
            "attribute `{name}` has data type `{}`; use String, Number or Binary",
            attribute.data_type
        ));
    }
    let empty = match &attribute.value {
        AttributeValue::Text(text) => text.is_empty(),
        AttributeValue::Binary(bytes) => bytes.is_empty(),
    };
    empty.then(|| format!("attribute `{name}` has an empty value"))
}

/// What a successful send answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The message's id. For a FIFO duplicate within the deduplication window, the original's id.
    pub message_id: String,
    /// The sequence number (FIFO queues only; the original's for a duplicate).
    pub sequence_number: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::super::QueueConfig;
    use std::time::Duration;

    use super::*;

    fn standard() -> Settings {
        QueueConfig::standard("jobs").validate().unwrap()
    }

    fn fifo(content_based: bool) -> Settings {
        QueueConfig::fifo("jobs.fifo")
            .content_based_deduplication(content_based)
            .validate()
            .unwrap()
    }

    fn reason(request: OutgoingMessage, settings: &Settings) -> String {
        match request.check(settings) {
            Err(Error::InvalidMessage { queue, reason }) => {
                assert_eq!(queue, settings.name);
                reason
            }
            other => panic!("expected InvalidMessage, got {other:?}"),
        }
    }

    #[test]
    fn bodies_are_checked() {
        assert!(reason(OutgoingMessage::new(""), &standard()).contains("empty"));
        assert!(reason(
            OutgoingMessage::new("x".repeat(MAX_MESSAGE_SIZE + 1)),
            &standard()
        )
        .contains("262144"));
        assert!(OutgoingMessage::new("x".repeat(MAX_MESSAGE_SIZE))
            .check(&standard())
            .is_ok());
        assert!(reason(OutgoingMessage::new("a\u{0}b"), &standard()).contains("U+0000"));
        assert!(reason(OutgoingMessage::new("é\u{1}"), &standard()).contains("U+0001"));
        assert!(reason(OutgoingMessage::new("é\u{FFFE}"), &standard()).contains("U+FFFE"));
        assert!(OutgoingMessage::new("\u{7f}\u{E000}\u{10FFFF}")
            .check(&standard())
            .is_ok());
        assert!(OutgoingMessage::new("tab\tnew\nline ünïcödé 🚀")
            .check(&standard())
            .is_ok());
    }

    #[test]
    fn attributes_count_toward_the_size_and_are_checked() {
        let big = OutgoingMessage::new("x".repeat(MAX_MESSAGE_SIZE - 10))
            .attribute("name", MessageAttribute::string("value"));
        assert_eq!(big.size(), MAX_MESSAGE_SIZE - 10 + 4 + 6 + 5);
        assert!(reason(big, &standard()).contains("262144"));
        let many = (0..11).fold(OutgoingMessage::new("x"), |r, i| {
            r.attribute(format!("a{i}"), MessageAttribute::number(i))
        });
        assert!(reason(many, &standard()).contains("attributes"));
        let odd = OutgoingMessage::new("x").attribute(
            "a",
            MessageAttribute {
                data_type: "Blob".into(),
                value: AttributeValue::Text("v".into()),
            },
        );
        assert!(reason(odd, &standard()).contains("Blob"));
        let custom = OutgoingMessage::new("x").attribute(
            "a",
            MessageAttribute {
                data_type: "String.json".into(),
                value: AttributeValue::Text("{}".into()),
            },
        );
        assert!(custom.check(&standard()).is_ok());
        assert!(reason(
            OutgoingMessage::new("x").attribute("a", MessageAttribute::string("")),
            &standard()
        )
        .contains("empty"));
    }

    #[test]
    fn fifo_rules_are_checked() {
        assert!(reason(
            OutgoingMessage::new("x").deduplication_id("d"),
            &fifo(false)
        )
        .contains("MessageGroupId"));
        assert!(
            reason(OutgoingMessage::new("x").group_id("g"), &fifo(false))
                .contains("MessageDeduplicationId")
        );
        assert!(OutgoingMessage::new("x")
            .group_id("g")
            .check(&fifo(true))
            .is_ok());
        assert!(OutgoingMessage::new("x")
            .group_id("g")
            .deduplication_id("d")
            .check(&fifo(false))
            .is_ok());
        let delayed = OutgoingMessage::new("x")
            .group_id("g")
            .delay(Duration::from_secs(1));
        assert!(reason(delayed, &fifo(true)).contains("per-message delay"));
        assert!(
            reason(OutgoingMessage::new("x").group_id("g h"), &fifo(true))
                .contains("MessageGroupId")
        );
        assert!(reason(
            OutgoingMessage::new("x")
                .group_id("g")
                .deduplication_id("d".repeat(129)),
            &fifo(true)
        )
        .contains("MessageDeduplicationId"));
    }

    #[test]
    fn standard_rules_are_checked() {
        assert!(
            reason(OutgoingMessage::new("x").deduplication_id("d"), &standard()).contains("FIFO")
        );
        assert!(OutgoingMessage::new("x")
            .group_id("g")
            .check(&standard())
            .is_ok());
        assert!(OutgoingMessage::new("x")
            .delay(MAX_DELAY)
            .check(&standard())
            .is_ok());
        let late = OutgoingMessage::new("x").delay(MAX_DELAY + Duration::from_secs(1));
        assert!(reason(late, &standard()).contains("15-minute"));
    }
}
