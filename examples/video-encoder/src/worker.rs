//! The worker: a workpool [`Consumer`] of job messages whose handler (a `tower::Service` made with
//! `service_fn`) runs [`process`] and turns its result into the message's outcome.
//!
//! - every rendition stored (or already there) → `Ok`: the message is deleted;
//! - an invalid job → [`Discard`]: deleted and logged, since retrying cannot help;
//! - anything else (missing or broken input, ffmpeg error, storage error, lost lease) → `Err`: the
//!   message comes back after the failure policy's backoff, and the queue's redrive policy moves it to
//!   the dead-letter queue after its `maxReceiveCount`.
//!
//! While ffmpeg runs, the consumer's heartbeat keeps the message invisible; if an extension is
//! refused, the lease is lost and ffmpeg is killed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tower::service_fn;
use tracing::Instrument;
use workpool::{BoxError, Consumer, Discard, FailurePolicy, Json, Message, Source, Summary};

use crate::job::Job;
use crate::process::{process, Finished};
use crate::storage::Store;

/// How the worker consumes its queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Jobs encoded at once. ffmpeg already uses every core, so one or two per machine is usual.
    pub concurrency: usize,
    /// The visibility timeout received jobs get; the heartbeat extends it while ffmpeg runs, so it
    /// only bounds how long a crashed worker's job stays hidden.
    pub visibility_timeout: Duration,
    /// What happens to a job that failed.
    pub failure_policy: FailurePolicy,
    /// How long running encodes may go on after shutdown starts.
    pub grace_period: Duration,
    /// How long a receive waits for a job (long polling, at most 20 s); a stopping worker lets the
    /// receive under way answer first, so this also bounds how long an idle worker takes to stop.
    pub wait_time: Duration,
}

impl Default for WorkerSettings {
    /// One job at a time, 60 s visibility (kept up by the heartbeat), backoff from 10 s to 15 min,
    /// 30 s for a running encode to finish at shutdown (then it is killed and its job released), and
    /// 20 s long polls.
    fn default() -> Self {
        Self {
            concurrency: 1,
            visibility_timeout: Duration::from_secs(60),
            failure_policy: FailurePolicy::Exponential {
                initial: Duration::from_secs(10),
                max: Duration::from_secs(15 * 60),
            },
            grace_period: Duration::from_secs(30),
            wait_time: Duration::from_secs(20),
        }
    }
}

/// Handles one job message: runs it and says what becomes of the message.
pub async fn handle_job<S: Store>(store: &S, message: Message<Json<Job>>) -> Result<(), BoxError> {
    let job = message.body();
    // The consumer's span already names the message and its receive count.
    let span = tracing::info_span!("job", input = %job.input);
    let result = process(store, job, message.lease_lost())
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    match result {
        Ok(Finished::AlreadyEncoded) => {
            tracing::info!("every rendition already exists: skipped");
            Ok(())
        }
        Ok(Finished::Encoded { heights, duration }) => {
            tracing::info!(?heights, duration = duration.as_secs_f64(), "job done");
            Ok(())
        }
        // The consumer logs both with the whole error chain (ffmpeg's stderr tail included).
        Err(error) if error.is_permanent() => Err(Discard::because(error.to_string()).into()),
        Err(error) => Err(error.into()),
    }
}

/// Consumes job messages from `source` until `shutdown` completes, then drains gracefully.
pub async fn run_worker<Q, S>(
    source: Q,
    store: S,
    settings: &WorkerSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, workpool::Error>
where
    Q: Source,
    S: Store,
{
    let store = Arc::new(store);
    let handler = service_fn(move |message: Message<Json<Job>>| {
        let store = store.clone();
        async move { handle_job(&*store, message).await }
    });
    Consumer::new(source)
        .concurrency(settings.concurrency)
        .visibility_timeout(settings.visibility_timeout)
        .failure_policy(settings.failure_policy)
        .grace_period(settings.grace_period)
        .wait_time(settings.wait_time)
        .run(handler)
        .with_graceful_shutdown(shutdown)
        .await
}
