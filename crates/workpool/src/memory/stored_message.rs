//! A message as the queue keeps it, the phase it is in, and how many messages each phase holds.

use std::collections::BTreeMap;

use tokio::time::Instant;

use crate::MessageAttribute;

/// Where a message stands in its life on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Sent with a delay that has not ended (`ApproximateNumberOfMessagesDelayed`).
    Delayed {
        /// When it becomes receivable.
        until: Instant,
    },
    /// Receivable (`ApproximateNumberOfMessages`).
    Visible,
    /// Received and hidden until its visibility timeout ends (`ApproximateNumberOfMessagesNotVisible`).
    InFlight {
        /// When it becomes receivable again.
        until: Instant,
        /// When this receive happened (the 12-hour visibility cap counts from here).
        received_at: Instant,
    },
}

impl Phase {
    /// When a hidden message becomes visible; `None` for a visible one.
    pub fn hidden_until(self) -> Option<Instant> {
        match self {
            Phase::Delayed { until } | Phase::InFlight { until, .. } => Some(until),
            Phase::Visible => None,
        }
    }
}

/// A message on the queue.
#[derive(Debug)]
pub(super) struct StoredMessage {
    /// The id, kept across redrive to a dead-letter queue.
    pub message_id: String,
    /// The body.
    pub body: String,
    /// The sender's attributes.
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// The message group, if any.
    pub group_id: Option<String>,
    /// FIFO queues: the index of the message's group in the queue's group table.
    pub group_index: Option<u32>,
    /// The deduplication id (FIFO), explicit or the body's hash.
    pub deduplication_id: Option<String>,
    /// The sequence number (FIFO).
    pub sequence_number: Option<String>,
    /// When it was sent.
    pub sent_at: Instant,
    /// When it was first received.
    pub first_received_at: Option<Instant>,
    /// How many times it has been received.
    pub receive_count: u32,
    /// Where it stands.
    pub phase: Phase,
}

/// How many messages are in each phase: the queue's exact `ApproximateNumberOf*` counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct PhaseCounts {
    /// Messages in [`Phase::Visible`].
    pub visible: u64,
    /// Messages in [`Phase::InFlight`].
    pub in_flight: u64,
    /// Messages in [`Phase::Delayed`].
    pub delayed: u64,
}

impl PhaseCounts {
    /// Counts a message entering `phase`.
    pub fn enter(&mut self, phase: Phase) {
        *self.counter(phase) += 1;
    }

    /// Counts a message leaving `phase`.
    pub fn leave(&mut self, phase: Phase) {
        *self.counter(phase) -= 1;
    }

    /// All messages on the queue.
    pub fn total(&self) -> u64 {
        self.visible + self.in_flight + self.delayed
    }

    fn counter(&mut self, phase: Phase) -> &mut u64 {
        match phase {
            Phase::Delayed { .. } => &mut self.delayed,
            Phase::Visible => &mut self.visible,
            Phase::InFlight { .. } => &mut self.in_flight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_phase_changes() {
        let now = Instant::now();
        let mut counts = PhaseCounts::default();
        counts.enter(Phase::Delayed { until: now });
        counts.leave(Phase::Delayed { until: now });
        counts.enter(Phase::Visible);
        counts.enter(Phase::InFlight {
            until: now,
            received_at: now,
        });
        assert_eq!(
            counts,
            PhaseCounts {
                visible: 1,
                in_flight: 1,
                delayed: 0
            }
        );
        assert_eq!(counts.total(), 2);
    }

    #[test]
    fn only_hidden_phases_have_a_deadline() {
        let now = Instant::now();
        assert_eq!(Phase::Visible.hidden_until(), None);
        assert_eq!(Phase::Delayed { until: now }.hidden_until(), Some(now));
        assert_eq!(
            Phase::InFlight {
                until: now,
                received_at: now
            }
            .hidden_until(),
            Some(now)
        );
    }
}
