//! [`Producer`]: sends messages to a queue, batching them into `SendMessageBatch` calls.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::config::describe_endpoint;
use crate::error::ErrorContext;
use crate::queue_url::QueueUrl;
use crate::{attributes, Error, OutgoingMessage, SqsSource};

/// The default largest message, body and attributes together: 256 KiB, which every SQS queue
/// accepts (and the most one `SendMessageBatch` call may carry in total).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The largest message SQS accepts on a queue configured for it (1 MiB).
pub const SQS_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// The longest per-message delay SQS accepts (15 minutes).
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// Sends messages to one queue. Cheap to clone (the SDK client is shared).
///
/// [`Producer::send_all`] packs messages into `SendMessageBatch` calls of at most 10 entries and at
/// most [`Producer::max_message_bytes`] in total, sent one after another so FIFO order is kept.
#[derive(Debug, Clone)]
pub struct Producer {
    client: Client,
    url: QueueUrl,
    endpoint: String,
    max_message_bytes: usize,
}

/// One message that was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The message's index in the input (0 for [`Producer::send`]).
    pub index: usize,
    /// The id SQS gave it.
    pub message_id: String,
    /// Its sequence number (FIFO queues).
    pub sequence_number: Option<String>,
}

/// One message that was not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// The message's index in the input.
    pub index: usize,
    /// The error code: SQS's (such as `InvalidParameterValue`), or, when the producer refused the
    /// message before sending, `MessageTooLong` (its size) or `EmptyBody` (nothing to send).
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// True when the message itself is at fault (sending it again unchanged fails again).
    pub sender_fault: bool,
}

/// What [`Producer::send_all`] did, entry by entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    /// The messages that were sent, in input order.
    pub sent: Vec<SentMessage>,
    /// The messages that were not sent, in input order.
    pub failed: Vec<SendFailure>,
    /// How many `SendMessageBatch` calls were made.
    pub batch_calls: usize,
}

impl SendReport {
    /// True when every message was sent.
    pub fn all_sent(&self) -> bool {
        self.failed.is_empty()
    }
}

impl Producer {
    /// A producer for the queue at `queue_url`, using `client`. Checks that the URL parses.
    pub fn new(client: Client, queue_url: &str) -> Result<Self, Error> {
        let url = QueueUrl::parse(queue_url)?;
        let endpoint = url.origin().to_owned();
        Ok(Self {
            client,
            url,
            endpoint,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        })
    }

    /// A producer for the queue at `queue_url`, with a client built from `config`.
    pub fn from_queue_url(config: &SdkConfig, queue_url: &str) -> Result<Self, Error> {
        let url = QueueUrl::parse(queue_url)?;
        Ok(Self {
            client: Client::new(config),
            url,
            endpoint: describe_endpoint(config),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        })
    }

