//! The worker: a workpool [`Consumer`] of job messages whose handler (a `tower::Service` made with
//! `service_fn`) runs [`process`] and turns its result into the message's outcome.
//!
//! - every rendition stored (or already there) → `Ok`: the message is deleted;
//! - an invalid job → [`Discard`]: deleted and logged, since retrying cannot help;
//! - anything else (missing or broken input, ffmpeg error, storage error, lost lease) → `Err`: the
//!   message comes back after the failure policy's backoff, and the queue's redrive policy moves it to
//!   the dead-letter queue after its `maxReceiveCount`.
//!
//! Once the input is probed, the message's visibility timeout is set from its duration (see
//! [`VisibilityRule`]); while ffmpeg runs, the consumer's heartbeat keeps the message invisible,
//! extending it by that timeout. If an extension is refused, the lease is lost and ffmpeg is killed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tower::service_fn;
use tracing::Instrument;
use workpool::{BoxError, Consumer, Discard, FailurePolicy, Json, Message, Source, Summary};

use crate::job::Job;
use crate::process::{process, Finished, Workload};
use crate::storage::Store;
use crate::visibility::VisibilityRule;

/// How the worker consumes its queue, built with setters from [`WorkerSettings::default`].
///
/// ```
/// use std::time::Duration;
/// use video_encoder::visibility::VisibilityRule;
/// use video_encoder::worker::WorkerSettings;
///
/// let settings = WorkerSettings::default()
///     .concurrency(2)
///     .visibility_rule(VisibilityRule::default().factor(3.0));
/// assert_eq!(settings.get_concurrency(), 2);
/// assert_eq!(settings.get_visibility_timeout(), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    concurrency: usize,
    visibility_timeout: Duration,
    visibility_rule: VisibilityRule,
    failure_policy: FailurePolicy,
    grace_period: Duration,
    wait_time: Duration,
}

impl Default for WorkerSettings {
    /// One job at a time, 60 s visibility until the input is probed and then the
    /// [`VisibilityRule::default`] estimate (both kept up by the heartbeat), backoff from 10 s to
    /// 15 min, 30 s for a running encode to finish at shutdown (then it is killed and its job
    /// released), and 20 s long polls.
    fn default() -> Self {
        Self {
            concurrency: 1,
            visibility_timeout: Duration::from_secs(60),
            visibility_rule: VisibilityRule::default(),
            failure_policy: FailurePolicy::Exponential {
                initial: Duration::from_secs(10),
                max: Duration::from_secs(15 * 60),
            },
            grace_period: Duration::from_secs(30),
            wait_time: Duration::from_secs(20),
        }
    }
}

impl WorkerSettings {
    /// Jobs encoded at once. ffmpeg already uses every core, so one or two per machine is usual.
    /// Default 1.
    pub fn concurrency(mut self, jobs: usize) -> Self {
        self.concurrency = jobs;
        self
    }

    /// The visibility timeout received jobs get until their input is probed (then the
    /// [visibility rule](Self::visibility_rule) takes over); the heartbeat extends it meanwhile, so
    /// it only bounds how long a job whose worker died before probing stays hidden. Default 60 s.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    /// How the visibility timeout is set once the input is probed: an estimate of the job's time
    /// from the input's duration and the renditions to encode. Default [`VisibilityRule::default`]
    /// (60 s + duration × renditions × 2, at most 12 h).
    pub fn visibility_rule(mut self, rule: VisibilityRule) -> Self {
        self.visibility_rule = rule;
        self
    }

    /// What happens to a job that failed. Default: back off exponentially from 10 s to 15 min.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }

    /// How long running encodes may go on after shutdown starts. Default 30 s.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }

    /// How long a receive waits for a job (long polling, at most 20 s); a stopping worker lets the
    /// receive under way answer first, so this also bounds how long an idle worker takes to stop.
    /// Default 20 s.
    pub fn wait_time(mut self, wait: Duration) -> Self {
        self.wait_time = wait;
        self
    }

    /// Jobs encoded at once.
    pub fn get_concurrency(&self) -> usize {
        self.concurrency
    }

    /// The visibility timeout of a job until its input is probed.
    pub fn get_visibility_timeout(&self) -> Duration {
        self.visibility_timeout
    }

    /// How the visibility timeout is set once the input is probed.
    pub fn get_visibility_rule(&self) -> VisibilityRule {
        self.visibility_rule
    }

    /// What happens to a job that failed.
    pub fn get_failure_policy(&self) -> FailurePolicy {
        self.failure_policy
    }

    /// How long running encodes may go on after shutdown starts.
    pub fn get_grace_period(&self) -> Duration {
        self.grace_period
    }

    /// How long a receive waits for a job.
    pub fn get_wait_time(&self) -> Duration {
        self.wait_time
    }
}

/// Handles one job message: runs it and says what becomes of the message. Once the input is
/// probed, the message's visibility timeout is set by `rule` from the input's duration and the
/// renditions left to encode.
pub async fn handle_job<S: Store>(
    store: &S,
    rule: &VisibilityRule,
    message: Message<Json<Job>>,
) -> Result<(), BoxError> {
    let job = message.body();
    // The consumer's span already names the message and its receive count.
    let span = tracing::info_span!("job", input = %job.input);
    let keep_invisible = |workload: Workload| {
        let timeout = rule.timeout_for(workload.duration, workload.renditions);
        tracing::info!(
            visibility_timeout = timeout.as_secs_f64(),
            "visibility timeout set from the input's duration"
        );
        message.set_visibility_timeout(timeout);
    };
    let result = process(store, job, message.lease_lost(), keep_invisible)
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
    let rule = settings.visibility_rule;
    let handler = service_fn(move |message: Message<Json<Job>>| {
        let store = store.clone();
        async move { handle_job(&*store, &rule, message).await }
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
