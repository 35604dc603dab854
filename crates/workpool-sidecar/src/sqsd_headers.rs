//! The request headers the Elastic Beanstalk worker daemon (`sqsd`) sends with each message, built
//! from a message's metadata, so apps written for `sqsd` work unchanged.

use std::time::{SystemTime, UNIX_EPOCH};

use workpool::{AttributeValue, Metadata};

/// The SQS message id.
pub const MESSAGE_ID: &str = "X-Aws-Sqsd-Msgid";
/// The queue's name.
pub const QUEUE: &str = "X-Aws-Sqsd-Queue";
/// When the message was first received, UTC, ISO 8601 (`2024-05-01T12:34:56Z`).
pub const FIRST_RECEIVED_AT: &str = "X-Aws-Sqsd-First-Received-At";
/// How many times the message has been received, this delivery included.
pub const RECEIVE_COUNT: &str = "X-Aws-Sqsd-Receive-Count";
/// The sender's account or principal id.
pub const SENDER_ID: &str = "X-Aws-Sqsd-Sender-Id";
/// The prefix of one header per message attribute: `X-Aws-Sqsd-Attr-<name>`.
pub const ATTRIBUTE_PREFIX: &str = "X-Aws-Sqsd-Attr-";
/// The user agent `sqsd` sends; apps sometimes check it.
pub const USER_AGENT: &str = "aws-sqsd/1.1 (workpool)";

/// The `sqsd` headers for a message from `queue`, as (name, value) pairs. String and Number
/// attributes become `X-Aws-Sqsd-Attr-<name>` headers; Binary attributes are not sent (as `sqsd`).
/// A first-received time the queue did not report falls back to `now`.
pub fn sqsd_headers(queue: &str, metadata: &Metadata, now: SystemTime) -> Vec<(String, String)> {
    let mut headers = vec![
        (MESSAGE_ID.to_owned(), metadata.message_id.clone()),
        (QUEUE.to_owned(), queue.to_owned()),
        (
            FIRST_RECEIVED_AT.to_owned(),
            iso8601(metadata.first_received_at.unwrap_or(now)),
        ),
        (RECEIVE_COUNT.to_owned(), metadata.receive_count.to_string()),
    ];
    if let Some(sender) = &metadata.sender_id {
        headers.push((SENDER_ID.to_owned(), sender.clone()));
    }
    for (name, attribute) in &metadata.attributes {
        if let AttributeValue::Text(value) = &attribute.value {
            headers.push((format!("{ATTRIBUTE_PREFIX}{name}"), value.clone()));
        }
    }
    headers
}

/// A time as UTC ISO 8601 with whole seconds: `2024-05-01T12:34:56Z`. Times before 1970 read as 1970.
pub fn iso8601(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use workpool::MessageAttribute;

    use super::*;

    #[test]
    fn iso8601_formats_utc_with_whole_seconds() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_millis(1_709_210_096_999);
        assert_eq!(iso8601(leap_day), "2024-02-29T12:34:56Z");
        let new_year = UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(iso8601(new_year), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn headers_carry_every_field_sqsd_sends() {
        let mut metadata = Metadata::new("id-1", "receipt");
        metadata.receive_count = 3;
        metadata.first_received_at = Some(UNIX_EPOCH + Duration::from_secs(86_400));
        metadata.sender_id = Some("AIDA123".into());
        metadata
            .attributes
            .insert("colour".into(), MessageAttribute::string("blue"));
        metadata
            .attributes
            .insert("size".into(), MessageAttribute::number(7));
        metadata
            .attributes
            .insert("blob".into(), MessageAttribute::binary(&b"\x00\x01"[..]));
        let headers = sqsd_headers("jobs", &metadata, UNIX_EPOCH);
        let expected: Vec<(String, String)> = [
            ("X-Aws-Sqsd-Msgid", "id-1"),
            ("X-Aws-Sqsd-Queue", "jobs"),
            ("X-Aws-Sqsd-First-Received-At", "1970-01-02T00:00:00Z"),
            ("X-Aws-Sqsd-Receive-Count", "3"),
            ("X-Aws-Sqsd-Sender-Id", "AIDA123"),
            ("X-Aws-Sqsd-Attr-colour", "blue"),
            ("X-Aws-Sqsd-Attr-size", "7"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        assert_eq!(headers, expected);
    }

    #[test]
    fn a_missing_first_received_time_falls_back_to_now() {
        let metadata = Metadata::new("id", "r");
        let now = UNIX_EPOCH + Duration::from_secs(60);
        let headers = sqsd_headers("q", &metadata, now);
        assert!(headers.contains(&(
            FIRST_RECEIVED_AT.to_owned(),
            "1970-01-01T00:01:00Z".to_owned()
        )));
        assert!(!headers.iter().any(|(name, _)| name == SENDER_ID));
    }
}
