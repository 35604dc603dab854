//! [`StderrTail`]: the last lines a child process wrote to stderr, kept for error messages.

use std::collections::VecDeque;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// How many stderr lines an error message keeps.
pub const TAIL_LINES: usize = 12;

/// The last [`TAIL_LINES`] non-empty lines of a stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StderrTail {
    lines: VecDeque<String>,
}

impl StderrTail {
    /// Keeps `line`, dropping the oldest one when full.
    pub fn push(&mut self, line: &str) {
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_owned());
    }

    /// Reads `stream` to its end and keeps its tail. A read error ends the tail early.
    pub async fn collect(stream: impl AsyncRead + Unpin) -> Self {
        let mut tail = Self::default();
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tail.push(&line);
        }
        tail
    }

    /// The kept lines joined by " | ", or "(no output)".
    pub fn summary(&self) -> String {
        if self.lines.is_empty() {
            return "(no output)".to_owned();
        }
        Vec::from(self.lines.clone()).join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_lines() {
        let mut tail = StderrTail::default();
        for n in 0..TAIL_LINES + 3 {
            tail.push(&format!("line {n}\n"));
        }
        tail.push("   ");
        let summary = tail.summary();
        assert!(summary.starts_with("line 3 | line 4"), "{summary}");
        assert!(summary.ends_with(&format!("line {}", TAIL_LINES + 2)));
    }

    #[test]
    fn an_empty_stream_says_so() {
        assert_eq!(StderrTail::default().summary(), "(no output)");
    }

    #[tokio::test]
    async fn collects_a_stream() {
        let tail = StderrTail::collect(&b"first\n\nsecond\n"[..]).await;
        assert_eq!(tail.summary(), "first | second");
    }
}
