//! Encoding one rendition with a real ffmpeg process: the command line ([`command`]), its progress
//! ([`progress`]) logged as it goes, its stderr tail in the error, and the process killed when the
//! message's lease is lost.

pub mod command;
pub mod progress;

use std::path::Path;
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::job::PlannedOutput;
use crate::probe::Probe;
use crate::stderr_tail::StderrTail;
use command::ffmpeg_arguments;
use progress::{Milestones, ProgressReader};

/// How often (in percent) progress is logged at info level; every block is logged at debug.
pub const LOG_EVERY_PERCENT: u32 = 25;

/// Why a rendition was not encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// ffmpeg could not be started.
    #[error("could not run ffmpeg (is it installed?)")]
    Spawn(#[source] std::io::Error),
    /// Waiting for ffmpeg failed.
    #[error("lost track of ffmpeg")]
    Wait(#[source] std::io::Error),
    /// ffmpeg exited with an error.
    #[error("ffmpeg failed ({status}) encoding {height}p: {stderr}")]
    Failed {
        /// The rendition's height.
        height: u32,
        /// How ffmpeg exited.
        status: ExitStatus,
        /// The tail of ffmpeg's stderr.
        stderr: String,
    },
    /// The message's lease was lost, so ffmpeg was killed.
    #[error("the message's lease was lost: ffmpeg killed while encoding {height}p")]
    LeaseLost {
        /// The rendition's height.
        height: u32,
    },
}

/// Encodes `input` into the file `output` as `target`. Returns when ffmpeg has exited successfully;
/// when `lease` is cancelled first, kills ffmpeg, waits for it and returns
/// [`EncodeError::LeaseLost`].
pub async fn encode(
    input: &Path,
    output: &Path,
    target: &PlannedOutput,
    probe: &Probe,
    lease: &CancellationToken,
) -> Result<(), EncodeError> {
    let height = target.height;
    let mut child = Command::new("ffmpeg")
        .args(ffmpeg_arguments(input, output, target, probe))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(EncodeError::Spawn)?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    tracing::info!(height, bitrate = target.bits_per_second, output = %output.display(), "ffmpeg started");

    let finished = {
        let run = async {
            tokio::join!(
                child.wait(),
                StderrTail::collect(stderr),
                log_progress(stdout, probe, height)
            )
        };
        tokio::select! {
            done = run => Some(done),
            () = lease.cancelled() => None,
        }
    };
    let Some((status, stderr, ())) = finished else {
        tracing::warn!(height, "lease lost: killing ffmpeg");
        // An error here means ffmpeg is already gone, which is what killing wants.
        let _ = child.kill().await;
        return Err(EncodeError::LeaseLost { height });
    };
    let status = status.map_err(EncodeError::Wait)?;
    if !status.success() {
        return Err(EncodeError::Failed {
            height,
            status,
            stderr: stderr.summary(),
        });
    }
    Ok(())
}

/// Reads ffmpeg's `-progress` stream to its end, logging each block at debug level and each
/// [`LOG_EVERY_PERCENT`] milestone at info level.
async fn log_progress(stdout: impl AsyncRead + Unpin, probe: &Probe, height: u32) {
    let mut reader = ProgressReader::default();
    let mut milestones = Milestones::every(LOG_EVERY_PERCENT);
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(progress) = reader.feed(&line) else {
            continue;
        };
        let percent = progress.percent_of(probe.duration);
        let encoded = progress.encoded.as_secs_f64();
        if milestones.passes(percent) {
            tracing::info!(height, percent, encoded, speed = progress.speed, "encoding");
        } else {
            tracing::debug!(height, percent, encoded, speed = progress.speed, "encoding");
        }
    }
}
