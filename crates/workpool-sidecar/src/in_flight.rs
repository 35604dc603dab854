//! [`InFlight`]: counts the handlers running now (the busy slots) and can give every one of them up at
//! once, returning their messages to the queue. Scale-in protection watches the count; a Spot
//! interruption notice uses the release.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use workpool::{BoxError, Outcome};

/// The shared count of busy handler slots, and the switch that releases them all. Cheap to clone.
#[derive(Debug, Clone)]
pub struct InFlight {
    busy: Arc<watch::Sender<usize>>,
    release: CancellationToken,
}

impl Default for InFlight {
    fn default() -> Self {
        Self::new()
    }
}

impl InFlight {
    /// A count of zero, nothing released.
    pub fn new() -> Self {
        Self {
            busy: Arc::new(watch::Sender::new(0)),
            release: CancellationToken::new(),
        }
    }

    /// How many handlers are running now.
    pub fn busy(&self) -> usize {
        *self.busy.borrow()
    }

    /// A receiver that sees every change of the busy count.
    pub fn watch(&self) -> watch::Receiver<usize> {
        self.busy.subscribe()
    }

    /// Waits until no handler is running.
    pub async fn idle(&self) {
        let mut busy = self.watch();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = busy.wait_for(|count| *count == 0).await;
    }

    /// Gives up every running handler now, and every one started from now on: each ends with
    /// `Outcome::Retry(0)`, so its message becomes visible to other consumers at once.
    pub fn release_all(&self) {
        self.release.cancel();
    }

    /// True once [`release_all`](Self::release_all) was called.
    pub fn is_releasing(&self) -> bool {
        self.release.is_cancelled()
    }

    /// Wraps `service` so its calls are counted and can be released.
    pub fn track<S>(&self, service: S) -> Tracked<S> {
        Tracked {
            service,
            in_flight: self.clone(),
        }
    }
}

impl<S> tower::Layer<S> for InFlight {
    type Service = Tracked<S>;

    fn layer(&self, service: S) -> Tracked<S> {
        self.track(service)
    }
}

/// A service whose calls [`InFlight`] counts and can release.
#[derive(Debug, Clone)]
pub struct Tracked<S> {
    service: S,
    in_flight: InFlight,
}

/// Counts one busy slot while alive.
struct BusySlot(Arc<watch::Sender<usize>>);

impl BusySlot {
    fn take(busy: &Arc<watch::Sender<usize>>) -> Self {
        busy.send_modify(|count| *count += 1);
        metrics::gauge!(crate::metric_names::BUSY_SLOTS).increment(1.0);
        Self(busy.clone())
    }
}

impl Drop for BusySlot {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count = count.saturating_sub(1));
        metrics::gauge!(crate::metric_names::BUSY_SLOTS).decrement(1.0);
    }
}

impl<S, Request> tower::Service<Request> for Tracked<S>
where
    S: tower::Service<Request>,
    S::Response: Into<Outcome>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Outcome;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Outcome, BoxError>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.service.poll_ready(context).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let slot = BusySlot::take(&self.in_flight.busy);
        let release = self.in_flight.release.clone();
        let call = self.service.call(request);
        Box::pin(async move {
            let _slot = slot;
            tokio::select! {
                biased;
                () = release.cancelled() => Ok(Outcome::Retry(Duration::ZERO)),
                result = call => result.map(Into::into).map_err(Into::into),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use tower::{Service, ServiceExt};

    use super::*;

    #[tokio::test]
    async fn counts_running_calls_and_releases_them() {
        let in_flight = InFlight::new();
        let gate = CancellationToken::new();
        let waiting = gate.clone();
        let mut service = in_flight.track(tower::service_fn(move |(): ()| {
            let waiting = waiting.clone();
            async move {
                waiting.cancelled().await;
                Ok::<_, BoxError>(())
            }
        }));
        let first = service.ready().await.unwrap().call(());
        let second = service.ready().await.unwrap().call(());
        assert_eq!(in_flight.busy(), 2);
        let first = tokio::spawn(first);
        in_flight.release_all();
        assert_eq!(
            first.await.unwrap().unwrap(),
            Outcome::Retry(Duration::ZERO)
        );
        assert_eq!(second.await.unwrap(), Outcome::Retry(Duration::ZERO));
        assert_eq!(in_flight.busy(), 0);
        in_flight.idle().await;
    }

    #[tokio::test]
    async fn a_finished_call_frees_its_slot() {
        let in_flight = InFlight::new();
        let mut service = in_flight.track(tower::service_fn(|(): ()| async {
            Ok::<_, BoxError>(Outcome::Failed("no".into()))
        }));
        let outcome = service.ready().await.unwrap().call(()).await.unwrap();
        assert_eq!(outcome, Outcome::Failed("no".into()));
        assert_eq!(in_flight.busy(), 0);
    }
}
