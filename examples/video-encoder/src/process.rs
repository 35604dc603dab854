//! One job from start to end: validate it, skip the renditions that already exist, fetch the input,
//! probe it, say what is about to be encoded ([`Workload`], so a caller can set the message's
//! visibility from it), encode each missing rendition and store it. Nothing here knows about queues.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::encode::{encode, EncodeError};
use crate::job::{InvalidJob, Job, PlannedOutput};
use crate::location::Location;
use crate::probe::{probe, ProbeError};
use crate::storage::{StorageError, Store};

/// What a finished job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Every rendition was already there: nothing was encoded.
    AlreadyEncoded,
    /// These renditions (heights) were encoded and stored; the others already existed.
    Encoded {
        /// The heights encoded now.
        heights: Vec<u32>,
        /// The input's play time.
        duration: Duration,
    },
}

/// What a job is about to encode, known once its input is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// The input's play time.
    pub duration: Duration,
    /// How many renditions will be encoded (those not stored yet).
    pub renditions: usize,
}

/// Why a job did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job itself is wrong: retrying cannot help.
    #[error(transparent)]
    Invalid(#[from] InvalidJob),
    /// The input could not be fetched.
    #[error("fetching the input")]
    Input(#[source] StorageError),
    /// The input is not a usable video (missing, broken, no video stream).
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// ffmpeg failed, or was killed when the lease was lost.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A rendition could not be checked or stored.
    #[error("storing the output")]
    Output(#[source] StorageError),
    /// No scratch folder could be made.
    #[error("making a scratch folder")]
    Scratch(#[source] std::io::Error),
    /// The lease was lost between two renditions.
    #[error("the message's lease was lost before {height}p was encoded")]
    LeaseLost {
        /// The rendition not started.
        height: u32,
    },
}

impl JobError {
    /// True when the job can never succeed, however often it is retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, JobError::Invalid(_))
    }
}

/// Runs `job` against `store`. Renditions that already exist are not encoded again; each one is
/// stored as soon as it is encoded, so a retry after a failure only redoes what is missing. When
/// `lease` is cancelled, ffmpeg is killed and the job stops. `on_probed` is called once, after the
/// input is probed and before the first encode, with what is left to encode (the worker sets the
/// message's visibility timeout from it); it is not called when nothing is left to encode or the
/// input is unusable.
pub async fn process<S: Store>(
    store: &S,
    job: &Job,
    lease: &CancellationToken,
    on_probed: impl FnOnce(Workload),
) -> Result<Finished, JobError> {
    let plan = job.plan()?;
    let mut missing = Vec::new();
    for output in &plan.outputs {
        if store
            .exists(&output.location)
            .await
            .map_err(JobError::Output)?
        {
            tracing::info!(output = %output.location, "rendition already exists: not encoding it again");
        } else {
            missing.push(output);
        }
    }
    if missing.is_empty() {
        return Ok(Finished::AlreadyEncoded);
    }

    let scratch = tempfile::Builder::new()
        .prefix("video-encoder-")
        .tempdir()
        .map_err(JobError::Scratch)?;
    let input = match &plan.input {
        Location::Local(path) => path.clone(),
        remote => {
            let name = remote.file_name().unwrap_or("input");
            let path = scratch.path().join(format!("input-{name}"));
            tracing::info!(input = %remote, "downloading the input");
            store
                .download(remote, &path)
                .await
                .map_err(JobError::Input)?;
            path
        }
    };
    let probed = probe(&input).await?;
    tracing::info!(
        duration = probed.duration.as_secs_f64(),
        codec = %probed.video.codec,
        width = probed.video.width,
        height = probed.video.height,
        audio = probed.has_audio,
        renditions = missing.len(),
        "input probed"
    );
    on_probed(Workload {
        duration: probed.duration,
        renditions: missing.len(),
    });

    let mut heights = Vec::new();
    for output in missing {
        if lease.is_cancelled() {
            return Err(JobError::LeaseLost {
                height: output.height,
            });
        }
        let encoded = scratch_file(scratch.path(), output);
        encode(&input, &encoded, output, &probed, lease).await?;
        store
            .upload(&encoded, &output.location)
            .await
            .map_err(JobError::Output)?;
        // The scratch folder goes at the end anyway; freeing the space early helps long jobs.
        let _ = tokio::fs::remove_file(&encoded).await;
        tracing::info!(output = %output.location, "rendition stored");
        heights.push(output.height);
    }
    Ok(Finished::Encoded {
        heights,
        duration: probed.duration,
    })
}

fn scratch_file(scratch: &std::path::Path, output: &PlannedOutput) -> PathBuf {
    scratch.join(format!("{}p.mp4", output.height))
}
