//! The producer and the worker end to end on the emulator (SQS + S3 through the real AWS SDK), with a
//! real ffmpeg: renditions land in S3 with the right height and duration; a missing input fails
//! without stopping the worker and ends in the dead-letter queue; a job whose renditions exist is not
//! encoded again; the visibility timeout is set from the probed duration and an encode longer than
//! the original timeout is not redelivered; a job whose second rendition cannot be written is never
//! deleted and keeps its first; a broken input is a failed job with ffprobe's error in the log.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use video_encoder::job::Rendition;
use video_encoder::location::Location;
use video_encoder::probe::probe;
use video_encoder::storage::{s3_client, S3Objects, Store};
use video_encoder::submit::{submit, Submission};
use video_encoder::visibility::VisibilityRule;
use video_encoder::worker::{run_worker, WorkerSettings};
use workpool::{
    BatchOutcome, FailurePolicy, QueueAttributes, RawMessage, ReceiveRequest, Source, Summary,
    VisibilityChange,
};
use workpool_sqs::{Producer, SqsSource};
use workpool_tests::reliability::LogCapture;
use workpool_tests::{aws_config, create_queue, unique_name, CreatedQueue, QueueSpec};

/// A bucket of its own for one test.
async fn bucket(config: &SdkConfig) -> String {
    let name = unique_name("video").to_lowercase();
    s3_client(config)
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("CreateBucket");
    name
}

/// A job queue whose messages move to a dead-letter queue after two receives.
async fn queues(config: &SdkConfig) -> (CreatedQueue, CreatedQueue) {
    let dead = create_queue(config, &unique_name("video-dlq"), QueueSpec::standard()).await;
    let jobs = create_queue(
        config,
        &unique_name("video-jobs"),
        QueueSpec::standard()
            .visibility_timeout(Duration::from_secs(30))
            .redrive(dead.arn.clone(), 2),
    )
    .await;
    (jobs, dead)
}

/// (visible, in flight) messages of a queue.
async fn depth(config: &SdkConfig, url: &str) -> (u64, u64) {
    let attributes = SqsSource::from_queue_url(config, url)
        .unwrap()
        .attributes()
        .await
        .expect("GetQueueAttributes");
    (attributes.visible, attributes.not_visible)
}

