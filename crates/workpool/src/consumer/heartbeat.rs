//! The visibility heartbeat. Every received batch holds its messages' leases in [`Leases`] (one
//! registration per batch, not per message, so a fast handler costs the heartbeat nothing but a flag);
//! a task extends, in batches, the leases whose visibility is about to run out, up to SQS's 12-hour
//! cap. A delivery whose extension the queue refuses, or that reaches the cap, has lost its lease: its
//! `lease_lost` token is cancelled so the handler can stop instead of running on as a duplicate.
//!
//! A handler may ask for its own visibility timeout ([`Message::set_visibility_timeout`]): the
//! heartbeat applies it at once and extends by it from then on.
//!
//! [`Message::set_visibility_timeout`]: crate::Message::set_visibility_timeout

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::api::Api;
use super::stats::Stats;
use crate::source::{RawMessage, Source, VisibilityChange, MAX_BATCH, MAX_VISIBILITY};

/// The longest the heartbeat sleeps between looks at the leases.
const LONGEST_BEAT: Duration = Duration::from_secs(10);
/// The shortest, so that a lease due again at once cannot make it spin.
const SHORTEST_BEAT: Duration = Duration::from_millis(100);

/// One delivery's lease, as its handler sees it (through its [`Message`](crate::Message)) and as the
/// heartbeat sees it.
#[derive(Debug, Default)]
pub(crate) struct LeaseState {
    lost: OnceLock<CancellationToken>,
    is_lost: AtomicBool,
    done: AtomicBool,
    /// A visibility timeout the handler asked for, in milliseconds, shifted left by one; the low bit
    /// is set until the heartbeat has applied it. Zero: none asked for.
    requested: AtomicU64,
}

impl LeaseState {
    /// The token cancelled when the lease is lost (made on first use).
    pub(crate) fn lost(&self) -> &CancellationToken {
        self.lost.get_or_init(CancellationToken::new)
    }

    /// Marks the lease lost; true the first time.
    fn lose(&self) -> bool {
        let first = !self.is_lost.swap(true, Ordering::AcqRel);
        self.lost().cancel();
        first
    }

    fn is_lost(&self) -> bool {
        self.is_lost.load(Ordering::Acquire)
    }

    fn is_live(&self) -> bool {
        !self.done.load(Ordering::Acquire) && !self.is_lost()
    }

    fn request(&self, timeout: Duration) {
        let millis = timeout.min(MAX_VISIBILITY).as_millis() as u64;
        self.requested.store((millis << 1) | 1, Ordering::Release);
    }

    /// The timeout asked for, whether it is still to be applied, and the raw value (to confirm it).
    fn requested(&self) -> (Option<Duration>, bool, u64) {
        let raw = self.requested.load(Ordering::Acquire);
        let timeout = (raw != 0).then(|| Duration::from_millis(raw >> 1));
        (timeout, raw & 1 == 1, raw)
    }

