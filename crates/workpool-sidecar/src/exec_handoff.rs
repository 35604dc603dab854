//! [`ExecHandoff`]: runs a command per message, the body on its standard input and the metadata in
//! environment variables. The command runs in its own process group, so a time limit (or the sidecar
//! giving the message up) kills it and everything it started.

use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use workpool::{AttributeValue, BoxError, Message, Metadata, Outcome};

use crate::error::Error;
use crate::handoff_body::HandoffBody;
use crate::sqsd_headers::iso8601;

/// Settings of [`ExecHandoff`].
#[derive(Debug, Clone)]
pub struct ExecHandoffConfig {
    command: String,
    queue_name: String,
    time_limit: Option<Duration>,
}

impl ExecHandoffConfig {
    /// Run `command` with `/bin/sh -c` for each message of `queue_name`.
    pub fn new(command: impl Into<String>, queue_name: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            queue_name: queue_name.into(),
            time_limit: None,
        }
    }

    /// The longest one run may take; past it the command's process group is killed (SIGKILL) and
    /// the message counts as failed. Default: no limit (the visibility heartbeat keeps the message).
    pub fn time_limit(mut self, limit: Option<Duration>) -> Self {
        self.time_limit = limit;
        self
    }
}

/// A `tower::Service` that runs a command per message. Exit status 0 → [`Outcome::Done`]; any other
/// exit, a signal, or the time limit → an error (a failure the consumer backs off).
///
/// The environment carries `WORKPOOL_MESSAGE_ID`, `WORKPOOL_QUEUE`, `WORKPOOL_RECEIVE_COUNT`,
/// `WORKPOOL_FIRST_RECEIVED_AT` and `WORKPOOL_SENT_AT` (UTC ISO 8601), `WORKPOOL_SENDER_ID`,
/// `WORKPOOL_GROUP_ID` (when known) and `WORKPOOL_ATTR_<name>` per String or Number attribute (characters
/// other than ASCII letters, digits and `_` in the name become `_`).
#[derive(Debug, Clone)]
pub struct ExecHandoff {
    config: Arc<ExecHandoffConfig>,
}

impl ExecHandoff {
    /// A hand-off with these settings.
    pub fn new(config: ExecHandoffConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    /// Runs the command for one message and says what became of it.
    pub async fn hand_off<B: HandoffBody>(&self, message: Message<B>) -> Result<Outcome, Error> {
        let config = &self.config;
        let environment = message_environment(&config.queue_name, message.metadata());
        let body = message.into_body().into_bytes();
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&config.command)
            .envs(environment)
            .stdin(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| Error::CommandSpawn {
                command: config.command.clone(),
                source,
            })?;
        let group = ProcessGroup(child.id().map(|id| Pid::from_raw(id as i32)));
        let stdin = child.stdin.take();
        let write_input = async move {
            if let Some(mut stdin) = stdin {
                // A command that does not read its input closes the pipe early; that is not an error.
                let _ = stdin.write_all(&body).await;
            }
        };
        // Feeding the input counts against the time limit too: a command that neither reads nor ends
        // must not hold the slot forever.
        let run = async {
            let ((), status) = tokio::join!(write_input, child.wait());
            status
        };
        let status = match config.time_limit {
            None => run.await,
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(status) => status,
                Err(_) => {
                    group.kill();
                    let _ = child.wait().await;
                    return Err(Error::CommandTimedOut {
                        command: config.command.clone(),
                        limit,
                    });
                }
            },
        };
        group.disarm();
        let status = status.map_err(|source| Error::CommandSpawn {
            command: config.command.clone(),
            source,
        })?;
        if status.success() {
            Ok(Outcome::Done)
        } else {
            Err(Error::CommandFailed {
                command: config.command.clone(),
                status: status.to_string(),
            })
        }
    }
}

/// The process group of a running command; killed (SIGKILL) when dropped before the command ended,
/// so a hand-off given up half-way leaves nothing behind.
struct ProcessGroup(Option<Pid>);

impl ProcessGroup {
    fn kill(&self) {
        if let Some(group) = self.0 {
            if let Err(error) = killpg(group, Signal::SIGKILL) {
                tracing::debug!(%error, "killing the command's process group");
            }
        }
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The environment variables that describe a message to the command.
pub fn message_environment(queue: &str, metadata: &Metadata) -> Vec<(String, String)> {
    let mut environment = vec![
        (
            "WORKPOOL_MESSAGE_ID".to_owned(),
            metadata.message_id.clone(),
        ),
        ("WORKPOOL_QUEUE".to_owned(), queue.to_owned()),
        (
            "WORKPOOL_RECEIVE_COUNT".to_owned(),
            metadata.receive_count.to_string(),
        ),
        (
            "WORKPOOL_FIRST_RECEIVED_AT".to_owned(),
            iso8601(metadata.first_received_at.unwrap_or_else(SystemTime::now)),
        ),
    ];
    let optional = [
        ("WORKPOOL_SENT_AT", metadata.sent_at.map(iso8601)),
        ("WORKPOOL_SENDER_ID", metadata.sender_id.clone()),
        ("WORKPOOL_GROUP_ID", metadata.group_id.clone()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            environment.push((name.to_owned(), value));
        }
    }
    for (name, attribute) in &metadata.attributes {
        if let AttributeValue::Text(value) = &attribute.value {
            let name: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            environment.push((format!("WORKPOOL_ATTR_{name}"), value.clone()));
        }
    }
    environment
}

impl<B: HandoffBody> tower::Service<Message<B>> for ExecHandoff {
    type Response = Outcome;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Outcome, BoxError>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, message: Message<B>) -> Self::Future {
        let handoff = self.clone();
        Box::pin(async move { handoff.hand_off(message).await.map_err(BoxError::from) })
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use workpool::MessageAttribute;

    use super::*;

    #[test]
    fn the_environment_describes_the_message() {
        let mut metadata = Metadata::new("m-1", "r");
        metadata.receive_count = 2;
        metadata.first_received_at = Some(UNIX_EPOCH);
        metadata.group_id = Some("g".into());
        metadata
            .attributes
            .insert("trace.id".into(), MessageAttribute::string("abc"));
        let environment = message_environment("jobs", &metadata);
        for expected in [
            ("WORKPOOL_MESSAGE_ID", "m-1"),
            ("WORKPOOL_QUEUE", "jobs"),
            ("WORKPOOL_RECEIVE_COUNT", "2"),
            ("WORKPOOL_FIRST_RECEIVED_AT", "1970-01-01T00:00:00Z"),
            ("WORKPOOL_GROUP_ID", "g"),
            ("WORKPOOL_ATTR_trace_id", "abc"),
        ] {
            assert!(
                environment.contains(&(expected.0.to_owned(), expected.1.to_owned())),
                "{expected:?} in {environment:?}"
            );
        }
        assert!(!environment
            .iter()
            .any(|(name, _)| name == "WORKPOOL_SENDER_ID"));
    }
}
