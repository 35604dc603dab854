//! Reading an HTTP `Retry-After` header: delay-seconds or an HTTP date (RFC 9110, section 10.2.3).

use std::time::{Duration, SystemTime};

/// The delay a `Retry-After` value asks for, counted from `now`, or `None` when it is neither a
/// whole number of seconds nor an HTTP date. A date in the past means no delay.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_a_delay() {
        assert_eq!(
            parse_retry_after(" 120 ", SystemTime::UNIX_EPOCH),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn an_http_date_is_the_time_until_then() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(37))
        );
    }

    #[test]
    fn a_date_in_the_past_means_now() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:50:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn anything_else_is_not_understood() {
        for value in ["", "-5", "1.5", "soon", "99999999999999999999999"] {
            assert_eq!(
                parse_retry_after(value, SystemTime::UNIX_EPOCH),
                None,
                "{value}"
            );
        }
    }
}
