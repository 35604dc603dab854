//! [`SqsSource`]: the [`workpool::Source`] that talks to Amazon SQS through `aws-sdk-sqs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use aws_sdk_sqs::Client;
use workpool::{
    BatchOutcome, EntryFailure, Metadata, QueueAttributes, RawMessage, ReceiveRequest, Source,
    VisibilityChange,
};

use crate::attributes;
use crate::config::describe_endpoint;
use crate::error::ErrorContext;
use crate::queue_url::{check_queue_name, QueueUrl};
use crate::Error;

/// A queue in Amazon SQS (or an SQS-compatible emulator), as a [`workpool::Source`].
///
/// Cheap to clone: clones share one SDK client. Every method is one SQS request; the SDK's own retry
/// policy (by default three attempts with backoff) applies underneath.
#[derive(Debug, Clone)]
pub struct SqsSource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    url: QueueUrl,
    endpoint: String,
}

impl SqsSource {
    /// A source for the queue at `queue_url`, with a client built from `config`.
    ///
    /// Checks that the URL parses and reads the queue name from it (a name ending in `.fifo` is a
    /// FIFO queue); makes no request.
    pub fn from_queue_url(config: &SdkConfig, queue_url: &str) -> Result<Self, Error> {
        let url = QueueUrl::parse(queue_url)?;
        Ok(Self::build(
            Client::new(config),
            url,
            describe_endpoint(config),
        ))
    }

    /// A source for the queue named `queue_name`, looking its URL up with `GetQueueUrl`.
    pub async fn from_queue_name(config: &SdkConfig, queue_name: &str) -> Result<Self, Error> {
        let endpoint = describe_endpoint(config);
        check_queue_name(queue_name).map_err(|reason| Error::InvalidQueueName {
            name: queue_name.to_owned(),
            reason,
        })?;
        let client = Client::new(config);
        let context = ErrorContext {
            queue: queue_name,
            endpoint: &endpoint,
        };
        let output = client
            .get_queue_url()
            .queue_name(queue_name)
            .send()
            .await
            .map_err(|error| context.sdk_error("GetQueueUrl", error))?;
        let url = output
            .queue_url()
            .ok_or_else(|| context.invalid_response("GetQueueUrl", "the answer has no QueueUrl"))?;
        let url = QueueUrl::parse(url)?;
        Ok(Self::build(client, url, endpoint))
    }

    /// A source for the queue at `queue_url` using an existing client.
    ///
    /// The client's endpoint override cannot be read back from it, so error messages name the
    /// endpoint as the queue URL's origin (scheme, host and port).
    pub fn from_client(client: Client, queue_url: &str) -> Result<Self, Error> {
        let url = QueueUrl::parse(queue_url)?;
        let endpoint = url.origin().to_owned();
        Ok(Self::build(client, url, endpoint))
    }

    fn build(client: Client, url: QueueUrl, endpoint: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                url,
                endpoint,
            }),
        }
    }

    /// The queue URL.
    pub fn queue_url(&self) -> &str {
        self.inner.url.as_str()
    }

    /// True for a FIFO queue (the name ends in `.fifo`).
    pub fn is_fifo(&self) -> bool {
        self.inner.url.is_fifo()
    }

    /// The SDK client, to make other requests (or build a [`crate::Producer`]) with the same settings.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The endpoint requests go to, as error messages name it.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    pub(crate) fn parsed_url(&self) -> &QueueUrl {
        &self.inner.url
    }

    fn context(&self) -> ErrorContext<'_> {
        ErrorContext {
            queue: self.inner.url.as_str(),
            endpoint: &self.inner.endpoint,
        }
    }
}

impl Source for SqsSource {
    type Error = Error;

