//! [`SqsHarness`]: the conformance suite's backend for [`SqsSource`] on the emulator.

use aws_config::SdkConfig;
use workpool_sqs::{OutgoingMessage, Producer, SqsSource};

use crate::conformance::{HarnessQueue, KnownDifference, QueueHarness, QueueSettings};
use crate::{aws_config, create_queue, unique_name, QueueSpec};

/// Runs the conformance suite against [`SqsSource`] on the emulator (moto), through the real AWS
/// SDK. Sends go through [`Producer`].
#[derive(Debug, Clone)]
pub struct SqsHarness {
    config: SdkConfig,
}

impl SqsHarness {
    /// A harness for the emulator at `WORKPOOL_TEST_ENDPOINT`.
    ///
    /// # Panics
    /// When `WORKPOOL_TEST_ENDPOINT` is not set.
    pub async fn connect() -> Self {
        Self {
            config: aws_config().await,
        }
    }

    fn spec(settings: &QueueSettings) -> QueueSpec {
        QueueSpec {
            fifo: settings.is_fifo(),
            visibility_timeout: Some(settings.get_visibility_timeout()),
            redrive: None,
            content_based_dedup: settings.is_content_based_dedup(),
            delay: None,
        }
    }

    fn source(&self, url: &str) -> SqsSource {
        SqsSource::from_queue_url(&self.config, url)
            .unwrap_or_else(|error| panic!("the emulator's queue URL does not parse: {error}"))
    }
}

impl QueueHarness for SqsHarness {
    type Source = SqsSource;

    async fn create(&self, prefix: &str, settings: &QueueSettings) -> HarnessQueue<SqsSource> {
        let name = unique_name(prefix);
        let mut spec = Self::spec(settings);
        let mut dead_letter = None;
        if let Some(max_receive_count) = settings.get_dead_letter_after() {
            let dlq_settings = if settings.is_fifo() {
                QueueSettings::fifo()
            } else {
                QueueSettings::standard()
            };
            let dlq = create_queue(
                &self.config,
                &format!("{name}-dlq"),
                Self::spec(&dlq_settings),
            )
            .await;
            spec.redrive = Some((dlq.arn, max_receive_count));
            dead_letter = Some(self.source(&dlq.url));
        }
        let created = create_queue(&self.config, &name, spec).await;
        HarnessQueue {
            queue: self.source(&created.url),
            dead_letter,
        }
    }

    async fn send(&self, queue: &SqsSource, message: OutgoingMessage) -> String {
        match Producer::for_source(queue).send(message).await {
            Ok(sent) => sent.message_id,
            Err(error) => panic!("send failed: {error}"),
        }
    }

    fn differs_from_sqs(&self, difference: KnownDifference) -> bool {
        match difference {
            KnownDifference::DeduplicationOutlivesDelete => true,
        }
    }
}
