//! Jobs on local folders with a real ffmpeg, no queue: encoding, skipping what exists, a broken and a
//! missing input failing with ffmpeg's own words, and a lost lease killing ffmpeg.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use video_encoder::encode::{encode, EncodeError};
use video_encoder::job::{Job, Rendition};
use video_encoder::location::Location;
use video_encoder::probe::probe;
use video_encoder::process::{process, Finished, JobError};
use video_encoder::storage::LocalFiles;

fn job(input: &Path, prefix: &Path, heights: &[u32]) -> Job {
    Job {
        input: input.display().to_string(),
        outputs: heights
            .iter()
            .map(|&height| Rendition {
                height,
                bitrate: "200k".into(),
            })
            .collect(),
        output_prefix: prefix.display().to_string(),
    }
}

#[tokio::test]
async fn encodes_into_a_local_folder_then_skips_the_same_job() {
    let dir = tempfile::tempdir().unwrap();
    let input = support::test_video(dir.path(), "clip.mp4", 1, 320, 240);
    let out = dir.path().join("out");
    let job = job(&input, &out, &[120]);

    let mut workloads = Vec::new();
    let finished = process(&LocalFiles, &job, &CancellationToken::new(), |workload| {
        workloads.push(workload)
    })
    .await
    .unwrap();
    assert!(
        matches!(&finished, Finished::Encoded { heights, .. } if heights == &[120]),
        "{finished:?}"
    );
    // Told once, after probing, what was about to be encoded.
    assert_eq!(workloads.len(), 1, "{workloads:?}");
    assert_eq!(workloads[0].renditions, 1);
    let seconds = workloads[0].duration.as_secs_f64();
    assert!((seconds - 1.0).abs() < 0.2, "probed {seconds} s");
    let rendition = probe(&out.join("120p.mp4")).await.unwrap();
    assert_eq!((rendition.video.width, rendition.video.height), (160, 120));
    assert!(rendition.has_audio);

    let written = std::fs::metadata(out.join("120p.mp4"))
        .unwrap()
        .modified()
        .unwrap();
    let again = process(&LocalFiles, &job, &CancellationToken::new(), |workload| {
        panic!("nothing is left to encode, yet told of {workload:?}")
    })
    .await
    .unwrap();
    assert_eq!(again, Finished::AlreadyEncoded);
    let after = std::fs::metadata(out.join("120p.mp4"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(written, after, "the rendition was written again");
}

#[tokio::test]
async fn a_broken_input_fails_with_ffprobes_error() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.mp4");
    std::fs::write(&broken, b"this is not a video at all").unwrap();
    let error = process(
        &LocalFiles,
        &job(&broken, &dir.path().join("out"), &[120]),
        &CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(error, JobError::Probe(_)), "{error}");
    assert!(!error.is_permanent());
    assert!(
        error.to_string().contains("Invalid data found"),
        "no ffprobe stderr in: {error}"
    );
    assert!(!dir.path().join("out/120p.mp4").exists());
}

#[tokio::test]
async fn a_missing_input_fails_with_ffprobes_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = process(
        &LocalFiles,
        &job(
            &dir.path().join("gone.mp4"),
            &dir.path().join("out"),
            &[120],
        ),
        &CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("No such file or directory"),
        "no ffprobe stderr in: {error}"
    );
}

#[tokio::test]
async fn an_invalid_job_is_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let error = process(
        &LocalFiles,
        &job(&dir.path().join("in.mp4"), dir.path(), &[121]),
        &CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(error.is_permanent(), "{error}");
}

/// Whether a running process has `needle` in its command line.
fn process_running_with(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn a_lost_lease_kills_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    // Tiny to make, slow to encode: upscaled to 2160 lines, 60 seconds take ffmpeg a long while.
    let input = support::test_video(dir.path(), "long.mp4", 60, 160, 120);
    let probed = probe(&input).await.unwrap();
    let output = dir.path().join("lease-lost-2160p.mp4");
    let target = video_encoder::job::PlannedOutput {
        height: 2160,
        bits_per_second: 8_000_000,
        location: Location::Local(output.clone()),
    };
    let lease = CancellationToken::new();
    let cancel = lease.clone();
    let needle = output.display().to_string();
    let watcher = {
        let needle = needle.clone();
        tokio::spawn(async move {
            // Lose the lease once ffmpeg is surely running.
            let started = Instant::now();
            while !process_running_with(&needle) && started.elapsed() < Duration::from_secs(10) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        })
    };

    let started = Instant::now();
    let error = encode(&input, &output, &target, &probed, &lease)
        .await
        .unwrap_err();
    watcher.await.unwrap();
    assert!(
        matches!(error, EncodeError::LeaseLost { height: 2160 }),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "ffmpeg ran on after the lease was lost"
    );
    assert!(
        !process_running_with(&needle),
        "ffmpeg is still running after the lease was lost"
    );
}
