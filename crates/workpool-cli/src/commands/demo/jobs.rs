//! The demo's work: a handler that "does" a job by sleeping its modelled time, and the tally that
//! measures what the handlers did (waits, completions, duplicates, busy time).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tower::service_fn;
use workpool::{BoxError, Message};

/// How long a job takes: a mean with a uniform jitter of ± `jitter` × mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobModel {
    /// The mean job time.
    pub mean: Duration,
    /// The spread around the mean, a fraction in [0, 1).
    pub jitter: f64,
}

impl JobModel {
    /// The job time for a uniform draw `unit` in [0, 1): from `mean × (1 − jitter)` to
    /// `mean × (1 + jitter)`.
    pub fn job_time(&self, unit: f64) -> Duration {
        self.mean.mul_f64(1.0 + self.jitter * (2.0 * unit - 1.0))
    }
}

/// What every handler of the run measured; shared by all instances.
#[derive(Debug, Default)]
pub struct Tally {
    in_flight: AtomicU64,
    completed: AtomicU64,
    duplicates: AtomicU64,
    busy_nanos: AtomicU64,
    waits: Mutex<Vec<Duration>>,
    done_jobs: Mutex<HashSet<u64>>,
}

impl Tally {
    /// Handlers running now, all instances.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Jobs finished (duplicates included).
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Jobs finished more than once (at-least-once delivery made visible).
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Time handlers spent working, summed over all of them (slot-time).
    pub fn busy_time(&self) -> Duration {
        Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed))
    }

    /// Every queue wait measured (sent to handler start), in no particular order.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn started(&self, wait: Duration) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.waits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(wait);
    }

    fn finished(&self, job: u64, worked: Duration) {
        let first_time = self
            .done_jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(job);
        if !first_time {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
        self.completed.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(worked.as_nanos()).unwrap_or(u64::MAX);
        self.busy_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Counts a handler as running until it is dropped, finished or not (a hard stop drops it).
struct Running {
    tally: Arc<Tally>,
    instance_in_flight: Arc<AtomicU64>,
}

impl Running {
    fn start(tally: Arc<Tally>, instance_in_flight: Arc<AtomicU64>, wait: Duration) -> Self {
        tally.started(wait);
        instance_in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            tally,
            instance_in_flight,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.tally.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.instance_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The body of a demo job: its sequence number.
pub fn job_body(job: u64) -> String {
    job.to_string()
}

/// The handler one instance runs: measures the queue wait, sleeps the modelled job time, and records
/// the job as done. `instance_in_flight` counts this instance's running handlers (its busy state).
pub fn handler(
    model: JobModel,
    tally: Arc<Tally>,
    instance_in_flight: Arc<AtomicU64>,
) -> impl tower::Service<
    Message<String>,
    Response = (),
    Error = BoxError,
    Future = impl std::future::Future<Output = Result<(), BoxError>> + Send,
> + Clone
       + Send
       + Sync
       + 'static {
    service_fn(move |message: Message<String>| {
        let tally = tally.clone();
        let instance_in_flight = instance_in_flight.clone();
        async move {
            let started = SystemTime::now();
            let job: u64 = message
                .body()
                .parse()
                .map_err(|_| format!("`{}` is not a demo job number", message.body()))?;
            let wait = message
                .metadata()
                .sent_at
                .and_then(|sent| started.duration_since(sent).ok())
                .unwrap_or_default();
            let running = Running::start(tally.clone(), instance_in_flight, wait);
            let job_time = model.job_time(fastrand::f64());
            tokio::time::sleep(job_time).await;
            tally.finished(job, started.elapsed().unwrap_or(job_time));
            drop(running);
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_times_spread_evenly_around_the_mean() {
        let model = JobModel {
            mean: Duration::from_millis(200),
            jitter: 0.5,
        };
        assert_eq!(model.job_time(0.0), Duration::from_millis(100));
        assert_eq!(model.job_time(0.5), Duration::from_millis(200));
        assert_eq!(model.job_time(0.75), Duration::from_millis(250));
        let fixed = JobModel {
            jitter: 0.0,
            ..model
        };
        assert_eq!(fixed.job_time(0.9), Duration::from_millis(200));
    }

    #[test]
    fn a_job_finished_twice_is_a_duplicate() {
        let tally = Tally::default();
        tally.finished(7, Duration::from_millis(10));
        tally.finished(8, Duration::from_millis(10));
        tally.finished(7, Duration::from_millis(10));
        assert_eq!((tally.completed(), tally.duplicates()), (3, 1));
        assert_eq!(tally.busy_time(), Duration::from_millis(30));
    }

    #[tokio::test]
    async fn the_handler_measures_the_wait_and_counts_itself_while_running() {
        use tower::ServiceExt;
        let tally = Arc::new(Tally::default());
        let instance = Arc::new(AtomicU64::new(0));
        let model = JobModel {
            mean: Duration::from_millis(50),
            jitter: 0.0,
        };
        let mut metadata = workpool::Metadata::new("m-42", "r-42");
        metadata.sent_at = Some(SystemTime::now() - Duration::from_secs(2));
        let message = Message::new(job_body(42), metadata);
        let call = handler(model, tally.clone(), instance.clone()).oneshot(message);
        let running = tokio::spawn(call);
        tokio::task::yield_now().await;
        assert_eq!(
            (tally.in_flight(), instance.load(Ordering::Relaxed)),
            (1, 1)
        );
        running.await.expect("joins").expect("succeeds");
        assert_eq!(
            (tally.in_flight(), instance.load(Ordering::Relaxed)),
            (0, 0)
        );
        assert_eq!(tally.completed(), 1);
        let waits = tally.waits();
        assert_eq!(waits.len(), 1);
        assert!(waits[0] >= Duration::from_secs(2), "{waits:?}");
    }
}