    async fn receive(&self, request: ReceiveRequest) -> Result<Vec<RawMessage>, Error> {
        const OPERATION: &str = "ReceiveMessage";
        let mut call = self
            .inner
            .client
            .receive_message()
            .queue_url(self.queue_url())
            .max_number_of_messages(request.max_messages.clamp(1, workpool::MAX_BATCH) as i32)
            .wait_time_seconds(request.wait.min(workpool::MAX_WAIT).as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All");
        if let Some(timeout) = request.visibility_timeout {
            call = call.visibility_timeout(whole_seconds_up(timeout));
        }
        let output = call
            .send()
            .await
            .map_err(|error| self.context().sdk_error(OPERATION, error))?;
        output
            .messages()
            .iter()
            .map(|message| self.raw_message(message))
            .collect::<Result<Vec<_>, _>>()
    }

    async fn delete_batch(&self, receipt_handles: &[String]) -> Result<BatchOutcome, Error> {
        const OPERATION: &str = "DeleteMessageBatch";
        if receipt_handles.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let context = self.context();
        let entries = numbered_entries(&context, OPERATION, receipt_handles, |id, handle| {
            DeleteMessageBatchRequestEntry::builder()
                .id(id)
                .receipt_handle(handle)
                .build()
        })?;
        let output = self
            .inner
            .client
            .delete_message_batch()
            .queue_url(self.queue_url())
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|error| context.sdk_error(OPERATION, error))?;
        batch_outcome(&context, OPERATION, output.failed(), receipt_handles.len())
    }

    async fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> Result<BatchOutcome, Error> {
        const OPERATION: &str = "ChangeMessageVisibilityBatch";
        if changes.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let context = self.context();
        let entries = numbered_entries(&context, OPERATION, changes, |id, change| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(id)
                .receipt_handle(&change.receipt_handle)
                .visibility_timeout(whole_seconds_up(change.timeout))
                .build()
        })?;
        let output = self
            .inner
            .client
            .change_message_visibility_batch()
            .queue_url(self.queue_url())
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|error| context.sdk_error(OPERATION, error))?;
        batch_outcome(&context, OPERATION, output.failed(), changes.len())
    }

    async fn attributes(&self) -> Result<QueueAttributes, Error> {
        const OPERATION: &str = "GetQueueAttributes";
        let context = self.context();
        let output = self
            .inner
            .client
            .get_queue_attributes()
            .queue_url(self.queue_url())
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .attribute_names(QueueAttributeName::FifoQueue)
            .send()
            .await
            .map_err(|error| context.sdk_error(OPERATION, error))?;
        let empty = HashMap::new();
        let values = output.attributes().unwrap_or(&empty);
        let number = |name: QueueAttributeName| -> Result<u64, Error> {
            match values.get(&name) {
                None => Ok(0),
                Some(text) => text.parse().map_err(|_| {
                    context.invalid_response(
                        OPERATION,
                        format!("{} is `{text}`, not a number", name.as_str()),
                    )
                }),
            }
        };
        Ok(QueueAttributes {
            visible: number(QueueAttributeName::ApproximateNumberOfMessages)?,
            not_visible: number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
            delayed: number(QueueAttributeName::ApproximateNumberOfMessagesDelayed)?,
            visibility_timeout: Duration::from_secs(number(QueueAttributeName::VisibilityTimeout)?),
            fifo: values
                .get(&QueueAttributeName::FifoQueue)
                .map(|flag| flag.eq_ignore_ascii_case("true"))
                .unwrap_or_else(|| self.is_fifo()),
        })
    }

    fn name(&self) -> &str {
        self.inner.url.name()
    }
}

impl SqsSource {
    /// Converts one SDK message, reading the system attributes SQS returns as text.
    fn raw_message(&self, message: &Message) -> Result<RawMessage, Error> {
        const OPERATION: &str = "ReceiveMessage";
        let context = self.context();
        let message_id = message
            .message_id()
            .ok_or_else(|| context.invalid_response(OPERATION, "a message has no MessageId"))?;
        let receipt_handle = message
            .receipt_handle()
            .ok_or_else(|| context.invalid_response(OPERATION, "a message has no ReceiptHandle"))?;
        let mut metadata = Metadata::new(message_id, receipt_handle);
        let empty = HashMap::new();
        let system = message.attributes().unwrap_or(&empty);
        let text = |name: MessageSystemAttributeName| system.get(&name).cloned();
        if let Some(count) = text(MessageSystemAttributeName::ApproximateReceiveCount) {
            metadata.receive_count = count.parse().map_err(|_| {
                context.invalid_response(OPERATION, format!("ApproximateReceiveCount is `{count}`"))
            })?;
        }
        metadata.sent_at =
            text(MessageSystemAttributeName::SentTimestamp).and_then(|t| epoch_millis(&t));
        metadata.first_received_at =
            text(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp)
                .and_then(|t| epoch_millis(&t));
        metadata.sender_id = text(MessageSystemAttributeName::SenderId);
        metadata.group_id = text(MessageSystemAttributeName::MessageGroupId);
        metadata.deduplication_id = text(MessageSystemAttributeName::MessageDeduplicationId);
        metadata.sequence_number = text(MessageSystemAttributeName::SequenceNumber);
        if let Some(custom) = message.message_attributes() {
            metadata.attributes = custom
                .iter()
                .map(|(name, value)| (name.clone(), attributes::from_sdk(value)))
                .collect();
        }
        Ok(RawMessage {
            metadata,
            body: message.body().unwrap_or_default().to_owned(),
        })
    }
}

