//! Acknowledgement, in one place: [`action_for`] turns an [`Outcome`] into the one queue action it
//! means, and the [`Acker`] carries those actions out in batches.
//!
//! Deletes and visibility changes are queued, flushed as `DeleteMessageBatch` /
//! `ChangeMessageVisibilityBatch` when ten are waiting or after a short linger, and retried with
//! backoff when the request or an entry fails for a reason that may pass (throttling, a server error).
//! An entry the queue rejects as the sender's fault (an invalid receipt) is logged and dropped: the
//! message stays in the queue and comes back, so it is not lost.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::api::Api;
use super::stats::Stats;
use crate::failure_policy::FailurePolicy;
use crate::outcome::Outcome;
use crate::source::{BatchOutcome, Source, VisibilityChange, MAX_BATCH};

/// The queue action an outcome means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Delete the message.
    Delete,
    /// Set its visibility timeout to this, from now (zero releases it at once).
    ChangeVisibility(Duration),
    /// Do nothing: it comes back when its visibility timeout runs out.
    Leave,
}

/// The action for `outcome` on a message received `receive_count` times. Pure; `jitter` in `[0, 1)`.
pub fn action_for(
    outcome: &Outcome,
    receive_count: u32,
    policy: &FailurePolicy,
    jitter: f64,
) -> Action {
    match outcome {
        Outcome::Done | Outcome::Discard(_) => Action::Delete,
        Outcome::Retry(delay) => Action::ChangeVisibility((*delay).min(crate::MAX_VISIBILITY)),
        Outcome::Failed(_) => match policy.delay(receive_count, jitter) {
            Some(delay) => Action::ChangeVisibility(delay),
            None => Action::Leave,
        },
    }
}

/// How many times a delete or visibility change is tried before it is given up (and logged).
const MAX_ATTEMPTS: u32 = 6;
/// How many batch requests may be under way at once.
const MAX_CONCURRENT_FLUSHES: usize = 8;
/// The most commands taken in one go before full batches are sent.
const MAX_BURST: usize = 8 * MAX_BATCH;

#[derive(Debug)]
enum Command {
    Delete(DeleteEntry),
    ChangeVisibility(String, Duration),
}

#[derive(Debug, Clone)]
struct DeleteEntry {
    receipt_handle: String,
    message_id: String,
}

/// The ids of messages whose delete failed and is being retried. If such a message is delivered
/// again meanwhile (its visibility ran out), the consumer deletes it with the newest receipt handle
/// instead of handling it a second time. Empty in the normal course, so checking it costs one load.
#[derive(Debug, Default)]
pub(crate) struct RetryingDeletes {
    ids: Mutex<HashSet<String>>,
    len: AtomicUsize,
}

impl RetryingDeletes {
    /// True when a delete of this message is being retried.
    pub(crate) fn contains(&self, message_id: &str) -> bool {
        self.len.load(Ordering::Acquire) > 0
            && self
                .ids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(message_id)
    }

    fn remember(&self, message_id: &str) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.insert(message_id.to_owned());
        self.len.store(ids.len(), Ordering::Release);
    }

    fn forget(&self, message_id: &str) {
        if self.len.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.remove(message_id);
        self.len.store(ids.len(), Ordering::Release);
    }
}

/// A cheap handle that queues acknowledgements for the acker task.
#[derive(Debug, Clone)]
pub(crate) struct Acker {
    commands: mpsc::UnboundedSender<Command>,
    retrying_deletes: Arc<RetryingDeletes>,
}

