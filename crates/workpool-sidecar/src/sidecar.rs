//! [`Sidecar`]: the whole sidecar wired together — the consumer, the hand-off, the status server and
//! the Auto Scaling integration — from a [`SidecarConfig`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workpool::{Consumer, Message, Outcome, Sns, Summary};
use workpool_sqs::SqsSource;

use crate::auto_scaling::{AutoScalingApi, AwsAutoScaling, LifecycleAction};
use crate::config::{AutoScalingMode, Mode, SidecarConfig};
use crate::error::Error;
use crate::exec_handoff::{ExecHandoff, ExecHandoffConfig};
use crate::handoff_body::HandoffBody;
use crate::http_handoff::HttpHandoff;
use crate::in_flight::InFlight;
use crate::instance_metadata::{ImdsMetadata, InstanceMetadata, INSTANCE_ID};
use crate::protection_task::keep_scale_in_protection;
use crate::status_server::{bind_status, serve_status, Status};
use crate::termination::{watch_instance, InstanceNotice, TerminationDrain};

/// How long instance metadata may take to answer at start-up before the sidecar decides it is not on EC2.
const METADATA_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a sidecar run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The shutdown signal (SIGTERM, SIGINT) or future completed.
    Shutdown,
    /// Auto Scaling terminated the instance; the sidecar drained and completed the lifecycle action.
    Terminated,
    /// A Spot interruption notice came; in-flight messages were released.
    SpotInterruption,
}

/// What one sidecar run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The consumer's counts.
    pub summary: Summary,
    /// Why it ended.
    pub ending: Ending,
}

/// The sidecar, configured. See the [crate docs](crate) for a quickstart.
#[derive(Debug)]
pub struct Sidecar {
    config: SidecarConfig,
    metrics: Option<PrometheusHandle>,
}

impl Sidecar {
    /// A sidecar with these settings; no `/metrics` until [`metrics`](Self::metrics) is given.
    pub fn new(config: SidecarConfig) -> Self {
        Self {
            config,
            metrics: None,
        }
    }

    /// The Prometheus recorder `/metrics` renders (see [`install_prometheus_recorder`]). Default: none.
    pub fn metrics(mut self, handle: Option<PrometheusHandle>) -> Self {
        self.metrics = handle;
        self
    }

    /// Binds the status server's address, so the port is known before the run.
    pub async fn bind(self) -> Result<BoundSidecar, Error> {
        let listener = bind_status(&self.config.listen).await?;
        Ok(BoundSidecar {
            sidecar: self,
            listener,
        })
    }
}

/// Installs the global Prometheus metrics recorder and returns the handle `/metrics` renders.
pub fn install_prometheus_recorder() -> Result<PrometheusHandle, Error> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|error| Error::MetricsRecorder(error.to_string()))
}

/// A sidecar whose status server is bound; [`run`](Self::run) it.
#[derive(Debug)]
pub struct BoundSidecar {
    sidecar: Sidecar,
    listener: TcpListener,
}

/// Where the instance stands in its Auto Scaling group, found at start-up.
struct Placement {
    metadata: ImdsMetadata,
    instance_id: String,
    group: Option<String>,
    hook: Option<String>,
}

