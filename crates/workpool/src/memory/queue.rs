//! [`MemoryQueue`]: the handle users hold — sending, the [`Source`] operations, long polling.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::clock::WallClock;
use super::config::{QueueConfig, Settings};
use super::deduplication::content_deduplication_id;
use super::identifiers::MessageIds;
use super::queue_state::{Outgoing, QueueState};
use super::sending::{SendReceipt, MAX_MESSAGE_SIZE};
use super::stored_message::StoredMessage;
use crate::{
    BatchOutcome, Error, OutgoingMessage, QueueAttributes, RawMessage, ReceiveRequest, Source,
    VisibilityChange, MAX_BATCH, MAX_VISIBILITY, MAX_WAIT,
};

/// An in-process queue with Amazon SQS's semantics, for development, tests and the demo.
///
/// Cloning is cheap and every clone is the same queue. It implements [`Source`], so a consumer can
/// run against it unchanged; [`send`](Self::send) plays the producer. What it does, as SQS does:
///
/// - a received message is hidden for its visibility timeout, then receivable again with its receive
///   count + 1 and a new receipt handle;
/// - [`Source::delete_batch`] reports a malformed or never-issued handle as `ReceiptHandleIsInvalid`
///   for that entry only; a handle of a message already deleted, or received again since, is accepted
///   and changes nothing — only the latest receipt handle deletes (SQS: "the request succeeds, but
///   the message might not be deleted");
/// - [`Source::change_visibility_batch`] needs the latest handle of a message in flight
///   (`MessageNotInflight` otherwise) and refuses to hide a message more than 12 hours after the
///   receive that issued the handle (`InvalidParameterValue`);
/// - with a redrive policy, a message already received `maxReceiveCount` times is moved to the
///   dead-letter queue when it would be received again, keeping its id, timestamps and receive count;
/// - queue and per-message delays; FIFO queues lock a message group while any of its messages is in
///   flight, keep order within a group, and drop duplicates (same deduplication id, or same body with
///   content-based deduplication) sent within 5 minutes, answering with the original's id;
/// - [`Source::attributes`] counts are exact, not approximate;
/// - a receive with a wait returns as soon as a message can be received (sent, delay ended,
///   visibility timeout ended), or empty when the wait ends.
///
/// All timing uses [`tokio::time::Instant`], so tests can pause and advance time.
#[derive(Clone)]
pub struct MemoryQueue {
    shared: Arc<Shared>,
}

struct Shared {
    settings: Settings,
    ids: MessageIds,
    state: Mutex<QueueState>,
    wakeups: Notify,
}

impl std::fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryQueue")
            .field("name", &self.shared.settings.name)
            .field("fifo", &self.shared.settings.fifo)
            .finish_non_exhaustive()
    }
}

