//! Loading [`SidecarConfig`] from three layers — a TOML file, then `WORKPOOL_<KEY>` environment
//! variables, then flags; a later layer wins — and reporting every bad key at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Uri;

use crate::config::{AutoScalingMode, Mode, SidecarConfig};
use crate::duration_text::parse_duration;
use crate::error::Error;

/// One configuration key: its name in the file (`snake_case`; the variable is `WORKPOOL_` + upper
/// case, the flag `--` + kebab case), its default, and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigKey {
    /// The key as written in the TOML file.
    pub name: &'static str,
    /// The command-line flag (`--` and the name in kebab case).
    pub flag: &'static str,
    /// The default, as text.
    pub default: &'static str,
    /// What it sets.
    pub help: &'static str,
}

/// Every key the sidecar understands.
pub const CONFIG_KEYS: &[ConfigKey] = &[
    key(
        "queue_url",
        "--queue-url",
        "required",
        "the SQS queue URL to poll",
    ),
    key(
        "endpoint_url",
        "--endpoint-url",
        "none",
        "AWS endpoint override for SQS and Auto Scaling",
    ),
    key("mode", "--mode", "http", "hand-off mode: http or exec"),
    key(
        "http_url",
        "--http-url",
        "http://127.0.0.1:80/",
        "where http mode POSTs each message",
    ),
    key(
        "content_type",
        "--content-type",
        "application/json",
        "Content-Type of each POST",
    ),
    key(
        "accept_any_2xx",
        "--accept-any-2xx",
        "false",
        "any 2xx means success (else only 200)",
    ),
    key(
        "connect_timeout",
        "--connect-timeout",
        "5s",
        "how long connecting to the app may take",
    ),
    key(
        "inactivity_timeout",
        "--inactivity-timeout",
        "299s",
        "how long the app may take to answer: from the request's start (connecting included) to the response headers, then between body chunks; past it the request fails",
    ),
    key(
        "health_url",
        "--health-url",
        "none",
        "the app's health URL; /healthz is ready only while it answers 2xx",
    ),
    key(
        "command",
        "--command",
        "none",
        "the command exec mode runs per message (/bin/sh -c)",
    ),
    key(
        "command_timeout",
        "--command-timeout",
        "none",
        "time limit of one command run; its process group is killed past it",
    ),
    key(
        "concurrency",
        "--concurrency",
        "10",
        "messages handed off at once",
    ),
    key(
        "visibility_timeout",
        "--visibility-timeout",
        "the queue's",
        "visibility timeout of received messages",
    ),
    key(
        "grace_period",
        "--grace-period",
        "30s",
        "how long running hand-offs may finish after SIGTERM",
    ),
    key(
        "wait_time",
        "--wait-time",
        "20s",
        "how long a receive waits for a message (long polling, at most 20s); a stop waits for the receive under way",
    ),
    key(
        "receive_linger",
        "--receive-linger",
        "20ms",
        "how long a busy sidecar waits for ten free slots before receiving fewer",
    ),
    key(
        "sns_unwrap",
        "--sns-unwrap",
        "false",
        "hand off the inner message of SNS notifications",
    ),
    key(
        "listen",
        "--listen",
        "127.0.0.1:9432",
        "address of /healthz and /metrics",
    ),
    key(
        "auto_scaling",
        "--auto-scaling",
        "auto",
        "Auto Scaling integration: auto (on when on EC2), on or off",
    ),
    key(
        "scale_in_protection",
        "--scale-in-protection",
        "true",
        "hold scale-in protection while any slot is busy",
    ),
    key(
        "protection_idle_delay",
        "--protection-idle-delay",
        "10s",
        "idle time before scale-in protection is turned off",
    ),
    key(
        "auto_scaling_group",
        "--auto-scaling-group",
        "looked up",
        "the Auto Scaling group of this instance",
    ),
    key(
        "lifecycle_hook",
        "--lifecycle-hook",
        "looked up",
        "the group's termination lifecycle hook",
    ),
    key(
        "lifecycle_heartbeat_interval",
        "--lifecycle-heartbeat-interval",
        "60s",
        "lifecycle heartbeat interval while draining",
    ),
    key(
        "metadata_poll_interval",
        "--metadata-poll-interval",
        "5s",
        "how often instance metadata is read for notices",
    ),
    key(
        "imds_endpoint",
        "--imds-endpoint",
        "the SDK's",
        "instance metadata endpoint",
    ),
];

