//! Queue depth from SQS `GetQueueAttributes`.

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName;

use super::aws_error;
use crate::error::Error;
use crate::observation::QueueReading;
use crate::ports::QueueDepth;

/// An SQS call's error: [`Error::UnknownQueue`] when SQS says the queue does not exist (it may be
/// deleted while the controller runs), else [`Error::Aws`].
fn sqs_error<E>(operation: &'static str, queue: &str, error: E) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if error
        .code()
        .is_some_and(workpool_sqs::is_missing_queue_code)
    {
        Error::UnknownQueue(queue.to_owned())
    } else {
        aws_error(operation, queue, error)
    }
}

/// Reads a queue's approximate depth with one `GetQueueAttributes` call.
#[derive(Debug, Clone)]
pub struct SqsQueueDepth {
    client: aws_sdk_sqs::Client,
    name: String,
    url: String,
}

impl SqsQueueDepth {
    /// Finds the queue named `name` (`GetQueueUrl`); [`Error::UnknownQueue`] when it does not exist.
    pub async fn resolve(client: aws_sdk_sqs::Client, name: &str) -> Result<Self, Error> {
        match client.get_queue_url().queue_name(name).send().await {
            Ok(output) => Ok(Self {
                url: output.queue_url().unwrap_or_default().to_owned(),
                client,
                name: name.to_owned(),
            }),
            Err(error) => Err(sqs_error("GetQueueUrl", name, error)),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl QueueDepth for SqsQueueDepth {
    fn queue_name(&self) -> &str {
        &self.name
    }

    async fn read(&self) -> Result<QueueReading, Error> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| sqs_error("GetQueueAttributes", &self.name, e))?;
        let attributes = output.attributes();
        let count = |name: QueueAttributeName| -> Result<u64, Error> {
            let text = attributes
                .and_then(|map| map.get(&name))
                .map(String::as_str)
                .unwrap_or("0");
            text.parse().map_err(|_| Error::Aws {
                operation: "GetQueueAttributes",
                resource: self.name.clone(),
                message: format!("{} is not a count: `{text}`", name.as_str()),
            })
        };
        Ok(QueueReading {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages)?,
            not_visible: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
            delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed)?,
        })
    }
}
