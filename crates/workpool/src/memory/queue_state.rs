//! The state behind one [`MemoryQueue`](super::MemoryQueue)'s lock, and every transition SQS defines
//! on it: send, receive, delete, change visibility, deadlines passing, redrive.
//!
//! Messages live in slots (a slab with a free list); a receipt handle names a slot and its generation,
//! which rises on every receive and removal, so handle checks are O(1). Visible messages of a standard
//! queue wait in a FIFO of slot references; FIFO queues keep per-group order in [`FifoGroups`].
//! Deadlines are applied lazily by [`QueueState::apply_due_deadlines`].

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::clock::WallClock;
use super::deadlines::{Deadline, Deadlines};
use super::deduplication::{DeduplicationWindow, Original};
use super::fifo_groups::FifoGroups;
use super::identifiers::format_sequence_number;
use super::receipt_handle::HandleTarget;
use super::sending::SendReceipt;
use super::stored_message::{Phase, PhaseCounts, StoredMessage};
use crate::{EntryFailure, Metadata, OutgoingMessage, QueueAttributes, RawMessage, MAX_VISIBILITY};

/// One storage slot.
#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    message: Option<StoredMessage>,
}

/// Why one entry of a delete or change-visibility batch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryProblem {
    /// The handle is malformed or was never issued (`ReceiptHandleIsInvalid`).
    InvalidHandle,
    /// The message is not in flight under this handle (`MessageNotInflight`).
    NotInFlight,
    /// The new timeout would hide the message more than 12 hours after its receive
    /// (`InvalidParameterValue`).
    BeyondMaxVisibility,
}

impl EntryProblem {
    /// The batch entry failure SQS would report for entry `index`.
    pub fn into_failure(self, index: usize) -> EntryFailure {
        let (code, message) = match self {
            EntryProblem::InvalidHandle => {
                ("ReceiptHandleIsInvalid", "the receipt handle is malformed or was never issued")
            }
            EntryProblem::NotInFlight => (
                "MessageNotInflight",
                "the message is not in flight under this receipt handle (deleted, visible again, or received since)",
            ),
            EntryProblem::BeyondMaxVisibility => (
                "InvalidParameterValue",
                "the visibility timeout would end more than 12 hours after the message was received",
            ),
        };
        EntryFailure {
            index,
            code: code.into(),
            message: message.into(),
            sender_fault: true,
        }
    }
}

/// A message ready to be stored by [`QueueState::send`]: checked, with its id and delay settled.
#[derive(Debug)]
pub(super) struct Outgoing {
    /// The new message's id.
    pub message_id: String,
    /// The request, already checked.
    pub request: OutgoingMessage,
    /// The deduplication id from the body's hash, when the queue uses content-based deduplication and
    /// the request has none.
    pub content_deduplication_id: Option<String>,
    /// The delay to apply (the message's or the queue's).
    pub delay: Duration,
}

/// What one receive took: messages for the consumer, and messages the redrive policy moves.
#[derive(Debug, Default)]
pub(super) struct Taken {
    /// The received messages.
    pub messages: Vec<RawMessage>,
    /// Messages that had already been received `maxReceiveCount` times, now out of this queue.
    pub moved: Vec<StoredMessage>,
}

/// Everything a queue holds, guarded by the queue's one lock.
#[derive(Debug)]
pub(super) struct QueueState {
    fifo: bool,
    max_receive_count: Option<u32>,
    clock: WallClock,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    visible: VecDeque<HandleTarget>,
    deadlines: Deadlines,
    groups: FifoGroups,
    deduplication: DeduplicationWindow,
    counts: PhaseCounts,
    next_sequence_number: u64,
    /// Receives currently long-polling this queue (senders wake them only when there are some).
    pub waiting_receivers: usize,
}

impl QueueState {
    /// An empty queue; `max_receive_count` is the redrive policy's, if any.
    pub fn new(fifo: bool, max_receive_count: Option<u32>, clock: WallClock) -> Self {
        Self {
            fifo,
            max_receive_count,
            clock,
            slots: Vec::new(),
            free_slots: Vec::new(),
            visible: VecDeque::new(),
            deadlines: Deadlines::default(),
            groups: FifoGroups::default(),
            deduplication: DeduplicationWindow::default(),
            counts: PhaseCounts::default(),
            next_sequence_number: 1,
            waiting_receivers: 0,
        }
    }