const fn key(
    name: &'static str,
    flag: &'static str,
    default: &'static str,
    help: &'static str,
) -> ConfigKey {
    ConfigKey {
        name,
        flag,
        default,
        help,
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The TOML file.
    File(PathBuf),
    /// An environment variable, by name.
    Environment(String),
    /// A command-line flag, by name.
    Flag(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(path) => write!(formatter, "in {}", path.display()),
            Origin::Environment(name) => write!(formatter, "from environment variable {name}"),
            Origin::Flag(name) => write!(formatter, "from flag {name}"),
        }
    }
}

/// One bad key: which, where it came from, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key (or, for a file that cannot be read, the file's path).
    pub key: String,
    /// Where the bad value came from; `None` for a missing key.
    pub origin: Option<Origin>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.origin {
            Some(origin) => write!(formatter, "`{}` ({origin}): {}", self.key, self.reason),
            None => write!(formatter, "`{}`: {}", self.key, self.reason),
        }
    }
}

/// The three layers of configuration, lowest precedence first.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    file: Option<PathBuf>,
    environment: Vec<(String, String)>,
    flags: Vec<(String, String)>,
}

impl ConfigSources {
    /// No file, no environment, no flags.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads this TOML file (flat `key = value` pairs). Default: no file.
    pub fn file(mut self, path: Option<PathBuf>) -> Self {
        self.file = path;
        self
    }

    /// Takes the `WORKPOOL_<KEY>` variables among these; others (other commands' `WORKPOOL_…`
    /// variables included) are ignored. Default: none; pass `std::env::vars()` for the process's.
    pub fn environment(mut self, variables: impl IntoIterator<Item = (String, String)>) -> Self {
        self.environment = variables.into_iter().collect();
        self
    }

    /// A flag's value, by key (`concurrency`, not `--concurrency`). Flags win over everything.
    pub fn flag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.flags.push((key.into(), value.into()));
        self
    }

    /// Merges the layers and parses every key, reporting every problem at once.
    pub fn load(&self) -> Result<SidecarConfig, Error> {
        let mut problems = Vec::new();
        let mut values: BTreeMap<String, (String, Origin)> = BTreeMap::new();
        if let Some(path) = &self.file {
            read_file(path, &mut values, &mut problems);
        }
        for (variable, value) in &self.environment {
            let Some(name) = variable.strip_prefix("WORKPOOL_") else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if find_key(&name).is_some() {
                values.insert(name, (value.clone(), Origin::Environment(variable.clone())));
            }
        }
        for (name, value) in &self.flags {
            let origin = Origin::Flag(format!("--{}", name.replace('_', "-")));
            if find_key(name).is_none() {
                problems.push(ConfigProblem {
                    key: name.clone(),
                    origin: Some(origin),
                    reason: "unknown key".into(),
                });
                continue;
            }
            values.insert(name.clone(), (value.clone(), origin));
        }
        let mut config = SidecarConfig::new(String::new());
        for (name, (value, origin)) in &values {
            if let Err(reason) = apply(&mut config, name, value) {
                problems.push(ConfigProblem {
                    key: name.clone(),
                    origin: Some(origin.clone()),
                    reason,
                });
            }
        }
        if config.queue_url.trim().is_empty() && !values.contains_key("queue_url") {
            problems.push(ConfigProblem {
                key: "queue_url".into(),
                origin: None,
                reason: "required: set queue_url in the file, WORKPOOL_QUEUE_URL or --queue-url"
                    .into(),
            });
        }
        if config.mode == Mode::Exec && config.command.is_none() && !values.contains_key("command")
        {
            problems.push(ConfigProblem {
                key: "command".into(),
                origin: None,
                reason:
                    "required in exec mode: set command in the file, WORKPOOL_COMMAND or --command"
                        .into(),
            });
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            problems.sort_by(|a, b| a.key.cmp(&b.key));
            Err(Error::Config(problems))
        }
    }
}

fn find_key(name: &str) -> Option<&'static ConfigKey> {
    CONFIG_KEYS.iter().find(|key| key.name == name)
}

