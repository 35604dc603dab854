//! Running handlers: one task per message, or one per FIFO message group (its messages in order).
//! Every delivery ends in exactly one [`Outcome`], which [`action_for`](super::ack::action_for) turns
//! into the one queue action it means — or, when the consumer stops before a delivery can start or
//! finish, in a release (visibility 0) so another consumer gets it at once.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::{Service, ServiceExt};
use tracing::Instrument;

use super::ack::{action_for, Acker, Action};
use super::heartbeat::{BatchGuard, Leases};
use super::stats::Stats;
use crate::body::FromBody;
use crate::failure_policy::FailurePolicy;
use crate::message::Message;
use crate::outcome::{BoxError, Outcome};
use crate::source::RawMessage;

/// What every handler task shares.
pub(crate) struct Dispatch<Svc> {
    pub(crate) queue: String,
    pub(crate) service: Svc,
    pub(crate) stats: Arc<Stats>,
    pub(crate) leases: Arc<Leases>,
    pub(crate) acker: Acker,
    pub(crate) failure_policy: FailurePolicy,
    pub(crate) visibility_timeout: Duration,
    /// Cancelled when the consumer stops receiving: FIFO groups start no further messages.
    pub(crate) stop_receiving: CancellationToken,
    /// Cancelled when the grace period is over: running handlers are dropped and released.
    pub(crate) hard_stop: CancellationToken,
    pub(crate) handlers: TaskTracker,
}

impl<Svc> Dispatch<Svc> {
    /// Starts handling a received batch in one task: its messages run concurrently, except that
    /// messages of one FIFO group run one after another. `permit` holds one handler slot per message;
    /// each slot is freed as soon as its message is done. When the grace period runs out, whatever of
    /// the batch is still running or waiting is dropped and released.
    pub(crate) fn start<T>(
        self: &Arc<Self>,
        messages: Vec<RawMessage>,
        mut permit: OwnedSemaphorePermit,
        received_at: Instant,
    ) where
        T: FromBody,
        Svc: Service<Message<T>> + Clone + Send + Sync + 'static,
        Svc::Response: Into<Outcome>,
        Svc::Error: Into<BoxError>,
        Svc::Future: Send,
    {
        let dispatch = self.clone();
        let batch = self
            .leases
            .hold(&messages, received_at, self.visibility_timeout);
        let fifo = messages
            .iter()
            .any(|message| message.metadata.group_id.is_some());
        let deliveries: Vec<Delivery> = messages
            .into_iter()
            .enumerate()
            .filter_map(|(index, raw)| permit.split(1).map(|slot| Delivery { index, raw, slot }))
            .collect();
        self.handlers.spawn(async move {
            let all_done = async {
                if fifo {
                    let mut running: FuturesUnordered<_> = fifo_groups(deliveries)
                        .into_iter()
                        .map(|group| dispatch.run_group::<T>(group, &batch))
                        .collect();
                    while running.next().await.is_some() {}
                } else {
                    let (dispatch, batch) = (&dispatch, &batch);
                    let mut running: FuturesUnordered<_> = deliveries
                        .into_iter()
                        .map(|delivery| async move {
                            let Delivery { index, raw, slot } = delivery;
                            dispatch.deliver::<T>(index, raw, batch).await;
                            drop(slot);
                        })
                        .collect();
                    while running.next().await.is_some() {}
                }
            };
            tokio::select! {
                biased;
                () = all_done => {}
                () = dispatch.hard_stop.cancelled() => {
                    for receipt_handle in batch.abandon_unfinished() {
                        dispatch.release(receipt_handle, "the grace period ran out before it was done");
                    }
                }
            }
        });
    }

    /// Runs a group's messages in order; after one that does not end done, the rest are released.
    async fn run_group<T>(&self, group: Vec<Delivery>, batch: &BatchGuard)
    where
        T: FromBody,
        Svc: Service<Message<T>> + Clone + Send + Sync + 'static,
        Svc::Response: Into<Outcome>,
        Svc::Error: Into<BoxError>,
        Svc::Future: Send,
    {
        let mut deliveries = group.into_iter();
        let mut first = true;
        while let Some(Delivery { index, raw, slot }) = deliveries.next() {
            let go_on = if !first && self.stop_receiving.is_cancelled() {
                self.release(raw.metadata.receipt_handle, "the consumer is stopping");
                batch.finish(index);
                false
            } else {
                self.deliver::<T>(index, raw, batch).await
            };
            drop(slot);
            first = false;
            if !go_on {
                for rest in deliveries.by_ref() {
                    self.release(
                        rest.raw.metadata.receipt_handle,
                        "an earlier message of its FIFO group did not succeed",
                    );
                    batch.finish(rest.index);
                }
            }
        }
    }

    pub(crate) fn release(&self, receipt_handle: String, why: &str) {
        tracing::debug!(queue = %self.queue, "released a message unstarted: {why}");
        self.stats.released(1);
        self.acker
            .apply(receipt_handle, "", Action::ChangeVisibility(Duration::ZERO));
    }