    /// Stores a new message, or, on a FIFO queue, answers with the original when its deduplication
    /// id was seen within the last 5 minutes.
    pub fn send(&mut self, outgoing: Outgoing, now: Instant) -> SendReceipt {
        let Outgoing {
            message_id,
            request,
            content_deduplication_id,
            delay,
        } = outgoing;
        let deduplication_id = request.deduplication_id.or(content_deduplication_id);
        let mut sequence_number = None;
        if self.fifo {
            if let Some(id) = &deduplication_id {
                if let Some(original) = self.deduplication.original(id, now) {
                    return SendReceipt {
                        message_id: original.message_id.clone(),
                        sequence_number: original.sequence_number.clone(),
                    };
                }
                let number = format_sequence_number(self.next_sequence_number);
                self.next_sequence_number += 1;
                let original = Original {
                    message_id: message_id.clone(),
                    sequence_number: Some(number.clone()),
                };
                self.deduplication.remember(id.clone(), original, now);
                sequence_number = Some(number);
            }
        }
        let receipt = SendReceipt {
            message_id: message_id.clone(),
            sequence_number: sequence_number.clone(),
        };
        let phase = if delay.is_zero() {
            Phase::Visible
        } else {
            Phase::Delayed { until: now + delay }
        };
        self.insert(StoredMessage {
            message_id,
            body: request.body,
            attributes: request.attributes,
            group_id: request.group_id,
            group_index: None,
            deduplication_id,
            sequence_number,
            sent_at: now,
            first_received_at: None,
            receive_count: 0,
            phase,
        });
        receipt
    }

    /// Stores a message moved here by another queue's redrive policy; it is visible at once and
    /// keeps its id, timestamps and receive count.
    pub fn accept_moved(&mut self, mut message: StoredMessage) {
        message.phase = Phase::Visible;
        self.insert(message);
    }

