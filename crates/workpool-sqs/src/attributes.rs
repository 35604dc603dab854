//! Conversions between workpool's message attributes and the SDK's `MessageAttributeValue`.

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::MessageAttributeValue;
use workpool::{AttributeValue, MessageAttribute};

/// The SDK form of an attribute, or why it cannot be built (an empty data type).
pub(crate) fn to_sdk(attribute: &MessageAttribute) -> Result<MessageAttributeValue, String> {
    let builder = MessageAttributeValue::builder().data_type(&attribute.data_type);
    let builder = match &attribute.value {
        AttributeValue::Text(text) => builder.string_value(text),
        AttributeValue::Binary(bytes) => builder.binary_value(Blob::new(bytes.to_vec())),
    };
    builder.build().map_err(|error| error.to_string())
}

/// The workpool form of an attribute SQS returned. `Binary` types (and their custom suffixes) carry
/// bytes; `String` and `Number` carry text.
pub(crate) fn from_sdk(value: &MessageAttributeValue) -> MessageAttribute {
    let data_type = value.data_type().to_owned();
    let value = if data_type.starts_with("Binary") {
        let bytes = value
            .binary_value()
            .map(|blob| blob.as_ref())
            .unwrap_or_default();
        AttributeValue::Binary(bytes::Bytes::copy_from_slice(bytes))
    } else {
        AttributeValue::Text(value.string_value().unwrap_or_default().to_owned())
    };
    MessageAttribute { data_type, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_attribute_survives_a_round_trip() {
        for attribute in [
            MessageAttribute::string("v"),
            MessageAttribute::number(42),
            MessageAttribute::binary(vec![0u8, 1, 2]),
            MessageAttribute {
                data_type: "String.json".into(),
                value: AttributeValue::Text("{}".into()),
            },
        ] {
            let sdk = to_sdk(&attribute).unwrap();
            assert_eq!(from_sdk(&sdk), attribute);
        }
    }
}
