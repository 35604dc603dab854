//! The one error type of `workpool-sqs`, and how AWS SDK errors map onto it.

use std::error::Error as StdError;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use workpool::error_chain;

use crate::service_error::is_missing_queue_code;

/// Everything that can go wrong talking to SQS. Every variant names the queue (its URL, or its name
/// before the URL is known) and, where it helps, the endpoint, and says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The queue URL does not parse; SQS queue URLs look like
    /// `https://sqs.us-east-1.amazonaws.com/123456789012/jobs`.
    #[error(
        "queue URL `{url}` is not valid: {reason}; expected a URL like \
         https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
    )]
    InvalidQueueUrl {
        /// The text that was given as a queue URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The queue name breaks SQS's naming rule (1 to 80 letters, digits, `-`, `_`, optional `.fifo`).
    #[error("queue name `{name}` is not valid: {reason}")]
    InvalidQueueName {
        /// The name that was given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The queue does not exist at this endpoint (`QueueDoesNotExist`,
    /// `AWS.SimpleQueueService.NonExistentQueue`).
    #[error(
        "queue `{queue}` does not exist at {endpoint}: check the queue name or URL, the region and \
         the account, or create the queue"
    )]
    QueueDoesNotExist {
        /// The queue URL or name that was asked for.
        queue: String,
        /// The endpoint that answered.
        endpoint: String,
    },

    /// No connection could be made to the endpoint, or it broke off (refused, DNS, TLS, I/O).
    #[error(
        "cannot reach the SQS endpoint {endpoint} for queue `{queue}` ({operation}): {reason}; check \
         AWS_ENDPOINT_URL (or the endpoint override), the region and the network"
    )]
    Unreachable {
        /// The queue URL or name.
        queue: String,
        /// The endpoint the request was sent to.
        endpoint: String,
        /// The SQS operation, such as `ReceiveMessage`.
        operation: &'static str,
        /// The underlying connection error, with its causes.
        reason: String,
    },

    /// The request took longer than the configured timeout.
    #[error(
        "request {operation} for queue `{queue}` to {endpoint} timed out: {reason}; check the \
         network, or raise the SDK timeouts"
    )]
    Timeout {
        /// The queue URL or name.
        queue: String,
        /// The endpoint the request was sent to.
        endpoint: String,
        /// The SQS operation.
        operation: &'static str,
        /// The underlying timeout error.
        reason: String,
    },

    /// No AWS credentials were found, so the request could not be signed.
    #[error(
        "no AWS credentials for queue `{queue}` ({operation}): {reason}; provide them with \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, or an \
         instance role"
    )]
    MissingCredentials {
        /// The queue URL or name.
        queue: String,
        /// The SQS operation.
        operation: &'static str,
        /// What the credentials provider said.
        reason: String,
    },

    /// The request could not be built from the configuration (for example no region is set).
    #[error(
        "cannot build the {operation} request for queue `{queue}`: {reason}; check the AWS \
         configuration (AWS_REGION, AWS_ENDPOINT_URL, the profile)"
    )]
    Configuration {
        /// The queue URL or name.
        queue: String,
        /// The SQS operation.
        operation: &'static str,
        /// What went wrong, with its causes.
        reason: String,
    },

    /// SQS throttled the request; back off and retry later.
    #[error(
        "SQS throttled {operation} on queue `{queue}` ({code}: {message}); back off and retry later"
    )]
    Throttled {
        /// The queue URL or name.
        queue: String,
        /// The SQS operation.
        operation: &'static str,
        /// The error code, such as `RequestThrottled`.
        code: String,
        /// The service's message.
        message: String,
    },

    /// SQS refused the request for another reason; the code and message say why.
    #[error("SQS refused {operation} on queue `{queue}` at {endpoint}: {code}: {message}")]
    Service {
        /// The queue URL or name.
        queue: String,
        /// The endpoint that answered.
        endpoint: String,
        /// The SQS operation.
        operation: &'static str,
        /// The error code, such as `AccessDenied` or `InvalidParameterValue`.
        code: String,
        /// The service's message.
        message: String,
    },

    /// The answer could not be understood (not SQS, or a field it must have is missing).
    #[error(
        "unexpected answer to {operation} for queue `{queue}` from {endpoint}: {reason}; check that \
         the endpoint is SQS"
    )]
    InvalidResponse {
        /// The queue URL or name.
        queue: String,
        /// The endpoint that answered.
        endpoint: String,
        /// The SQS operation.
        operation: &'static str,
        /// What was wrong with the answer.
        reason: String,
    },

    /// One message is larger than SQS accepts; store the payload elsewhere (S3) and send a reference.
    #[error(
        "message for queue `{queue}` is {size} bytes (body and attributes), over the limit of \
         {limit} bytes; store the payload elsewhere (e.g. S3) and send a reference"
    )]
    MessageTooLarge {
        /// The queue URL.
        queue: String,
        /// The message's size as SQS counts it.
        size: usize,
        /// The limit.
        limit: usize,
    },

    /// The message's body is empty. SQS refuses it (`MissingParameter`), though some emulators
    /// accept it; send at least one character.
    #[error(
        "message for queue `{queue}` has an empty body; SQS needs at least one character (send a \
         placeholder such as `{{}}` if the message carries nothing)"
    )]
    EmptyBody {
        /// The queue URL.
        queue: String,
    },

    /// A setting is out of range; the message names the setting and the allowed range.
    #[error("queue `{queue}`: invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The queue URL.
        queue: String,
        /// The setting, such as `max_message_bytes`.
        setting: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },

    /// Sending several messages stopped part-way: the first `sent` messages (in input order) went
    /// out; the rest were not sent because of `source`.
    #[error("queue `{queue}`: sending stopped after {sent} messages were sent: {source}")]
    SendInterrupted {
        /// The queue URL.
        queue: String,
        /// How many messages were sent before the failure (the input's first `sent`, minus any
        /// per-entry failures among them).
        sent: usize,
        /// Why the batch call failed.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// True when SQS throttled the request: the caller should back off before retrying.
    pub fn is_throttling(&self) -> bool {
        match self {
            Error::Throttled { .. } => true,
            Error::SendInterrupted { source, .. } => source.is_throttling(),
            _ => false,
        }
    }

    /// True when the same request may succeed later (throttling, timeouts, connection trouble,
    /// server-side faults); false when something must be fixed first.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Throttled { .. } | Error::Timeout { .. } | Error::Unreachable { .. } => true,
            Error::Service { code, .. } => {
                matches!(
                    code.as_str(),
                    "InternalError" | "ServiceUnavailable" | "InternalFailure"
                )
            }
            Error::SendInterrupted { source, .. } => source.is_transient(),
            _ => false,
        }
    }
}

