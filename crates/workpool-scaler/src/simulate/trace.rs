//! Arrival traces: how many messages arrive at which second.
//!
//! The CSV format: a header line `second,arrivals`, then one row per second that has arrivals, seconds
//! strictly increasing; `second` is a whole number of seconds from the start, `arrivals` how many
//! messages arrive during that second. Seconds not listed have none. Blank lines and lines starting
//! with `#` are ignored. A bad row is an error naming its line and column; every bad row is named at
//! once.

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

    /// Parses trace CSV text (see the module docs for the format). Every bad row is reported, not
    /// only the first: [`Error::TraceRows`] lists them in order.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut arrivals = Vec::new();
        let mut problems = Vec::new();
        let mut seen_header = false;
        let mut previous: Option<u64> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let row = raw.trim();
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            if !seen_header {
                seen_header = true;
                let columns: Vec<&str> = row.split(',').map(str::trim).collect();
                if columns == ["second", "arrivals"] {
                    continue;
                }
                // Without the header the rows cannot be read as seconds and arrivals at all.
                return Err(Error::TraceRows {
                    problems: vec![TraceRowProblem::new(
                        line,
                        "second",
                        format!("expected the header `second,arrivals`, found `{row}`"),
                    )],
                });
            }
            match parse_row(row, previous) {
                Ok((second, count)) => {
                    previous = Some(second);
                    arrivals.push((second, count));
                }
                Err((column, message)) => {
                    problems.push(TraceRowProblem::new(line, column, message));
                }
            }
        }
        if !seen_header {
            problems.push(TraceRowProblem::new(
                1,
                "second",
                "the trace is empty; expected the header `second,arrivals`".to_owned(),
            ));
        }
        if problems.is_empty() {
            Ok(Self { arrivals })
        } else {
            Err(Error::TraceRows { problems })
        }
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

/// One bad row of a trace: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRowProblem {
    line: usize,
    column: &'static str,
    message: String,
}

impl TraceRowProblem {
    fn new(line: usize, column: &'static str, message: String) -> Self {
        Self {
            line,
            column,
            message,
        }
    }

    /// The line number, counting from 1.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column's name (`second` or `arrivals`).
    pub fn column(&self) -> &'static str {
        self.column
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for TraceRowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trace line {}, column `{}`: {}",
            self.line, self.column, self.message
        )
    }
}

/// One data row: its second and arrivals, or the column at fault and why. A row's second must come
/// after `previous`, the last good row's.
fn parse_row(row: &str, previous: Option<u64>) -> Result<(u64, u32), (&'static str, String)> {
    let mut fields = row.split(',').map(str::trim);
    let second_text = fields.next().unwrap_or_default();
    let second: u64 = second_text.parse().map_err(|_| {
        (
            "second",
            format!("`{second_text}` is not a whole number of seconds"),
        )
    })?;
    let arrivals_text = fields.next().ok_or(("arrivals", "missing".to_owned()))?;
    let count: u32 = arrivals_text.parse().map_err(|_| {
        (
            "arrivals",
            format!("`{arrivals_text}` is not a whole number of messages"),
        )
    })?;
    if let Some(extra) = fields.next() {
        return Err((
            "arrivals",
            format!("unexpected extra field `{extra}` after it"),
        ));
    }
    if let Some(previous) = previous {
        if second <= previous {
            return Err((
                "second",
                format!("{second} does not come after the previous row's {previous}"),
            ));
        }
    }
    Ok((second, count))
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

    #[test]
    fn every_bad_row_is_named_at_once() {
        let text = "second,arrivals\n0,3\n1,many\n2,1,9\nsoon,1\n3\n1,2\n4,5\n";
        let Err(Error::TraceRows { problems }) = Trace::parse(text) else {
            panic!("four bad rows were accepted");
        };
        let named: Vec<(usize, &str)> = problems.iter().map(|p| (p.line(), p.column())).collect();
        // Line 7 (`1,2`) is good: the order is checked against the last good row (line 2's 0).
        assert_eq!(
            named,
            [
                (3, "arrivals"),
                (4, "arrivals"),
                (5, "second"),
                (6, "arrivals")
            ]
        );
        let message = Error::TraceRows { problems }.to_string();
        assert!(
            message.starts_with("the trace has 4 bad row(s):\n  - trace line 3"),
            "{message}"
        );
        assert!(
            message.contains("  - trace line 6, column `arrivals`: missing"),
            "{message}"
        );
    }

    #[test]
    fn a_long_list_of_bad_rows_shows_the_first_twenty_and_counts_the_rest() {
        let mut text = String::from("second,arrivals\n");
        for second in 0..25 {
            text.push_str(&format!("{second},x\n"));
        }
        let message = Trace::parse(&text).expect_err("bad").to_string();
        assert!(
            message.starts_with("the trace has 25 bad row(s):"),
            "{message}"
        );
        assert_eq!(message.matches("\n  - trace line").count(), 20, "{message}");
        assert!(message.ends_with("\n  … and 5 more"), "{message}");
    }
}