fn read_file(
    path: &Path,
    values: &mut BTreeMap<String, (String, Origin)>,
    problems: &mut Vec<ConfigProblem>,
) {
    let file_problem = |reason: String| ConfigProblem {
        key: path.display().to_string(),
        origin: None,
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            return problems.push(file_problem(format!(
                "cannot read the config file: {error}"
            )))
        }
    };
    let table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(error) => {
            return problems.push(file_problem(format!(
                "not valid TOML: {}",
                error.to_string().trim()
            )))
        }
    };
    for (name, value) in table {
        let origin = Origin::File(path.to_owned());
        if find_key(&name).is_none() {
            problems.push(ConfigProblem {
                key: name,
                origin: Some(origin),
                reason: "unknown key".into(),
            });
            continue;
        }
        let text = match value {
            toml::Value::String(text) => text,
            toml::Value::Integer(number) => number.to_string(),
            toml::Value::Float(number) => number.to_string(),
            toml::Value::Boolean(flag) => flag.to_string(),
            other => {
                problems.push(ConfigProblem {
                    key: name,
                    origin: Some(origin),
                    reason: format!(
                        "expected a string, number or boolean, got a {}",
                        other.type_str()
                    ),
                });
                continue;
            }
        };
        values.insert(name, (text, origin));
    }
}

fn apply(config: &mut SidecarConfig, name: &str, value: &str) -> Result<(), String> {
    let value = value.trim();
    match name {
        "queue_url" => config.queue_url = non_empty(value)?,
        "endpoint_url" => config.endpoint_url = Some(http_url(value)?.to_string()),
        "mode" => {
            config.mode = match value {
                "http" => Mode::Http,
                "exec" => Mode::Exec,
                other => return Err(format!("expected http or exec, got {other:?}")),
            }
        }
        "http_url" => config.http.url = http_url(value)?,
        "content_type" => {
            http::HeaderValue::from_str(value)
                .map_err(|_| format!("not a valid header value: {value:?}"))?;
            config.http.content_type = non_empty(value)?;
        }
        "accept_any_2xx" => config.http.accept_any_2xx = boolean(value)?,
        "connect_timeout" => config.http.connect_timeout = positive_duration(value)?,
        "inactivity_timeout" => config.http.inactivity_timeout = positive_duration(value)?,
        "health_url" => config.health_url = Some(http_url(value)?),
        "command" => config.command = Some(non_empty(value)?),
        "command_timeout" => config.command_timeout = Some(positive_duration(value)?),
        "concurrency" => {
            config.concurrency = value
                .parse::<usize>()
                .ok()
                .filter(|slots| (1..=10_000).contains(slots))
                .ok_or_else(|| format!("expected a whole number from 1 to 10000, got {value:?}"))?
        }
        "visibility_timeout" => {
            let timeout = parse_duration(value)?;
            if timeout > Duration::from_secs(12 * 3600) {
                return Err(format!("at most 12h (SQS's limit), got {value:?}"));
            }
            config.visibility_timeout = Some(timeout);
        }
        "grace_period" => config.grace_period = parse_duration(value)?,
        "wait_time" => {
            let wait = parse_duration(value)?;
            if wait > Duration::from_secs(20) {
                return Err(format!(
                    "at most 20s (SQS's long-poll limit), got {value:?}"
                ));
            }
            config.wait_time = wait;
        }
        "receive_linger" => config.receive_linger = parse_duration(value)?,
        "sns_unwrap" => config.sns_unwrap = boolean(value)?,
        "listen" => {
            value.parse::<std::net::SocketAddr>().map_err(|_| {
                format!("expected an address such as 127.0.0.1:9432, got {value:?}")
            })?;
            config.listen = value.to_owned();
        }
        "auto_scaling" => {
            config.auto_scaling = match value {
                "auto" => AutoScalingMode::Auto,
                "on" | "true" => AutoScalingMode::On,
                "off" | "false" => AutoScalingMode::Off,
                other => return Err(format!("expected auto, on or off, got {other:?}")),
            }
        }
        "scale_in_protection" => config.scale_in_protection = boolean(value)?,
        "protection_idle_delay" => config.protection_idle_delay = parse_duration(value)?,
        "auto_scaling_group" => config.auto_scaling_group = Some(non_empty(value)?),
        "lifecycle_hook" => config.lifecycle_hook = Some(non_empty(value)?),
        "lifecycle_heartbeat_interval" => {
            config.lifecycle_heartbeat_interval = positive_duration(value)?
        }
        "metadata_poll_interval" => config.metadata_poll_interval = positive_duration(value)?,
        "imds_endpoint" => config.imds_endpoint = Some(http_url(value)?.to_string()),
        other => return Err(format!("unknown key {other:?}")),
    }
    Ok(())
}

fn non_empty(value: &str) -> Result<String, String> {
    if value.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(value.to_owned())
    }
}

