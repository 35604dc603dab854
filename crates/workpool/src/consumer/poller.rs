//! Pollers: each asks the source for at most as many messages as there are free handler slots, so
//! nothing is received that cannot start now. The first poller always polls (a long poll when idle);
//! the others poll only while there is work, so an idle consumer makes one receive per wait time.
//! A failing source is retried with exponential backoff and jitter; the poller never dies of it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::api::Api;
use super::dispatch::Dispatch;
use super::stats::Stats;
use crate::body::FromBody;
use crate::message::Message;
use crate::outcome::{BoxError, Outcome};
use crate::source::{ReceiveRequest, Source};

/// What the pollers share.
pub(crate) struct Polling<S, Svc> {
    pub(crate) api: Arc<Api<S>>,
    pub(crate) dispatch: Arc<Dispatch<Svc>>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) batch_size: usize,
    pub(crate) wait_time: Duration,
    pub(crate) receive_linger: Duration,
    pub(crate) visibility_timeout: Option<Duration>,
    pub(crate) stop_receiving: CancellationToken,
    pub(crate) paused: watch::Receiver<bool>,
    /// Woken whenever a receive returns messages, so the extra pollers join in.
    pub(crate) work_seen: Notify,
    /// Held by the one poller gathering free slots for its next receive, so that two pollers never
    /// split the freed slots between them and each sit on part of a batch.
    pub(crate) gathering: tokio::sync::Mutex<()>,
}

/// How long past its wait time a receive under way when the consumer stops may take to answer.
const RECEIVE_ANSWER_MARGIN: Duration = Duration::from_secs(10);

/// The pause after `failures` consecutive failed receives: 200 ms doubling to 30 s, with jitter.
pub(crate) fn error_backoff(failures: u32) -> Duration {
    let base = Duration::from_millis(200).saturating_mul(1 << failures.saturating_sub(1).min(8));
    base.min(Duration::from_secs(30))
        .mul_f64(0.5 + fastrand::f64() * 0.5)
}