    fn insert(&mut self, mut message: StoredMessage) {
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot::default());
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 messages on a queue")
            }
        };
        let generation = self.slots[slot as usize].generation;
        let phase = message.phase;
        self.counts.enter(phase);
        message.group_index = match (&message.group_id, self.fifo) {
            (Some(name), true) => Some(self.groups.append(name, slot)),
            _ => None,
        };
        let group_index = message.group_index;
        self.slots[slot as usize].message = Some(message);
        match phase {
            Phase::Delayed { until } => {
                self.deadlines.push(Deadline {
                    at: until,
                    slot,
                    generation,
                });
                self.compact_deadlines();
            }
            Phase::Visible => match group_index {
                Some(group) => self.offer_group(group),
                None => self.visible.push_back(HandleTarget { slot, generation }),
            },
            Phase::InFlight { .. } => unreachable!("new messages are never in flight"),
        }
    }

    /// Receives up to `max_messages` visible messages, hiding each for `visibility`. On FIFO queues,
    /// only groups with no message in flight are received from, each from its front, in order.
    pub fn receive(&mut self, max_messages: usize, visibility: Duration, now: Instant) -> Taken {
        self.apply_due_deadlines(now);
        let mut taken = Taken::default();
        if self.fifo {
            self.receive_from_groups(max_messages, visibility, now, &mut taken);
        } else {
            while taken.messages.len() < max_messages {
                let Some(target) = self.visible.pop_front() else {
                    break;
                };
                if !self.is_visible(target) {
                    continue;
                }
                if self.has_exhausted_receives(target.slot) {
                    taken.moved.push(self.remove(target.slot));
                } else {
                    taken
                        .messages
                        .push(self.deliver(target.slot, visibility, now));
                }
            }
        }
        self.compact_deadlines();
        taken
    }

    fn receive_from_groups(
        &mut self,
        max_messages: usize,
        visibility: Duration,
        now: Instant,
        taken: &mut Taken,
    ) {
        while taken.messages.len() < max_messages {
            let Some(group) = self.groups.next_ready() else {
                break;
            };
            if self.groups.is_locked(group) {
                continue;
            }
            let mut position = 0;
            while taken.messages.len() < max_messages {
                let Some(&slot) = self.groups.members(group).get(position) else {
                    break;
                };
                if self.phase_of(slot) != Some(Phase::Visible) {
                    break;
                }
                if self.has_exhausted_receives(slot) {
                    taken.moved.push(self.remove(slot));
                } else {
                    taken.messages.push(self.deliver(slot, visibility, now));
                    position += 1;
                }
            }
        }
    }

    /// Receives the visible message in `slot`: new generation (so a new receipt handle), receive
    /// count + 1, hidden until `now + visibility`.
    fn deliver(&mut self, slot: u32, visibility: Duration, now: Instant) -> RawMessage {
        let entry = &mut self.slots[slot as usize];
        entry.generation = entry.generation.wrapping_add(1);
        let generation = entry.generation;
        let message = entry
            .message
            .as_mut()
            .expect("a delivered slot holds a message");
        let until = now + visibility;
        self.counts.leave(message.phase);
        message.phase = Phase::InFlight {
            until,
            received_at: now,
        };
        self.counts.enter(message.phase);
        message.receive_count += 1;
        let first_received_at = *message.first_received_at.get_or_insert(now);
        if let Some(group) = message.group_index {
            self.groups.received(group);
        }
        self.deadlines.push(Deadline {
            at: until,
            slot,
            generation,
        });
        RawMessage {
            metadata: Metadata {
                message_id: message.message_id.clone(),
                receipt_handle: HandleTarget { slot, generation }.format(),
                receive_count: message.receive_count,
                sent_at: Some(self.clock.wall_time(message.sent_at)),
                first_received_at: Some(self.clock.wall_time(first_received_at)),
                sender_id: None,
                group_id: message.group_id.clone(),
                deduplication_id: message.deduplication_id.clone(),
                sequence_number: message.sequence_number.clone(),
                attributes: message.attributes.clone(),
            },
            body: message.body.clone(),
        }
    }

    /// Deletes the message a receipt handle points to.
    ///
    /// The handle of the message's latest receive deletes it, even if its visibility timeout has
    /// ended and it is visible again. An older handle — of a message deleted since, or received again
    /// since — is accepted and changes nothing, as SQS documents ("the request succeeds, but the
    /// message might not be deleted"): only the latest handle deletes.
    pub fn delete(&mut self, handle: &str) -> Result<(), EntryProblem> {
        let target = HandleTarget::parse(handle).ok_or(EntryProblem::InvalidHandle)?;
        let slot = self
            .slots
            .get(target.slot as usize)
            .ok_or(EntryProblem::InvalidHandle)?;
        match target.generation.cmp(&slot.generation) {
            Ordering::Greater => Err(EntryProblem::InvalidHandle),
            Ordering::Less => Ok(()),
            Ordering::Equal => match &slot.message {
                None => Ok(()),
                Some(message) if message.receive_count == 0 => Err(EntryProblem::InvalidHandle),
                Some(_) => {
                    self.remove(target.slot);
                    Ok(())
                }
            },
        }
    }

    /// Hides the in-flight message a receipt handle points to for `timeout` from `now`; zero makes it
    /// visible at once. The handle must be the message's latest and the message in flight.
    pub fn change_visibility(
        &mut self,
        handle: &str,
        timeout: Duration,
        now: Instant,
    ) -> Result<(), EntryProblem> {
        let target = HandleTarget::parse(handle).ok_or(EntryProblem::InvalidHandle)?;
        let slot = self
            .slots
            .get_mut(target.slot as usize)
            .ok_or(EntryProblem::InvalidHandle)?;
        match target.generation.cmp(&slot.generation) {
            Ordering::Greater => return Err(EntryProblem::InvalidHandle),
            Ordering::Less => return Err(EntryProblem::NotInFlight),
            Ordering::Equal => {}
        }
        let message = slot.message.as_mut().ok_or(EntryProblem::NotInFlight)?;
        if message.receive_count == 0 {
            return Err(EntryProblem::InvalidHandle);
        }
        let Phase::InFlight { received_at, .. } = message.phase else {
            return Err(EntryProblem::NotInFlight);
        };
        let until = now + timeout;
        if until > received_at + MAX_VISIBILITY {
            return Err(EntryProblem::BeyondMaxVisibility);
        }
        if timeout.is_zero() {
            self.make_visible(target.slot);
        } else {
            message.phase = Phase::InFlight { until, received_at };
            self.deadlines.push(Deadline {
                at: until,
                slot: target.slot,
                generation: target.generation,
            });
            self.compact_deadlines();
        }
        Ok(())
    }

    /// Applies every deadline up to `now`: delays that ended and visibility timeouts that ran out
    /// make their messages visible.
    pub fn apply_due_deadlines(&mut self, now: Instant) {
        while let Some(deadline) = self.deadlines.pop_due(now) {
            if deadline_is_current(&self.slots, &deadline) {
                self.make_visible(deadline.slot);
            }
        }
    }

    /// The earliest pending deadline (possibly one that no longer applies), for long polls to wake at.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.earliest()
    }

    /// The exact counts after applying every deadline up to `now`.
    pub fn attributes(&mut self, now: Instant, visibility_timeout: Duration) -> QueueAttributes {
        self.apply_due_deadlines(now);
        QueueAttributes {
            visible: self.counts.visible,
            not_visible: self.counts.in_flight,
            delayed: self.counts.delayed,
            visibility_timeout,
            fifo: self.fifo,
        }
    }

    /// True when some message is visible (on a FIFO queue, possibly in a locked group).
    pub fn has_visible(&self) -> bool {
        self.counts.visible > 0
    }

    /// How many messages the queue holds, in any phase.
    pub fn len(&self) -> u64 {
        self.counts.total()
    }

    fn make_visible(&mut self, slot: u32) {
        let entry = &mut self.slots[slot as usize];
        let generation = entry.generation;
        let message = entry
            .message
            .as_mut()
            .expect("a slot made visible holds a message");
        let previous = message.phase;
        self.counts.leave(previous);
        message.phase = Phase::Visible;
        self.counts.enter(Phase::Visible);
        match message.group_index {
            Some(group) => {
                if matches!(previous, Phase::InFlight { .. }) {
                    self.groups.released(group);
                }
                self.offer_group(group);
            }
            None => self.visible.push_back(HandleTarget { slot, generation }),
        }
    }

    /// Takes the message out of its slot (deleted, or moved to the dead-letter queue).
    fn remove(&mut self, slot: u32) -> StoredMessage {
        let entry = &mut self.slots[slot as usize];
        let message = entry
            .message
            .take()
            .expect("a removed slot holds a message");
        entry.generation = entry.generation.wrapping_add(1);
        self.free_slots.push(slot);
        self.counts.leave(message.phase);
        if let Some(group) = message.group_index {
            let was_in_flight = matches!(message.phase, Phase::InFlight { .. });
            self.groups.remove(group, slot, was_in_flight);
            self.offer_group(group);
        }
        message
    }

    /// Queues a FIFO group for receiving if it is unlocked and its first message visible.
    fn offer_group(&mut self, group: u32) {
        let front = self.groups.members(group).front().copied();
        let front_visible = front.is_some_and(|slot| self.phase_of(slot) == Some(Phase::Visible));
        self.groups.offer(group, front_visible);
    }

    fn phase_of(&self, slot: u32) -> Option<Phase> {
        self.slots[slot as usize]
            .message
            .as_ref()
            .map(|message| message.phase)
    }

    fn is_visible(&self, target: HandleTarget) -> bool {
        let slot = &self.slots[target.slot as usize];
        slot.generation == target.generation
            && slot
                .message
                .as_ref()
                .is_some_and(|message| message.phase == Phase::Visible)
    }

    fn has_exhausted_receives(&self, slot: u32) -> bool {
        let receive_count = self.slots[slot as usize]
            .message
            .as_ref()
            .map_or(0, |message| message.receive_count);
        self.max_receive_count
            .is_some_and(|max| receive_count >= max)
    }

    fn compact_deadlines(&mut self) {
        let live =
            usize::try_from(self.counts.in_flight + self.counts.delayed).unwrap_or(usize::MAX);
        let slots = &self.slots;
        self.deadlines
            .compact_if_bloated(live, |deadline| deadline_is_current(slots, deadline));
    }

    /// Internal sizes, for tests of memory use.
    #[cfg(test)]
    pub fn footprint(&self) -> (usize, usize, usize) {
        (self.slots.len(), self.deadlines.len(), self.groups.len())
    }
}

/// True when `deadline` still applies: same generation, and the message still hidden until then.
fn deadline_is_current(slots: &[Slot], deadline: &Deadline) -> bool {
    let target = deadline.target();
    slots.get(target.slot as usize).is_some_and(|slot| {
        slot.generation == target.generation
            && slot
                .message
                .as_ref()
                .is_some_and(|message| message.phase.hidden_until() == Some(deadline.at))
    })
}
