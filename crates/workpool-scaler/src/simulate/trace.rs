//! Arrival traces: how many messages arrive at which second.
//!
//! The CSV format: a header line `second,arrivals`, then one row per second that has arrivals, seconds
//! strictly increasing; `second` is a whole number of seconds from the start, `arrivals` how many
//! messages arrive during that second. Seconds not listed have none. Blank lines and lines starting
//! with `#` are ignored. A bad row is an error naming its line and column.

use std::path::Path;

use crate::error::Error;

/// An arrival trace: messages arriving per second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    arrivals: Vec<(u64, u32)>,
}

impl Trace {
    /// A trace from `(second, arrivals)` pairs, sorted by second.
    pub fn from_pairs(mut arrivals: Vec<(u64, u32)>) -> Self {
        arrivals.sort_by_key(|(second, _)| *second);
        Self { arrivals }
    }

    /// Reads a trace CSV file (see the module docs for the format).
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::TraceFile {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses trace CSV text (see the module docs for the format).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut arrivals = Vec::new();
        let mut seen_header = false;
        let mut previous: Option<u64> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let row = raw.trim();
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            let bad = |column, message: String| Error::TraceRow {
                line,
                column,
                message,
            };
            if !seen_header {
                seen_header = true;
                let columns: Vec<&str> = row.split(',').map(str::trim).collect();
                if columns == ["second", "arrivals"] {
                    continue;
                }
                return Err(bad(
                    "second",
                    format!("expected the header `second,arrivals`, found `{row}`"),
                ));
            }
            let mut fields = row.split(',').map(str::trim);
            let second_text = fields.next().unwrap_or_default();
            let second: u64 = second_text.parse().map_err(|_| {
                bad(
                    "second",
                    format!("`{second_text}` is not a whole number of seconds"),
                )
            })?;
            let Some(arrivals_text) = fields.next() else {
                return Err(bad("arrivals", "missing".to_owned()));
            };
            let count: u32 = arrivals_text.parse().map_err(|_| {
                bad(
                    "arrivals",
                    format!("`{arrivals_text}` is not a whole number of messages"),
                )
            })?;
            if let Some(extra) = fields.next() {
                return Err(bad(
                    "arrivals",
                    format!("unexpected extra field `{extra}` after it"),
                ));
            }
            if let Some(previous) = previous {
                if second <= previous {
                    return Err(bad(
                        "second",
                        format!("{second} does not come after the previous row's {previous}"),
                    ));
                }
            }
            previous = Some(second);
            arrivals.push((second, count));
        }
        if !seen_header {
            return Err(Error::TraceRow {
                line: 1,
                column: "second",
                message: "the trace is empty; expected the header `second,arrivals`".to_owned(),
            });
        }
        Ok(Self { arrivals })
    }

    /// The `(second, arrivals)` rows, in order.
    pub fn rows(&self) -> &[(u64, u32)] {
        &self.arrivals
    }

    /// The second after the last arrival (0 for an empty trace).
    pub fn duration_secs(&self) -> u64 {
        self.arrivals.last().map_or(0, |(second, _)| second + 1)
    }

    /// Every message in the trace.
    pub fn total_arrivals(&self) -> u64 {
        self.arrivals.iter().map(|(_, n)| u64::from(*n)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_comments_and_blank_lines() {
        let trace = Trace::parse("# a comment\nsecond,arrivals\n0,3\n\n5, 2\n").expect("valid");
        assert_eq!(trace.rows(), &[(0, 3), (5, 2)]);
        assert_eq!(trace.duration_secs(), 6);
        assert_eq!(trace.total_arrivals(), 5);
    }

    #[test]
    fn a_bad_row_names_its_line_and_column() {
        let error = Trace::parse("second,arrivals\n0,3\n1,many\n").expect_err("bad");
        assert_eq!(
            error.to_string(),
            "trace line 3, column `arrivals`: `many` is not a whole number of messages"
        );
        let error = Trace::parse("second,arrivals\n4,1\n2,1\n").expect_err("bad");
        assert_eq!(
            error.to_string(),
            "trace line 3, column `second`: 2 does not come after the previous row's 4"
        );
        let error = Trace::parse("second,arrivals\n-1,1\n").expect_err("bad");
        assert!(error
            .to_string()
            .starts_with("trace line 2, column `second`"));
        let error = Trace::parse("time,count\n").expect_err("bad");
        assert!(error.to_string().contains("expected the header"));
    }
}