/// Maps the `Failed` entries of a batch answer back to request indexes (the entry ids).
fn batch_outcome(
    context: &ErrorContext<'_>,
    operation: &'static str,
    failed: &[BatchResultErrorEntry],
    entries: usize,
) -> Result<BatchOutcome, Error> {
    let failed = failed
        .iter()
        .map(|entry| {
            let index = entry
                .id()
                .parse::<usize>()
                .ok()
                .filter(|index| *index < entries)
                .ok_or_else(|| {
                    context.invalid_response(
                        operation,
                        format!("a failed entry has the unknown id `{}`", entry.id()),
                    )
                })?;
            Ok(EntryFailure {
                index,
                code: entry.code().to_owned(),
                message: entry.message().unwrap_or_default().to_owned(),
                sender_fault: entry.sender_fault(),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(BatchOutcome { failed })
}

/// Builds one batch entry per item with `entry`, whose id is the item's index: the id
/// [`batch_outcome`] maps a failed entry back by.
fn numbered_entries<T, Entry>(
    context: &ErrorContext<'_>,
    operation: &'static str,
    items: &[T],
    entry: impl Fn(String, &T) -> Result<Entry, aws_sdk_sqs::error::BuildError>,
) -> Result<Vec<Entry>, Error> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            entry(index.to_string(), item).map_err(|error| Error::Configuration {
                queue: context.queue.to_owned(),
                operation,
                reason: error.to_string(),
            })
        })
        .collect()
}

/// SQS takes whole seconds; a timeout is rounded up so a message is never visible earlier than asked.
fn whole_seconds_up(duration: Duration) -> i32 {
    let duration = duration.min(workpool::MAX_VISIBILITY);
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    seconds as i32
}

/// SQS timestamps are milliseconds since the Unix epoch, as text.
fn epoch_millis(text: &str) -> Option<SystemTime> {
    let millis = text.parse::<u64>().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_whole_seconds_and_cap_at_twelve_hours() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 0);
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds_up(Duration::from_secs(2 * 86_400)), 43_200);
    }

    #[test]
    fn failed_entries_map_back_to_their_request_index() {
        let context = ErrorContext {
            queue: "q",
            endpoint: "e",
        };
        let entry = BatchResultErrorEntry::builder()
            .id("3")
            .code("ReceiptHandleIsInvalid")
            .message("bad")
            .sender_fault(true)
            .build()
            .unwrap();
        let outcome = batch_outcome(&context, "DeleteMessageBatch", &[entry], 5).unwrap();
        assert_eq!(outcome.failed[0].index, 3);
        assert_eq!(outcome.failed[0].code, "ReceiptHandleIsInvalid");
        let stray = BatchResultErrorEntry::builder()
            .id("7")
            .code("X")
            .sender_fault(true)
            .build()
            .unwrap();
        assert!(batch_outcome(&context, "DeleteMessageBatch", &[stray], 5).is_err());
    }

    #[test]
    fn sqs_timestamps_are_epoch_milliseconds() {
        assert_eq!(
            epoch_millis("1500"),
            Some(UNIX_EPOCH + Duration::from_millis(1500))
        );
        assert_eq!(epoch_millis("soon"), None);
    }
}
