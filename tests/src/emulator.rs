//! Talking to the emulator: its configuration, unique queue names, and creating queues.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;
use aws_sdk_sqs::types::QueueAttributeName;

/// The environment variable that holds the emulator's endpoint; `scripts/test` sets it.
pub const ENDPOINT_VARIABLE: &str = "WORKPOOL_TEST_ENDPOINT";

/// The emulator's endpoint, from [`ENDPOINT_VARIABLE`].
///
/// # Panics
/// When the variable is not set: tests that need the emulator fail without it, they never skip.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint,
        _ => panic!(
            "{ENDPOINT_VARIABLE} is not set: run the tests with scripts/test, which starts the \
             emulator (or start it with scripts/emulator start and export \
             {ENDPOINT_VARIABLE}=$(scripts/emulator endpoint))"
        ),
    }
}

/// An AWS configuration pointing at the emulator: its endpoint, the region from `AWS_REGION` (or
/// `us-east-1`) and the static credentials `test` / `test`, which the emulator accepts. Nothing is
/// read from profiles or instance metadata, so no request leaves the machine.
///
/// # Panics
/// When `WORKPOOL_TEST_ENDPOINT` is not set (see [`endpoint`]).
pub async fn aws_config() -> SdkConfig {
    let endpoint = endpoint();
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "workpool-tests",
        ))
        .load()
        .await
}

/// A queue name no other test (in this run or an earlier one against the same emulator) uses:
/// `prefix`, then the process id, a counter and a random suffix. At most 70 characters, so `.fifo`
/// still fits SQS's 80.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!(
        "-{}-{count}-{:06x}",
        std::process::id(),
        fastrand::u32(..0xff_ffff)
    );
    let keep = 70usize.saturating_sub(suffix.len());
    let prefix: String = prefix.chars().take(keep).collect();
    format!("{prefix}{suffix}")
}

/// The settings of a queue to create. `QueueSpec::default()` is a standard queue with SQS's
/// defaults (30 s visibility timeout, no delay, no dead-letter queue).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSpec {
    /// A FIFO queue (`FifoQueue`); the name gets `.fifo` appended if it lacks it. Default: false.
    pub fifo: bool,
    /// The default visibility timeout (`VisibilityTimeout`). Default: none, SQS's 30 s.
    pub visibility_timeout: Option<Duration>,
    /// The redrive policy: the dead-letter queue's ARN and `maxReceiveCount`. Default: none.
    pub redrive: Option<(String, u32)>,
    /// Content-based deduplication (`ContentBasedDeduplication`, FIFO only). Default: false.
    pub content_based_dedup: bool,
    /// The queue's delivery delay (`DelaySeconds`). Default: none, SQS's 0 s.
    pub delay: Option<Duration>,
}

impl QueueSpec {
    /// A standard queue with SQS's defaults (the same as `QueueSpec::default()`).
    pub fn standard() -> Self {
        Self::default()
    }

    /// A FIFO queue with SQS's defaults.
    pub fn fifo() -> Self {
        Self {
            fifo: true,
            ..Self::default()
        }
    }

    /// Sets the visibility timeout (whole seconds).
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = Some(timeout);
        self
    }

    /// Moves messages to the queue `dead_letter_arn` after `max_receive_count` receives.
    pub fn redrive(mut self, dead_letter_arn: impl Into<String>, max_receive_count: u32) -> Self {
        self.redrive = Some((dead_letter_arn.into(), max_receive_count));
        self
    }

    /// Turns content-based deduplication on or off (FIFO queues).
    pub fn content_based_dedup(mut self, enabled: bool) -> Self {
        self.content_based_dedup = enabled;
        self
    }

    /// Sets the queue's delivery delay (whole seconds).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

/// A queue [`create_queue`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedQueue {
    /// The queue URL.
    pub url: String,
    /// The queue ARN (for another queue's redrive policy).
    pub arn: String,
}

/// Creates a queue on the emulator with `CreateQueue` and reads its ARN.
///
/// # Panics
/// When the emulator refuses or cannot be reached: a test cannot go on without its queue.
pub async fn create_queue(config: &SdkConfig, name: &str, spec: QueueSpec) -> CreatedQueue {
    let client = aws_sdk_sqs::Client::new(config);
    let name = if spec.fifo && !name.ends_with(".fifo") {
        format!("{name}.fifo")
    } else {
        name.to_owned()
    };
    let mut request = client.create_queue().queue_name(&name);
    if spec.fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    if spec.content_based_dedup {
        request = request.attributes(QueueAttributeName::ContentBasedDeduplication, "true");
    }
    if let Some(timeout) = spec.visibility_timeout {
        request = request.attributes(
            QueueAttributeName::VisibilityTimeout,
            timeout.as_secs().to_string(),
        );
    }
    if let Some(delay) = spec.delay {
        request = request.attributes(
            QueueAttributeName::DelaySeconds,
            delay.as_secs().to_string(),
        );
    }
    if let Some((dead_letter_arn, max_receive_count)) = &spec.redrive {
        let policy = format!(
            r#"{{"deadLetterTargetArn":"{dead_letter_arn}","maxReceiveCount":"{max_receive_count}"}}"#
        );
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy);
    }
    let created = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateQueue {name} failed: {}", describe(&error)));
    let url = created
        .queue_url()
        .unwrap_or_else(|| panic!("CreateQueue {name}: no QueueUrl"))
        .to_owned();
    let attributes = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GetQueueAttributes {name} failed: {}", describe(&error)));
    let arn = attributes
        .attributes()
        .and_then(|values| values.get(&QueueAttributeName::QueueArn))
        .unwrap_or_else(|| panic!("GetQueueAttributes {name}: no QueueArn"))
        .clone();
    CreatedQueue { url, arn }
}

/// The error and its causes, for panic messages.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_leave_room_for_the_fifo_suffix() {
        let long = "x".repeat(100);
        let (first, second) = (unique_name(&long), unique_name(&long));
        assert_ne!(first, second);
        assert!(first.len() <= 70, "{first}");
        assert!(unique_name("jobs").starts_with("jobs-"));
    }
}
