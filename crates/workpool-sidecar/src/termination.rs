//! The end of the instance: watching instance metadata for an Auto Scaling termination or a Spot
//! interruption, and draining for a termination lifecycle hook.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use workpool::Control;

use crate::auto_scaling::{AutoScalingApi, LifecycleAction};
use crate::in_flight::InFlight;
use crate::instance_metadata::{
    is_terminating, parse_spot_notice, InstanceMetadata, SpotNotice, SPOT_INSTANCE_ACTION,
    TARGET_LIFECYCLE_STATE,
};

/// What instance metadata announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceNotice {
    /// Auto Scaling is terminating the instance (target lifecycle state `Terminated`).
    Terminating,
    /// EC2 will interrupt this Spot instance.
    SpotInterruption(SpotNotice),
}

/// Polls instance metadata every `interval` until it announces the instance's end. Read errors are
/// logged and polling goes on. With `watch_spot` false, Spot notices are not looked for.
pub async fn watch_instance<M: InstanceMetadata>(
    metadata: &M,
    interval: Duration,
    watch_spot: bool,
) -> InstanceNotice {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if watch_spot {
            match metadata.get(SPOT_INSTANCE_ACTION).await {
                Ok(Some(document)) => match parse_spot_notice(&document) {
                    Some(notice) => return InstanceNotice::SpotInterruption(notice),
                    None => tracing::warn!(%document, "unreadable Spot instance-action notice"),
                },
                Ok(None) => {}
                Err(error) => tracing::debug!(%error, "reading the Spot instance-action notice"),
            }
        }
        match metadata.get(TARGET_LIFECYCLE_STATE).await {
            Ok(Some(state)) if is_terminating(&state) => return InstanceNotice::Terminating,
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "reading the target lifecycle state"),
        }
    }
}

/// What the termination drain needs.
#[derive(Debug)]
pub struct TerminationDrain<A> {
    /// The Auto Scaling requests.
    pub api: Arc<A>,
    /// The lifecycle action to heartbeat and complete; `None` when the group has no termination hook
    /// (then the drain only stops the consumer).
    pub action: Option<LifecycleAction>,
    /// The consumer to pause and stop.
    pub control: Control,
    /// The busy slots.
    pub in_flight: InFlight,
    /// Cancelled once the consumer has stopped (deletes flushed, the rest released).
    pub consumer_stopped: CancellationToken,
    /// How often to record a lifecycle heartbeat while draining.
    pub heartbeat_interval: Duration,
}

impl<A: AutoScalingApi> TerminationDrain<A> {
    /// Stops receiving, waits for the running handlers to finish while recording lifecycle heartbeats,
    /// stops the consumer, waits for it, then completes the lifecycle action (`CONTINUE`).
    pub async fn run(self) {
        tracing::info!("the instance is terminating: no more receives, draining");
        self.control.pause();
        self.heartbeat_until(self.in_flight.idle()).await;
        tracing::info!("drained: stopping the consumer");
        self.control.shutdown();
        self.heartbeat_until(self.consumer_stopped.cancelled())
            .await;
        if let Some(action) = &self.action {
            metrics::counter!(crate::metric_names::LIFECYCLE_CALLS, "operation" => "CompleteLifecycleAction").increment(1);
            match self.api.complete(action).await {
                Ok(()) => {
                    tracing::info!(hook = %action.hook, "lifecycle action completed: the instance may go")
                }
                Err(error) => {
                    tracing::error!(%error, "cannot complete the lifecycle action; Auto Scaling will go on at the hook's timeout")
                }
            }
        }
    }

    async fn heartbeat_until(&self, done: impl std::future::Future<Output = ()>) {
        tokio::pin!(done);
        let mut ticks = tokio::time::interval_at(
            tokio::time::Instant::now() + self.heartbeat_interval,
            self.heartbeat_interval,
        );
        loop {
            tokio::select! {
                () = &mut done => return,
                _ = ticks.tick() => {
                    if let Some(action) = &self.action {
                        metrics::counter!(crate::metric_names::LIFECYCLE_CALLS, "operation" => "RecordLifecycleActionHeartbeat").increment(1);
                        match self.api.record_heartbeat(action).await {
                            Ok(()) => tracing::debug!(busy = self.in_flight.busy(), "lifecycle heartbeat recorded"),
                            Err(error) => tracing::warn!(%error, "cannot record a lifecycle heartbeat"),
                        }
                    }
                }
            }
        }
    }
}
