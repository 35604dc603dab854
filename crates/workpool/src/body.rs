//! Typed message bodies: [`FromBody`] and the wrappers [`Json`] and [`Sns`].

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Decodes a message body. Implemented for [`String`] (as sent), [`Bytes`], [`Json<T>`] and
/// [`Sns<T>`]; a body that does not decode becomes a handler failure with the reason, never a crash.
pub trait FromBody: Sized + Send + 'static {
    /// Decodes `body`, or says why it cannot be.
    fn from_body(body: String) -> Result<Self, BodyError>;
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode the body as {expected}: {reason}")]
pub struct BodyError {
    /// What the body was expected to be (e.g. `JSON` or `an SNS notification`).
    pub expected: &'static str,
    /// What was wrong, with the position where the decoder reports one.
    pub reason: String,
}

impl FromBody for String {
    fn from_body(body: String) -> Result<Self, BodyError> {
        Ok(body)
    }
}

impl FromBody for Bytes {
    fn from_body(body: String) -> Result<Self, BodyError> {
        Ok(Bytes::from(body))
    }
}

/// A JSON body, deserialised with serde into `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The deserialised value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Send + 'static> FromBody for Json<T> {
    fn from_body(body: String) -> Result<Self, BodyError> {
        if body.trim().is_empty() {
            return Err(BodyError {
                expected: "JSON",
                reason: "the body is empty".into(),
            });
        }
        serde_json::from_str(&body)
            .map(Json)
            .map_err(|error| BodyError {
                expected: "JSON",
                reason: error.to_string(),
            })
    }
}

/// A message that SNS delivered to the queue: the notification envelope is unwrapped and its inner
/// `Message` decoded as `T` (any [`FromBody`], e.g. `Sns<Json<Order>>` or `Sns<String>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sns<T> {
    /// The decoded inner message.
    pub message: T,
    /// The envelope's `TopicArn`.
    pub topic_arn: Option<String>,
    /// The envelope's `Subject`.
    pub subject: Option<String>,
    /// The envelope's `MessageId` (SNS's, not the queue's).
    pub sns_message_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: Option<String>,
    message: String,
    topic_arn: Option<String>,
    subject: Option<String>,
    message_id: Option<String>,
}

impl<T: FromBody> FromBody for Sns<T> {
    fn from_body(body: String) -> Result<Self, BodyError> {
        let envelope: SnsEnvelope = serde_json::from_str(&body).map_err(|error| BodyError {
            expected: "an SNS notification",
            reason: error.to_string(),
        })?;
        if let Some(kind) = envelope
            .kind
            .as_deref()
            .filter(|kind| *kind != "Notification")
        {
            return Err(BodyError {
                expected: "an SNS notification",
                reason: format!("the envelope's Type is {kind:?}, not \"Notification\""),
            });
        }
        let message = T::from_body(envelope.message).map_err(|inner| BodyError {
            expected: "an SNS notification",
            reason: format!("its inner Message: {inner}"),
        })?;
        Ok(Self {
            message,
            topic_arn: envelope.topic_arn,
            subject: envelope.subject,
            sns_message_id: envelope.message_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Job {
        height: u32,
    }

    #[test]
    fn json_decodes_a_matching_body() {
        let Json(job) = Json::<Job>::from_body(r#"{"height": 720}"#.into()).unwrap();
        assert_eq!(job, Job { height: 720 });
    }

    #[test]
    fn json_names_the_problem_in_a_body_of_the_wrong_shape() {
        let error = Json::<Job>::from_body(r#"{"width": 1}"#.into()).unwrap_err();
        assert!(
            error.to_string().contains("missing field `height`"),
            "{error}"
        );
    }

    #[test]
    fn json_rejects_an_empty_body_saying_so() {
        let error = Json::<Job>::from_body("  ".into()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot decode the body as JSON: the body is empty"
        );
    }

    #[test]
    fn json_rejects_text_that_is_not_json() {
        let error = Json::<Job>::from_body("hello".into()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot decode the body as JSON: expected"),
            "{error}"
        );
    }

    #[test]
    fn sns_unwraps_the_envelope_and_decodes_the_inner_message() {
        let body = r#"{"Type":"Notification","MessageId":"m1","TopicArn":"arn:aws:sns:us-east-1:1:t",
            "Subject":"s","Message":"{\"height\":480}"}"#;
        let sns = Sns::<Json<Job>>::from_body(body.into()).unwrap();
        assert_eq!(sns.message.0, Job { height: 480 });
        assert_eq!(sns.topic_arn.as_deref(), Some("arn:aws:sns:us-east-1:1:t"));
        assert_eq!(sns.sns_message_id.as_deref(), Some("m1"));
    }

    #[test]
    fn sns_with_a_broken_inner_message_says_it_is_the_inner_message() {
        let body = r#"{"Type":"Notification","Message":"{not json"}"#;
        let error = Sns::<Json<Job>>::from_body(body.into()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("its inner Message: cannot decode the body as JSON"),
            "{error}"
        );
    }

    #[test]
    fn sns_rejects_a_body_that_is_not_an_envelope() {
        let error = Sns::<String>::from_body(r#"{"height": 1}"#.into()).unwrap_err();
        assert!(
            error.to_string().contains("missing field `Message`"),
            "{error}"
        );
    }

    #[test]
    fn sns_rejects_a_subscription_confirmation() {
        let body = r#"{"Type":"SubscriptionConfirmation","Message":"confirm"}"#;
        let error = Sns::<String>::from_body(body.into()).unwrap_err();
        assert!(
            error.to_string().contains("SubscriptionConfirmation"),
            "{error}"
        );
    }
}
