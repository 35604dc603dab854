//! Probing an input with `ffprobe`: its duration and streams ([`Probe`]).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use crate::stderr_tail::StderrTail;

/// What ffprobe said about an input.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// How long the input plays.
    pub duration: Duration,
    /// The first video stream.
    pub video: VideoStream,
    /// Whether the input has an audio stream.
    pub has_audio: bool,
}

/// The first video stream of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoStream {
    /// The codec name (`h264`, `vp9`, …).
    pub codec: String,
    /// The frame width in pixels.
    pub width: u32,
    /// The frame height in pixels.
    pub height: u32,
}

/// Why an input could not be probed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// ffprobe could not be started.
    #[error("could not run ffprobe (is ffmpeg installed?)")]
    Spawn(#[source] std::io::Error),
    /// ffprobe refused the input (missing, unreadable, not a media file).
    #[error("ffprobe failed ({status}) on {input}: {stderr}")]
    Refused {
        /// The input probed.
        input: String,
        /// How ffprobe exited.
        status: std::process::ExitStatus,
        /// The tail of ffprobe's stderr.
        stderr: String,
    },
    /// ffprobe's report did not say what is needed.
    #[error("{input}: {reason}")]
    Unusable {
        /// The input probed.
        input: String,
        /// What is missing.
        reason: String,
    },
}

/// Runs `ffprobe` on `input` and reads its report.
pub async fn probe(input: &Path) -> Result<Probe, ProbeError> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format"])
        .arg("-show_streams")
        .arg(input)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(ProbeError::Spawn)?;
    let name = input.display().to_string();
    if !output.status.success() {
        let mut tail = StderrTail::default();
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .for_each(|line| tail.push(line));
        return Err(ProbeError::Refused {
            input: name,
            status: output.status,
            stderr: tail.summary(),
        });
    }
    parse_report(&String::from_utf8_lossy(&output.stdout)).map_err(|reason| ProbeError::Unusable {
        input: name,
        reason,
    })
}

#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct Format {
    duration: Option<String>,
}

/// Reads ffprobe's JSON report (`-print_format json -show_format -show_streams`). The duration is
/// the container's, or the video stream's when the container does not say.
pub fn parse_report(json: &str) -> Result<Probe, String> {
    let report: Report = serde_json::from_str(json)
        .map_err(|error| format!("unreadable ffprobe report: {error}"))?;
    let video = report
        .streams
        .iter()
        .find(|stream| stream.codec_type.as_deref() == Some("video"))
        .ok_or("no video stream")?;
    let (Some(width), Some(height)) = (video.width, video.height) else {
        return Err("the video stream has no frame size".to_owned());
    };
    let seconds = report
        .format
        .as_ref()
        .and_then(|format| format.duration.as_deref())
        .or(video.duration.as_deref())
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        .ok_or("no duration (a still image or a live stream?)")?;
    Ok(Probe {
        duration: Duration::from_secs_f64(seconds),
        video: VideoStream {
            codec: video.codec_name.clone().unwrap_or_default(),
            width,
            height,
        },
        has_audio: report
            .streams
            .iter()
            .any(|stream| stream.codec_type.as_deref() == Some("audio")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_duration_size_and_audio() {
        let probe = parse_report(
            r#"{"streams": [
                  {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 320, "height": 240},
                  {"index": 1, "codec_type": "audio", "codec_name": "aac"}],
                "format": {"duration": "2.000000"}}"#,
        )
        .unwrap();
        assert_eq!(
            probe,
            Probe {
                duration: Duration::from_secs(2),
                video: VideoStream {
                    codec: "h264".into(),
                    width: 320,
                    height: 240
                },
                has_audio: true,
            }
        );
    }

    #[test]
    fn falls_back_to_the_stream_duration() {
        let probe = parse_report(
            r#"{"streams": [{"codec_type": "video", "width": 2, "height": 2, "duration": "1.5"}],
                "format": {}}"#,
        )
        .unwrap();
        assert_eq!(probe.duration, Duration::from_millis(1500));
        assert!(!probe.has_audio);
    }

    #[test]
    fn audio_only_and_durationless_inputs_are_refused() {
        let audio = r#"{"streams": [{"codec_type": "audio"}], "format": {"duration": "3"}}"#;
        assert_eq!(parse_report(audio).unwrap_err(), "no video stream");
        let still = r#"{"streams": [{"codec_type": "video", "width": 2, "height": 2}],
                        "format": {"duration": "N/A"}}"#;
        assert!(parse_report(still).unwrap_err().contains("no duration"));
        assert!(parse_report("not json").unwrap_err().contains("unreadable"));
    }
}
