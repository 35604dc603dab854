//! The consumer runtime: [`Consumer`] polls a [`Source`] and runs a `tower::Service` per message.
//!
//! - **Back-pressure from readiness.** A poller asks for at most as many messages as there are free
//!   handler slots (10 at most), so nothing is received that cannot start now. When busy, several
//!   pollers receive at once and each waits a moment (the receive linger) to fill a batch of ten; when
//!   idle, one long poll.
//! - **One outcome per delivery.** The handler's result becomes an [`Outcome`]; [`action_for`] turns it
//!   into one queue action: delete (batched, `DeleteMessageBatch`), change visibility (the failure
//!   policy's backoff, or a handler's [`Retry`](crate::Retry)), or leave it to the queue's timeout.
//!   Failed acknowledgements are retried with backoff. A panic is caught and counted as a failure.
//! - **Heartbeat.** Running deliveries are extended before their visibility runs out, in batches, up to
//!   SQS's 12 hours; if an extension is refused, [`Message::lease_lost`] is cancelled.
//! - **FIFO.** Messages of one group run one at a time in order; after one fails, the rest of its
//!   group from the same receive are released (visibility 0), not run out of order.
//! - **Shutdown in two stages.** Stop receiving; let running handlers finish within the grace period;
//!   then drop the rest and release their messages; flush acknowledgements. Nothing is lost.
//! - **Counted.** Every request is counted by operation (the [`Summary`] and the metrics in
//!   [`crate::metric_names`]), so the queue's bill can be read off.
//!
//! ```
//! use std::time::Duration;
//! use workpool::memory::{MemoryQueue, QueueConfig};
//! use workpool::{BoxError, Consumer, Json, Message, OutgoingMessage};
//!
//! #[derive(serde::Deserialize)]
//! struct Encode { height: u32 }
//!
//! async fn encode(message: Message<Json<Encode>>) -> Result<(), BoxError> {
//!     assert_eq!(message.body().height, 720);
//!     Ok(())
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), workpool::Error> {
//! let queue = MemoryQueue::new(QueueConfig::standard("jobs"))?;
//! queue.send(OutgoingMessage::new(r#"{"height": 720}"#))?;
//! let idle = queue.clone();
//! let summary = Consumer::new(queue)
//!     .concurrency(32)
//!     .run(tower::service_fn(encode))
//!     .with_graceful_shutdown(async move {
//!         while !idle.is_empty() { tokio::time::sleep(Duration::from_millis(5)).await }
//!     })
//!     .await?;
//! assert_eq!(summary.succeeded, 1);
//! # Ok(()) }
//! ```

mod ack;
mod api;
mod dispatch;
mod heartbeat;
mod poller;
mod stats;

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use ack::{action_for, Action};
pub(crate) use heartbeat::LeaseRef;
pub use stats::Summary;

use crate::body::FromBody;
use crate::error::Error;
use crate::failure_policy::FailurePolicy;
use crate::message::Message;
use crate::outcome::{BoxError, Outcome};
use crate::source::{Source, MAX_BATCH, MAX_VISIBILITY, MAX_WAIT};

/// Polls a queue and runs a handler per message, many at once. See the [module docs](self).
#[derive(Debug)]
pub struct Consumer<S> {
    source: S,
    concurrency: usize,
    pollers: Option<usize>,
    batch_size: usize,
    wait_time: Duration,
    receive_linger: Duration,
    visibility_timeout: Option<Duration>,
    heartbeat: bool,
    failure_policy: FailurePolicy,
    grace_period: Duration,
    delete_linger: Duration,
    control: Control,
}

impl<S: Source> Consumer<S> {
    /// A consumer of `source` with the default settings.
    pub fn new(source: S) -> Self {
        Self {
            source,
            concurrency: 16,
            pollers: None,
            batch_size: MAX_BATCH,
            wait_time: MAX_WAIT,
            receive_linger: Duration::from_millis(20),
            visibility_timeout: None,
            heartbeat: true,
            failure_policy: FailurePolicy::default(),
            grace_period: Duration::from_secs(30),
            delete_linger: Duration::from_millis(10),
            control: Control::new(),
        }
    }

    /// How many handlers may run at once (handler slots). Default 16; at least 1.
    pub fn concurrency(mut self, slots: usize) -> Self {
        self.concurrency = slots.max(1);
        self
    }

    /// How many receives may be under way at once when busy. Default: one per 10 slots (at least 1,
    /// at most 16). When idle, only the first poller polls.
    pub fn pollers(mut self, pollers: usize) -> Self {
        self.pollers = Some(pollers.max(1));
        self
    }

    /// The most messages one receive asks for, 1 to 10. Default 10.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.clamp(1, MAX_BATCH);
        self
    }

    /// How long a receive waits for a message (long polling), up to 20 s. Default 20 s.
    pub fn wait_time(mut self, wait: Duration) -> Self {
        self.wait_time = wait.min(MAX_WAIT);
        self
    }

    /// How long a poller of a busy consumer waits for a full batch of free slots (ten, or its share of
    /// the slots when there are fewer than ten per poller) before it receives fewer. Longer means fewer requests per message, shorter means less wait. Default 20 ms; zero
    /// receives as soon as one slot is free.
    pub fn receive_linger(mut self, linger: Duration) -> Self {
        self.receive_linger = linger;
        self
    }

    /// The visibility timeout received messages get. Default: the queue's own (read at start, where
    /// the consumer checks the queue exists either way).
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = Some(timeout.min(MAX_VISIBILITY));
        self
    }

    /// Whether to extend the visibility of messages whose handler is still running (up to SQS's 12-hour
    /// cap). Default on.
    pub fn heartbeat(mut self, on: bool) -> Self {
        self.heartbeat = on;
        self
    }

    /// What happens to a message whose handler failed. Default: exponential backoff from 2 s to 15 min.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }

    /// How long running handlers may take to finish once shutdown starts; after it, they are dropped
    /// and their messages released. Default 30 s.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }

    /// How long a delete waits for others to fill a batch of ten before it is sent. Default 10 ms.
    pub fn delete_linger(mut self, linger: Duration) -> Self {
        self.delete_linger = linger;
        self
    }

    /// A handle to pause, resume or stop this consumer from elsewhere.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Runs `service` for every message until shutdown (see [`Run::with_graceful_shutdown`]).
    pub fn run<T, Svc>(self, service: Svc) -> Run<S, Svc, T>
    where
        T: FromBody,
        Svc: tower::Service<Message<T>> + Clone + Send + Sync + 'static,
        Svc::Response: Into<Outcome>,
        Svc::Error: Into<BoxError>,
        Svc::Future: Send,
    {
        Run {
            consumer: self,
            service,
            shutdown: Box::pin(std::future::pending()),
            body: PhantomData,
        }
    }
}

