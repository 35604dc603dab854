//! Queue probes and producers for the reliability tests, straight through the SDK.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;

/// Reads a queue's counts and empties it, through its own client.
#[derive(Debug, Clone)]
pub struct QueueProbe {
    /// The client.
    pub client: Client,
    /// The queue URL.
    pub url: String,
}

impl QueueProbe {
    /// A probe of the queue at `url`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// (visible, in flight, delayed), or the error's text.
    pub async fn try_counts(&self) -> Result<(u64, u64, u64), String> {
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|error| {
                aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
            })?;
        let get = |name: QueueAttributeName| -> u64 {
            attributes
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        ))
    }

    /// (visible, in flight, delayed).
    ///
    /// # Panics
    /// When the queue cannot be read.
    pub async fn counts(&self) -> (u64, u64, u64) {
        self.try_counts()
            .await
            .unwrap_or_else(|error| panic!("GetQueueAttributes {}: {error}", self.url))
    }

    /// Waits until the queue holds nothing (visible, in flight or delayed), seen twice in a row.
    ///
    /// # Panics
    /// After `timeout`, with the last counts.
    pub async fn wait_until_empty(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut empty_reads = 0;
        loop {
            let counts = self.counts().await;
            if counts == (0, 0, 0) {
                empty_reads += 1;
                if empty_reads == 2 {
                    return;
                }
            } else {
                empty_reads = 0;
            }
            assert!(
                Instant::now() < deadline,
                "{} still holds (visible, in flight, delayed) = {counts:?} after {timeout:?}",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Receives and deletes every message the queue holds now (visible ones; in-flight ones are waited
    /// for up to `patience` after the last message seen), returning their bodies.
    pub async fn drain_bodies(&self, patience: Duration) -> Vec<String> {
        let mut bodies = Vec::new();
        let mut last_seen = Instant::now();
        loop {
            let received = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(30)
                .send()
                .await
                .expect("ReceiveMessage while draining");
            let messages = received.messages();
            if messages.is_empty() {
                let (visible, in_flight, delayed) = self.counts().await;
                if visible + in_flight + delayed == 0 || last_seen.elapsed() > patience {
                    return bodies;
                }
                continue;
            }
            last_seen = Instant::now();
            for message in messages {
                bodies.push(message.body().unwrap_or_default().to_owned());
                self.client
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage while draining");
            }
        }
    }
}

/// Sends `bodies` in batches of ten.
///
/// # Panics
/// When a batch or an entry fails.
pub async fn send_bodies(client: &Client, url: &str, bodies: &[String]) {
    for chunk in bodies.chunks(10) {
        let mut request = client.send_message_batch().queue_url(url);
        for (i, body) in chunk.iter().enumerate() {
            request = request.entries(
                SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body(body)
                    .build()
                    .expect("a batch entry"),
            );
        }
        let sent = request.send().await.expect("SendMessageBatch");
        assert!(sent.failed().is_empty(), "{:?}", sent.failed());
    }
}

/// Sends `bodies` while keeping at most `max_ahead` of them unfinished: before each batch of ten it
/// waits until `sent − finished() ≤ max_ahead − 10`. Keeps moto's queue shallow (its receive slows as
/// the queue deepens). Returns when everything is sent.
pub async fn feed(
    client: &Client,
    url: &str,
    bodies: &[String],
    max_ahead: usize,
    finished: impl Fn() -> usize,
) {
    let mut sent = 0usize;
    for chunk in bodies.chunks(10) {
        while sent.saturating_sub(finished()) + chunk.len() > max_ahead.max(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        send_bodies(client, url, chunk).await;
        sent += chunk.len();
    }
}
