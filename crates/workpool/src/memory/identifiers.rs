//! Message ids (UUID-shaped, as SQS's are) and FIFO sequence numbers (20 digits, as SQS's are).

/// Makes message ids: a random per-queue prefix plus a counter, so ids never repeat within a queue
/// and are very unlikely to repeat across queues.
#[derive(Debug)]
pub(super) struct MessageIds {
    prefix: u64,
    next: std::sync::atomic::AtomicU64,
}

impl MessageIds {
    /// A generator with a random prefix.
    pub fn new() -> Self {
        Self {
            prefix: fastrand::u64(..),
            next: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// The next id, formatted like a UUID (`8-4-4-4-12` hex digits).
    pub fn next_id(&self) -> String {
        let counter = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut bytes = [0_u8; 16];
        bytes[..8].copy_from_slice(&self.prefix.to_be_bytes());
        bytes[8..].copy_from_slice(&counter.to_be_bytes());
        let mut text = [b'-'; 36];
        let mut at = 0;
        for (index, byte) in bytes.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                at += 1;
            }
            text[at] = HEX_DIGITS[usize::from(byte >> 4)];
            text[at + 1] = HEX_DIGITS[usize::from(byte & 0x0f)];
            at += 2;
        }
        std::str::from_utf8(&text)
            .expect("hex digits and dashes are ASCII")
            .to_owned()
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Formats a FIFO sequence number as SQS does: a 20-digit decimal string.
pub(super) fn format_sequence_number(number: u64) -> String {
    format!("{number:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_shaped_and_distinct() {
        let ids = MessageIds::new();
        let first = ids.next_id();
        let second = ids.next_id();
        assert_ne!(first, second);
        let lengths: Vec<usize> = first.split('-').map(str::len).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12]);
        assert!(first.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert!(first.ends_with("-000000000001"), "{first}");
        assert_eq!(&first[..8], format!("{:08x}", ids.prefix >> 32));
    }

    #[test]
    fn sequence_numbers_have_twenty_digits_and_sort_as_text() {
        assert_eq!(format_sequence_number(7), "00000000000000000007");
        assert!(format_sequence_number(9) < format_sequence_number(10));
    }
}
