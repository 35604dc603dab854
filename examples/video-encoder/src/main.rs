//! The `video-encoder` binary: `worker` consumes jobs from SQS, `submit` enqueues one, `handle` runs
//! one job read from stdin (for `workpool sidecar --mode exec`). Without arguments it runs `worker`
//! configured from the environment, as `deploy/systemd/workpool-worker.service` starts it.
//!
//! Run with: `cargo run -p video-encoder -- --help` (see README.md).

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;
use video_encoder::job::{Job, Rendition};
use video_encoder::process::process;
use video_encoder::storage::{s3_client, S3Objects};
use video_encoder::submit::{submit, Submission};
use video_encoder::visibility::VisibilityRule;
use video_encoder::worker::{run_worker, WorkerSettings};
use workpool::BoxError;
use workpool_sqs::{Producer, SqsSource};

/// Encode videos into renditions with ffmpeg, fed by an SQS queue.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// AWS endpoint override for SQS and S3 (an emulator); default: the normal AWS endpoints.
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    endpoint_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume jobs from the queue until Ctrl-C / SIGTERM, then drain.
    Worker {
        /// The SQS queue URL of the jobs.
        #[arg(long, env = "QUEUE_URL")]
        queue_url: String,
        /// Jobs encoded at once.
        #[arg(long, env = "VIDEO_ENCODER_CONCURRENCY", default_value_t = 1)]
        concurrency: usize,
        /// Visibility timeout of received jobs until their input is probed, in seconds (the
        /// heartbeat extends it meanwhile).
        #[arg(long, env = "VIDEO_ENCODER_VISIBILITY_TIMEOUT", default_value_t = 60)]
        visibility_timeout: u64,
        /// Once the input is probed, the visibility timeout becomes MARGIN + duration × renditions ×
        /// FACTOR (at most 12 h; the heartbeat extends by it): FACTOR is the seconds of encoding
        /// expected per second of video and rendition.
        #[arg(
            long,
            env = "VIDEO_ENCODER_ENCODE_FACTOR",
            default_value_t = 2.0,
            value_name = "FACTOR",
            value_parser = encode_factor
        )]
        encode_factor: f64,
        /// The MARGIN of the visibility estimate, in seconds: download, probe and uploads.
        #[arg(
            long,
            env = "VIDEO_ENCODER_VISIBILITY_MARGIN",
            default_value_t = 60,
            value_name = "MARGIN"
        )]
        visibility_margin: u64,
        /// Seconds running encodes may take to finish after SIGTERM; the rest go back to the queue.
        /// Keep it below systemd's TimeoutStopSec (45 s in deploy/systemd/workpool-worker.service).
        #[arg(long, env = "VIDEO_ENCODER_GRACE_PERIOD", default_value_t = 30)]
        grace_period: u64,
    },
    /// Upload an input (when the outputs go to S3) and enqueue its job.
    Submit {
        /// The source video: a local file or s3://bucket/key.
        #[arg(long)]
        input: String,
        /// The SQS queue URL of the jobs.
        #[arg(long, env = "QUEUE_URL")]
        queue_url: String,
        /// Where the renditions go: s3://bucket/prefix or a local folder.
        #[arg(long)]
        output_prefix: String,
        /// A rendition as HEIGHT:BITRATE (e.g. 360:800k); repeat for more.
        #[arg(long = "rendition", required = true)]
        renditions: Vec<Rendition>,
        /// Where to upload a local input (default: <output-prefix>/source/<file name> for S3 outputs).
        #[arg(long)]
        upload_to: Option<String>,
    },
    /// Run one job read as JSON from stdin; exit 0 when every rendition is stored. For
    /// `workpool sidecar --mode exec --command "video-encoder handle"`.
    Handle,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut arguments: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if arguments.len() == 1 {
        arguments.push("worker".into());
    }
    match run(Cli::parse_from(arguments)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error_chain(&*error), "video-encoder failed");
            ExitCode::FAILURE
        }
    }
}

/// `--encode-factor`: a finite number, zero or more.
fn encode_factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(factor) if factor.is_finite() && factor >= 0.0 => Ok(factor),
        _ => Err(format!(
            "{text:?} is not a number of zero or more (e.g. 2 or 0.5)"
        )),
    }
}

/// An error and its causes, joined with ": ".
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    let config = workpool_sqs::aws_config_for(cli.endpoint_url.as_deref()).await;
    let store = S3Objects::new(s3_client(&config));
    match cli.command {
        Command::Worker {
            queue_url,
            concurrency,
            visibility_timeout,
            encode_factor,
            visibility_margin,
            grace_period,
        } => {
            let rule = VisibilityRule::default()
                .factor(encode_factor)
                .margin(Duration::from_secs(visibility_margin));
            let settings = WorkerSettings::default()
                .concurrency(concurrency)
                .visibility_timeout(Duration::from_secs(visibility_timeout))
                .visibility_rule(rule)
                .grace_period(Duration::from_secs(grace_period));
            let source = SqsSource::from_queue_url(&config, &queue_url)?;
            let summary = run_worker(source, store, &settings, workpool::shutdown_signal()).await?;
            println!(
                "jobs received {}, done {}, failed {}, discarded {}",
                summary.received, summary.succeeded, summary.failed, summary.discarded
            );
        }
        Command::Submit {
            input,
            queue_url,
            output_prefix,
            renditions,
            upload_to,
        } => {
            let producer = Producer::from_queue_url(&config, &queue_url)?;
            let submission = Submission {
                input,
                output_prefix,
                renditions,
                upload_to,
            };
            let submitted = submit(&store, &producer, &submission).await?;
            println!("{}", submitted.message_id);
        }
        Command::Handle => {
            // Read before anything else runs, so blocking on stdin holds up nothing.
            let mut body = String::new();
            std::io::stdin().read_to_string(&mut body)?;
            let job: Job = serde_json::from_str(&body)?;
            // The sidecar keeps the message invisible; there is no lease to adjust here.
            let finished = process(&store, &job, &CancellationToken::new(), |_| {}).await?;
            tracing::info!(?finished, "job done");
        }
    }
    Ok(())
}