impl Acker {
    /// Starts the acker task on `tracker`. It ends when every handle is dropped and all is flushed.
    pub(crate) fn start<S: Source>(
        api: Arc<Api<S>>,
        stats: Arc<Stats>,
        linger: Duration,
        tracker: &TaskTracker,
    ) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let retrying_deletes = Arc::new(RetryingDeletes::default());
        tracker.spawn(run(api, stats, linger, receiver, retrying_deletes.clone()));
        Self {
            commands,
            retrying_deletes,
        }
    }

    /// The messages whose delete is being retried.
    pub(crate) fn retrying_deletes(&self) -> &RetryingDeletes {
        &self.retrying_deletes
    }

    /// Queues the action for a delivery of message `message_id` with this receipt handle.
    pub(crate) fn apply(&self, receipt_handle: String, message_id: &str, action: Action) {
        let command = match action {
            Action::Delete => Command::Delete(DeleteEntry {
                receipt_handle,
                message_id: message_id.to_owned(),
            }),
            Action::ChangeVisibility(timeout) => Command::ChangeVisibility(receipt_handle, timeout),
            Action::Leave => return,
        };
        // The acker task outlives every handle, so the channel is open while handles exist.
        let _ = self.commands.send(command);
    }
}

#[derive(Debug, Clone)]
struct Pending<T> {
    entry: T,
    attempts: u32,
}

struct Batches {
    retrying_deletes: Arc<RetryingDeletes>,
    deletes: Vec<Pending<DeleteEntry>>,
    changes: Vec<Pending<VisibilityChange>>,
    oldest: Option<Instant>,
}

async fn run<S: Source>(
    api: Arc<Api<S>>,
    stats: Arc<Stats>,
    linger: Duration,
    mut receiver: mpsc::UnboundedReceiver<Command>,
    retrying_deletes: Arc<RetryingDeletes>,
) {
    let flushes = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_FLUSHES));
    let (retry_sender, mut retries) = mpsc::unbounded_channel::<Retried>();
    let mut batches = Batches {
        retrying_deletes,
        deletes: Vec::new(),
        changes: Vec::new(),
        oldest: None,
    };
    let mut closed = false;
    // One timer for the linger, moved rather than made anew for every command.
    let linger_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(linger_timer);
    let mut armed_for: Option<Instant> = None;
    loop {
        if closed {
            batches
                .flush_all(&api, &stats, &permits, &flushes, &retry_sender)
                .await;
            if flushes.is_empty() && retries.is_empty() {
                break;
            }
            // Wait for the batches under way; they may hand back entries to retry.
            tokio::select! {
                Some(retried) = retries.recv() => batches.push_retry(retried),
                () = wait_idle(&flushes) => {}
            }
            continue;
        }
        let deadline = batches.oldest.map(|oldest| oldest + linger);
        if deadline != armed_for {
            if let Some(deadline) = deadline {
                linger_timer.as_mut().reset(deadline);
            }
            armed_for = deadline;
        }
        tokio::select! {
            command = receiver.recv() => match command {
                Some(command) => {
                    batches.push(command);
                    // Take what else is waiting at once: one wake of this task per burst.
                    while batches.deletes.len() < MAX_BURST && batches.changes.len() < MAX_BURST {
                        match receiver.try_recv() {
                            Ok(command) => batches.push(command),
                            Err(_) => break,
                        }
                    }
                }
                None => closed = true,
            },
            Some(retried) = retries.recv() => batches.push_retry(retried),
            () = &mut linger_timer, if armed_for.is_some() => {
                batches.flush_all(&api, &stats, &permits, &flushes, &retry_sender).await;
            }
        }
        batches
            .flush_full(&api, &stats, &permits, &flushes, &retry_sender)
            .await;
    }
}

async fn wait_idle(flushes: &TaskTracker) {
    flushes.close();
    flushes.wait().await;
    flushes.reopen();
}

enum Retried {
    Delete(Pending<DeleteEntry>),
    Change(Pending<VisibilityChange>),
}

