//! The queue's deadlines (delay ends, visibility expiries), checked lazily on every operation.
//!
//! Entries are never removed when a message is deleted or its visibility changed; instead each popped
//! entry is checked against the message's current state, and the heap is compacted when stale entries
//! outnumber live ones, so memory stays proportional to the hidden messages.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tokio::time::Instant;

use super::receipt_handle::HandleTarget;

/// Stale entries tolerated beyond twice the live ones before a compaction.
const COMPACTION_SLACK: usize = 1024;

/// One deadline: at `at`, the message in `target` (if still that generation) may become visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Deadline {
    /// When.
    pub at: Instant,
    /// The slot's index.
    pub slot: u32,
    /// The slot's generation when the deadline was set.
    pub generation: u32,
}

impl Deadline {
    /// The message this deadline is for.
    pub fn target(&self) -> HandleTarget {
        HandleTarget {
            slot: self.slot,
            generation: self.generation,
        }
    }
}

/// A min-heap of [`Deadline`]s.
#[derive(Debug, Default)]
pub(super) struct Deadlines {
    heap: BinaryHeap<Reverse<Deadline>>,
}

impl Deadlines {
    /// Adds a deadline.
    pub fn push(&mut self, deadline: Deadline) {
        self.heap.push(Reverse(deadline));
    }

    /// The earliest deadline, which may be stale.
    pub fn earliest(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(deadline)| deadline.at)
    }

    /// Removes and returns the earliest deadline if it is at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Deadline> {
        if self.earliest()? <= now {
            self.heap.pop().map(|Reverse(deadline)| deadline)
        } else {
            None
        }
    }

    /// Drops stale entries when they outnumber the `live` ones (messages still hidden) by far.
    pub fn compact_if_bloated(&mut self, live: usize, is_current: impl FnMut(&Deadline) -> bool) {
        if self.heap.len() > live.saturating_mul(2) + COMPACTION_SLACK {
            let mut is_current = is_current;
            self.heap.retain(|Reverse(deadline)| is_current(deadline));
        }
    }

    /// How many entries, stale ones included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(base: Instant, secs: u64, slot: u32) -> Deadline {
        Deadline {
            at: base + Duration::from_secs(secs),
            slot,
            generation: 0,
        }
    }

    #[test]
    fn pops_only_due_deadlines_earliest_first() {
        let base = Instant::now();
        let mut deadlines = Deadlines::default();
        deadlines.push(at(base, 5, 1));
        deadlines.push(at(base, 1, 2));
        deadlines.push(at(base, 3, 3));
        assert_eq!(deadlines.earliest(), Some(base + Duration::from_secs(1)));
        let now = base + Duration::from_secs(3);
        assert_eq!(deadlines.pop_due(now).map(|d| d.slot), Some(2));
        assert_eq!(deadlines.pop_due(now).map(|d| d.slot), Some(3));
        assert_eq!(deadlines.pop_due(now), None);
        assert_eq!(deadlines.len(), 1);
    }

    #[test]
    fn compaction_keeps_current_entries_only_when_bloated() {
        let base = Instant::now();
        let mut deadlines = Deadlines::default();
        for slot in 0..(COMPACTION_SLACK as u32 + 10) {
            deadlines.push(at(base, 1, slot));
        }
        deadlines.compact_if_bloated(COMPACTION_SLACK, |_| false);
        assert_eq!(deadlines.len(), COMPACTION_SLACK + 10, "not bloated yet");
        deadlines.compact_if_bloated(2, |d| d.slot < 2);
        assert_eq!(deadlines.len(), 2);
    }
}
