//! [`HandoffBody`]: the message bodies the hand-off services pass on as they are.

use bytes::Bytes;
use workpool::{FromBody, Sns};

/// A decoded message body the sidecar hands to the app unchanged: the raw body ([`String`],
/// [`Bytes`]) or the inner message of an SNS notification ([`Sns<String>`], for SNS unwrapping).
pub trait HandoffBody: FromBody {
    /// The bytes to hand to the app.
    fn into_bytes(self) -> Bytes;
}

impl HandoffBody for String {
    fn into_bytes(self) -> Bytes {
        Bytes::from(self)
    }
}

impl HandoffBody for Bytes {
    fn into_bytes(self) -> Bytes {
        self
    }
}

impl HandoffBody for Sns<String> {
    fn into_bytes(self) -> Bytes {
        Bytes::from(self.message)
    }
}
