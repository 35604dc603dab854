//! Running counts of what the consumer did, shared by its tasks, reported as a [`Summary`] at the end.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use metrics::{Counter, Gauge, Histogram};

use super::api::RequestCounts;
use crate::metric_names;

/// What one run of a consumer did, returned when it has shut down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages received.
    pub received: u64,
    /// Messages whose handler succeeded.
    pub succeeded: u64,
    /// Messages whose handler failed (errors, undecodable bodies, panics).
    pub failed: u64,
    /// Messages the handler asked to retry later.
    pub retried: u64,
    /// Messages the handler discarded.
    pub discarded: u64,
    /// Messages released unstarted (at shutdown, or after an earlier message of their FIFO group failed).
    pub released: u64,
    /// Handler panics caught (also counted in `failed`).
    pub panics: u64,
    /// Messages deleted from the queue.
    pub deleted: u64,
    /// Deletes or visibility changes the queue refused or that were given up; those messages come back.
    pub acknowledgements_failed: u64,
    /// Visibility extensions made by the heartbeat.
    pub extended: u64,
    /// Deliveries whose lease was lost (an extension was refused).
    pub leases_lost: u64,
    /// Messages delivered again while their delete was being retried, deleted with the newer receipt
    /// handle instead of being handled twice.
    pub redeliveries_deleted: u64,
    /// Pollers that died (a panic in the source) and were restarted.
    pub poller_restarts: u64,
    /// Requests made to the queue, all operations.
    pub requests: u64,
    /// `ReceiveMessage` requests.
    pub receive_requests: u64,
    /// Receives that returned nothing.
    pub empty_receives: u64,
    /// Requests that failed as a whole.
    pub request_errors: u64,
}

impl Summary {
    /// Requests per received message: what the queue bills for, per unit of work.
    pub fn requests_per_message(&self) -> f64 {
        if self.received == 0 {
            return 0.0;
        }
        self.requests as f64 / self.received as f64
    }
}

macro_rules! counters {
    ($($field:ident => $name:path),* $(,)?) => {
        pub(crate) struct Stats {
            $($field: (AtomicU64, Counter),)*
            in_flight: Gauge,
            handler_seconds: Histogram,
        }

        impl Stats {
            pub(crate) fn new(queue: &str) -> Self {
                Self {
                    $($field: (AtomicU64::new(0), metrics::counter!($name, "queue" => queue.to_owned())),)*
                    in_flight: metrics::gauge!(metric_names::IN_FLIGHT, "queue" => queue.to_owned()),
                    handler_seconds:
                        metrics::histogram!(metric_names::HANDLER_SECONDS, "queue" => queue.to_owned()),
                }
            }

            $(pub(crate) fn $field(&self, n: u64) {
                self.$field.0.fetch_add(n, Ordering::Relaxed);
                self.$field.1.increment(n);
            })*
        }
    };
}

counters! {
    received => metric_names::RECEIVED,
    succeeded => metric_names::SUCCEEDED,
    failed => metric_names::FAILED,
    retried => metric_names::RETRIED,
    discarded => metric_names::DISCARDED,
    released => metric_names::RELEASED,
    panics => metric_names::PANICS,
    extended => metric_names::EXTENDED,
    leases_lost => metric_names::LEASES_LOST,
    empty_receives => metric_names::EMPTY_RECEIVES,
    deleted_count => metric_names::DELETED,
    ack_failures => metric_names::ACK_FAILURES,
    poller_restarts => metric_names::POLLER_RESTARTS,
    redeliveries_deleted => metric_names::REDELIVERIES_DELETED,
}

impl Stats {
    pub(crate) fn deleted(&self, n: u64) {
        self.deleted_count(n);
    }

    pub(crate) fn ack_failed(&self) {
        self.ack_failures(1);
    }

    /// Counts a handler as running (the in-flight gauge, then its duration) until the guard drops —
    /// also when the handler is dropped unfinished.
    pub(crate) fn handler_running(&self) -> Running<'_> {
        self.in_flight.increment(1.0);
        Running {
            stats: self,
            started: Instant::now(),
        }
    }

    pub(crate) fn summary(&self, requests: &RequestCounts) -> Summary {
        let get = |counter: &(AtomicU64, Counter)| counter.0.load(Ordering::Relaxed);
        let receive_requests = requests.receive.load(Ordering::Relaxed);
        Summary {
            received: get(&self.received),
            succeeded: get(&self.succeeded),
            failed: get(&self.failed),
            retried: get(&self.retried),
            discarded: get(&self.discarded),
            released: get(&self.released),
            panics: get(&self.panics),
            deleted: get(&self.deleted_count),
            acknowledgements_failed: get(&self.ack_failures),
            extended: get(&self.extended),
            poller_restarts: get(&self.poller_restarts),
            redeliveries_deleted: get(&self.redeliveries_deleted),
            leases_lost: get(&self.leases_lost),
            requests: receive_requests
                + requests.delete.load(Ordering::Relaxed)
                + requests.change_visibility.load(Ordering::Relaxed)
                + requests.attributes.load(Ordering::Relaxed),
            receive_requests,
            empty_receives: get(&self.empty_receives),
            request_errors: requests.errors.load(Ordering::Relaxed),
        }
    }
}

/// One running handler, counted by [`Stats::handler_running`].
pub(crate) struct Running<'a> {
    stats: &'a Stats,
    started: Instant,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.stats.in_flight.decrement(1.0);
        self.stats
            .handler_seconds
            .record(self.started.elapsed().as_secs_f64());
    }
}
