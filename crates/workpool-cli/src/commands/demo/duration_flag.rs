//! Durations on the command line: `200ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds.

use std::time::Duration;

/// Parses a duration flag value: a non-negative number followed by `ms`, `s` or `m`, or a bare number
/// of seconds. Used as a clap value parser, so clap's error names the flag.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_seconds) = if let Some(number) = text.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60.0)
    } else {
        (text, 1.0)
    };
    let invalid = || format!("`{text}` is not a duration (examples: 200ms, 8s, 1.5s, 1m)");
    let value: f64 = number.trim().parse().map_err(|_| invalid())?;
    if !value.is_finite() || value < 0.0 {
        return Err(invalid());
    }
    Duration::try_from_secs_f64(value * unit_seconds).map_err(|_| invalid())
}

/// A duration the way the demo prints it: milliseconds below a second, seconds with up to one
/// decimal otherwise.
pub fn show_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_unit_and_bare_seconds() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("8s"), Ok(Duration::from_secs(8)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in ["", "fast", "-1s", "1h", "NaNs", "infs"] {
            let error = parse_duration(bad).expect_err(bad);
            assert!(error.contains("is not a duration"), "{bad}: {error}");
        }
    }

    #[test]
    fn shows_short_and_long_durations_readably() {
        assert_eq!(show_duration(Duration::from_millis(180)), "180 ms");
        assert_eq!(show_duration(Duration::from_secs(60)), "60 s");
        assert_eq!(show_duration(Duration::from_millis(1850)), "1.9 s");
    }
}
