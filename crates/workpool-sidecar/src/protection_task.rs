//! Keeping the instance's scale-in protection in step with the busy slots: the I/O half of
//! [`ProtectionPolicy`].

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::auto_scaling::AutoScalingApi;
use crate::error::Error;
use crate::in_flight::InFlight;
use crate::protection_policy::ProtectionPolicy;

/// How long to wait before asking again after a failed or refused `SetInstanceProtection`.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Sets the protection of `instance_id` in `group` as the policy decides, whenever the busy count
/// changes or the idle delay passes, until `stop`; then, if protection is on, turns it off.
pub async fn keep_scale_in_protection<A: AutoScalingApi>(
    api: Arc<A>,
    group: String,
    instance_id: String,
    in_flight: InFlight,
    idle_delay: Duration,
    stop: CancellationToken,
) {
    let mut policy = ProtectionPolicy::new(idle_delay);
    let mut busy = in_flight.watch();
    let mut retry_at: Option<Instant> = None;
    let mut waiting_for_service = false;
    loop {
        let count = *busy.borrow_and_update();
        if let Some(protected) = policy.decide(count, Instant::now()) {
            match apply(&*api, &group, &instance_id, protected).await {
                Attempt::Applied => {
                    policy.applied(protected);
                    retry_at = None;
                    waiting_for_service = false;
                }
                Attempt::NotInService => {
                    if !waiting_for_service {
                        tracing::info!(
                            %instance_id,
                            protected,
                            "the instance is not in service yet, so its scale-in protection \
                             cannot be set; asking again every {}s until it is",
                            RETRY_AFTER_FAILURE.as_secs()
                        );
                    }
                    waiting_for_service = true;
                    retry_at = Some(Instant::now() + RETRY_AFTER_FAILURE);
                }
                Attempt::Failed => retry_at = Some(Instant::now() + RETRY_AFTER_FAILURE),
            }
        }
        let wake_at = match (retry_at, policy.next_deadline()) {
            (Some(retry), Some(deadline)) => Some(retry.min(deadline)),
            (retry, deadline) => retry.or(deadline),
        };
        let deadline = async {
            match wake_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => break,
            changed = busy.changed() => if changed.is_err() { break },
            () = deadline => {}
        }
    }
    if policy.protected() == Some(true) {
        apply(&*api, &group, &instance_id, false).await;
    }
}

/// How one `SetInstanceProtection` request went.
enum Attempt {
    /// The protection is set.
    Applied,
    /// Refused: the instance is not in service yet (booting); an expected wait, not an error.
    NotInService,
    /// Failed otherwise (logged and counted).
    Failed,
}

async fn apply<A: AutoScalingApi>(
    api: &A,
    group: &str,
    instance_id: &str,
    protected: bool,
) -> Attempt {
    match api.set_protection(group, instance_id, protected).await {
        Ok(()) => {
            tracing::info!(%group, %instance_id, protected, "scale-in protection set");
            metrics::gauge!(crate::metric_names::SCALE_IN_PROTECTED).set(if protected {
                1.0
            } else {
                0.0
            });
            Attempt::Applied
        }
        Err(Error::NotInService { .. }) => {
            tracing::debug!(%instance_id, protected, "not in service yet; will try again");
            Attempt::NotInService
        }
        Err(error) => {
            tracing::warn!(%error, protected, "cannot set scale-in protection; will try again");
            metrics::counter!(crate::metric_names::PROTECTION_ERRORS).increment(1);
            Attempt::Failed
        }
    }
}
