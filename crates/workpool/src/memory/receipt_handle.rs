//! Receipt handles: `"<slot>:<generation>"`, so a handle leads straight to its message's storage slot.
//!
//! The generation counts every receive and every removal in that slot, so a handle from an earlier
//! receive (or from a message since deleted) is recognisably older than the slot's current one.

/// Where a receipt handle points: a storage slot and the slot's generation when the handle was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HandleTarget {
    /// The storage slot.
    pub slot: u32,
    /// The slot's generation when the handle was issued.
    pub generation: u32,
}

impl HandleTarget {
    /// Formats the handle a consumer gets back.
    pub fn format(self) -> String {
        let mut handle = String::with_capacity(21);
        push_decimal(&mut handle, self.slot);
        handle.push(':');
        push_decimal(&mut handle, self.generation);
        handle
    }

    /// Parses a handle; `None` when it is not one this queue could have issued.
    pub fn parse(handle: &str) -> Option<Self> {
        let (slot, generation) = handle.split_once(':')?;
        Some(Self {
            slot: parse_digits(slot)?,
            generation: parse_digits(generation)?,
        })
    }
}

/// Appends `number` in decimal (cheaper than the formatting machinery on this hot path).
fn push_decimal(out: &mut String, number: u32) {
    let mut digits = [0_u8; 10];
    let mut start = digits.len();
    let mut rest = number;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&digit| char::from(digit)));
}

/// Parses a plain decimal number (no sign, no spaces).
fn parse_digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formatted_handle_parses_back() {
        let target = HandleTarget {
            slot: 42,
            generation: 7,
        };
        assert_eq!(target.format(), "42:7");
        assert_eq!(HandleTarget::parse("42:7"), Some(target));
        let extremes = HandleTarget {
            slot: 0,
            generation: u32::MAX,
        };
        assert_eq!(extremes.format(), "0:4294967295");
        assert_eq!(HandleTarget::parse(&extremes.format()), Some(extremes));
    }

    #[test]
    fn malformed_handles_are_rejected() {
        for bad in [
            "",
            "42",
            "42:",
            ":7",
            "a:7",
            "42:b",
            "+4:7",
            "4:-7",
            "1:2:3",
            "99999999999:1",
        ] {
            assert_eq!(HandleTarget::parse(bad), None, "{bad:?}");
        }
    }
}