fn boolean(value: &str) -> Result<bool, String> {
    match value {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        other => Err(format!("expected true or false, got {other:?}")),
    }
}

fn positive_duration(value: &str) -> Result<Duration, String> {
    let duration = parse_duration(value)?;
    if duration.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(duration)
}

fn http_url(value: &str) -> Result<Uri, String> {
    let uri: Uri = value
        .parse()
        .map_err(|_| format!("expected an http:// URL, got {value:?}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(_)) => Ok(uri),
        (Some("https"), Some(_)) => Err(format!(
            "https is not supported for a local hand-off; use http://, got {value:?}"
        )),
        _ => Err(format!(
            "expected an http:// URL with a host, got {value:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_environment_beat_the_file() {
        let directory =
            std::env::temp_dir().join(format!("workpool-sidecar-config-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("layers.toml");
        std::fs::write(
            &path,
            "queue_url = \"http://file/q\"\nconcurrency = 3\ngrace_period = \"5s\"\n",
        )
        .unwrap();
        let config = ConfigSources::new()
            .file(Some(path))
            .environment([
                ("WORKPOOL_CONCURRENCY".to_owned(), "4".to_owned()),
                ("WORKPOOL_GRACE_PERIOD".to_owned(), "6s".to_owned()),
                ("WORKPOOL_TEST_ENDPOINT".to_owned(), "ignored".to_owned()),
                ("HOME".to_owned(), "/root".to_owned()),
            ])
            .flag("concurrency", "5")
            .load()
            .unwrap();
        assert_eq!(config.queue_url, "http://file/q");
        assert_eq!(config.concurrency, 5);
        assert_eq!(config.grace_period, Duration::from_secs(6));
    }

    #[test]
    fn every_bad_key_is_reported_at_once() {
        let directory =
            std::env::temp_dir().join(format!("workpool-sidecar-bad-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("bad.toml");
        std::fs::write(&path, "concurency = 3\nmode = \"exec\"\nhttp_url = [1]\n").unwrap();
        let error = ConfigSources::new()
            .file(Some(path))
            .environment([("WORKPOOL_CONNECT_TIMEOUT".to_owned(), "soon".to_owned())])
            .flag("concurrency", "0")
            .load()
            .unwrap_err();
        let Error::Config(problems) = &error else {
            panic!("{error}")
        };
        let keys: Vec<&str> = problems
            .iter()
            .map(|problem| problem.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "command",
                "concurency",
                "concurrency",
                "connect_timeout",
                "http_url",
                "queue_url"
            ]
        );
        let text = error.to_string();
        assert!(
            text.starts_with("invalid configuration (6 problems):"),
            "{text}"
        );
        assert!(
            text.contains("`connect_timeout` (from environment variable WORKPOOL_CONNECT_TIMEOUT)"),
            "{text}"
        );
        assert!(
            text.contains("`concurrency` (from flag --concurrency)"),
            "{text}"
        );
        assert!(text.contains("`concurency` (in "), "{text}");
    }

    #[test]
    fn flags_are_the_names_in_kebab_case() {
        for key in CONFIG_KEYS {
            assert_eq!(key.flag, format!("--{}", key.name.replace('_', "-")));
        }
    }

    #[test]
    fn urls_must_be_plain_http_with_a_host() {
        assert!(http_url("http://127.0.0.1:8080/work").is_ok());
        assert!(http_url("https://example.com/")
            .unwrap_err()
            .contains("https is not supported"));
        assert!(http_url("127.0.0.1:8080").is_err());
        assert!(http_url("/relative").is_err());
    }

    #[test]
    fn every_key_has_a_parser() {
        let sample = |name: &str| match name {
            "mode" => "http",
            "auto_scaling" => "off",
            "listen" => "127.0.0.1:1",
            "accept_any_2xx" | "sns_unwrap" | "scale_in_protection" => "true",
            "concurrency" => "2",
            name if name.ends_with("url") || name.ends_with("endpoint") => "http://127.0.0.1:1/",
            name if name.contains("timeout")
                || name.contains("interval")
                || name.contains("delay")
                || name.contains("period")
                || name.contains("linger")
                || name.contains("wait") =>
            {
                "1s"
            }
            _ => "x",
        };
        let mut config = SidecarConfig::new("q");
        for key in CONFIG_KEYS {
            apply(&mut config, key.name, sample(key.name))
                .unwrap_or_else(|reason| panic!("{}: {reason}", key.name));
        }
    }
}
