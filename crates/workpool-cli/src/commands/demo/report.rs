//! What the demo measured, summed up at the end: messages in and out, lost, duplicates, queue wait
//! percentiles, instance-minutes and scaling actions.

use std::fmt;
use std::time::Duration;

use super::duration_flag::show_duration;

/// The run's figures, every one measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoReport {
    /// Messages the producer sent (accepted by the queue).
    pub sent: u64,
    /// Messages the consumers deleted after their job succeeded.
    pub deleted: u64,
    /// Messages still in the queue at the end (visible, in flight or delayed).
    pub still_queued: u64,
    /// Jobs finished by a handler, duplicates included.
    pub completed: u64,
    /// Jobs finished more than once.
    pub duplicates: u64,
    /// Median queue wait (sent to handler start).
    pub p50_wait: Duration,
    /// 99th percentile queue wait.
    pub p99_wait: Duration,
    /// Longest queue wait.
    pub max_wait: Duration,
    /// Instance-seconds used, booting and draining included.
    pub instance_seconds: f64,
    /// Slot-seconds the handlers worked, divided by the slots per instance: the least instance time
    /// that could have done this work.
    pub lower_bound_instance_seconds: f64,
    /// Scale-out actions applied.
    pub scale_outs: u32,
    /// Scale-in actions applied.
    pub scale_ins: u32,
    /// Most instances in service at once.
    pub peak_in_service: u32,
    /// From the first send to the end of the drain.
    pub elapsed: Duration,
}

impl DemoReport {
    /// Messages that went neither out nor stayed in: sent − deleted − still queued. Must be 0.
    pub fn lost(&self) -> i64 {
        i64::try_from(self.sent).unwrap_or(i64::MAX)
            - i64::try_from(self.deleted).unwrap_or(i64::MAX)
            - i64::try_from(self.still_queued).unwrap_or(i64::MAX)
    }

    /// Instance-minutes used.
    pub fn instance_minutes(&self) -> f64 {
        self.instance_seconds / 60.0
    }

    /// Scaling actions of both directions.
    pub fn scaling_actions(&self) -> u32 {
        self.scale_outs + self.scale_ins
    }
}

/// The `q` quantile (nearest rank) of `waits`, which this sorts; zero when there are none.
pub fn percentile(waits: &mut [Duration], q: f64) -> Duration {
    if waits.is_empty() {
        return Duration::ZERO;
    }
    waits.sort_unstable();
    let rank = ((q * waits.len() as f64).ceil() as usize).clamp(1, waits.len());
    waits[rank - 1]
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "messages in        {}", self.sent)?;
        writeln!(f, "messages out       {} (deleted)", self.deleted)?;
        writeln!(f, "still queued       {}", self.still_queued)?;
        writeln!(
            f,
            "lost               {} (in - out - still queued)",
            self.lost()
        )?;
        writeln!(
            f,
            "duplicates         {} (jobs done more than once)",
            self.duplicates
        )?;
        writeln!(f, "queue wait p50     {}", show_duration(self.p50_wait))?;
        writeln!(f, "queue wait p99     {}", show_duration(self.p99_wait))?;
        writeln!(f, "queue wait max     {}", show_duration(self.max_wait))?;
        writeln!(
            f,
            "instance-minutes   {:.2} (the work alone needed {:.2})",
            self.instance_minutes(),
            self.lower_bound_instance_seconds / 60.0
        )?;
        writeln!(
            f,
            "scaling actions    {} ({} out, {} in)",
            self.scaling_actions(),
            self.scale_outs,
            self.scale_ins
        )?;
        writeln!(f, "peak in service    {} instances", self.peak_in_service)?;
        write!(f, "elapsed            {}", show_duration(self.elapsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_is_what_neither_left_nor_stayed() {
        let report = DemoReport {
            sent: 100,
            deleted: 97,
            still_queued: 3,
            ..Default::default()
        };
        assert_eq!(report.lost(), 0);
        let short = DemoReport {
            deleted: 95,
            ..report.clone()
        };
        assert_eq!(short.lost(), 2);
        assert!(short.to_string().contains("lost               2"));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut waits: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut waits, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&mut waits, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&mut [], 0.99), Duration::ZERO);
    }
}