    /// The request `raw` has been applied (unless a newer one came meanwhile).
    fn applied(&self, raw: u64) {
        let _ = self
            .requested
            .compare_exchange(raw, raw & !1, Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// A delivery's handle on its lease, carried by its [`Message`](crate::Message).
#[derive(Clone)]
pub(crate) struct LeaseRef {
    batch: Arc<BatchLease>,
    index: usize,
}

impl LeaseRef {
    /// A lease of its own that no heartbeat extends (a message built by hand, in a handler's tests).
    pub(crate) fn detached() -> Self {
        Self {
            batch: Arc::new(BatchLease {
                entries: vec![Entry {
                    receipt_handle: String::new(),
                    state: LeaseState::default(),
                }]
                .into_boxed_slice(),
                times: Mutex::new(Vec::new()),
                wake: None,
            }),
            index: 0,
        }
    }

    fn state(&self) -> &LeaseState {
        &self.batch.entries[self.index].state
    }

    /// See [`LeaseState::lost`].
    pub(crate) fn lost(&self) -> &CancellationToken {
        self.state().lost()
    }

    /// Asks the heartbeat to make the visibility `timeout` from now and to extend by it from then on.
    pub(crate) fn request_timeout(&self, timeout: Duration) {
        let state = self.state();
        if !state.is_live() {
            return;
        }
        state.request(timeout);
        if let Some(wake) = &self.batch.wake {
            wake.notify_one();
        }
    }
}

impl std::fmt::Debug for LeaseRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Lease")
            .field("lost", &state.is_lost())
            .field("requested", &state.requested().0)
            .finish()
    }
}

struct Entry {
    receipt_handle: String,
    state: LeaseState,
}

#[derive(Debug, Clone, Copy)]
struct Times {
    visible_until: Instant,
    expires_for_good: Instant,
}

/// The leases of one received batch.
struct BatchLease {
    entries: Box<[Entry]>,
    /// Per entry; only the heartbeat reads or writes them after registration.
    times: Mutex<Vec<Times>>,
    wake: Option<Arc<Notify>>,
}

/// The running batches and when each of their messages becomes visible again.
#[derive(Default)]
pub(crate) struct Leases {
    batches: Mutex<HashMap<u64, Arc<BatchLease>>>,
    next_id: AtomicU64,
    wake: Arc<Notify>,
}

/// A received batch's leases; dropping it ends them all (the batch is over).
pub(crate) struct BatchGuard {
    leases: Arc<Leases>,
    id: u64,
    batch: Arc<BatchLease>,
}

impl BatchGuard {
    /// The lease of message `index` of the batch.
    pub(crate) fn lease(&self, index: usize) -> LeaseRef {
        LeaseRef {
            batch: self.batch.clone(),
            index,
        }
    }

    /// Message `index` is acknowledged (or released): the heartbeat leaves it alone.
    pub(crate) fn finish(&self, index: usize) {
        self.batch.entries[index]
            .state
            .done
            .store(true, Ordering::Release);
    }