impl MemoryQueue {
    /// Creates the queue, checking its settings as SQS would.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`], naming the queue and the setting, for a bad name (a FIFO name must
    /// end in `.fifo`), a visibility timeout over 12 hours, a delay over 15 minutes, content-based
    /// deduplication on a standard queue, or a redrive policy with `maxReceiveCount` outside 1–1000
    /// or a dead-letter queue of the other kind.
    pub fn new(config: QueueConfig) -> Result<Self, Error> {
        let settings = config.validate()?;
        let max_receive_count = settings
            .redrive
            .as_ref()
            .map(|redrive| redrive.max_receive_count);
        let state = QueueState::new(settings.fifo, max_receive_count, WallClock::start());
        Ok(Self {
            shared: Arc::new(Shared {
                settings,
                ids: MessageIds::new(),
                state: Mutex::new(state),
                wakeups: Notify::new(),
            }),
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.shared.settings.name
    }

    /// True for a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.shared.settings.fifo
    }

    /// The dead-letter queue of the redrive policy, if any.
    pub fn dead_letter_queue(&self) -> Option<&MemoryQueue> {
        self.shared
            .settings
            .redrive
            .as_ref()
            .map(|redrive| &redrive.dead_letter_queue)
    }

    /// Sends one message (`SendMessage`).
    ///
    /// # Errors
    /// [`Error::InvalidMessage`], naming the queue, when the message breaks an SQS rule: empty body,
    /// more than 256 KiB, characters SQS refuses, more than 10 attributes, a FIFO message without a
    /// group id (or without a deduplication id when content-based deduplication is off), a
    /// per-message delay on a FIFO queue, a delay over 15 minutes, a deduplication id on a standard
    /// queue.
    pub fn send(&self, request: OutgoingMessage) -> Result<SendReceipt, Error> {
        let outgoing = self.prepare(request)?;
        let mut state = self.lock();
        let receipt = state.send(outgoing, Instant::now());
        self.wake_receivers(state);
        Ok(receipt)
    }

    /// Sends up to 10 messages at once (`SendMessageBatch`); each entry succeeds or fails alone.
    ///
    /// # Errors
    /// [`Error::BatchSize`] for 0 or more than 10 messages; [`Error::InvalidMessage`] when the
    /// messages together exceed 256 KiB (SQS's `BatchRequestTooLong`).
    pub fn send_batch(
        &self,
        requests: Vec<OutgoingMessage>,
    ) -> Result<Vec<Result<SendReceipt, Error>>, Error> {
        self.check_batch_size(requests.len())?;
        let total: usize = requests.iter().map(OutgoingMessage::size).sum();
        if total > MAX_MESSAGE_SIZE {
            return Err(Error::InvalidMessage {
                queue: self.name().to_owned(),
                reason: format!("the batch is {total} bytes, more than the 262144-byte limit"),
            });
        }
        let prepared: Vec<Result<Outgoing, Error>> = requests
            .into_iter()
            .map(|request| self.prepare(request))
            .collect();
        let now = Instant::now();
        let mut state = self.lock();
        let receipts = prepared
            .into_iter()
            .map(|outgoing| outgoing.map(|outgoing| state.send(outgoing, now)))
            .collect();
        self.wake_receivers(state);
        Ok(receipts)
    }

    /// The queue's counts right now, exact (deadlines up to now applied).
    pub fn attributes_now(&self) -> QueueAttributes {
        self.lock()
            .attributes(Instant::now(), self.shared.settings.visibility_timeout)
    }

    /// How many messages the queue holds: visible, in flight and delayed.
    pub fn len(&self) -> usize {
        usize::try_from(self.lock().len()).unwrap_or(usize::MAX)
    }

    /// True when the queue holds no message at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks a request and settles everything that needs no lock: id, delay, content hash.
    fn prepare(&self, request: OutgoingMessage) -> Result<Outgoing, Error> {
        let settings = &self.shared.settings;
        request.check(settings)?;
        let content_deduplication_id = (settings.content_based_deduplication
            && request.deduplication_id.is_none())
        .then(|| content_deduplication_id(&request.body));
        let delay = request.delay.unwrap_or(settings.delay);
        Ok(Outgoing {
            message_id: self.shared.ids.next_id(),
            request,
            content_deduplication_id,
            delay,
        })
    }

    /// Takes messages moved here by another queue's redrive policy.
    fn accept_moved(&self, moved: Vec<StoredMessage>) {
        let mut state = self.lock();
        for message in moved {
            state.accept_moved(message);
        }
        self.wake_receivers(state);
    }

    /// Releases the lock, then wakes one long-polling receive, if any, to look again. A receive
    /// that takes messages and leaves some behind wakes the next one in turn (see
    /// [`take_now`](Self::take_now)), so a burst wakes as many receives as it feeds, not all of them.
    fn wake_receivers(&self, state: MutexGuard<'_, QueueState>) {
        let anyone_waiting = state.waiting_receivers > 0;
        drop(state);
        if anyone_waiting {
            self.shared.wakeups.notify_one();
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn check_batch_size(&self, entries: usize) -> Result<(), Error> {
        if (1..=MAX_BATCH).contains(&entries) {
            Ok(())
        } else {
            Err(Error::BatchSize {
                queue: self.name().to_owned(),
                entries,
            })
        }
    }

    fn check_receive(&self, request: &ReceiveRequest) -> Result<Duration, Error> {
        let invalid = |setting: &'static str, reason: String| Error::InvalidSetting {
            queue: self.name().to_owned(),
            setting,
            reason,
        };
        if !(1..=MAX_BATCH).contains(&request.max_messages) {
            return Err(invalid(
                "MaxNumberOfMessages",
                format!("{} is outside 1 to 10", request.max_messages),
            ));
        }
        if request.wait > MAX_WAIT {
            return Err(invalid(
                "WaitTimeSeconds",
                format!("{:?} is longer than the 20-second maximum", request.wait),
            ));
        }
        let visibility = request
            .visibility_timeout
            .unwrap_or(self.shared.settings.visibility_timeout);
        if visibility > MAX_VISIBILITY {
            return Err(invalid(
                "VisibilityTimeout",
                format!("{visibility:?} is longer than the 12-hour maximum"),
            ));
        }
        Ok(visibility)
    }

    /// One receive: takes what is visible now, moving exhausted messages to the dead-letter queue
    /// under both locks (source first, so the counts of both stay exact). When it leaves visible
    /// messages behind and others are waiting, it wakes the next waiting receive.
    fn take_now(
        &self,
        max_messages: usize,
        visibility: Duration,
        registration: &mut WaitRegistration<'_>,
        may_wait: bool,
    ) -> (Vec<RawMessage>, Option<Instant>) {
        let now = Instant::now();
        let mut state = self.lock();
        if registration.registered {
            state.waiting_receivers -= 1;
            registration.registered = false;
        }
        let taken = state.receive(max_messages, visibility, now);
        if !taken.moved.is_empty() {
            if let Some(redrive) = &self.shared.settings.redrive {
                redrive.dead_letter_queue.accept_moved(taken.moved);
            }
        }
        if taken.messages.is_empty() && may_wait {
            state.waiting_receivers += 1;
            registration.registered = true;
        }
        let next_deadline = state.next_deadline();
        let pass_the_wake_on =
            !taken.messages.is_empty() && state.waiting_receivers > 0 && state.has_visible();
        drop(state);
        if pass_the_wake_on {
            self.shared.wakeups.notify_one();
        }
        (taken.messages, next_deadline)
    }
}

/// Counts a long-polling receive in `waiting_receivers` while it waits, and uncounts it if the
/// receive is dropped mid-wait.
struct WaitRegistration<'a> {
    queue: &'a MemoryQueue,
    registered: bool,
}

impl Drop for WaitRegistration<'_> {
    fn drop(&mut self) {
        if self.registered {
            self.queue.lock().waiting_receivers -= 1;
        }
    }
}

