//! The job a message carries ([`Job`], [`Rendition`]) and its validation into a [`Plan`].
//!
//! ```json
//! {"input": "s3://media/in/cat.mp4",
//!  "outputs": [{"height": 360, "bitrate": "800k"}, {"height": 720, "bitrate": "2500k"}],
//!  "output_prefix": "s3://media/out/cat"}
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::location::Location;

/// The tallest rendition accepted (8K).
pub const MAX_HEIGHT: u32 = 4320;
/// The lowest video bitrate accepted, in bits per second.
pub const MIN_BITRATE: u64 = 10_000;
/// The highest video bitrate accepted, in bits per second.
pub const MAX_BITRATE: u64 = 200_000_000;

/// One encoding job, as sent on the queue (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The source video: `s3://bucket/key` or a local path.
    pub input: String,
    /// The renditions to make.
    pub outputs: Vec<Rendition>,
    /// Where the renditions go (`s3://bucket/prefix` or a local folder); each is named
    /// `<height>p.mp4` under it.
    pub output_prefix: String,
}

/// One rendition to make: a frame height and a video bitrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    /// The frame height in pixels (the width follows the source's aspect ratio).
    pub height: u32,
    /// The video bitrate, ffmpeg style: `800k`, `2.5M` or plain bits per second.
    pub bitrate: String,
}

/// A validated job: where to read and what to write where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The source video.
    pub input: Location,
    /// The renditions, in the job's order.
    pub outputs: Vec<PlannedOutput>,
}

/// One rendition of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOutput {
    /// The frame height in pixels.
    pub height: u32,
    /// The video bitrate in bits per second.
    pub bits_per_second: u64,
    /// Where the encoded file goes.
    pub location: Location,
}

/// Everything wrong with a job, each problem on its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid job: {}", .0.join("; "))]
pub struct InvalidJob(pub Vec<String>);

impl Rendition {
    /// The file name of this rendition under the output prefix: `<height>p.mp4`.
    pub fn file_name(&self) -> String {
        format!("{}p.mp4", self.height)
    }
}

/// Parses `HEIGHT:BITRATE` (for example `360:800k`), the producer's `--rendition` syntax.
impl FromStr for Rendition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (height, bitrate) = text
            .split_once(':')
            .ok_or_else(|| format!("{text:?}: expected HEIGHT:BITRATE, e.g. 360:800k"))?;
        let height = height
            .trim()
            .parse()
            .map_err(|_| format!("{text:?}: the height {height:?} is not a whole number"))?;
        Ok(Rendition {
            height,
            bitrate: bitrate.trim().to_owned(),
        })
    }
}

impl fmt::Display for Rendition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}p@{}", self.height, self.bitrate)
    }
}

/// Bits per second of an ffmpeg-style bitrate: `800k`, `2.5M`, `1500000`. `None` when it is not one.
pub fn parse_bitrate(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, scale) = match text.char_indices().last()? {
        (at, 'k' | 'K') => (&text[..at], 1_000.0),
        (at, 'm' | 'M') => (&text[..at], 1_000_000.0),
        _ => (text, 1.0),
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value > 0.0).then(|| (value * scale).round() as u64)
}

impl Job {
    /// Checks the job and works out where each rendition goes. Every problem is reported at once.
    pub fn plan(&self) -> Result<Plan, InvalidJob> {
        let mut problems = Vec::new();
        let input = Location::parse(&self.input)
            .map_err(|error| problems.push(format!("input: {error}")))
            .ok();
        if let Some(Location::S3 { key, .. }) = &input {
            if key.is_empty() || key.ends_with('/') {
                problems.push(format!("input {:?} names no object", self.input));
            }
        }
        let prefix = Location::parse(&self.output_prefix)
            .map_err(|error| problems.push(format!("output_prefix: {error}")))
            .ok();
        if self.outputs.is_empty() {
            problems.push("outputs: no renditions asked for".to_owned());
        }
        let mut outputs = Vec::new();
        for (index, rendition) in self.outputs.iter().enumerate() {
            let before = problems.len();
            check_height(rendition.height, index, &mut problems);
            if self.outputs[..index]
                .iter()
                .any(|earlier| earlier.height == rendition.height)
            {
                problems.push(format!(
                    "outputs[{index}]: height {} is asked for twice (each height is one file)",
                    rendition.height
                ));
            }
            let bits_per_second = parse_bitrate(&rendition.bitrate);
            match bits_per_second {
                None => problems.push(format!(
                    "outputs[{index}]: bitrate {:?} is not a bitrate (e.g. 800k, 2.5M)",
                    rendition.bitrate
                )),
                Some(bps) if !(MIN_BITRATE..=MAX_BITRATE).contains(&bps) => problems.push(format!(
                    "outputs[{index}]: bitrate {:?} is outside {MIN_BITRATE}..={MAX_BITRATE} bit/s",
                    rendition.bitrate
                )),
                Some(_) => {}
            }
            if let (Some(prefix), Some(bits_per_second), true) =
                (&prefix, bits_per_second, problems.len() == before)
            {
                outputs.push(PlannedOutput {
                    height: rendition.height,
                    bits_per_second,
                    location: prefix.join(&rendition.file_name()),
                });
            }
        }
        match input {
            Some(input) if problems.is_empty() => Ok(Plan { input, outputs }),
            _ => Err(InvalidJob(problems)),
        }
    }
}

