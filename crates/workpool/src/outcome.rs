//! Handler outcomes as typed values: [`Outcome`], [`Retry`] and [`Discard`].
//!
//! A handler returns `Result<R, E>` where `R: Into<Outcome>` (`()` means done) and `E` converts into a
//! boxed error. The consumer turns the result into exactly one [`Outcome`]; the acknowledgement code
//! turns each outcome into exactly one queue action.

use crate::error_chain;
use std::time::Duration;

/// A boxed error, what handlers usually return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What became of one message, decided once per delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled: delete the message.
    Done,
    /// Try again after this long: set the message's visibility timeout to it.
    Retry(Duration),
    /// Failed: back off according to the consumer's failure policy.
    Failed(String),
    /// Not worth handling: delete it without handling it (logged and counted as discarded).
    Discard(String),
}

impl From<()> for Outcome {
    fn from((): ()) -> Self {
        Outcome::Done
    }
}

/// Return `Err(Retry::after(d).into())` (or `Ok(Outcome::Retry(d))`) to have the message come back
/// after `d` instead of after the failure policy's backoff. `d` is capped at SQS's 12 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("retry requested in {0:?}")]
pub struct Retry(pub Duration);

impl Retry {
    /// Retry after `delay`.
    pub fn after(delay: Duration) -> Self {
        Retry(delay)
    }
}

/// Return `Err(Discard::because("…").into())` (or `Ok(Outcome::Discard(…))`) to delete a message that
/// can never succeed without sending it through retries to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("discarded: {0}")]
pub struct Discard(pub String);

impl Discard {
    /// Discard, for this reason (logged).
    pub fn because(reason: impl Into<String>) -> Self {
        Discard(reason.into())
    }
}

impl Outcome {
    /// The outcome of a handler's result: `Ok(r)` is `r.into()`; an error that is a [`Retry`] or a
    /// [`Discard`] becomes that outcome; any other error is [`Outcome::Failed`] with its message chain.
    pub fn from_result<R: Into<Outcome>, E: Into<BoxError>>(result: Result<R, E>) -> Self {
        match result {
            Ok(response) => response.into(),
            Err(error) => {
                let error: BoxError = error.into();
                if let Some(retry) = error.downcast_ref::<Retry>() {
                    return Outcome::Retry(retry.0);
                }
                if let Some(discard) = error.downcast_ref::<Discard>() {
                    return Outcome::Discard(discard.0.clone());
                }
                Outcome::Failed(error_chain(&*error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_unit_is_done() {
        assert_eq!(Outcome::from_result::<(), BoxError>(Ok(())), Outcome::Done);
    }

    #[test]
    fn a_retry_error_becomes_a_retry_outcome() {
        let result: Result<(), BoxError> = Err(Retry::after(Duration::from_secs(7)).into());
        assert_eq!(
            Outcome::from_result(result),
            Outcome::Retry(Duration::from_secs(7))
        );
    }

    #[test]
    fn a_discard_error_becomes_a_discard_outcome() {
        let result: Result<(), BoxError> = Err(Discard::because("bad").into());
        assert_eq!(Outcome::from_result(result), Outcome::Discard("bad".into()));
    }

    #[test]
    fn any_other_error_is_a_failure_with_its_message() {
        let result: Result<(), BoxError> = Err("disk full".into());
        assert_eq!(
            Outcome::from_result(result),
            Outcome::Failed("disk full".into())
        );
    }

    #[test]
    fn a_handler_may_return_an_outcome_directly() {
        let result: Result<Outcome, BoxError> = Ok(Outcome::Retry(Duration::from_secs(1)));
        assert_eq!(
            Outcome::from_result(result),
            Outcome::Retry(Duration::from_secs(1))
        );
    }
}