/// Pauses, resumes or stops a running consumer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Control {
    paused: Arc<watch::Sender<bool>>,
    shutdown: CancellationToken,
    receiving_stopped: CancellationToken,
}

impl Control {
    fn new() -> Self {
        Self {
            paused: Arc::new(watch::Sender::new(false)),
            shutdown: CancellationToken::new(),
            receiving_stopped: CancellationToken::new(),
        }
    }

    /// Stops receiving; running handlers go on. Nothing is released.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Receives again after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Starts a graceful shutdown, as the shutdown future would.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the consumer receives nothing more: once a shutdown has begun and every receive
    /// that was under way has answered (its messages released) or been given up; at once if the run
    /// has already ended. Handlers may still be running. Whatever is made visible after this — by
    /// releasing running messages, say — cannot come back to this consumer.
    pub async fn receiving_stopped(&self) {
        self.receiving_stopped.cancelled().await;
    }
}

/// A consumer ready to run: await it (it resolves to the run's [`Summary`] after shutdown).
pub struct Run<S, Svc, T> {
    consumer: Consumer<S>,
    service: Svc,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    body: PhantomData<fn() -> T>,
}

impl<S, Svc, T> Run<S, Svc, T> {
    /// Shuts down gracefully when `signal` completes: stop receiving, let running handlers finish
    /// within the grace period, release what is left, flush deletes. Without it the consumer runs until
    /// [`Control::shutdown`].
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.shutdown = Box::pin(signal);
        self
    }
}

impl<S, Svc, T> IntoFuture for Run<S, Svc, T>
where
    S: Source,
    T: FromBody,
    Svc: tower::Service<Message<T>> + Clone + Send + Sync + 'static,
    Svc::Response: Into<Outcome>,
    Svc::Error: Into<BoxError>,
    Svc::Future: Send,
{
    type Output = Result<Summary, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self.consumer, self.service, self.shutdown))
    }
}

/// Runs poller `index`, restarting it (after a second, logged) if it dies of a panic — in a `Source`
/// implementation, say — so a consumer never silently stops receiving.
async fn supervise_poller<S, Svc, T>(polling: Arc<poller::Polling<S, Svc>>, index: usize)
where
    S: Source,
    T: FromBody,
    Svc: tower::Service<Message<T>> + Clone + Send + Sync + 'static,
    Svc::Response: Into<Outcome>,
    Svc::Error: Into<BoxError>,
    Svc::Future: Send,
{
    loop {
        match tokio::spawn(polling.clone().run::<T>(index)).await {
            Ok(()) => return,
            Err(died) => {
                tracing::error!(queue = polling.api.name(), poller = index, error = %died,
                    "a poller died; restarting it in a second");
                polling.stats.poller_restarts(1);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = polling.stop_receiving.cancelled() => return,
                }
            }
        }
    }
}

