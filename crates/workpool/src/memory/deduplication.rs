//! FIFO deduplication: a deduplication id seen within the last 5 minutes maps to the message first
//! sent with it, whether or not that message is still on the queue.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// How long a deduplication id is remembered (SQS's 5-minute interval).
pub const DEDUPLICATION_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The deduplication id of a body under content-based deduplication: its SHA-256, in hex.
pub(super) fn content_deduplication_id(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// What a duplicate send answers: the original message's id and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Original {
    /// The original message's id.
    pub message_id: String,
    /// The original message's sequence number.
    pub sequence_number: Option<String>,
}

/// The deduplication ids sent within the window.
#[derive(Debug, Default)]
pub(super) struct DeduplicationWindow {
    seen: HashMap<String, Original>,
    by_age: VecDeque<(Instant, String)>,
}

impl DeduplicationWindow {
    /// The original message sent with `deduplication_id` within the window before `now`, if any.
    pub fn original(&mut self, deduplication_id: &str, now: Instant) -> Option<&Original> {
        self.forget_older_than(now);
        self.seen.get(deduplication_id)
    }

    /// Remembers that `original` was sent at `now` with `deduplication_id`.
    pub fn remember(&mut self, deduplication_id: String, original: Original, now: Instant) {
        self.by_age.push_back((now, deduplication_id.clone()));
        self.seen.insert(deduplication_id, original);
    }

    fn forget_older_than(&mut self, now: Instant) {
        while let Some((sent, _)) = self.by_age.front() {
            if now.saturating_duration_since(*sent) < DEDUPLICATION_WINDOW {
                break;
            }
            if let Some((_, id)) = self.by_age.pop_front() {
                self.seen.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn original(id: &str) -> Original {
        Original {
            message_id: id.into(),
            sequence_number: None,
        }
    }

    #[test]
    fn ids_are_remembered_for_five_minutes() {
        let start = Instant::now();
        let mut window = DeduplicationWindow::default();
        window.remember("d".into(), original("m1"), start);
        let almost = start + DEDUPLICATION_WINDOW - Duration::from_millis(1);
        assert_eq!(window.original("d", almost), Some(&original("m1")));
        assert_eq!(window.original("other", almost), None);
        assert_eq!(window.original("d", start + DEDUPLICATION_WINDOW), None);
        assert!(window.by_age.is_empty());
    }

    #[test]
    fn content_ids_are_the_sha256_of_the_body() {
        assert_eq!(
            content_deduplication_id("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