impl Batches {
    fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.changes.is_empty()
    }

    fn push(&mut self, command: Command) {
        self.oldest.get_or_insert_with(Instant::now);
        match command {
            Command::Delete(entry) => self.deletes.push(Pending { entry, attempts: 0 }),
            Command::ChangeVisibility(receipt_handle, timeout) => self.changes.push(Pending {
                entry: VisibilityChange {
                    receipt_handle,
                    timeout,
                },
                attempts: 0,
            }),
        }
    }

    fn push_retry(&mut self, retried: Retried) {
        self.oldest.get_or_insert_with(Instant::now);
        match retried {
            Retried::Delete(pending) => self.deletes.push(pending),
            Retried::Change(pending) => self.changes.push(pending),
        }
    }

    async fn flush_full<S: Source>(
        &mut self,
        api: &Arc<Api<S>>,
        stats: &Arc<Stats>,
        permits: &Arc<Semaphore>,
        flushes: &TaskTracker,
        retry: &mpsc::UnboundedSender<Retried>,
    ) {
        while self.deletes.len() >= MAX_BATCH {
            let batch: Vec<_> = self.deletes.drain(..MAX_BATCH).collect();
            spawn_delete(
                api,
                stats,
                permits,
                flushes,
                retry,
                &self.retrying_deletes,
                batch,
            )
            .await;
        }
        while self.changes.len() >= MAX_BATCH {
            let batch: Vec<_> = self.changes.drain(..MAX_BATCH).collect();
            spawn_change(api, stats, permits, flushes, retry, batch).await;
        }
        if self.is_empty() {
            self.oldest = None;
        }
    }

    async fn flush_all<S: Source>(
        &mut self,
        api: &Arc<Api<S>>,
        stats: &Arc<Stats>,
        permits: &Arc<Semaphore>,
        flushes: &TaskTracker,
        retry: &mpsc::UnboundedSender<Retried>,
    ) {
        self.flush_full(api, stats, permits, flushes, retry).await;
        if !self.deletes.is_empty() {
            let batch = std::mem::take(&mut self.deletes);
            spawn_delete(
                api,
                stats,
                permits,
                flushes,
                retry,
                &self.retrying_deletes,
                batch,
            )
            .await;
        }
        if !self.changes.is_empty() {
            let batch = std::mem::take(&mut self.changes);
            spawn_change(api, stats, permits, flushes, retry, batch).await;
        }
        self.oldest = None;
    }
}

/// The pause before attempt `attempts + 1`: 100 ms doubling, with jitter, at most ~6 s.
fn retry_pause(attempts: u32) -> Duration {
    let base = Duration::from_millis(100) * (1 << attempts.min(6));
    base.mul_f64(0.5 + fastrand::f64() * 0.5)
}

async fn spawn_delete<S: Source>(
    api: &Arc<Api<S>>,
    stats: &Arc<Stats>,
    permits: &Arc<Semaphore>,
    flushes: &TaskTracker,
    retry: &mpsc::UnboundedSender<Retried>,
    retrying_deletes: &Arc<RetryingDeletes>,
    batch: Vec<Pending<DeleteEntry>>,
) {
    let Ok(permit) = permits.clone().acquire_owned().await else {
        return;
    };
    let (api, stats, retry, retrying) = (
        api.clone(),
        stats.clone(),
        retry.clone(),
        retrying_deletes.clone(),
    );
    flushes.spawn(async move {
        let handles: Vec<String> = batch
            .iter()
            .map(|pending| pending.entry.receipt_handle.clone())
            .collect();
        let result = api.delete_batch(&handles).await;
        drop(permit);
        let hooks = SettleHooks {
            succeeded: |n| stats.deleted(n),
            retrying: |entry: &DeleteEntry| retrying.remember(&entry.message_id),
            ended: |entry: &DeleteEntry| retrying.forget(&entry.message_id),
            requeue: |pending| retry.send(Retried::Delete(pending)).is_ok(),
        };
        settle(&api, &stats, batch, result, "delete", hooks).await;
    });
}

async fn spawn_change<S: Source>(
    api: &Arc<Api<S>>,
    stats: &Arc<Stats>,
    permits: &Arc<Semaphore>,
    flushes: &TaskTracker,
    retry: &mpsc::UnboundedSender<Retried>,
    batch: Vec<Pending<VisibilityChange>>,
) {
    let Ok(permit) = permits.clone().acquire_owned().await else {
        return;
    };
    let (api, stats, retry) = (api.clone(), stats.clone(), retry.clone());
    flushes.spawn(async move {
        let changes: Vec<VisibilityChange> =
            batch.iter().map(|pending| pending.entry.clone()).collect();
        let result = api.change_visibility_batch(&changes).await;
        drop(permit);
        let hooks = SettleHooks {
            succeeded: |_| {},
            retrying: |_: &VisibilityChange| {},
            ended: |_: &VisibilityChange| {},
            requeue: |pending| retry.send(Retried::Change(pending)).is_ok(),
        };
        settle(&api, &stats, batch, result, "change visibility", hooks).await;
    });
}