/// Error codes SQS (and AWS in general) uses for throttling.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "AWS.SimpleQueueService.RequestThrottled",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "KmsThrottled",
];

/// What an error is about: the queue and the endpoint, for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorContext<'a> {
    /// The queue URL or name.
    pub queue: &'a str,
    /// The endpoint, as the user would recognise it.
    pub endpoint: &'a str,
}

impl ErrorContext<'_> {
    /// Maps an SDK error of `operation` to an [`Error`].
    pub(crate) fn sdk_error<E, R>(&self, operation: &'static str, error: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: std::fmt::Debug + 'static,
    {
        let queue = self.queue.to_owned();
        let endpoint = self.endpoint.to_owned();
        match &error {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().unwrap_or("Unknown").to_owned();
                let message = inner
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| error_chain(inner));
                self.service_error(operation, code, message)
            }
            SdkError::DispatchFailure(dispatch) => {
                let reason = error_chain(&error);
                if mentions_credentials(&error) {
                    Error::MissingCredentials {
                        queue,
                        operation,
                        reason: credentials_reason(reason),
                    }
                } else if dispatch.is_timeout() {
                    Error::Timeout {
                        queue,
                        endpoint,
                        operation,
                        reason,
                    }
                } else {
                    Error::Unreachable {
                        queue,
                        endpoint,
                        operation,
                        reason,
                    }
                }
            }
            SdkError::TimeoutError(_) => Error::Timeout {
                queue,
                endpoint,
                operation,
                reason: error_chain(&error),
            },
            SdkError::ConstructionFailure(_) => {
                let reason = error_chain(&error);
                if mentions_credentials(&error) {
                    Error::MissingCredentials {
                        queue,
                        operation,
                        reason: credentials_reason(reason),
                    }
                } else {
                    Error::Configuration {
                        queue,
                        operation,
                        reason,
                    }
                }
            }
            SdkError::ResponseError(_) => Error::InvalidResponse {
                queue,
                endpoint,
                operation,
                reason: error_chain(&error),
            },
            _ => Error::InvalidResponse {
                queue,
                endpoint,
                operation,
                reason: error_chain(&error),
            },
        }
    }

    /// Maps a service error code and message to an [`Error`].
    pub(crate) fn service_error(
        &self,
        operation: &'static str,
        code: String,
        message: String,
    ) -> Error {
        let queue = self.queue.to_owned();
        let endpoint = self.endpoint.to_owned();
        if is_missing_queue_code(&code) {
            Error::QueueDoesNotExist { queue, endpoint }
        } else if THROTTLING_CODES.contains(&code.as_str()) {
            Error::Throttled {
                queue,
                operation,
                code,
                message,
            }
        } else {
            Error::Service {
                queue,
                endpoint,
                operation,
                code,
                message,
            }
        }
    }

    /// An answer that lacks something SQS always sends.
    pub(crate) fn invalid_response(
        &self,
        operation: &'static str,
        reason: impl Into<String>,
    ) -> Error {
        Error::InvalidResponse {
            queue: self.queue.to_owned(),
            endpoint: self.endpoint.to_owned(),
            operation,
            reason: reason.into(),
        }
    }
}

