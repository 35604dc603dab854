//! The ffmpeg command line for one rendition, built by a pure function ([`ffmpeg_arguments`]).

use std::ffi::OsString;
use std::path::Path;

use crate::job::PlannedOutput;
use crate::probe::Probe;

/// The x264 preset: fast enough for a template, still a fair size/quality trade.
pub const X264_PRESET: &str = "veryfast";
/// The AAC bitrate of every rendition that has sound.
pub const AUDIO_BITRATE: &str = "128k";

/// The arguments (after `ffmpeg`) that encode `input` into `output` as `target`: H.264 at the
/// target height (width from the aspect ratio, kept even) and bitrate, capped with a VBV buffer of two
/// seconds of video; AAC audio when the input has sound; MP4 with the index at the front. Progress
/// goes to stdout as `key=value` lines (`-progress pipe:1`), errors only to stderr.
pub fn ffmpeg_arguments(
    input: &Path,
    output: &Path,
    target: &PlannedOutput,
    probe: &Probe,
) -> Vec<OsString> {
    let bitrate = target.bits_per_second.to_string();
    let buffer = (target.bits_per_second * 2).to_string();
    let mut arguments: Vec<OsString> = [
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "error",
        "-progress",
        "pipe:1",
        "-y",
        "-i",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    arguments.push(input.into());
    let mut push = |items: &[&str]| arguments.extend(items.iter().map(OsString::from));
    push(&["-map", "0:v:0"]);
    push(&["-vf", &format!("scale=-2:{}", target.height)]);
    push(&[
        "-c:v",
        "libx264",
        "-preset",
        X264_PRESET,
        "-pix_fmt",
        "yuv420p",
    ]);
    push(&["-b:v", &bitrate, "-maxrate", &bitrate, "-bufsize", &buffer]);
    if probe.has_audio {
        push(&["-map", "0:a:0", "-c:a", "aac", "-b:a", AUDIO_BITRATE]);
    } else {
        push(&["-an"]);
    }
    push(&["-movflags", "+faststart", "-f", "mp4"]);
    arguments.push(output.into());
    arguments
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::location::Location;
    use crate::probe::VideoStream;

    fn probe(has_audio: bool) -> Probe {
        Probe {
            duration: Duration::from_secs(2),
            video: VideoStream {
                codec: "h264".into(),
                width: 1920,
                height: 1080,
            },
            has_audio,
        }
    }

    fn target() -> PlannedOutput {
        PlannedOutput {
            height: 360,
            bits_per_second: 800_000,
            location: Location::Local("out/360p.mp4".into()),
        }
    }

    fn line(arguments: &[OsString]) -> String {
        arguments
            .iter()
            .map(|argument| argument.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_rendition_with_sound() {
        let arguments = ffmpeg_arguments(
            Path::new("in.mov"),
            Path::new("/tmp/360p.mp4"),
            &target(),
            &probe(true),
        );
        assert_eq!(
            line(&arguments),
            "-hide_banner -nostdin -nostats -loglevel error -progress pipe:1 -y -i in.mov \
             -map 0:v:0 -vf scale=-2:360 -c:v libx264 -preset veryfast -pix_fmt yuv420p \
             -b:v 800000 -maxrate 800000 -bufsize 1600000 \
             -map 0:a:0 -c:a aac -b:a 128k -movflags +faststart -f mp4 /tmp/360p.mp4"
        );
    }

    #[test]
    fn a_silent_input_gets_no_audio_track() {
        let text = line(&ffmpeg_arguments(
            Path::new("in.mov"),
            Path::new("out.mp4"),
            &target(),
            &probe(false),
        ));
        assert!(text.contains(" -an "), "{text}");
        assert!(!text.contains("0:a:0"), "{text}");
    }

    #[test]
    fn paths_are_single_arguments_even_with_spaces() {
        let arguments = ffmpeg_arguments(
            Path::new("my clip.mov"),
            Path::new("out dir/360p.mp4"),
            &target(),
            &probe(false),
        );
        assert!(arguments.contains(&OsString::from("my clip.mov")));
        assert_eq!(arguments.last(), Some(&OsString::from("out dir/360p.mp4")));
    }
}