/// What [`settle`] tells the caller about a finished batch.
struct SettleHooks<Succeeded, Retrying, Ended, Requeue> {
    /// How many entries succeeded.
    succeeded: Succeeded,
    /// An entry that will be tried again, told before the pause.
    retrying: Retrying,
    /// An entry that is done with, succeeded or given up.
    ended: Ended,
    /// Hands an entry back to the acker after the pause.
    requeue: Requeue,
}

/// Sorts a finished batch request into succeeded, to retry (after a pause) and given up.
async fn settle<S: Source, T: std::fmt::Debug>(
    api: &Api<S>,
    stats: &Stats,
    batch: Vec<Pending<T>>,
    result: Result<BatchOutcome, S::Error>,
    what: &str,
    hooks: SettleHooks<impl Fn(u64), impl Fn(&T), impl Fn(&T), impl Fn(Pending<T>) -> bool>,
) {
    let mut to_retry = Vec::new();
    match result {
        Ok(outcome) => {
            (hooks.succeeded)((batch.len() - outcome.failed.len()) as u64);
            let mut batch: Vec<Option<Pending<T>>> = batch.into_iter().map(Some).collect();
            for failure in &outcome.failed {
                let Some(pending) = batch.get_mut(failure.index).and_then(Option::take) else {
                    continue;
                };
                if failure.sender_fault || pending.attempts + 1 >= MAX_ATTEMPTS {
                    stats.ack_failed();
                    (hooks.ended)(&pending.entry);
                    tracing::warn!(queue = api.name(), code = %failure.code, reason = %failure.message,
                        "{what} failed for one message; it stays in the queue and comes back");
                } else {
                    to_retry.push(pending);
                }
            }
            for succeeded in batch.iter().flatten() {
                (hooks.ended)(&succeeded.entry);
            }
        }
        Err(error) => {
            tracing::warn!(queue = api.name(), error = %crate::error_chain(&error),
                entries = batch.len(), "{what} request failed; retrying");
            for pending in batch {
                if pending.attempts + 1 >= MAX_ATTEMPTS {
                    stats.ack_failed();
                    (hooks.ended)(&pending.entry);
                    tracing::warn!(queue = api.name(), entry = ?pending.entry,
                        "{what} given up after {MAX_ATTEMPTS} attempts; the message comes back");
                } else {
                    to_retry.push(pending);
                }
            }
        }
    }
    if let Some(attempts) = to_retry.iter().map(|pending| pending.attempts).max() {
        for pending in &to_retry {
            (hooks.retrying)(&pending.entry);
        }
        tokio::time::sleep(retry_pause(attempts)).await;
        for mut pending in to_retry {
            pending.attempts += 1;
            (hooks.requeue)(pending);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_and_discard_delete() {
        let policy = FailurePolicy::default();
        assert_eq!(action_for(&Outcome::Done, 1, &policy, 0.0), Action::Delete);
        assert_eq!(
            action_for(&Outcome::Discard("x".into()), 1, &policy, 0.0),
            Action::Delete
        );
    }

    #[test]
    fn retry_sets_the_asked_visibility() {
        let outcome = Outcome::Retry(Duration::from_secs(9));
        let action = action_for(&outcome, 4, &FailurePolicy::default(), 0.0);
        assert_eq!(action, Action::ChangeVisibility(Duration::from_secs(9)));
    }

    #[test]
    fn failure_backs_off_by_receive_count() {
        let policy = FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        let failed = Outcome::Failed("boom".into());
        assert_eq!(
            action_for(&failed, 3, &policy, 0.0),
            Action::ChangeVisibility(Duration::from_secs(4))
        );
        assert_eq!(
            action_for(&failed, 3, &FailurePolicy::QueueTimeout, 0.0),
            Action::Leave
        );
    }
}
