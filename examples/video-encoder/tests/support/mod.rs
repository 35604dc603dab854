//! Test inputs made with ffmpeg's generators.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Makes an H.264 + AAC MP4 of `seconds` of ffmpeg's `testsrc` pattern at `width`×`height` with a
/// sine tone, at `dir/name`.
pub fn test_video(dir: &Path, name: &str, seconds: u32, width: u32, height: u32) -> PathBuf {
    let path = dir.join(name);
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc=duration={seconds}:size={width}x{height}:rate=25"
        ))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={seconds}"))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-shortest"])
        .arg(&path)
        .output()
        .expect("ffmpeg runs (scripts/test installs it)");
    assert!(
        output.status.success(),
        "ffmpeg could not make the test video: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    path
}
