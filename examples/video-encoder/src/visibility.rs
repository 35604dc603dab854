//! How long a job's message is kept invisible once its input is probed ([`VisibilityRule`]): an
//! estimate of the whole job's time, made from the input's duration and the renditions to encode.
//!
//! The rule is `margin + duration × renditions × factor`, capped at SQS's 12 hours
//! ([`MAX_VISIBILITY`]). The defaults (factor 2, margin 60 s) suit x264's `veryfast` preset on a
//! couple of cores, which encodes a 1080p rendition at about real time or faster; the margin covers
//! the download, the probe and the uploads.
//!
//! The heartbeat still extends the message while ffmpeg runs, so an estimate that turns out short
//! costs one more extension, not a duplicate. A long one costs only when the worker dies: the job
//! then stays hidden until the estimate runs out before another worker can take it.

use std::time::Duration;

use workpool::MAX_VISIBILITY;

/// Turns what a job will encode into the visibility timeout its message gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisibilityRule {
    factor: f64,
    margin: Duration,
}

impl Default for VisibilityRule {
    /// Factor 2 (two seconds of encoding per second of video and rendition), margin 60 s.
    fn default() -> Self {
        Self {
            factor: 2.0,
            margin: Duration::from_secs(60),
        }
    }
}

impl VisibilityRule {
    /// Seconds of encoding expected per second of input and rendition. Default 2. A factor that is
    /// negative or not a number counts as 0 (only the margin is left).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            0.0
        };
        self
    }

    /// Time added for what is not encoding: download, probe, uploads. Default 60 s.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The visibility timeout for encoding `renditions` renditions of an input that plays for
    /// `duration`: `margin + duration × renditions × factor`, at most [`MAX_VISIBILITY`] (12 h).
    pub fn timeout_for(&self, duration: Duration, renditions: usize) -> Duration {
        let encoding = duration.as_secs_f64() * renditions as f64 * self.factor;
        // Anything past the cap is the cap; from_secs_f64 would panic on an overflow.
        let encoding = Duration::from_secs_f64(encoding.min(MAX_VISIBILITY.as_secs_f64()));
        self.margin.saturating_add(encoding).min(MAX_VISIBILITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_plus_duration_times_renditions_times_factor() {
        let rule = VisibilityRule::default();
        // 60 s + 90 s × 3 × 2.
        assert_eq!(
            rule.timeout_for(Duration::from_secs(90), 3),
            Duration::from_secs(600)
        );
        let rule = rule.factor(0.5).margin(Duration::from_secs(10));
        assert_eq!(
            rule.timeout_for(Duration::from_millis(2500), 2),
            Duration::from_millis(12_500)
        );
    }

    #[test]
    fn nothing_to_encode_is_the_margin_alone() {
        let rule = VisibilityRule::default();
        assert_eq!(
            rule.timeout_for(Duration::from_secs(90), 0),
            Duration::from_secs(60)
        );
        assert_eq!(
            rule.factor(f64::NAN)
                .timeout_for(Duration::from_secs(90), 4),
            Duration::from_secs(60)
        );
        assert_eq!(
            rule.factor(-1.0).timeout_for(Duration::from_secs(90), 4),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn long_jobs_are_capped_at_twelve_hours() {
        let rule = VisibilityRule::default();
        // Three hours of video, three renditions: 18 h of encoding, capped.
        assert_eq!(
            rule.timeout_for(Duration::from_secs(3 * 3600), 3),
            MAX_VISIBILITY
        );
        assert_eq!(rule.timeout_for(Duration::MAX, usize::MAX), MAX_VISIBILITY);
        assert_eq!(
            rule.margin(Duration::MAX)
                .timeout_for(Duration::from_secs(1), 1),
            MAX_VISIBILITY
        );
    }
}