fn check_height(height: u32, index: usize, problems: &mut Vec<String>) {
    if height == 0 || height > MAX_HEIGHT {
        problems.push(format!(
            "outputs[{index}]: height {height} is outside 2..={MAX_HEIGHT}"
        ));
    } else if height % 2 == 1 {
        problems.push(format!(
            "outputs[{index}]: height {height} is odd (H.264 in 4:2:0 needs even sizes)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(input: &str, outputs: &[(u32, &str)], prefix: &str) -> Job {
        Job {
            input: input.into(),
            outputs: outputs
                .iter()
                .map(|&(height, bitrate)| Rendition {
                    height,
                    bitrate: bitrate.into(),
                })
                .collect(),
            output_prefix: prefix.into(),
        }
    }

    #[test]
    fn the_documented_json_parses() {
        let parsed: Job = serde_json::from_str(
            r#"{"input": "s3://media/in/cat.mp4",
                "outputs": [{"height": 360, "bitrate": "800k"}],
                "output_prefix": "s3://media/out/cat"}"#,
        )
        .unwrap();
        assert_eq!(
            parsed,
            job(
                "s3://media/in/cat.mp4",
                &[(360, "800k")],
                "s3://media/out/cat"
            )
        );
    }

    #[test]
    fn a_plan_names_one_file_per_height() {
        let plan = job(
            "s3://media/in/cat.mp4",
            &[(360, "800k"), (720, "2.5M")],
            "s3://media/out/cat/",
        )
        .plan()
        .unwrap();
        assert_eq!(plan.input.to_string(), "s3://media/in/cat.mp4");
        let outputs: Vec<_> = plan
            .outputs
            .iter()
            .map(|o| (o.height, o.bits_per_second, o.location.to_string()))
            .collect();
        assert_eq!(
            outputs,
            [
                (360, 800_000, "s3://media/out/cat/360p.mp4".to_owned()),
                (720, 2_500_000, "s3://media/out/cat/720p.mp4".to_owned()),
            ]
        );
    }

    #[test]
    fn bitrates_read_like_ffmpeg() {
        assert_eq!(parse_bitrate("800k"), Some(800_000));
        assert_eq!(parse_bitrate("2.5M"), Some(2_500_000));
        assert_eq!(parse_bitrate("1500000"), Some(1_500_000));
        assert_eq!(parse_bitrate("fast"), None);
        assert_eq!(parse_bitrate("-3k"), None);
        assert_eq!(parse_bitrate(""), None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let error = job(
            "",
            &[(361, "800k"), (0, "1M"), (480, "lots"), (480, "1M")],
            "s3://",
        )
        .plan()
        .unwrap_err();
        let text = error.to_string();
        for expected in [
            "input: the location is empty",
            "output_prefix:",
            "height 361 is odd",
            "height 0 is outside",
            "bitrate \"lots\"",
            "height 480 is asked for twice",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
    }

    #[test]
    fn no_outputs_and_bucket_only_inputs_are_refused() {
        let text = job("s3://media/", &[], "out")
            .plan()
            .unwrap_err()
            .to_string();
        assert!(text.contains("names no object"), "{text}");
        assert!(text.contains("no renditions"), "{text}");
    }

    #[test]
    fn bitrates_out_of_range_are_refused() {
        let text = job("in.mp4", &[(360, "1k")], "out")
            .plan()
            .unwrap_err()
            .to_string();
        assert!(text.contains("outside"), "{text}");
    }

    #[test]
    fn renditions_parse_from_the_command_line_syntax() {
        assert_eq!(
            "360:800k".parse::<Rendition>(),
            Ok(Rendition {
                height: 360,
                bitrate: "800k".into()
            })
        );
        assert!("360".parse::<Rendition>().is_err());
        assert!("tall:800k".parse::<Rendition>().is_err());
    }
}
