//! The producer: sends numbered jobs into the queue when the schedule says, in batches of ten.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use workpool::OutgoingMessage;

use anyhow::Context;
use tokio::time::Instant;
use workpool::memory::MemoryQueue;
use workpool::MAX_BATCH;

use super::jobs::job_body;
use super::schedule::Schedule;

/// Sends every message of `schedule`, timed from `start`, counting each accepted one in `sent`.
/// Jobs are numbered from 0 in send order.
pub async fn produce(
    queue: MemoryQueue,
    schedule: Schedule,
    start: Instant,
    sent: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let mut next_job: u64 = 0;
    for &(offset, count) in schedule.sends() {
        tokio::time::sleep_until(start + offset).await;
        let mut remaining = u64::from(count);
        while remaining > 0 {
            let batch = remaining.min(MAX_BATCH as u64);
            let requests = (next_job..next_job + batch)
                .map(|job| OutgoingMessage::new(job_body(job)))
                .collect();
            for result in queue.send_batch(requests)? {
                result.context("the queue refused a demo job")?;
                sent.fetch_add(1, Ordering::Relaxed);
            }
            next_job += batch;
            remaining -= batch;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use workpool_scaler::simulate::Trace;

    use super::*;
    use workpool::memory::QueueConfig;

    #[tokio::test]
    async fn sends_the_whole_schedule_on_time() {
        let queue = MemoryQueue::new(QueueConfig::standard("jobs")).expect("valid");
        // Ten trace seconds squeezed into two 100 ms slices: 25 at once, 25 more 100 ms later.
        let trace = Trace::from_pairs(vec![(0, 25), (9, 25)]);
        let schedule = Schedule::compress(&trace, Duration::from_millis(200), 50.0);
        assert_eq!(
            schedule.sends(),
            &[(Duration::ZERO, 25), (Duration::from_millis(100), 25)]
        );
        let sent = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let producing = tokio::spawn(produce(queue.clone(), schedule, start, sent.clone()));
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(sent.load(Ordering::Relaxed), 25);
        producing.await.expect("joins").expect("sends");
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert_eq!(sent.load(Ordering::Relaxed), 50);
        assert_eq!(queue.len(), 50);
    }
}
