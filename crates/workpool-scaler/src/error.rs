//! The one error type of workpool-scaler.

use std::path::PathBuf;

use crate::policy::PolicyProblem;
use crate::simulate::TraceRowProblem;

/// Everything that can go wrong in workpool-scaler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Rows of an arrival trace could not be read; every bad row is listed, in order (the display
    /// shows the first 20).
    #[error("{}", list_rows(problems))]
    TraceRows {
        /// Each bad row: its line, column and what is wrong.
        problems: Vec<TraceRowProblem>,
    },
    /// An arrival trace file could not be read.
    #[error("cannot read the trace {path}: {source}")]
    TraceFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A policy has invalid values; every problem is listed.
    #[error("invalid policy: {}", join(problems))]
    InvalidPolicy {
        /// Each invalid value, by field name.
        problems: Vec<PolicyProblem>,
    },
    /// A simulation setting is invalid.
    #[error("invalid simulation setting `{setting}`: {message}")]
    InvalidSimulation {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The queue does not exist.
    #[error("queue `{0}` does not exist")]
    UnknownQueue(String),
    /// The Auto Scaling group does not exist.
    #[error("Auto Scaling group `{0}` does not exist")]
    UnknownGroup(String),
    /// The Auto Scaling group's MinSize is above its MaxSize, so no capacity is valid.
    #[error("Auto Scaling group `{group}` has MinSize {min} above MaxSize {max}")]
    InvalidGroupBounds {
        /// The group's name.
        group: String,
        /// Its MinSize.
        min: u32,
        /// Its MaxSize.
        max: u32,
    },
    /// A call to an AWS service failed.
    #[error("{operation} for `{resource}` failed: {message}")]
    Aws {
        /// The API operation (`GetQueueAttributes`, `SetDesiredCapacity`, …).
        operation: &'static str,
        /// The queue, group or namespace concerned.
        resource: String,
        /// The service's error, rendered with its causes.
        message: String,
    },
}

fn join(problems: &[PolicyProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The most bad trace rows an error's message shows; the rest are counted.
const SHOWN_ROWS: usize = 20;

fn list_rows(problems: &[TraceRowProblem]) -> String {
    if let [only] = problems {
        return only.to_string();
    }
    let mut text = format!("the trace has {} bad row(s):", problems.len());
    for problem in problems.iter().take(SHOWN_ROWS) {
        text.push_str(&format!("\n  - {problem}"));
    }
    if problems.len() > SHOWN_ROWS {
        text.push_str(&format!("\n  … and {} more", problems.len() - SHOWN_ROWS));
    }
    text
}
