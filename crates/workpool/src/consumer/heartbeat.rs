//! The visibility heartbeat: every running delivery holds a lease in [`Leases`]; a task extends, in
//! batches, those whose visibility is about to run out, up to SQS's 12-hour cap. A delivery whose
//! extension the queue refuses has lost its lease: its `lease_lost` token is cancelled so the handler
//! can stop instead of running on as a duplicate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::api::Api;
use super::stats::Stats;
use crate::source::{Source, VisibilityChange, MAX_BATCH, MAX_VISIBILITY};

struct Lease {
    receipt_handle: String,
    visible_until: Instant,
    expires_for_good: Instant,
    lost: CancellationToken,
}

/// The running deliveries and when each becomes visible again.
#[derive(Default)]
pub(crate) struct Leases {
    leases: Mutex<HashMap<u64, Lease>>,
    next_id: AtomicU64,
}

/// Removes its lease when the delivery is over.
pub(crate) struct LeaseGuard {
    leases: Arc<Leases>,
    id: u64,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.leases
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl Leases {
    /// Registers a delivery received at `received_at` with visibility `timeout`.
    pub(crate) fn hold(
        self: &Arc<Self>,
        receipt_handle: &str,
        received_at: Instant,
        timeout: Duration,
        first_received_at: Option<SystemTime>,
        lost: CancellationToken,
    ) -> LeaseGuard {
        // SQS caps the total at 12 hours from the first receive; without that date, from this one.
        let since_first = first_received_at
            .and_then(|first| SystemTime::now().duration_since(first).ok())
            .unwrap_or_default();
        let expires_for_good = received_at + MAX_VISIBILITY.saturating_sub(since_first);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let lease = Lease {
            receipt_handle: receipt_handle.to_owned(),
            visible_until: received_at + timeout,
            expires_for_good,
            lost,
        };
        self.leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, lease);
        LeaseGuard {
            leases: self.clone(),
            id,
        }
    }

    /// The leases due for extension at `now`: less than a third of `timeout` left, and not at the cap.
    fn due(&self, now: Instant, timeout: Duration) -> Vec<(u64, VisibilityChange)> {
        let leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        leases
            .iter()
            .filter(|(_, lease)| !lease.lost.is_cancelled())
            .filter(|(_, lease)| lease.visible_until.saturating_duration_since(now) < timeout / 3)
            .filter_map(|(id, lease)| {
                let room = lease.expires_for_good.saturating_duration_since(now);
                let extension = timeout.min(room);
                // At the cap nothing more can be had; the message comes back when it runs out.
                (extension > lease.visible_until.saturating_duration_since(now)).then(|| {
                    (
                        *id,
                        VisibilityChange {
                            receipt_handle: lease.receipt_handle.clone(),
                            timeout: extension,
                        },
                    )
                })
            })
            .collect()
    }

    fn extended(&self, id: u64, until: Instant) {
        if let Some(lease) = self
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&id)
        {
            lease.visible_until = until;
        }
    }

    /// Cancels every running delivery's lease (the grace period is over).
    pub(crate) fn lose_all(&self) {
        for lease in self
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            lease.lost.cancel();
        }
    }

    fn lose(&self, id: u64) -> bool {
        match self
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            Some(lease) => {
                lease.lost.cancel();
                true
            }
            None => false,
        }
    }
}

/// Extends due leases every `timeout / 6` (at least every 100 ms, at most every 10 s) until `stop`.
pub(crate) async fn run<S: Source>(
    api: Arc<Api<S>>,
    leases: Arc<Leases>,
    stats: Arc<Stats>,
    timeout: Duration,
    stop: CancellationToken,
) {
    let tick = (timeout / 6).clamp(Duration::from_millis(100), Duration::from_secs(10));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = stop.cancelled() => return,
        }
        let now = Instant::now();
        let due = leases.due(now, timeout);
        for chunk in due.chunks(MAX_BATCH) {
            let changes: Vec<VisibilityChange> =
                chunk.iter().map(|(_, change)| change.clone()).collect();
            match api.change_visibility_batch(&changes).await {
                Ok(outcome) => {
                    let mut failed = vec![false; chunk.len()];
                    for failure in &outcome.failed {
                        let Some((id, _)) = chunk.get(failure.index) else {
                            continue;
                        };
                        failed[failure.index] = true;
                        if leases.lose(*id) {
                            stats.leases_lost(1);
                            tracing::warn!(queue = api.name(), code = %failure.code, reason = %failure.message,
                                "could not extend a running message's visibility; its lease is lost");
                        }
                    }
                    for ((id, change), failed) in chunk.iter().zip(failed) {
                        if !failed {
                            leases.extended(*id, now + change.timeout);
                            stats.extended(1);
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(queue = api.name(), error = %crate::outcome::error_chain(&error),
                    "visibility extension request failed; trying again at the next beat")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_leases_near_their_end_are_due() {
        let leases = Arc::new(Leases::default());
        let timeout = Duration::from_secs(30);
        let now = Instant::now();
        let _fresh = leases.hold("fresh", now, timeout, None, CancellationToken::new());
        let _old = leases.hold(
            "old",
            now - Duration::from_secs(25),
            timeout,
            None,
            CancellationToken::new(),
        );
        let due = leases.due(now, timeout);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.receipt_handle, "old");
        assert_eq!(due[0].1.timeout, timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn extensions_stop_at_twelve_hours_from_the_first_receive() {
        let leases = Arc::new(Leases::default());
        let timeout = Duration::from_secs(60);
        let now = Instant::now();
        let first = SystemTime::now() - (MAX_VISIBILITY - Duration::from_secs(20));
        let _lease = leases.hold(
            "near-cap",
            now,
            Duration::from_secs(5),
            Some(first),
            CancellationToken::new(),
        );
        let due = leases.due(now, timeout);
        // Only the room left under the cap (the wall clock moved on a little since `first`).
        let granted = due[0].1.timeout;
        assert!(
            granted <= Duration::from_secs(20) && granted > Duration::from_secs(19),
            "{granted:?}"
        );
        leases.extended(due[0].0, now + Duration::from_secs(20));
        assert!(
            leases
                .due(now + Duration::from_secs(15), timeout)
                .is_empty(),
            "at the cap: nothing more"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_finished_delivery_drops_its_lease() {
        let leases = Arc::new(Leases::default());
        let now = Instant::now();
        let guard = leases.hold(
            "done",
            now - Duration::from_secs(29),
            Duration::from_secs(30),
            None,
            CancellationToken::new(),
        );
        drop(guard);
        assert!(leases.due(now, Duration::from_secs(30)).is_empty());
    }
}
