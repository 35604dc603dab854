//! Test support: the emulator's SDK clients, a local app standing in for the user's HTTP app, a
//! local port where connecting hangs, and a local server standing in for EC2 instance metadata
//! (IMDS). Nothing here mocks SQS or Auto Scaling.

#![allow(dead_code)]

pub mod app;
pub mod auto_scaling;
pub mod blackhole;
pub mod fake_imds;

use std::time::Duration;

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};

/// The emulator's endpoint (`scripts/test` sets `WORKPOOL_TEST_ENDPOINT`; `scripts/emulator start`
/// prints one).
pub fn endpoint() -> String {
    std::env::var("WORKPOOL_TEST_ENDPOINT").expect(
        "WORKPOOL_TEST_ENDPOINT is not set: run the tests with scripts/test, or start the emulator \
         (scripts/emulator start) and export WORKPOOL_TEST_ENDPOINT=<its endpoint>",
    )
}

/// The AWS configuration for the emulator.
pub async fn aws_config() -> aws_config::SdkConfig {
    workpool_sqs::aws_config_for(Some(&endpoint())).await
}

/// A name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

/// A fresh standard queue with this visibility timeout; its URL.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, prefix: &str, visibility: Duration) -> String {
    sqs.create_queue()
        .queue_name(unique_name(prefix))
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility.as_secs().to_string(),
        )
        .send()
        .await
        .expect("CreateQueue on the emulator")
        .queue_url()
        .expect("a queue URL")
        .to_owned()
}

/// Sends `bodies`, each with a `colour` String attribute; returns their message ids in order.
pub async fn send_all(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    bodies: &[String],
) -> Vec<String> {
    let mut ids = Vec::new();
    for body in bodies {
        let output = sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .message_attributes(
                "colour",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("blue")
                    .build()
                    .expect("an attribute"),
            )
            .send()
            .await
            .expect("SendMessage on the emulator");
        ids.push(output.message_id().expect("a message id").to_owned());
    }
    ids
}

/// (visible, not visible) messages of the queue.
pub async fn queue_counts(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> (u64, u64) {
    let output = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("GetQueueAttributes on the emulator");
    let read = |name: QueueAttributeName| -> u64 {
        output
            .attributes()
            .and_then(|attributes| attributes.get(&name))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    (
        read(QueueAttributeName::ApproximateNumberOfMessages),
        read(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Polls `condition` every 50 ms until it holds, failing the test with `what` after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