impl BoundSidecar {
    /// The address `/healthz` and `/metrics` are served on.
    pub fn status_address(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Runs until `shutdown` completes, the instance is terminated, or a Spot notice comes.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Report, Error> {
        let config = self.sidecar.config;
        let aws_config = workpool_sqs::aws_config_for(config.endpoint_url.as_deref()).await;
        let source = SqsSource::from_queue_url(&aws_config, &config.queue_url)?;
        let queue_name = config
            .queue_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let api = Arc::new(AwsAutoScaling::new(&aws_config));
        let placement = find_placement(&config, &*api).await?;

        let in_flight = InFlight::new();
        let mut consumer = Consumer::new(source)
            .concurrency(config.concurrency)
            .grace_period(config.grace_period)
            .wait_time(config.wait_time)
            .receive_linger(config.receive_linger);
        if let Some(timeout) = config.visibility_timeout {
            consumer = consumer.visibility_timeout(timeout);
        }
        let control = consumer.control();
        let status = Status::new(self.sidecar.metrics, config.health_url.clone());
        let background_stop = CancellationToken::new();
        let status_task = tokio::spawn(serve_status(
            self.listener,
            status.clone(),
            background_stop.clone(),
        ));

        let protection_task = match &placement {
            Some(Placement {
                instance_id,
                group: Some(group),
                ..
            }) if config.scale_in_protection => Some(tokio::spawn(keep_scale_in_protection(
                api.clone(),
                group.clone(),
                instance_id.clone(),
                in_flight.clone(),
                config.protection_idle_delay,
                background_stop.clone(),
            ))),
            _ => None,
        };

        let consumer_stopped = CancellationToken::new();
        let watcher = placement.map(|placement| {
            let action = match (&placement.group, &placement.hook) {
                (Some(group), Some(hook)) => Some(LifecycleAction {
                    group: group.clone(),
                    hook: hook.clone(),
                    instance_id: placement.instance_id.clone(),
                }),
                _ => None,
            };
            let drain = TerminationDrain {
                api: api.clone(),
                action,
                control: control.clone(),
                in_flight: in_flight.clone(),
                consumer_stopped: consumer_stopped.clone(),
                heartbeat_interval: config.lifecycle_heartbeat_interval,
            };
            let interval = config.metadata_poll_interval;
            let status = status.clone();
            let stopped = consumer_stopped.clone();
            tokio::spawn(async move {
                let notice = tokio::select! {
                    notice = watch_instance(&placement.metadata, interval, true) => notice,
                    () = stopped.cancelled() => return None,
                };
                status.set_stopping();
                match &notice {
                    InstanceNotice::Terminating => drain.run().await,
                    InstanceNotice::SpotInterruption(spot) => {
                        tracing::warn!(action = %spot.action, time = %spot.time, "Spot interruption notice: releasing in-flight messages");
                        // Stop receiving first: a message released while a receive is still under
                        // way would come straight back to this instance.
                        drain.control.shutdown();
                        drain.control.receiving_stopped().await;
                        drain.in_flight.release_all();
                    }
                }
                Some(notice)
            })
        });

        let signal_status = status.clone();
        let shutdown = async move {
            shutdown.await;
            signal_status.set_stopping();
        };
        let handoff = Handoff::new(&config, &queue_name);
        let summary = match (config.sns_unwrap, handoff) {
            (false, Handoff::Http(service)) => {
                run_consumer::<String, _>(consumer, in_flight.track(service), shutdown).await
            }
            (true, Handoff::Http(service)) => {
                run_consumer::<Sns<String>, _>(consumer, in_flight.track(service), shutdown).await
            }
            (false, Handoff::Exec(service)) => {
                run_consumer::<String, _>(consumer, in_flight.track(service), shutdown).await
            }
            (true, Handoff::Exec(service)) => {
                run_consumer::<Sns<String>, _>(consumer, in_flight.track(service), shutdown).await
            }
        };
        consumer_stopped.cancel();
        let notice = match watcher {
            Some(task) => task.await.ok().flatten(),
            None => None,
        };
        background_stop.cancel();
        if let Some(task) = protection_task {
            let _ = task.await;
        }
        let _ = status_task.await;
        let ending = match notice {
            None => Ending::Shutdown,
            Some(InstanceNotice::Terminating) => Ending::Terminated,
            Some(InstanceNotice::SpotInterruption(_)) => Ending::SpotInterruption,
        };
        Ok(Report {
            summary: summary?,
            ending,
        })
    }
}

enum Handoff {
    Http(HttpHandoff),
    Exec(ExecHandoff),
}

impl Handoff {
    fn new(config: &SidecarConfig, queue_name: &str) -> Self {
        match config.mode {
            Mode::Http => Handoff::Http(HttpHandoff::new(
                config
                    .http
                    .clone()
                    .for_queue(queue_name)
                    .max_idle_connections(config.concurrency),
            )),
            Mode::Exec => Handoff::Exec(ExecHandoff::new(
                ExecHandoffConfig::new(config.command.clone().unwrap_or_default(), queue_name)
                    .time_limit(config.command_timeout),
            )),
        }
    }
}

async fn run_consumer<T, S>(
    consumer: Consumer<SqsSource>,
    service: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, Error>
where
    T: HandoffBody,
    S: tower::Service<Message<T>, Response = Outcome, Error = workpool::BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    Ok(consumer
        .run(service)
        .with_graceful_shutdown(shutdown)
        .await?)
}

/// Reads the instance id and finds the group and hook, as the Auto Scaling setting allows. `None`
/// when the integration is off (or, in auto mode, instance metadata does not answer).
async fn find_placement<A: AutoScalingApi>(
    config: &SidecarConfig,
    api: &A,
) -> Result<Option<Placement>, Error> {
    if config.auto_scaling == AutoScalingMode::Off {
        return Ok(None);
    }
    let metadata = ImdsMetadata::new(config.imds_endpoint.as_deref(), METADATA_PROBE_TIMEOUT)?;
    let instance_id = match metadata.get(INSTANCE_ID).await {
        Ok(Some(id)) => id,
        outcome => {
            let reason = match outcome {
                Err(error) => error.to_string(),
                _ => "instance metadata has no instance-id".to_owned(),
            };
            if config.auto_scaling == AutoScalingMode::On {
                return Err(Error::InstanceMetadata {
                    path: INSTANCE_ID.into(),
                    reason,
                });
            }
            tracing::info!(%reason, "not on EC2 (instance metadata does not answer): Auto Scaling integration off");
            return Ok(None);
        }
    };
    let group = match &config.auto_scaling_group {
        Some(group) => Some(group.clone()),
        None => match api.group_of(&instance_id).await {
            Ok(group) => group,
            Err(error) => {
                tracing::warn!(%error, "cannot find this instance's Auto Scaling group");
                None
            }
        },
    };
    let hook = match (&config.lifecycle_hook, &group) {
        (Some(hook), _) => Some(hook.clone()),
        (None, Some(group)) => match api.termination_hook(group).await {
            Ok(hook) => hook,
            Err(error) => {
                tracing::warn!(%error, "cannot read the group's lifecycle hooks");
                None
            }
        },
        (None, None) => None,
    };
    tracing::info!(%instance_id, ?group, ?hook, "Auto Scaling integration on");
    Ok(Some(Placement {
        metadata,
        instance_id,
        group,
        hook,
    }))
}
