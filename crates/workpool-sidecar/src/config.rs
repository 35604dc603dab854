//! [`SidecarConfig`]: every setting of the sidecar, with its default. Load it from a TOML file, the
//! environment and flags with [`SidecarConfig::load`](crate::ConfigSources), or build it in code.

use std::time::Duration;

use http::Uri;

use crate::http_handoff::HttpHandoffConfig;

/// How messages reach the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// POST each body to the app's URL, as `sqsd` does.
    Http,
    /// Run a command per message, the body on its standard input.
    Exec,
}

/// Whether the Auto Scaling integration (scale-in protection, termination drain, Spot notices) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoScalingMode {
    /// On when instance metadata answers (the sidecar runs on EC2), off otherwise.
    Auto,
    /// Always on; starting fails without instance metadata.
    On,
    /// Off.
    Off,
}

/// Every setting of the sidecar. Each setter states its default.
#[derive(Debug, Clone)]
pub struct SidecarConfig {
    pub(crate) queue_url: String,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) mode: Mode,
    /// HTTP mode's settings, with the queue's name filled in when the sidecar starts.
    pub(crate) http: HttpHandoffConfig,
    pub(crate) health_url: Option<Uri>,
    pub(crate) command: Option<String>,
    pub(crate) command_timeout: Option<Duration>,
    pub(crate) concurrency: usize,
    pub(crate) visibility_timeout: Option<Duration>,
    pub(crate) grace_period: Duration,
    pub(crate) wait_time: Duration,
    pub(crate) receive_linger: Duration,
    pub(crate) sns_unwrap: bool,
    pub(crate) listen: String,
    pub(crate) auto_scaling: AutoScalingMode,
    pub(crate) scale_in_protection: bool,
    pub(crate) protection_idle_delay: Duration,
    pub(crate) auto_scaling_group: Option<String>,
    pub(crate) lifecycle_hook: Option<String>,
    pub(crate) lifecycle_heartbeat_interval: Duration,
    pub(crate) metadata_poll_interval: Duration,
    pub(crate) imds_endpoint: Option<String>,
}

impl SidecarConfig {
    /// The settings for `queue_url`, everything else at its default.
    pub fn new(queue_url: impl Into<String>) -> Self {
        Self {
            queue_url: queue_url.into(),
            endpoint_url: None,
            mode: Mode::Http,
            http: HttpHandoffConfig::new(Uri::from_static("http://127.0.0.1:80/"), ""),
            health_url: None,
            command: None,
            command_timeout: None,
            concurrency: 10,
            visibility_timeout: None,
            grace_period: Duration::from_secs(30),
            wait_time: Duration::from_secs(20),
            receive_linger: Duration::from_millis(20),
            sns_unwrap: false,
            listen: "127.0.0.1:9432".into(),
            auto_scaling: AutoScalingMode::Auto,
            scale_in_protection: true,
            protection_idle_delay: Duration::from_secs(10),
            auto_scaling_group: None,
            lifecycle_hook: None,
            lifecycle_heartbeat_interval: Duration::from_secs(60),
            metadata_poll_interval: Duration::from_secs(5),
            imds_endpoint: None,
        }
    }

    /// The queue to poll. Required.
    pub fn queue_url(mut self, url: impl Into<String>) -> Self {
        self.queue_url = url.into();
        self
    }

    /// An AWS endpoint override for SQS and Auto Scaling (an emulator, a VPC endpoint). Default: none.
    pub fn endpoint_url(mut self, url: Option<String>) -> Self {
        self.endpoint_url = url;
        self
    }

    /// HTTP or exec hand-off. Default [`Mode::Http`].
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Where HTTP mode POSTs each message. Default `http://127.0.0.1:80/` (as `sqsd`).
    pub fn http_url(mut self, url: Uri) -> Self {
        self.http.url = url;
        self
    }