    /// Ends every lease not finished yet — their handlers were dropped — and returns their receipt
    /// handles, for release.
    pub(crate) fn abandon_unfinished(&self) -> Vec<String> {
        self.batch
            .entries
            .iter()
            .filter(|entry| !entry.state.done.swap(true, Ordering::AcqRel))
            .map(|entry| {
                entry.state.lose();
                entry.receipt_handle.clone()
            })
            .collect()
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        self.leases
            .batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// A lease the heartbeat is about to extend.
struct Due {
    batch: Arc<BatchLease>,
    index: usize,
    change: VisibilityChange,
    /// The handler's request this applies, to confirm once done.
    request: Option<u64>,
}

impl Leases {
    /// Registers the leases of a batch received at `received_at` with visibility `timeout`.
    pub(crate) fn hold(
        self: &Arc<Self>,
        messages: &[RawMessage],
        received_at: Instant,
        timeout: Duration,
    ) -> BatchGuard {
        let entries = messages
            .iter()
            .map(|message| Entry {
                receipt_handle: message.metadata.receipt_handle.clone(),
                state: LeaseState::default(),
            })
            .collect();
        // SQS caps a delivery's total visibility at 12 hours from its receive (each redelivery
        // starts again).
        let times = Times {
            visible_until: received_at + timeout,
            expires_for_good: received_at + MAX_VISIBILITY,
        };
        let times = vec![times; messages.len()];
        let batch = Arc::new(BatchLease {
            entries,
            times: Mutex::new(times),
            wake: Some(self.wake.clone()),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, batch.clone());
        BatchGuard {
            leases: self.clone(),
            id,
            batch,
        }
    }

    /// The leases due for extension at `now` — less than a third of their timeout left, or a
    /// handler's request not yet applied — and when the next one falls due. Leases at the 12-hour
    /// cap whose time is up are lost here; `on_lost` is told of each.
    fn due(
        &self,
        now: Instant,
        default_timeout: Duration,
        mut on_lost: impl FnMut(),
    ) -> (Vec<Due>, Option<Instant>) {
        let batches: Vec<Arc<BatchLease>> = self
            .batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for batch in batches {
            let times = batch.times.lock().unwrap_or_else(|e| e.into_inner());
            for (index, (entry, times)) in batch.entries.iter().zip(times.iter()).enumerate() {
                if !entry.state.is_live() {
                    continue;
                }
                let (requested, pending, raw) = entry.state.requested();
                let timeout = requested.unwrap_or(default_timeout);
                let remaining = times.visible_until.saturating_duration_since(now);
                let room = times.expires_for_good.saturating_duration_since(now);
                let extension = timeout.min(room);
                let worth_it = if pending {
                    !extension.is_zero()
                } else {
                    remaining < timeout / 3 && extension > remaining
                };
                if worth_it {
                    due.push(Due {
                        batch: batch.clone(),
                        index,
                        change: VisibilityChange {
                            receipt_handle: entry.receipt_handle.clone(),
                            timeout: extension,
                        },
                        request: pending.then_some(raw),
                    });
                } else if remaining.is_zero() && room <= remaining {
                    // At the cap and out of time: the message is visible again.
                    if entry.state.lose() {
                        on_lost();
                    }
                } else {
                    let falls_due = if room <= remaining {
                        times.visible_until
                    } else {
                        times.visible_until - timeout / 3
                    };
                    next = Some(next.map_or(falls_due, |next| next.min(falls_due)));
                }
            }
        }
        (due, next)
    }
}

/// Extends due leases until `stop`: it looks whenever the next lease falls due, a handler asks for
/// its own timeout, or at the latest every `timeout / 6` (100 ms to 10 s) for new batches.
pub(crate) async fn run<S: Source>(
    api: Arc<Api<S>>,
    leases: Arc<Leases>,
    stats: Arc<Stats>,
    timeout: Duration,
    stop: CancellationToken,
) {
    let longest = (timeout / 6).clamp(SHORTEST_BEAT, LONGEST_BEAT);
    loop {
        let now = Instant::now();
        let (due, next) = leases.due(now, timeout, || {
            stats.leases_lost(1);
            tracing::warn!(
                queue = api.name(),
                "a running message reached SQS's 12-hour visibility cap; it is visible again and its lease is lost"
            );
        });
        for chunk in due.chunks(MAX_BATCH) {
            extend(&api, &stats, chunk, now).await;
        }
        let wake_at = next
            .map_or(now + longest, |next| next.min(now + longest))
            .max(now + SHORTEST_BEAT);
        tokio::select! {
            () = tokio::time::sleep_until(wake_at) => {}
            () = leases.wake.notified() => {}
            () = stop.cancelled() => return,
        }
    }
}

async fn extend<S: Source>(api: &Api<S>, stats: &Stats, chunk: &[Due], now: Instant) {
    let changes: Vec<VisibilityChange> = chunk.iter().map(|due| due.change.clone()).collect();
    match api.change_visibility_batch(&changes).await {
        Ok(outcome) => {
            let mut failed = vec![false; chunk.len()];
            for failure in &outcome.failed {
                let Some(due) = chunk.get(failure.index) else {
                    continue;
                };
                failed[failure.index] = true;
                if due.batch.entries[due.index].state.lose() {
                    stats.leases_lost(1);
                    tracing::warn!(queue = api.name(), code = %failure.code, reason = %failure.message,
                        "could not extend a running message's visibility; its lease is lost");
                }
            }
            for (due, failed) in chunk.iter().zip(failed) {
                if failed {
                    continue;
                }
                let state = &due.batch.entries[due.index].state;
                if let Some(raw) = due.request {
                    state.applied(raw);
                }
                if let Some(times) = due
                    .batch
                    .times
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_mut(due.index)
                {
                    times.visible_until = now + due.change.timeout;
                }
                stats.extended(1);
            }
        }
        Err(error) => {
            tracing::warn!(queue = api.name(), error = %crate::error_chain(&error),
                "visibility extension request failed; trying again at the next beat")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(handle: &str) -> RawMessage {
        RawMessage::new(handle, handle, "")
    }

    fn due_handles(leases: &Leases, now: Instant, timeout: Duration) -> Vec<(String, Duration)> {
        let (due, _) = leases.due(now, timeout, || {});
        due.into_iter()
            .map(|due| (due.change.receipt_handle, due.change.timeout))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn only_leases_near_their_end_are_due() {
        let leases = Arc::new(Leases::default());
        let timeout = Duration::from_secs(30);
        let now = Instant::now();
        let _fresh = leases.hold(&[raw("fresh")], now, timeout);
        let _old = leases.hold(&[raw("old")], now - Duration::from_secs(25), timeout);
        assert_eq!(
            due_handles(&leases, now, timeout),
            vec![("old".to_owned(), timeout)]
        );
        let (_, next) = leases.due(now, timeout, || {});
        assert_eq!(next, Some(now + Duration::from_secs(20)), "the fresh one");
    }

    #[tokio::test(start_paused = true)]
    async fn extensions_stop_at_twelve_hours_from_the_receive() {
        let leases = Arc::new(Leases::default());
        let timeout = Duration::from_secs(60);
        let received = Instant::now();
        let batch = leases.hold(&[raw("near-cap")], received, Duration::from_secs(5));
        // 20 s short of the cap, the extension is only what is left.
        let now = received + MAX_VISIBILITY - Duration::from_secs(20);
        batch.batch.times.lock().unwrap()[0].visible_until = now;
        let (due, _) = leases.due(now, timeout, || {});
        assert_eq!(due[0].change.timeout, Duration::from_secs(20));
        batch.batch.times.lock().unwrap()[0].visible_until = now + Duration::from_secs(20);
        assert!(
            due_handles(&leases, now + Duration::from_secs(15), timeout).is_empty(),
            "at the cap: nothing more"
        );
        // Once the time under the cap is up, the lease is lost: the handler is told.
        let mut lost = 0;
        let (due, _) = leases.due(now + Duration::from_secs(21), timeout, || lost += 1);
        assert!(due.is_empty());
        assert_eq!(lost, 1);
        assert!(batch.lease(0).lost().is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn finished_deliveries_and_finished_batches_are_not_extended() {
        let leases = Arc::new(Leases::default());
        let now = Instant::now();
        let timeout = Duration::from_secs(30);
        let old = now - Duration::from_secs(29);
        let batch = leases.hold(&[raw("done"), raw("running")], old, timeout);
        batch.finish(0);
        assert_eq!(
            due_handles(&leases, now, timeout),
            vec![("running".to_owned(), timeout)]
        );
        drop(batch);
        assert!(due_handles(&leases, now, timeout).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_handlers_own_timeout_is_applied_at_once_and_then_kept_up() {
        let leases = Arc::new(Leases::default());
        let now = Instant::now();
        let timeout = Duration::from_secs(30);
        let batch = leases.hold(&[raw("video")], now, timeout);
        let lease = batch.lease(0);
        lease.request_timeout(Duration::from_secs(600));
        let (due, _) = leases.due(now, timeout, || {});
        assert_eq!(due.len(), 1, "due at once, though 30 s are left");
        assert_eq!(due[0].change.timeout, Duration::from_secs(600));
        // Applied: from then on it is due only when less than a third of 600 s is left.
        lease.state().applied(due[0].request.unwrap());
        batch.batch.times.lock().unwrap()[0].visible_until = now + Duration::from_secs(600);
        assert!(due_handles(&leases, now + Duration::from_secs(300), timeout).is_empty());
        assert_eq!(
            due_handles(&leases, now + Duration::from_secs(401), timeout),
            vec![("video".to_owned(), Duration::from_secs(600))]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn abandoning_loses_the_unfinished_and_names_them_for_release() {
        let leases = Arc::new(Leases::default());
        let now = Instant::now();
        let batch = leases.hold(
            &[raw("a"), raw("b"), raw("c")],
            now,
            Duration::from_secs(30),
        );
        batch.finish(1);
        assert_eq!(batch.abandon_unfinished(), vec!["a", "c"]);
        assert!(batch.lease(0).lost().is_cancelled());
        assert!(!batch.lease(1).lost().is_cancelled());
        assert!(batch.abandon_unfinished().is_empty(), "only once");
    }
}