async fn run<S, Svc, T>(
    consumer: Consumer<S>,
    service: Svc,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Result<Summary, Error>
where
    S: Source,
    T: FromBody,
    Svc: tower::Service<Message<T>> + Clone + Send + Sync + 'static,
    Svc::Response: Into<Outcome>,
    Svc::Error: Into<BoxError>,
    Svc::Future: Send,
{
    // However the run ends, nothing receives after it.
    let _receiving_stopped = consumer.control.receiving_stopped.clone().drop_guard();
    let queue = consumer.source.name().to_owned();
    let api = Arc::new(api::Api::new(consumer.source));
    let stats = Arc::new(stats::Stats::new(&queue));
    // One read at start, also when the visibility timeout is given: a queue that does not exist (or
    // cannot be read with these credentials) is an error now, not a poller backing off forever.
    let attributes = api.attributes().await.map_err(|error| Error::Consumer {
        queue: queue.clone(),
        reason: format!(
            "cannot read the queue's attributes: {}",
            crate::error_chain(&error)
        ),
    })?;
    let visibility_timeout = consumer
        .visibility_timeout
        .unwrap_or(attributes.visibility_timeout);
    let background = TaskTracker::new();
    let acker = ack::Acker::start(
        api.clone(),
        stats.clone(),
        consumer.delete_linger,
        &background,
    );
    let leases = Arc::new(heartbeat::Leases::default());
    let stop_receiving = CancellationToken::new();
    let hard_stop = CancellationToken::new();
    let heartbeat_stop = CancellationToken::new();
    if consumer.heartbeat {
        background.spawn(heartbeat::run(
            api.clone(),
            leases.clone(),
            stats.clone(),
            visibility_timeout,
            heartbeat_stop.clone(),
        ));
    }
    let handlers = TaskTracker::new();
    let dispatch = Arc::new(dispatch::Dispatch {
        queue: queue.clone(),
        service,
        stats: stats.clone(),
        leases,
        acker,
        failure_policy: consumer.failure_policy,
        visibility_timeout,
        stop_receiving: stop_receiving.clone(),
        hard_stop: hard_stop.clone(),
        handlers: handlers.clone(),
    });
    let pollers = consumer
        .pollers
        .unwrap_or(consumer.concurrency.div_ceil(MAX_BATCH).clamp(1, 16));
    let polling = Arc::new(poller::Polling {
        api: api.clone(),
        dispatch: dispatch.clone(),
        stats: stats.clone(),
        slots: Arc::new(Semaphore::new(consumer.concurrency)),
        // Each poller fills its share of the slots: two pollers of 16 slots ask for 8 each, so that
        // neither holds slots idle while it waits for the other's whole batch to finish.
        batch_size: consumer
            .batch_size
            .min(consumer.concurrency.div_ceil(pollers)),
        wait_time: consumer.wait_time,
        receive_linger: consumer.receive_linger,
        visibility_timeout: consumer.visibility_timeout,
        stop_receiving: stop_receiving.clone(),
        paused: consumer.control.paused.subscribe(),
        work_seen: Notify::new(),
        gathering: tokio::sync::Mutex::new(()),
    });
    let poller_tasks = TaskTracker::new();
    for index in 0..pollers {
        poller_tasks.spawn(supervise_poller(polling.clone(), index));
    }
    tracing::info!(%queue, concurrency = consumer.concurrency, pollers, ?visibility_timeout, "consumer started");

    tokio::select! {
        () = shutdown => {}
        () = consumer.control.shutdown.cancelled() => {}
    }
    tracing::info!(%queue, grace_period = ?consumer.grace_period, "shutting down: no more receives");
    stop_receiving.cancel();
    poller_tasks.close();
    poller_tasks.wait().await;
    consumer.control.receiving_stopped.cancel();
    drop(polling);
    handlers.close();
    if tokio::time::timeout(consumer.grace_period, handlers.wait())
        .await
        .is_err()
    {
        tracing::warn!(%queue, "grace period over: releasing the messages still being handled");
        hard_stop.cancel();
        handlers.wait().await;
    }
    heartbeat_stop.cancel();
    drop(dispatch);
    background.close();
    background.wait().await;
    let summary = stats.summary(&api.counts);
    tracing::info!(%queue, ?summary, "consumer stopped");
    Ok(summary)
}