    /// Handles message `index` of `batch`; true when it ended done (deleted), so its group may go on.
    async fn deliver<T>(&self, index: usize, raw: RawMessage, batch: &BatchGuard) -> bool
    where
        T: FromBody,
        Svc: Service<Message<T>> + Clone + Send + Sync + 'static,
        Svc::Response: Into<Outcome>,
        Svc::Error: Into<BoxError>,
        Svc::Future: Send,
    {
        let RawMessage { metadata, body } = raw;
        if self.acker.retrying_deletes().contains(&metadata.message_id) {
            tracing::info!(queue = %self.queue, message_id = %metadata.message_id,
                "delivered again while its delete was being retried: deleting it with the newest \
                 receipt handle instead of handling it twice");
            self.stats.redeliveries_deleted(1);
            self.acker.apply(
                metadata.receipt_handle,
                &metadata.message_id,
                Action::Delete,
            );
            batch.finish(index);
            return true;
        }
        let span = tracing::info_span!("message", queue = %self.queue, message_id = %metadata.message_id,
            receive_count = metadata.receive_count);
        let receipt_handle = metadata.receipt_handle.clone();
        let receive_count = metadata.receive_count;
        let message_id = metadata.message_id.clone();
        let outcome = match T::from_body(body) {
            Err(error) => Outcome::Failed(error.to_string()),
            Ok(body) => {
                let message = Message::leased(body, metadata, batch.lease(index));
                let running = self.stats.handler_running();
                let Called { outcome, panicked } = call(self.service.clone(), message)
                    .instrument(span.clone())
                    .await;
                drop(running);
                if panicked {
                    self.stats.panics(1);
                }
                outcome
            }
        };
        let _entered = span.enter();
        match &outcome {
            Outcome::Done => self.stats.succeeded(1),
            Outcome::Retry(delay) => {
                self.stats.retried(1);
                tracing::debug!(?delay, "handler asked to retry later");
            }
            Outcome::Failed(reason) => {
                self.stats.failed(1);
                tracing::warn!(%reason, "handler failed");
            }
            Outcome::Discard(reason) => {
                self.stats.discarded(1);
                tracing::info!(%reason, "handler discarded the message");
            }
        }
        let done = matches!(outcome, Outcome::Done | Outcome::Discard(_));
        // Queued and marked finished in one step: a hard stop between the two cannot release a
        // message that is already acknowledged.
        self.acker.apply(
            receipt_handle,
            &message_id,
            action_for(
                &outcome,
                receive_count,
                &self.failure_policy,
                fastrand::f64(),
            ),
        );
        batch.finish(index);
        done
    }
}

/// One received message on its way to a handler, with the slot it holds.
struct Delivery {
    /// Its place in the received batch (its lease).
    index: usize,
    raw: RawMessage,
    slot: OwnedSemaphorePermit,
}

struct Called {
    outcome: Outcome,
    panicked: bool,
}

/// Waits for the service to be ready and calls it, catching panics in `poll_ready`, in `call` and
/// in the future.
async fn call<T, Svc>(mut service: Svc, message: Message<T>) -> Called
where
    Svc: Service<Message<T>>,
    Svc::Response: Into<Outcome>,
    Svc::Error: Into<BoxError>,
{
    let failed = |outcome| Called {
        outcome,
        panicked: false,
    };
    match AssertUnwindSafe(service.ready()).catch_unwind().await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => return failed(Outcome::from_result::<(), _>(Err(error))),
        Err(panic) => return panicked(panic),
    }
    let future = match std::panic::catch_unwind(AssertUnwindSafe(|| service.call(message))) {
        Ok(future) => future,
        Err(panic) => return panicked(panic),
    };
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => failed(Outcome::from_result(result)),
        Err(panic) => panicked(panic),
    }
}

fn panicked(panic: Box<dyn std::any::Any + Send>) -> Called {
    let text = panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text payload".to_owned());
    Called {
        outcome: Outcome::Failed(format!("handler panicked: {text}")),
        panicked: true,
    }
}

/// Splits a received batch into runs that must go one at a time: one per FIFO message group (in the
/// order received), and a run of one for each message without a group.
fn fifo_groups<M: Grouped>(messages: Vec<M>) -> Vec<Vec<M>> {
    let mut groups: Vec<Vec<M>> = Vec::with_capacity(messages.len());
    for message in messages {
        let same_group = message
            .group()
            .and_then(|group| groups.iter_mut().find(|run| run[0].group() == Some(group)));
        match same_group {
            Some(run) => run.push(message),
            None => groups.push(vec![message]),
        }
    }
    groups
}

/// Something that may belong to a FIFO message group.
trait Grouped {
    fn group(&self) -> Option<&str>;
}

impl Grouped for RawMessage {
    fn group(&self) -> Option<&str> {
        self.metadata.group_id.as_deref()
    }
}

impl Grouped for Delivery {
    fn group(&self) -> Option<&str> {
        self.raw.group()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, group: Option<&str>) -> RawMessage {
        let mut raw = RawMessage::new(id, id, "");
        raw.metadata.group_id = group.map(str::to_owned);
        raw
    }

    #[test]
    fn fifo_groups_keep_order_within_a_group_and_split_ungrouped_messages() {
        let batch = vec![
            message("a1", Some("a")),
            message("b1", Some("b")),
            message("x", None),
            message("a2", Some("a")),
            message("y", None),
        ];
        let ids: Vec<Vec<String>> = fifo_groups(batch)
            .into_iter()
            .map(|run| run.into_iter().map(|m| m.metadata.message_id).collect())
            .collect();
        assert_eq!(
            ids,
            vec![vec!["a1", "a2"], vec!["b1"], vec!["x"], vec!["y"]]
        );
    }
}