/// The SDK's text for "no credentials provider at all" explains how to regenerate a client model;
/// say what it means instead.
fn credentials_reason(reason: String) -> String {
    if reason.contains("no identity resolver") {
        "no credentials provider is configured".to_owned()
    } else {
        reason
    }
}

/// True when some cause in the chain is a credentials failure. The SDK reports a missing identity as
/// a dispatch or construction failure: either no credentials provider at all ("no identity
/// resolver"), or a provider chain that found nothing (`CredentialsNotLoaded`, "credentials").
fn mentions_credentials(error: &(dyn StdError + 'static)) -> bool {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = cause {
        let text = format!("{current} {current:?}").to_ascii_lowercase();
        if text.contains("credential")
            || text.contains("identity resolver")
            || text.contains("no identity")
        {
            return true;
        }
        cause = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: ErrorContext<'static> = ErrorContext {
        queue: "https://sqs.example/1/jobs",
        endpoint: "http://127.0.0.1:1",
    };

    #[test]
    fn both_spellings_of_a_missing_queue_map_to_queue_does_not_exist() {
        for code in crate::service_error::NO_QUEUE_CODES {
            let error = CONTEXT.service_error("ReceiveMessage", (*code).into(), "gone".into());
            assert!(
                matches!(error, Error::QueueDoesNotExist { .. }),
                "{code}: {error:?}"
            );
            assert!(error.to_string().contains("https://sqs.example/1/jobs"));
        }
    }

    #[test]
    fn throttling_codes_are_distinguishable_and_transient() {
        let error =
            CONTEXT.service_error("ReceiveMessage", "RequestThrottled".into(), "slow".into());
        assert!(error.is_throttling());
        assert!(error.is_transient());
        let wrapped = Error::SendInterrupted {
            queue: "q".into(),
            sent: 10,
            source: Box::new(error),
        };
        assert!(wrapped.is_throttling());
    }

    #[test]
    fn other_codes_keep_code_and_message() {
        let error = CONTEXT.service_error("DeleteMessageBatch", "AccessDenied".into(), "no".into());
        assert!(!error.is_throttling());
        assert!(!error.is_transient());
        let text = error.to_string();
        assert!(text.contains("AccessDenied: no"), "{text}");
        assert!(text.contains("DeleteMessageBatch"), "{text}");
    }
}
