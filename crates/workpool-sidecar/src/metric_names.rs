//! Every metric name the sidecar records (besides the consumer's own, in `workpool::metric_names`).

/// Gauge: handler slots busy now (requests to the app or commands running).
pub const BUSY_SLOTS: &str = "workpool_sidecar_busy_slots";
/// Counter: responses from the app, by label `status`.
pub const HTTP_RESPONSES: &str = "workpool_sidecar_http_responses_total";
/// Gauge: 1 while the instance is protected from scale-in, 0 when not.
pub const SCALE_IN_PROTECTED: &str = "workpool_sidecar_scale_in_protected";
/// Counter: `SetInstanceProtection` calls that failed (not counting those refused while the
/// instance is not in service yet, which are expected at boot).
pub const PROTECTION_ERRORS: &str = "workpool_sidecar_protection_errors_total";
/// Counter: lifecycle action calls made, by label `operation`.
pub const LIFECYCLE_CALLS: &str = "workpool_sidecar_lifecycle_calls_total";
