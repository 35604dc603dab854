//! [`Api`]: the source, counted. Every request the consumer makes goes through here, so the
//! `workpool_api_requests_total` metric (by operation) and the run's [`Summary`](super::Summary) tell
//! exactly what the queue was asked — and billed — for.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::Counter;

use crate::metric_names;
use crate::source::{
    BatchOutcome, QueueAttributes, RawMessage, ReceiveRequest, Source, VisibilityChange,
};

/// Request counts by operation.
#[derive(Debug, Default)]
pub(crate) struct RequestCounts {
    pub(crate) receive: AtomicU64,
    pub(crate) delete: AtomicU64,
    pub(crate) change_visibility: AtomicU64,
    pub(crate) attributes: AtomicU64,
    pub(crate) errors: AtomicU64,
}

struct OperationCounters {
    requests: Counter,
    errors: Counter,
}

impl OperationCounters {
    fn new(queue: &str, operation: &'static str) -> Self {
        let labels = [
            ("queue", queue.to_owned()),
            ("operation", operation.to_owned()),
        ];
        Self {
            requests: metrics::counter!(metric_names::API_REQUESTS, &labels),
            errors: metrics::counter!(metric_names::API_ERRORS, &labels),
        }
    }
}

/// A source whose requests are counted.
pub(crate) struct Api<S> {
    source: S,
    name: String,
    pub(crate) counts: RequestCounts,
    receive: OperationCounters,
    delete: OperationCounters,
    change_visibility: OperationCounters,
    attributes: OperationCounters,
}

impl<S: Source> Api<S> {
    pub(crate) fn new(source: S) -> Self {
        let name = source.name().to_owned();
        Self {
            receive: OperationCounters::new(&name, "ReceiveMessage"),
            delete: OperationCounters::new(&name, "DeleteMessageBatch"),
            change_visibility: OperationCounters::new(&name, "ChangeMessageVisibilityBatch"),
            attributes: OperationCounters::new(&name, "GetQueueAttributes"),
            counts: RequestCounts::default(),
            source,
            name,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// See [`Source::receive_is_cancel_safe`].
    pub(crate) fn receive_is_cancel_safe(&self) -> bool {
        self.source.receive_is_cancel_safe()
    }

    fn count<T>(
        &self,
        counters: &OperationCounters,
        count: &AtomicU64,
        result: &Result<T, S::Error>,
    ) {
        counters.requests.increment(1);
        count.fetch_add(1, Ordering::Relaxed);
        if result.is_err() {
            counters.errors.increment(1);
            self.counts.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) async fn receive(
        &self,
        request: ReceiveRequest,
    ) -> Result<Vec<RawMessage>, S::Error> {
        let result = self.source.receive(request).await;
        self.count(&self.receive, &self.counts.receive, &result);
        result
    }

    pub(crate) async fn delete_batch(&self, handles: &[String]) -> Result<BatchOutcome, S::Error> {
        let result = self.source.delete_batch(handles).await;
        self.count(&self.delete, &self.counts.delete, &result);
        result
    }

    pub(crate) async fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> Result<BatchOutcome, S::Error> {
        let result = self.source.change_visibility_batch(changes).await;
        self.count(
            &self.change_visibility,
            &self.counts.change_visibility,
            &result,
        );
        result
    }

    pub(crate) async fn attributes(&self) -> Result<QueueAttributes, S::Error> {
        let result = self.source.attributes().await;
        self.count(&self.attributes, &self.counts.attributes, &result);
        result
    }
}