impl<S: Source, Svc> Polling<S, Svc> {
    /// Polls until the consumer stops receiving.
    pub(crate) async fn run<T>(self: Arc<Self>, index: usize)
    where
        T: FromBody,
        Svc: tower::Service<Message<T>> + Clone + Send + Sync + 'static,
        Svc::Response: Into<Outcome>,
        Svc::Error: Into<BoxError>,
        Svc::Future: Send,
    {
        let mut failures = 0u32;
        let mut paused = self.paused.clone();
        loop {
            if !self.wait_while_paused(&mut paused).await {
                return;
            }
            let Some(permit) = self.free_slots().await else {
                return;
            };
            let mut request = ReceiveRequest::new(permit.num_permits(), self.wait_time);
            if let Some(timeout) = self.visibility_timeout {
                request = request.with_visibility_timeout(timeout);
            }
            let received_at = Instant::now();
            let receive = self.api.receive(request);
            tokio::pin!(receive);
            let result = tokio::select! {
                result = &mut receive => result,
                () = self.stop_receiving.cancelled() => {
                    self.finish_receive_at_stop(receive, request.wait, received_at).await;
                    return;
                }
            };
            match result {
                Ok(messages) if messages.is_empty() => {
                    failures = 0;
                    self.stats.empty_receives(1);
                    drop(permit);
                    if index > 0 {
                        // An extra poller sleeps until there is work again.
                        tokio::select! {
                            () = self.work_seen.notified() => {}
                            () = self.stop_receiving.cancelled() => return,
                        }
                    }
                }
                Ok(messages) => {
                    if failures > 0 {
                        tracing::info!(
                            queue = self.api.name(),
                            "receiving again after {failures} failed attempts"
                        );
                    }
                    failures = 0;
                    self.stats.received(messages.len() as u64);
                    self.work_seen.notify_waiters();
                    self.dispatch.start::<T>(messages, permit, received_at);
                }
                Err(error) => {
                    drop(permit);
                    failures += 1;
                    let pause = error_backoff(failures);
                    tracing::warn!(queue = self.api.name(), poller = index, attempt = failures,
                        error = %crate::error_chain(&error), ?pause, "receive failed; backing off");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = self.stop_receiving.cancelled() => return,
                    }
                }
            }
        }
    }

    /// The end of a receive that was under way when the consumer began to stop. An in-process
    /// queue's receive is simply dropped. A remote queue goes on with the request and may hand it
    /// messages at any moment until its wait is over, so it is given that long to answer and what
    /// it returns is released — never left invisible until its timeout, and never taken from a
    /// release that follows the stop (a Spot notice's, say).
    async fn finish_receive_at_stop(
        &self,
        receive: impl std::future::Future<Output = Result<Vec<crate::source::RawMessage>, S::Error>>,
        wait: Duration,
        received_at: Instant,
    ) {
        if self.api.receive_is_cancel_safe() {
            return;
        }
        let remaining =
            (received_at + wait + RECEIVE_ANSWER_MARGIN).saturating_duration_since(Instant::now());
        if remaining > Duration::from_secs(1) {
            tracing::info!(
                queue = self.api.name(),
                ?remaining,
                "stopping: waiting for the receive under way to answer, so that what it takes is \
                 released rather than hidden for its visibility timeout"
            );
        }
        match tokio::time::timeout(remaining, receive).await {
            Ok(Ok(messages)) => {
                self.stats.received(messages.len() as u64);
                for message in messages {
                    self.dispatch
                        .release(message.metadata.receipt_handle, "the consumer is stopping");
                }
            }
            Ok(Err(error)) => tracing::debug!(queue = self.api.name(),
                error = %crate::error_chain(&error), "the last receive failed"),
            Err(_) => tracing::warn!(queue = self.api.name(),
                "the last receive did not answer in time; what it took comes back after its visibility timeout"),
        }
    }

    /// Waits for at least one free slot and takes up to a batch of them; `None` when stopping. One
    /// poller gathers at a time (the others wait their turn holding nothing).
    ///
    /// When fewer than a batch are free (the consumer is busy), it waits up to the receive linger for
    /// more to free up, so that a busy consumer makes full receives — one request per ten messages —
    /// instead of one receive per freed slot. An idle consumer has every slot free and never waits.
    async fn free_slots(&self) -> Option<OwnedSemaphorePermit> {
        let _gathering = tokio::select! {
            gathering = self.gathering.lock() => gathering,
            () = self.stop_receiving.cancelled() => return None,
        };
        let mut permit = tokio::select! {
            permit = self.slots.clone().acquire_owned() => permit.ok()?,
            () = self.stop_receiving.cancelled() => return None,
        };
        self.top_up(&mut permit);
        if permit.num_permits() < self.batch_size && !self.receive_linger.is_zero() {
            let deadline = Instant::now() + self.receive_linger;
            while permit.num_permits() < self.batch_size {
                let more = tokio::select! {
                    more = tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned()) => more,
                    () = self.stop_receiving.cancelled() => return None,
                };
                match more {
                    Ok(Ok(more)) => {
                        permit.merge(more);
                        self.top_up(&mut permit);
                    }
                    _ => break,
                }
            }
        }
        Some(permit)
    }

    fn top_up(&self, permit: &mut OwnedSemaphorePermit) {
        while permit.num_permits() < self.batch_size {
            match self.slots.clone().try_acquire_owned() {
                Ok(more) => permit.merge(more),
                Err(_) => break,
            }
        }
    }

    /// Returns false when the consumer stops while paused.
    async fn wait_while_paused(&self, paused: &mut watch::Receiver<bool>) -> bool {
        while *paused.borrow_and_update() {
            tokio::select! {
                changed = paused.changed() => if changed.is_err() { return true },
                () = self.stop_receiving.cancelled() => return false,
            }
        }
        !self.stop_receiving.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_backoff_grows_and_is_capped() {
        for failures in 1..40 {
            let pause = error_backoff(failures);
            assert!(pause <= Duration::from_secs(30), "{failures}: {pause:?}");
            assert!(pause >= Duration::from_millis(100), "{failures}: {pause:?}");
        }
        assert!(error_backoff(20) >= Duration::from_secs(15));
    }
}
