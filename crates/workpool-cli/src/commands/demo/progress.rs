//! Live progress: one status line per second (rewritten in place on a terminal), and a line for each
//! scaling action.

use std::io::{IsTerminal, Write};
use std::time::Duration;

/// What the demo shows every second, all measured at that moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Status {
    /// Time since the producer started.
    pub elapsed: Duration,
    /// Messages sent so far.
    pub sent: u64,
    /// Messages waiting in the queue (visible).
    pub backlog: u64,
    /// Handlers running, all instances.
    pub in_flight: u64,
    /// The fleet's desired capacity.
    pub desired: u32,
    /// Instances in service running a consumer.
    pub running: u32,
    /// Jobs finished per second over the last second.
    pub throughput: f64,
}

/// One change of the fleet's desired capacity that the controller applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalingAction {
    /// Time since the producer started.
    pub at: Duration,
    /// Desired capacity before.
    pub from: u32,
    /// Desired capacity after.
    pub to: u32,
    /// Why, as the controller put it.
    pub reason: String,
}

impl std::fmt::Display for ScalingAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>4.1}s  desired {} -> {}  ({})",
            self.at.as_secs_f64(),
            self.from,
            self.to,
            self.reason
        )
    }
}

/// The legend of the status line.
pub const LEGEND: &str =
    "each second: messages sent, waiting, being handled; instances running/desired; jobs done";

/// Formats one status line (at most 80 columns, so it can be rewritten in place on most terminals).
pub fn status_line(status: &Status) -> String {
    format!(
        "{:>4.1}s  sent {:>5}  backlog {:>4}  in flight {:>3}  instances {:>2}/{:<2} {:>4.0} jobs/s",
        status.elapsed.as_secs_f64(),
        status.sent,
        status.backlog,
        status.in_flight,
        status.running,
        status.desired,
        status.throughput,
    )
}

/// Writes progress to stdout: in place on a terminal, one line per update otherwise.
#[derive(Debug)]
pub struct Progress {
    in_place: bool,
    line_open: bool,
}

impl Progress {
    /// Progress for the current stdout.
    pub fn for_stdout() -> Self {
        Self {
            in_place: std::io::stdout().is_terminal(),
            line_open: false,
        }
    }

    /// Shows the latest status.
    pub fn status(&mut self, status: &Status) {
        let line = status_line(status);
        let mut out = std::io::stdout().lock();
        if self.in_place {
            let _ = write!(out, "\r\x1b[2K{line}");
            self.line_open = true;
        } else {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }

    /// Prints a line that stays (a scaling action), above the status line on a terminal.
    pub fn note(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.line_open {
            let _ = write!(out, "\r\x1b[2K");
            self.line_open = false;
        }
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// Ends the in-place status line, if one is showing.
    pub fn finish(&mut self) {
        if self.line_open {
            println!();
            self.line_open = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaling_action_shows_the_change_and_its_reason() {
        let action = ScalingAction {
            at: Duration::from_millis(21_000),
            from: 2,
            to: 6,
            reason: "scale out: the policy recommends 6".to_owned(),
        };
        assert_eq!(
            action.to_string(),
            "21.0s  desired 2 -> 6  (scale out: the policy recommends 6)"
        );
    }

    #[test]
    fn the_status_line_shows_every_figure() {
        let line = status_line(&Status {
            elapsed: Duration::from_millis(12_000),
            sent: 1800,
            backlog: 340,
            in_flight: 32,
            desired: 10,
            running: 8,
            throughput: 158.4,
        });
        assert!(line.len() <= 80, "{} columns: {line:?}", line.len());
        for part in [
            "12.0s  ",
            "sent  1800",
            "backlog  340",
            "in flight  32",
            "instances  8/10 ",
            "158 jobs/s",
        ] {
            assert!(line.contains(part), "{part:?} in {line:?}");
        }
    }
}
