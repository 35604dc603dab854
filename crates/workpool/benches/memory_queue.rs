//! Benchmark of `MemoryQueue` alone: 1,000,000 messages sent (one at a time, then in batches of 10),
//! each time received 10 at a time and deleted in batches of 10. Prints messages per second for each
//! phase and the process's peak resident memory.
//!
//! Run: `cargo bench -p workpool --bench memory_queue`

use std::time::{Duration, Instant};
use workpool::OutgoingMessage;

use workpool::memory::{MemoryQueue, QueueConfig};
use workpool::{ReceiveRequest, Source};

const MESSAGES: usize = 1_000_000;
const BATCH: usize = 10;
const BODY: &str = r#"{"job":"encode","input":"s3://bucket/video.mp4","height":720}"#;

fn main() -> Result<(), workpool::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let queue = MemoryQueue::new(
            QueueConfig::standard("bench").visibility_timeout(Duration::from_secs(300)),
        )?;
        println!(
            "memory_queue: {MESSAGES} messages, body {} bytes",
            BODY.len()
        );

        let started = Instant::now();
        for _ in 0..MESSAGES {
            queue.send(OutgoingMessage::new(BODY))?;
        }
        report("send (one at a time)", started.elapsed());
        drain(&queue).await?;

        let started = Instant::now();
        for _ in 0..MESSAGES / BATCH {
            let batch = (0..BATCH).map(|_| OutgoingMessage::new(BODY)).collect();
            for receipt in queue.send_batch(batch)? {
                receipt?;
            }
        }
        report("send_batch (10 per call)", started.elapsed());
        drain(&queue).await?;

        println!(
            "peak RSS: {}",
            peak_rss().unwrap_or_else(|| "unknown".into())
        );
        Ok(())
    })
}

/// Receives 10 at a time and deletes each batch until the queue is empty; reports the rate.
async fn drain(queue: &MemoryQueue) -> Result<(), workpool::Error> {
    let started = Instant::now();
    let mut handled = 0_usize;
    let mut handles = Vec::with_capacity(BATCH);
    loop {
        let messages = queue
            .receive(ReceiveRequest::new(BATCH, Duration::ZERO))
            .await?;
        if messages.is_empty() {
            break;
        }
        handled += messages.len();
        handles.clear();
        handles.extend(
            messages
                .into_iter()
                .map(|message| message.metadata.receipt_handle),
        );
        let outcome = queue.delete_batch(&handles).await?;
        assert!(outcome.all_succeeded(), "every delete succeeds");
    }
    assert_eq!(handled, MESSAGES, "every message received exactly once");
    assert!(queue.is_empty());
    report("receive 10 + delete_batch 10", started.elapsed());
    Ok(())
}

fn report(phase: &str, elapsed: Duration) {
    let rate = MESSAGES as f64 / elapsed.as_secs_f64();
    println!(
        "{phase:<32} {:>8.3} s  {:>12.0} msgs/s",
        elapsed.as_secs_f64(),
        rate
    );
}

/// The process's peak resident set size, from `/proc/self/status` (Linux only).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_owned())
}