    /// A producer for the same queue and client as `source`.
    pub fn for_source(source: &SqsSource) -> Self {
        Self {
            client: source.client().clone(),
            url: source.parsed_url().clone(),
            endpoint: source.endpoint().to_owned(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Sets the largest message (body and attributes) and the largest batch call, in bytes, from 1 to
    /// [`SQS_MAX_MESSAGE_BYTES`]. Default: [`DEFAULT_MAX_MESSAGE_BYTES`] (256 KiB). Raise it only for a
    /// queue whose `MaximumMessageSize` allows more.
    pub fn max_message_bytes(mut self, bytes: usize) -> Result<Self, Error> {
        if !(1..=SQS_MAX_MESSAGE_BYTES).contains(&bytes) {
            return Err(Error::InvalidSetting {
                queue: self.url.to_string(),
                setting: "max_message_bytes",
                reason: format!("{bytes} is outside 1..={SQS_MAX_MESSAGE_BYTES}"),
            });
        }
        self.max_message_bytes = bytes;
        Ok(self)
    }

    /// The queue URL.
    pub fn queue_url(&self) -> &str {
        self.url.as_str()
    }

    /// Sends one message with `SendMessage`. A message over the size limit
    /// ([`Error::MessageTooLarge`]) or with an empty body ([`Error::EmptyBody`]) is refused without a
    /// request.
    pub async fn send(&self, message: OutgoingMessage) -> Result<SentMessage, Error> {
        const OPERATION: &str = "SendMessage";
        let context = self.context();
        if message.body().is_empty() {
            return Err(Error::EmptyBody {
                queue: self.url.to_string(),
            });
        }
        let size = message.size();
        if size > self.max_message_bytes {
            return Err(Error::MessageTooLarge {
                queue: self.url.to_string(),
                size,
                limit: self.max_message_bytes,
            });
        }
        let mut call = self
            .client
            .send_message()
            .queue_url(self.url.as_str())
            .message_body(message.body())
            .set_message_group_id(message.get_group_id().map(str::to_owned))
            .set_message_deduplication_id(message.get_deduplication_id().map(str::to_owned))
            .set_delay_seconds(message.get_delay().map(delay_seconds));
        for (name, attribute) in message.attributes() {
            let value = attributes::to_sdk(attribute).map_err(|reason| Error::Configuration {
                queue: self.url.to_string(),
                operation: OPERATION,
                reason: format!("attribute `{name}`: {reason}"),
            })?;
            call = call.message_attributes(name, value);
        }
        let output = call
            .send()
            .await
            .map_err(|error| context.sdk_error(OPERATION, error))?;
        let message_id = output
            .message_id()
            .ok_or_else(|| context.invalid_response(OPERATION, "the answer has no MessageId"))?;
        Ok(SentMessage {
            index: 0,
            message_id: message_id.to_owned(),
            sequence_number: output.sequence_number().map(str::to_owned),
        })
    }

    /// Sends many messages with `SendMessageBatch`, 10 (and at most the size limit) per call, in
    /// input order. Messages SQS refuses, and messages over the size limit or with an empty body
    /// (refused before sending), are reported in [`SendReport::failed`] by input index; the rest are
    /// sent.
    ///
    /// When a call fails as a whole (unreachable, throttled, no such queue), sending stops: the error
    /// is returned as is when nothing was sent yet, or as [`Error::SendInterrupted`] saying how many
    /// were sent.
    pub async fn send_all(
        &self,
        messages: impl IntoIterator<Item = OutgoingMessage>,
    ) -> Result<SendReport, Error> {
        let mut report = SendReport::default();
        let mut batch: Vec<(usize, OutgoingMessage)> = Vec::with_capacity(workpool::MAX_BATCH);
        let mut batch_bytes = 0;
        for (index, message) in messages.into_iter().enumerate() {
            if message.body().is_empty() {
                report.failed.push(SendFailure {
                    index,
                    code: "EmptyBody".into(),
                    message: "the body is empty; SQS needs at least one character".into(),
                    sender_fault: true,
                });
                continue;
            }
            let size = message.size();
            if size > self.max_message_bytes {
                report.failed.push(SendFailure {
                    index,
                    code: "MessageTooLong".into(),
                    message: format!(
                        "the message is {size} bytes (body and attributes), over the limit of {} \
                         bytes; store the payload elsewhere (e.g. S3) and send a reference",
                        self.max_message_bytes
                    ),
                    sender_fault: true,
                });
                continue;
            }
            if batch.len() == workpool::MAX_BATCH || batch_bytes + size > self.max_message_bytes {
                self.flush(&mut batch, &mut report).await?;
                batch_bytes = 0;
            }
            batch_bytes += size;
            batch.push((index, message));
        }
        self.flush(&mut batch, &mut report).await?;
        report.failed.sort_by_key(|failure| failure.index);
        Ok(report)
    }

    /// Sends the pending batch (if any) as one `SendMessageBatch` call and records the outcome.
    async fn flush(
        &self,
        batch: &mut Vec<(usize, OutgoingMessage)>,
        report: &mut SendReport,
    ) -> Result<(), Error> {
        const OPERATION: &str = "SendMessageBatch";
        if batch.is_empty() {
            return Ok(());
        }
        let context = self.context();
        let indexes: Vec<usize> = batch.iter().map(|(index, _)| *index).collect();
        let mut entries = Vec::with_capacity(batch.len());
        for (position, (index, message)) in batch.drain(..).enumerate() {
            match self.batch_entry(position, &message) {
                Ok(entry) => entries.push(entry),
                Err(reason) => report.failed.push(SendFailure {
                    index,
                    code: "InvalidAttribute".into(),
                    message: reason,
                    sender_fault: true,
                }),
            }
        }
        if entries.is_empty() {
            return Ok(());
        }
        report.batch_calls += 1;
        let output = self
            .client
            .send_message_batch()
            .queue_url(self.url.as_str())
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|error| {
                let error = context.sdk_error(OPERATION, error);
                if report.sent.is_empty() {
                    error
                } else {
                    Error::SendInterrupted {
                        queue: self.url.to_string(),
                        sent: report.sent.len(),
                        source: Box::new(error),
                    }
                }
            })?;
        let input_index = |id: &str| -> Result<usize, Error> {
            id.parse::<usize>()
                .ok()
                .and_then(|position| indexes.get(position).copied())
                .ok_or_else(|| {
                    context
                        .invalid_response(OPERATION, format!("an entry has the unknown id `{id}`"))
                })
        };
        for entry in output.successful() {
            report.sent.push(SentMessage {
                index: input_index(entry.id())?,
                message_id: entry.message_id().to_owned(),
                sequence_number: entry.sequence_number().map(str::to_owned),
            });
        }
        for entry in output.failed() {
            report.failed.push(SendFailure {
                index: input_index(entry.id())?,
                code: entry.code().to_owned(),
                message: entry.message().unwrap_or_default().to_owned(),
                sender_fault: entry.sender_fault(),
            });
        }
        report.sent.sort_by_key(|sent| sent.index);
        Ok(())
    }

    /// One batch entry with id `position` (its place in this request), or why it cannot be built.
    fn batch_entry(
        &self,
        position: usize,
        message: &OutgoingMessage,
    ) -> Result<SendMessageBatchRequestEntry, String> {
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(position.to_string())
            .message_body(message.body())
            .set_message_group_id(message.get_group_id().map(str::to_owned))
            .set_message_deduplication_id(message.get_deduplication_id().map(str::to_owned))
            .set_delay_seconds(message.get_delay().map(delay_seconds));
        for (name, attribute) in message.attributes() {
            let value = attributes::to_sdk(attribute)
                .map_err(|reason| format!("attribute `{name}`: {reason}"))?;
            entry = entry.message_attributes(name, value);
        }
        entry.build().map_err(|error| error.to_string())
    }

    fn context(&self) -> ErrorContext<'_> {
        ErrorContext {
            queue: self.url.as_str(),
            endpoint: &self.endpoint,
        }
    }
}

/// SQS takes the delay in whole seconds; sub-second parts round up, and values over 15 minutes are
/// sent as they are so that SQS reports the entry as invalid.
fn delay_seconds(delay: Duration) -> i32 {
    let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_to_whole_seconds() {
        assert_eq!(delay_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(delay_seconds(Duration::from_secs(900)), 900);
    }
}
