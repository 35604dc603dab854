//! What an AWS service answered when a call failed, in one line: shared by every workpool crate that
//! calls AWS (SQS here, Auto Scaling and CloudWatch in the controller and the sidecar), so that each
//! reports errors the same way.

use std::error::Error as StdError;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use workpool::error_chain;

/// SQS error codes meaning "no such queue": the JSON protocol's, and the query-compatible one the
/// SDK reports when the response header carries it.
pub(crate) const NO_QUEUE_CODES: &[&str] = &[
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
];

/// Whether an SQS error code says the queue does not exist (either spelling).
pub fn is_missing_queue_code(code: &str) -> bool {
    NO_QUEUE_CODES.contains(&code)
}

/// An AWS SDK error in one line: the service's `code: message` (or the code alone) when the service
/// answered, else the error's causes, each once (a timeout, a refused connection, missing
/// credentials), instead of the SDK's debug dump with headers and body.
pub fn service_error_text<E>(error: &E) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        (None, _) => error_chain(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::error::ErrorMetadata;

    /// An error carrying whatever metadata a test gives it, with a cause.
    #[derive(Debug)]
    struct Failed {
        metadata: ErrorMetadata,
        cause: Option<std::io::Error>,
    }

    impl std::fmt::Display for Failed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("dispatch failure")
        }
    }

    impl StdError for Failed {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.cause.as_ref().map(|cause| cause as _)
        }
    }

    impl ProvideErrorMetadata for Failed {
        fn meta(&self) -> &ErrorMetadata {
            &self.metadata
        }
    }

    #[test]
    fn a_service_answer_reads_as_its_code_and_message() {
        let answered = Failed {
            metadata: ErrorMetadata::builder()
                .code("ValidationError")
                .message("Group g not found")
                .build(),
            cause: None,
        };
        assert_eq!(
            service_error_text(&answered),
            "ValidationError: Group g not found"
        );
        let code_only = Failed {
            metadata: ErrorMetadata::builder().code("Throttling").build(),
            cause: None,
        };
        assert_eq!(service_error_text(&code_only), "Throttling");
    }

    #[test]
    fn an_error_the_service_never_answered_reads_as_its_causes() {
        let unanswered = Failed {
            metadata: ErrorMetadata::builder().build(),
            cause: Some(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            )),
        };
        assert_eq!(
            service_error_text(&unanswered),
            "dispatch failure: connection refused"
        );
    }

    #[test]
    fn both_spellings_of_a_missing_queue_are_recognised() {
        assert!(is_missing_queue_code("QueueDoesNotExist"));
        assert!(is_missing_queue_code(
            "AWS.SimpleQueueService.NonExistentQueue"
        ));
        assert!(!is_missing_queue_code("AccessDenied"));
    }
}
