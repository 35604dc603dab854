//! # workpool-sidecar
//!
//! The EC2 sidecar of workpool (`workpool sidecar`): it polls an SQS queue and hands each message to
//! a local app — over HTTP, compatible with the Elastic Beanstalk worker daemon `sqsd`
//! ([`HttpHandoff`]), or to a command on its standard input ([`ExecHandoff`]) — while the consumer
//! runtime keeps messages invisible as long as the app works. On EC2 it ties the instance into its
//! Auto Scaling group: scale-in protection while any slot is busy ([`ProtectionPolicy`]), a drain and
//! `CompleteLifecycleAction` when the instance is terminated, and the release of in-flight messages
//! on a Spot interruption notice ([`termination`]). `/healthz` and Prometheus `/metrics` are served
//! on 127.0.0.1.
//!
//! ## Quickstart
//!
//! ```
//! use workpool_sidecar::{ConfigSources, Mode, Sidecar};
//!
//! # fn main() -> Result<(), workpool_sidecar::Error> {
//! // A TOML file, then WORKPOOL_<KEY> variables, then flags: later layers win.
//! let config = ConfigSources::new()
//!     .environment([("WORKPOOL_QUEUE_URL".into(), "http://127.0.0.1:4566/000000000000/jobs".into())])
//!     .flag("http_url", "http://127.0.0.1:8080/work")
//!     .flag("concurrency", "32")
//!     .load()?;
//! assert_eq!(config.get_mode(), Mode::Http);
//! assert_eq!(config.get_concurrency(), 32);
//!
//! // Every bad key is reported at once, each named.
//! let error = ConfigSources::new().flag("concurrency", "many").load().unwrap_err();
//! assert!(error.to_string().contains("`concurrency` (from flag --concurrency)"));
//! assert!(error.to_string().contains("`queue_url`: required"));
//!
//! async fn run(config: workpool_sidecar::SidecarConfig) -> Result<(), workpool_sidecar::Error> {
//!     let metrics = workpool_sidecar::install_prometheus_recorder()?;
//!     let report = Sidecar::new(config)
//!         .metrics(Some(metrics))
//!         .bind()
//!         .await?
//!         .run(workpool::shutdown_signal())
//!         .await?;
//!     println!("{:?}", report.summary);
//!     Ok(())
//! }
//! # let _ = run;
//! # Ok(()) }
//! ```

mod auto_scaling;
mod config;
mod config_sources;
mod duration_text;
mod error;
mod exec_handoff;
mod handoff_body;
mod http_handoff;
mod in_flight;
pub mod instance_metadata;
pub mod metric_names;
mod protection_policy;
mod protection_task;
mod retry_after;
mod sidecar;
pub mod sqsd_headers;
mod status_server;
pub mod termination;

pub use auto_scaling::{AutoScalingApi, AwsAutoScaling, LifecycleAction};
pub use config::{AutoScalingMode, Mode, SidecarConfig};
pub use config_sources::{ConfigKey, ConfigProblem, ConfigSources, Origin, CONFIG_KEYS};
pub use duration_text::parse_duration;
pub use error::Error;
pub use exec_handoff::{message_environment, ExecHandoff, ExecHandoffConfig};
pub use handoff_body::HandoffBody;
pub use http_handoff::{HttpHandoff, HttpHandoffConfig};
pub use in_flight::{InFlight, Tracked};
pub use instance_metadata::{ImdsMetadata, InstanceMetadata};
pub use protection_policy::ProtectionPolicy;
pub use protection_task::keep_scale_in_protection;
pub use retry_after::parse_retry_after;
pub use sidecar::{install_prometheus_recorder, BoundSidecar, Ending, Report, Sidecar};
pub use status_server::{bind_status, serve_status, Status};
