//! The one error type of the `workpool-sidecar` crate.

use std::time::Duration;

use crate::config_sources::ConfigProblem;

/// Everything that can go wrong in the sidecar: at start-up (configuration, queue, listen address) and
/// per message (what the app or the command did, which the consumer turns into a failure).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration has one or more bad keys; every one is listed, each naming its key and where
    /// the value came from.
    #[error("invalid configuration ({} problem{}):{}", .0.len(), if .0.len() == 1 { "" } else { "s" }, list_problems(.0))]
    Config(Vec<ConfigProblem>),
    /// The queue could not be opened.
    #[error(transparent)]
    Queue(#[from] workpool_sqs::Error),
    /// The consumer stopped with an error.
    #[error(transparent)]
    Consumer(#[from] workpool::Error),
    /// The status server (`/healthz`, `/metrics`) could not listen on its address.
    #[error("cannot listen on {address} for /healthz and /metrics: {source}")]
    Listen {
        /// The address asked for.
        address: String,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The Prometheus recorder could not be installed (another recorder is installed already).
    #[error("cannot install the Prometheus metrics recorder: {0}")]
    MetricsRecorder(String),
    /// The app answered with a status that does not mean success.
    #[error("the app at {url} answered {status}")]
    AppStatus {
        /// The hand-off URL.
        url: String,
        /// The HTTP status it answered.
        status: u16,
    },
    /// The request to the app failed: refused, dropped mid-request, or no connection within the
    /// connect timeout.
    #[error("the request to the app at {url} failed: {reason}")]
    AppUnreachable {
        /// The hand-off URL.
        url: String,
        /// What went wrong, with its causes.
        reason: String,
    },
    /// The app's response headers, or the next chunk of its body, did not come within the
    /// inactivity timeout.
    #[error("the app at {url} did not answer within {timeout:?} (the inactivity timeout)")]
    AppInactive {
        /// The hand-off URL.
        url: String,
        /// The inactivity timeout.
        timeout: Duration,
    },
    /// The command could not be started.
    #[error("cannot start the command `{command}`: {source}")]
    CommandSpawn {
        /// The command line.
        command: String,
        /// Why it could not start.
        source: std::io::Error,
    },
    /// The command exited unsuccessfully.
    #[error("the command `{command}` {status}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// How it ended (exit code or signal), as the OS describes it.
        status: String,
    },
    /// The command ran past its time limit; its whole process group was killed.
    #[error("the command `{command}` ran past its time limit of {limit:?}; its process group was killed")]
    CommandTimedOut {
        /// The command line.
        command: String,
        /// The time limit.
        limit: Duration,
    },
    /// Instance metadata (IMDS) could not be read.
    #[error("cannot read instance metadata {path}: {reason}")]
    InstanceMetadata {
        /// The metadata path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Auto Scaling refused to protect the instance from scale-in because it is not in service yet:
    /// still booting, or held in `Pending:Wait` by a launch lifecycle hook. Expected at boot;
    /// protection is asked for again until the instance is in service.
    #[error("instance {instance_id} is not in service yet, so Auto Scaling cannot protect it from scale-in")]
    NotInService {
        /// The instance.
        instance_id: String,
    },
    /// An Auto Scaling request failed.
    #[error("Auto Scaling {operation} failed: {reason}")]
    AutoScaling {
        /// The operation, as AWS names it (e.g. `SetInstanceProtection`).
        operation: &'static str,
        /// What went wrong, with its causes.
        reason: String,
    },
}

fn list_problems(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("\n  - {problem}"))
        .collect()
}
