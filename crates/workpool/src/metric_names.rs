//! Every metric name workpool records, in one place. Metrics go through the [`metrics`] facade: install
//! any recorder (Prometheus, StatsD, …) to collect them. Each carries the label `queue`.

/// Counter: messages received.
pub const RECEIVED: &str = "workpool_messages_received_total";
/// Counter: messages whose handler succeeded (then deleted).
pub const SUCCEEDED: &str = "workpool_messages_succeeded_total";
/// Counter: messages whose handler failed (or whose body did not decode, or that panicked).
pub const FAILED: &str = "workpool_messages_failed_total";
/// Counter: messages the handler asked to retry after a set delay.
pub const RETRIED: &str = "workpool_messages_retried_total";
/// Counter: messages the handler discarded (deleted without success).
pub const DISCARDED: &str = "workpool_messages_discarded_total";
/// Counter: messages released unstarted (visibility 0) at shutdown or after a FIFO group failure.
pub const RELEASED: &str = "workpool_messages_released_total";
/// Counter: handler panics caught.
pub const PANICS: &str = "workpool_handler_panics_total";
/// Gauge: handlers running now.
pub const IN_FLIGHT: &str = "workpool_messages_in_flight";
/// Histogram: handler duration in seconds.
pub const HANDLER_SECONDS: &str = "workpool_handler_duration_seconds";
/// Counter: requests made to the queue, by label `operation` (ReceiveMessage, DeleteMessageBatch,
/// ChangeMessageVisibilityBatch, GetQueueAttributes) — what the queue bills for.
pub const API_REQUESTS: &str = "workpool_api_requests_total";
/// Counter: requests to the queue that failed, by label `operation`.
pub const API_ERRORS: &str = "workpool_api_errors_total";
/// Counter: receives that returned no message.
pub const EMPTY_RECEIVES: &str = "workpool_empty_receives_total";
/// Counter: visibility extensions made by the heartbeat.
pub const EXTENDED: &str = "workpool_visibility_extensions_total";
/// Counter: deliveries lost because their visibility could not be extended.
pub const LEASES_LOST: &str = "workpool_leases_lost_total";
/// Counter: messages deleted from the queue.
pub const DELETED: &str = "workpool_messages_deleted_total";
/// Counter: deletes or visibility changes refused by the queue or given up after retries.
pub const ACK_FAILURES: &str = "workpool_acknowledgement_failures_total";
/// Counter: pollers restarted after dying of a panic.
pub const POLLER_RESTARTS: &str = "workpool_poller_restarts_total";
/// Counter: messages delivered again while their delete was being retried, deleted with the newer
/// receipt handle instead of being handled twice.
pub const REDELIVERIES_DELETED: &str = "workpool_redeliveries_deleted_total";