    /// The `Content-Type` of each POST, as [`HttpHandoffConfig::content_type`]. Default
    /// `application/json`.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.http = self.http.content_type(content_type);
        self
    }

    /// Whether any 2xx answer means success (else only 200), as
    /// [`HttpHandoffConfig::accept_any_2xx`]. Default false.
    pub fn accept_any_2xx(mut self, accept: bool) -> Self {
        self.http = self.http.accept_any_2xx(accept);
        self
    }

    /// How long connecting to the app may take, as [`HttpHandoffConfig::connect_timeout`]. Default
    /// 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http = self.http.connect_timeout(timeout);
        self
    }

    /// How long the app may take to answer, as [`HttpHandoffConfig::inactivity_timeout`]: to the
    /// response headers, then between two chunks of the body; not a limit on the whole exchange.
    /// Default 299 s (as `sqsd`).
    pub fn inactivity_timeout(mut self, timeout: Duration) -> Self {
        self.http = self.http.inactivity_timeout(timeout);
        self
    }

    /// The app's own health URL; `/healthz` is ready only while it answers 2xx. Default: none.
    pub fn health_url(mut self, url: Option<Uri>) -> Self {
        self.health_url = url;
        self
    }

    /// The command exec mode runs (with `/bin/sh -c`). Default: none (required in exec mode).
    pub fn command(mut self, command: Option<String>) -> Self {
        self.command = command;
        self
    }

    /// The time limit of one command run; past it the process group is killed. Default: no limit.
    pub fn command_timeout(mut self, limit: Option<Duration>) -> Self {
        self.command_timeout = limit;
        self
    }

    /// How many messages are handed off at once (simultaneous requests or commands). Default 10.
    pub fn concurrency(mut self, slots: usize) -> Self {
        self.concurrency = slots.max(1);
        self
    }

    /// The visibility timeout of received messages. Default: the queue's own.
    pub fn visibility_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    /// How long running hand-offs may take to finish after SIGTERM; the rest are released. Default 30 s.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }

    /// How long a receive waits for a message (long polling), up to 20 s. A stopping sidecar lets the
    /// receive under way answer, so this also bounds how long an idle sidecar takes to stop.
    /// Default 20 s.
    pub fn wait_time(mut self, wait: Duration) -> Self {
        self.wait_time = wait.min(Duration::from_secs(20));
        self
    }

    /// How long a busy sidecar waits for ten free slots before it receives fewer messages: longer
    /// means fewer SQS requests per message, shorter means slots idle less with fast apps. Default
    /// 20 ms (the consumer's).
    pub fn receive_linger(mut self, linger: Duration) -> Self {
        self.receive_linger = linger;
        self
    }

    /// Unwrap SNS notification envelopes and hand off only the inner message. Default false.
    pub fn sns_unwrap(mut self, unwrap: bool) -> Self {
        self.sns_unwrap = unwrap;
        self
    }

    /// The address of `/healthz` and `/metrics`. Default `127.0.0.1:9432`.
    pub fn listen(mut self, address: impl Into<String>) -> Self {
        self.listen = address.into();
        self
    }

    /// The Auto Scaling integration. Default [`AutoScalingMode::Auto`].
    pub fn auto_scaling(mut self, mode: AutoScalingMode) -> Self {
        self.auto_scaling = mode;
        self
    }

    /// Whether to hold scale-in protection while any slot is busy. Default true.
    pub fn scale_in_protection(mut self, on: bool) -> Self {
        self.scale_in_protection = on;
        self
    }

    /// How long every slot must stay idle before protection is turned off. Default 10 s.
    pub fn protection_idle_delay(mut self, delay: Duration) -> Self {
        self.protection_idle_delay = delay;
        self
    }

    /// The Auto Scaling group. Default: looked up from the instance id.
    pub fn auto_scaling_group(mut self, group: Option<String>) -> Self {
        self.auto_scaling_group = group;
        self
    }

    /// The termination lifecycle hook. Default: the group's hook on `EC2_INSTANCE_TERMINATING`.
    pub fn lifecycle_hook(mut self, hook: Option<String>) -> Self {
        self.lifecycle_hook = hook;
        self
    }

    /// How often to record a lifecycle heartbeat while draining. Default 60 s.
    pub fn lifecycle_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.lifecycle_heartbeat_interval = interval;
        self
    }

    /// How often to read instance metadata for termination and Spot notices. Default 5 s.
    pub fn metadata_poll_interval(mut self, interval: Duration) -> Self {
        self.metadata_poll_interval = interval;
        self
    }

    /// The instance metadata endpoint. Default: the SDK's (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, else
    /// `http://169.254.169.254`).
    pub fn imds_endpoint(mut self, endpoint: Option<String>) -> Self {
        self.imds_endpoint = endpoint;
        self
    }

    /// The queue URL.
    pub fn get_queue_url(&self) -> &str {
        &self.queue_url
    }

    /// The hand-off mode.
    pub fn get_mode(&self) -> Mode {
        self.mode
    }

    /// The concurrency.
    pub fn get_concurrency(&self) -> usize {
        self.concurrency
    }

    /// The HTTP hand-off URL.
    pub fn get_http_url(&self) -> &Uri {
        self.http.url()
    }

    /// The status server's address.
    pub fn get_listen(&self) -> &str {
        &self.listen
    }
}