/// Resolves once the job queue is empty and the dead-letter queue holds `dead_letters`.
async fn settled(config: SdkConfig, jobs: String, dead: String, dead_letters: u64) {
    let deadline = Instant::now() + Duration::from_secs(50);
    loop {
        let (visible, in_flight) = depth(&config, &jobs).await;
        let (dead_visible, _) = depth(&config, &dead).await;
        if visible == 0 && in_flight == 0 && dead_visible == dead_letters {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "jobs never settled: {visible} visible, {in_flight} in flight, {dead_visible} dead"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn settings() -> WorkerSettings {
    WorkerSettings::default()
        .concurrency(2)
        .visibility_timeout(Duration::from_secs(30))
        .failure_policy(FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        })
        .grace_period(Duration::from_secs(10))
        .wait_time(Duration::from_secs(1))
}

async fn run_until_settled(
    config: &SdkConfig,
    jobs: &CreatedQueue,
    dead: &CreatedQueue,
    dead_letters: u64,
) -> Summary {
    run_with(config, jobs, dead, dead_letters, &settings()).await
}

async fn run_with(
    config: &SdkConfig,
    jobs: &CreatedQueue,
    dead: &CreatedQueue,
    dead_letters: u64,
    settings: &WorkerSettings,
) -> Summary {
    let source = SqsSource::from_queue_url(config, &jobs.url).unwrap();
    run_on(source, config, jobs, dead, dead_letters, settings).await
}

/// Runs the worker on `source` (the job queue, seen through a [`Watched`] source or not) until the
/// queues settle.
async fn run_on<Q: Source>(
    source: Q,
    config: &SdkConfig,
    jobs: &CreatedQueue,
    dead: &CreatedQueue,
    dead_letters: u64,
    settings: &WorkerSettings,
) -> Summary {
    let shutdown = settled(
        config.clone(),
        jobs.url.clone(),
        dead.url.clone(),
        dead_letters,
    );
    run_worker(
        source,
        S3Objects::new(s3_client(config)),
        settings,
        shutdown,
    )
    .await
    .expect("the worker runs")
}

fn renditions(specs: &[&str]) -> Vec<Rendition> {
    specs.iter().map(|spec| spec.parse().unwrap()).collect()
}

async fn check_rendition(store: &S3Objects, location: &Location, scratch: &Path, size: (u32, u32)) {
    let local = scratch.join(location.file_name().unwrap());
    store.download(location, &local).await.unwrap();
    let probed = probe(&local).await.unwrap();
    assert_eq!(
        (probed.video.width, probed.video.height),
        size,
        "{location}"
    );
    let seconds = probed.duration.as_secs_f64();
    assert!((seconds - 2.0).abs() < 0.2, "{location} plays {seconds} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renditions_reach_s3_and_a_missing_input_does_not_stop_the_worker() {
    let config = aws_config().await;
    let store = S3Objects::new(s3_client(&config));
    let bucket = bucket(&config).await;
    let (jobs, dead) = queues(&config).await;
    let producer = Producer::from_queue_url(&config, &jobs.url).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let input = support::test_video(scratch.path(), "clip.mp4", 2, 320, 240);

    let good = submit(
        &store,
        &producer,
        &Submission {
            input: input.display().to_string(),
            output_prefix: format!("s3://{bucket}/out/clip"),
            renditions: renditions(&["120:150k", "180:250k"]),
            upload_to: None,
        },
    )
    .await
    .expect("submit the clip");
    let uploaded = good.uploaded_to.expect("the input was uploaded");
    assert_eq!(
        uploaded.to_string(),
        format!("s3://{bucket}/out/clip/source/clip.mp4")
    );
    assert!(store.exists(&uploaded).await.unwrap());
    submit(
        &store,
        &producer,
        &Submission {
            input: format!("s3://{bucket}/in/missing.mp4"),
            output_prefix: format!("s3://{bucket}/out/missing"),
            renditions: renditions(&["120:150k"]),
            upload_to: None,
        },
    )
    .await
    .expect("submit the missing input");

    let summary = run_until_settled(&config, &jobs, &dead, 1).await;

    // In: two jobs. Out: the clip deleted once done; the missing input failed on each of its two
    // receives and went to the dead-letter queue; nothing else.
    assert_eq!(summary.received, 3, "{summary:?}");
    assert_eq!(summary.succeeded, 1, "{summary:?}");
    assert_eq!(summary.failed, 2, "{summary:?}");
    assert_eq!(summary.deleted, 1, "{summary:?}");
    let prefix = Location::parse(&format!("s3://{bucket}/out/")).unwrap();
    check_rendition(
        &store,
        &prefix.join("clip/120p.mp4"),
        scratch.path(),
        (160, 120),
    )
    .await;
    check_rendition(
        &store,
        &prefix.join("clip/180p.mp4"),
        scratch.path(),
        (240, 180),
    )
    .await;
    assert!(!store
        .exists(&prefix.join("missing/120p.mp4"))
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_renditions_exist_is_not_encoded_again() {
    let config = aws_config().await;
    let client = s3_client(&config);
    let store = S3Objects::new(client.clone());
    let bucket = bucket(&config).await;
    let (jobs, dead) = queues(&config).await;
    let marker = "encoded by an earlier run";
    for key in ["out/done/120p.mp4", "out/done/180p.mp4"] {
        client
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from_static(marker.as_bytes()))
            .send()
            .await
            .expect("PutObject");
    }
    // The input does not exist: had the worker tried to encode, the job would fail.
    submit(
        &store,
        &Producer::from_queue_url(&config, &jobs.url).unwrap(),
        &Submission {
            input: format!("s3://{bucket}/in/gone.mp4"),
            output_prefix: format!("s3://{bucket}/out/done"),
            renditions: renditions(&["120:150k", "180:250k"]),
            upload_to: None,
        },
    )
    .await
    .expect("submit");

    let summary = run_until_settled(&config, &jobs, &dead, 0).await;

    assert_eq!(
        (summary.received, summary.succeeded, summary.failed),
        (1, 1, 0),
        "{summary:?}"
    );
    for key in ["out/done/120p.mp4", "out/done/180p.mp4"] {
        let object = client
            .get_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let body = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(body.as_ref(), marker.as_bytes(), "{key} was written again");
    }
}

/// The job queue seen through the real SQS source, noting when messages were received and every
/// visibility change the consumer asked for. It changes nothing: every call goes to the emulator.
struct Watched {
    inner: SqsSource,
    received_at: Arc<Mutex<Option<Instant>>>,
    changes: Arc<Mutex<Vec<(Instant, Duration)>>>,
}

impl Source for Watched {
    type Error = <SqsSource as Source>::Error;

    async fn receive(&self, request: ReceiveRequest) -> Result<Vec<RawMessage>, Self::Error> {
        let received = self.inner.receive(request).await?;
        if !received.is_empty() {
            self.received_at
                .lock()
                .unwrap()
                .get_or_insert_with(Instant::now);
        }
        Ok(received)
    }

    async fn delete_batch(&self, receipt_handles: &[String]) -> Result<BatchOutcome, Self::Error> {
        self.inner.delete_batch(receipt_handles).await
    }

    async fn change_visibility_batch(
        &self,
        changes: &[VisibilityChange],
    ) -> Result<BatchOutcome, Self::Error> {
        let outcome = self.inner.change_visibility_batch(changes).await?;
        let now = Instant::now();
        self.changes.lock().unwrap().extend(
            changes
                .iter()
                .enumerate()
                .filter(|(index, _)| !outcome.failed.iter().any(|f| f.index == *index))
                .map(|(_, change)| (now, change.timeout)),
        );
        Ok(outcome)
    }

    async fn attributes(&self) -> Result<QueueAttributes, Self::Error> {
        self.inner.attributes().await
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visibility_is_set_from_the_probed_duration_and_the_job_is_not_redelivered() {
    let config = aws_config().await;
    let store = S3Objects::new(s3_client(&config));
    let bucket = bucket(&config).await;
    let (jobs, dead) = queues(&config).await;
    let scratch = tempfile::tempdir().unwrap();
    // Upscaling 20 s to 1080 lines costs ffmpeg about 20 CPU-seconds: on two cores, several times
    // the ~3.1 s the observation below takes (10 s of input was once encoded within it on CI).
    let input = support::test_video(scratch.path(), "long.mp4", 20, 320, 240);
    submit(
        &store,
        &Producer::from_queue_url(&config, &jobs.url).unwrap(),
        &Submission {
            input: input.display().to_string(),
            output_prefix: format!("s3://{bucket}/out/long"),
            renditions: renditions(&["1080:4M"]),
            upload_to: None,
        },
    )
    .await
    .expect("submit");
    let rule = VisibilityRule::default()
        .factor(1.5)
        .margin(Duration::from_secs(5));
    let original = Duration::from_secs(2);
    let short_visibility = settings()
        .visibility_timeout(original)
        .visibility_rule(rule);
    // About 35 s: far from the 2 s the heartbeat would otherwise extend by.
    let expected = rule.timeout_for(probe(&input).await.unwrap().duration, 1);
    let watched = Watched {
        inner: SqsSource::from_queue_url(&config, &jobs.url).unwrap(),
        received_at: Arc::default(),
        changes: Arc::default(),
    };
    let (received_at, changes) = (watched.received_at.clone(), watched.changes.clone());
    let asked_for_expected = || {
        changes
            .lock()
            .unwrap()
            .iter()
            .any(|(_, timeout)| timeout.abs_diff(expected) < Duration::from_millis(1))
    };

    // While ffmpeg runs, past the original visibility timeout, the queue itself says the job is
    // hidden: one message in flight, and another consumer receives nothing.
    let observe = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !asked_for_expected() {
            assert!(
                Instant::now() < deadline,
                "never asked for {expected:?}: {:?}",
                changes.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let received = received_at
            .lock()
            .unwrap()
            .expect("received before changed");
        tokio::time::sleep_until((received + original * 3 / 2).into()).await;
        assert_eq!(
            depth(&config, &jobs.url).await,
            (0, 1),
            "hidden while encoding"
        );
        let other = SqsSource::from_queue_url(&config, &jobs.url).unwrap();
        let taken = other
            // A short poll: on the emulator it sees every message, and keeps the window short.
            .receive(ReceiveRequest::new(10, Duration::ZERO))
            .await
            .expect("ReceiveMessage");
        assert!(taken.is_empty(), "another consumer took {taken:?}");
        assert_eq!(
            depth(&config, &jobs.url).await,
            (0, 1),
            "still encoding (else the check proves nothing)"
        );
    };
    let started = Instant::now();
    let (summary, ()) = tokio::join!(
        run_on(watched, &config, &jobs, &dead, 0, &short_visibility),
        observe
    );

    assert!(
        started.elapsed() > Duration::from_secs(3),
        "the encode was too quick to need the heartbeat ({:?})",
        started.elapsed()
    );
    assert!(summary.extended >= 1, "{summary:?}");
    // With two free slots, a redelivery would have been received and encoded a second time.
    assert_eq!((summary.received, summary.succeeded), (1, 1), "{summary:?}");
    let output = Location::parse(&format!("s3://{bucket}/out/long/1080p.mp4")).unwrap();
    assert!(store.exists(&output).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_with_one_failed_rendition_is_not_deleted_and_keeps_the_written_one() {
    let config = aws_config().await;
    let (jobs, dead) = queues(&config).await;
    let scratch = tempfile::tempdir().unwrap();
    let input = support::test_video(scratch.path(), "clip.mp4", 2, 320, 240);
    let out = scratch.path().join("out");
    // 180p cannot be written: a folder stands where its partial file would go.
    std::fs::create_dir_all(out.join(".180p.mp4.partial/blocker")).unwrap();
    submit(
        &S3Objects::new(s3_client(&config)),
        &Producer::from_queue_url(&config, &jobs.url).unwrap(),
        &Submission {
            input: input.display().to_string(),
            output_prefix: out.display().to_string(),
            renditions: renditions(&["120:150k", "180:250k"]),
            upload_to: None,
        },
    )
    .await
    .expect("submit");

    let summary = run_until_settled(&config, &jobs, &dead, 1).await;

    // Failed on each of its two receives, never deleted, then dead-lettered.
    assert_eq!(
        (
            summary.received,
            summary.failed,
            summary.succeeded,
            summary.deleted
        ),
        (2, 2, 0, 0),
        "{summary:?}"
    );
    let written = probe(&out.join("120p.mp4")).await.expect("120p stays");
    assert_eq!((written.video.width, written.video.height), (160, 120));
    assert!(!out.join("180p.mp4").exists());
}

/// A current-thread runtime, so that [`LogCapture`] sees the consumer's tasks too.
#[tokio::test]
async fn a_broken_input_is_a_failed_job_with_ffprobes_error_in_the_log() {
    let (logs, _guard) = LogCapture::install();
    let config = aws_config().await;
    let (jobs, dead) = queues(&config).await;
    let scratch = tempfile::tempdir().unwrap();
    let broken = scratch.path().join("broken.mp4");
    std::fs::write(&broken, b"this is not a video at all").unwrap();
    let good = support::test_video(scratch.path(), "clip.mp4", 1, 320, 240);
    let producer = Producer::from_queue_url(&config, &jobs.url).unwrap();
    for (input, out) in [(&broken, "broken"), (&good, "good")] {
        submit(
            &S3Objects::new(s3_client(&config)),
            &producer,
            &Submission {
                input: input.display().to_string(),
                output_prefix: scratch.path().join(out).display().to_string(),
                renditions: renditions(&["120:150k"]),
                upload_to: None,
            },
        )
        .await
        .expect("submit");
    }

    let summary = run_until_settled(&config, &jobs, &dead, 1).await;

    // In: two jobs. Out: the good one done and deleted, the broken one failed on both receives
    // and dead-lettered; the worker carried on.
    assert_eq!(
        (
            summary.received,
            summary.succeeded,
            summary.failed,
            summary.deleted
        ),
        (3, 1, 2, 1),
        "{summary:?}"
    );
    assert!(scratch.path().join("good/120p.mp4").is_file());
    // ffprobe's own words, on the consumer's failure line of each delivery.
    let failures = logs.lines_with(&["handler failed", "ffprobe failed", "Invalid data found"]);
    assert_eq!(failures, 2, "logs:\n{}", logs.text());
}