impl Source for MemoryQueue {
    type Error = Error;

    /// Receives up to `request.max_messages`, waiting up to `request.wait` for the first.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] when `max_messages` is outside 1–10, the wait over 20 s or the
    /// visibility timeout over 12 h.
    async fn receive(&self, request: ReceiveRequest) -> Result<Vec<RawMessage>, Error> {
        let visibility = self.check_receive(&request)?;
        let give_up_at = Instant::now() + request.wait;
        let mut registration = WaitRegistration {
            queue: self,
            registered: false,
        };
        let mut wakeup = std::pin::pin!(self.shared.wakeups.notified());
        loop {
            wakeup.as_mut().enable();
            let may_wait = Instant::now() < give_up_at;
            let (messages, next_deadline) = self.take_now(
                request.max_messages,
                visibility,
                &mut registration,
                may_wait,
            );
            if !messages.is_empty() || !may_wait {
                return Ok(messages);
            }
            let wake_at = next_deadline.map_or(give_up_at, |deadline| deadline.min(give_up_at));
            tokio::select! {
                () = wakeup.as_mut() => wakeup.set(self.shared.wakeups.notified()),
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// Deletes by receipt handle; see [`MemoryQueue`] for which handles fail.
    ///
    /// # Errors
    /// [`Error::BatchSize`] for 0 or more than 10 handles.
    async fn delete_batch(&self, receipt_handles: &[String]) -> Result<BatchOutcome, Error> {
        self.check_batch_size(receipt_handles.len())?;
        let mut state = self.lock();
        let failed = receipt_handles
            .iter()
            .enumerate()
            .filter_map(|(index, handle)| {
                state
                    .delete(handle)
                    .err()
                    .map(|problem| problem.into_failure(index))
            })
            .collect();
        // A delete can unlock a FIFO group.
        if self.shared.settings.fifo {
            self.wake_receivers(state);
        }
        Ok(BatchOutcome { failed })
    }

    /// Changes visibility timeouts; see [`MemoryQueue`] for which entries fail.
    ///
    /// # Errors
    /// [`Error::BatchSize`] for 0 or more than 10 changes.
    async fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> Result<BatchOutcome, Error> {
        self.check_batch_size(changes.len())?;
        let now = Instant::now();
        let mut state = self.lock();
        let failed = changes
            .iter()
            .enumerate()
            .filter_map(|(index, change)| {
                state
                    .change_visibility(&change.receipt_handle, change.timeout, now)
                    .err()
                    .map(|problem| problem.into_failure(index))
            })
            .collect();
        self.wake_receivers(state);
        Ok(BatchOutcome { failed })
    }

    async fn attributes(&self) -> Result<QueueAttributes, Error> {
        Ok(self.attributes_now())
    }

    fn name(&self) -> &str {
        &self.shared.settings.name
    }

    /// True: a receive takes its messages in the same step that returns them, so dropping one that
    /// is still waiting takes nothing.
    fn receive_is_cancel_safe(&self) -> bool {
        true
    }
}
