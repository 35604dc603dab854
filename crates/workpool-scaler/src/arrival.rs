//! The arrival rate, estimated from successive queue readings: what the latency target must keep up
//! with.
//!
//! Messages are conserved: whatever arrived between two readings is either still in the queue (waiting
//! or in flight) or was completed. Completions are not read, but with `F` messages in flight and a mean
//! job time `T` they run at `F / T` per second (Little's law), so
//!
//! ```text
//! arrivals per second ≈ Δ(V + F) / Δt + mean(F) / T
//! ```
//!
//! smoothed exponentially over a chosen time so that Poisson noise does not reach the capacity, except
//! that a drop no Poisson noise explains (more than three standard deviations) is followed within
//! about a tick: the end of a burst. A drop spread over several short readings is recognised over
//! them together ([`Fall`]). Unlike `F / s` (busy instances), this does not grow while a backlog
//! keeps every slot busy, so capacity added to drain a backlog is not mistaken for load that has
//! to be kept up with.

use std::time::{Duration, SystemTime};

/// A tenth of the age at which a previous reading is too old to continue from, at the least.
const STALE_MINIMUM: Duration = Duration::from_secs(60);

/// The smoothed arrival rate at one reading, and what that reading was, to continue from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrivalEstimate {
    /// When the reading was taken.
    pub at: SystemTime,
    /// Messages in the queue then (waiting and in flight, and delayed if they count).
    pub in_queue: u64,
    /// Messages in flight then (F).
    pub in_flight: u64,
    /// The smoothed arrival rate, messages per second.
    pub per_second: f64,
    /// Whether this reading saw fewer arrivals than the previous estimate by more than the noise of
    /// the arrivals and of the estimated completions together explains (three standard deviations
    /// of both counts): the end of a burst, not noise. So does a reading that follows a drop and
    /// still falls beyond the arrivals' noise alone: the same burst still ending. The stabilization
    /// window forgets the keep-up capacity recommended before such a drop and at it. (The estimate
    /// itself follows a drop beyond the arrivals' noise alone, which is more sensitive.) So does a
    /// run of readings ([`fall`](Self::fall)) whose arrivals together fall that far below the
    /// rate before them: with short intervals each reading counts few messages, and a burst that
    /// ends over two or three readings can fall within the noise at each one.
    pub dropped: bool,
    /// While the readings since one of them count fewer arrivals than the rate before it would
    /// have brought, by more than noise explains: where that began and what they counted.
    pub fall: Option<Fall>,
}

/// A possible drop, over the readings since it began: what they counted against the rate before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fall {
    /// The smoothed rate before the drop, messages per second.
    pub from_per_second: f64,
    /// Seconds since the reading before the drop.
    pub seconds: f64,
    /// Messages counted as arrived since then.
    pub arrived: f64,
    /// Completions estimated since then.
    pub completed: f64,
}

impl Fall {
    /// The arrivals the rate before the fall would have brought since it began.
    pub fn expected(&self) -> f64 {
        self.from_per_second * self.seconds
    }
}

impl ArrivalEstimate {
    /// The estimate after a reading of `in_queue` messages, `in_flight` of them in flight, at `now`.
    ///
    /// Without an earlier reading (or with one not older than `now`), the rate is the completion rate
    /// `F / T`: what the queue is served at, the best guess of what it is fed at. A reading older than
    /// ten smoothing times (and ten minutes) starts afresh the same way: two samples of `F` say
    /// little about the completions over so long.
    pub fn next(
        previous: Option<&ArrivalEstimate>,
        in_queue: u64,
        in_flight: u64,
        mean_job_time: Duration,
        smoothing: Duration,
        now: SystemTime,
    ) -> Self {
        let job = mean_job_time.as_secs_f64().max(f64::MIN_POSITIVE);
        let fresh = Self {
            at: now,
            in_queue,
            in_flight,
            per_second: in_flight as f64 / job,
            dropped: false,
            fall: None,
        };
        let Some(previous) = previous else {
            return fresh;
        };
        let Ok(elapsed) = now.duration_since(previous.at) else {
            return fresh;
        };
        let seconds = elapsed.as_secs_f64();
        if seconds <= 0.0 || elapsed > smoothing.max(STALE_MINIMUM).saturating_mul(10) {
            return fresh;
        }
        let completed = (previous.in_flight + in_flight) as f64 / 2.0 * seconds / job;
        let arrived = (in_queue as f64 - previous.in_queue as f64 + completed).max(0.0);
        let observed = arrived / seconds;
        // A drop well below Poisson noise (three standard deviations of the count) is followed
        // within about a tick: the end of a burst. What noise could explain is averaged over the
        // smoothing time, and so is a rise: a backlog already adds capacity at once, and one
        // noisy tick followed at once would hold extra capacity for a whole stabilization window.
        let expected = previous.per_second * seconds;
        let below = expected - arrived;
        // The count of arrivals is only as good as the estimate of completions it adds: with many
        // jobs in flight, their completions are as noisy as Poisson arrivals. A drop beyond that
        // noise too is the end of a burst for certain; the stabilization window forgets the
        // capacity recommended before it and at it (see `dropped`).
        // A drop is rarely over in one reading: the estimate moves part of the way down, and while
        // the readings after it still fall beyond the arrivals' noise the burst is still ending.
        // There the counts get small, and the normal approximation's three deviations (and one
        // message) would stop the follow early: none arriving where 8.6 were expected lies within
        // them, yet has a chance of 0.0002. So after a drop the test is the Poisson tail itself.
        // (Not before one: in steady traffic the completions' noise, which the arrivals' alone
        // leaves out, would make it follow noise.)
        let beyond_poisson = improbably_few(arrived, expected, BEYOND_NOISE);
        let followed = below > 3.0 * expected.sqrt() + 1.0 || (previous.dropped && beyond_poisson);
        // A fall starts at any reading that counts fewer arrivals than the estimate expected, and
        // goes on while the count since it began stays improbably low for the rate before it (a
        // Poisson lower tail below FALL_CHANCE). It is a drop once that count falls beyond the
        // noise of the arrivals and the completions together; then it is over (the window has
        // been told). Short readings count few messages each, so a burst that ends over two or
        // three of them is seen only over all of them.
        let fall = previous
            .fall
            .or_else(|| {
                (arrived < expected).then_some(Fall {
                    from_per_second: previous.per_second,
                    seconds: 0.0,
                    arrived: 0.0,
                    completed: 0.0,
                })
            })
            .map(|before| Fall {
                seconds: before.seconds + seconds,
                arrived: before.arrived + arrived,
                completed: before.completed + completed,
                ..before
            })
            .filter(|fall| improbably_few(fall.arrived, fall.expected(), FALL_CHANCE));
        let beyond_both = |expected: f64, arrived: f64, completed: f64| {
            expected - arrived > 3.0 * (expected + completed).sqrt() + 1.0
        };
        let dropped = beyond_both(expected, arrived, completed)
            || (previous.dropped && followed)
            || fall.is_some_and(|fall| beyond_both(fall.expected(), fall.arrived, fall.completed));
        let fall = fall.filter(|_| !dropped);
        let time_constant = if followed {
            seconds.min(smoothing.as_secs_f64())
        } else {
            smoothing.as_secs_f64()
        };
        let weight = if time_constant <= 0.0 {
            1.0
        } else {
            1.0 - (-seconds / time_constant).exp()
        };
        Self {
            per_second: previous.per_second + weight * (observed - previous.per_second),
            dropped,
            fall,
            ..fresh
        }
    }
}

/// The chance below which the arrivals counted since a fall began, against the rate before it,
/// keep the fall going: low enough that noise ends most falls within a reading or two, high
/// enough that a burst ending over several short readings is followed to the end.
const FALL_CHANCE: f64 = 0.05;

/// The chance below which a count is beyond Poisson noise: that of falling more than three
/// standard deviations below the mean of a normal distribution.
const BEYOND_NOISE: f64 = 0.00135;

/// Whether `arrived` is below `expected` and a Poisson count of that mean is at most it with a
/// chance below `chance`.
fn improbably_few(arrived: f64, expected: f64, chance: f64) -> bool {
    arrived < expected && poisson_at_most(arrived.round(), expected) < chance
}

/// The chance that a Poisson count of mean `mean` is at most `count` (a whole number): the lower tail,
/// summed term by term in logarithms so that large means do not underflow.
fn poisson_at_most(count: f64, mean: f64) -> f64 {
    if count < 0.0 {
        return 0.0;
    }
    if mean <= 0.0 {
        return 1.0;
    }
    let ln_mean = mean.ln();
    let mut ln_term = -mean;
    let mut ln_sum = ln_term;
    let mut k = 1.0;
    while k <= count {
        ln_term += ln_mean - f64::ln(k);
        ln_sum = ln_sum.max(ln_term) + (-(ln_sum - ln_term).abs()).exp().ln_1p();
        k += 1.0;
    }
    ln_sum.exp().min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + seconds)
    }

    const JOB: Duration = Duration::from_secs(10);
    const SMOOTHING: Duration = Duration::from_secs(60);

    #[test]
    fn starts_from_the_completion_rate() {
        let first = ArrivalEstimate::next(None, 48, 8, JOB, SMOOTHING, at(0));
        assert_eq!(first.per_second, 0.8);
    }

    #[test]
    fn a_growing_backlog_on_busy_slots_counts_as_arrivals() {
        // 8 in flight complete 0.8/s; 30 more waiting after 15 s: 2 more per second arrived.
        let first = ArrivalEstimate::next(None, 8, 8, JOB, Duration::ZERO, at(0));
        let next = ArrivalEstimate::next(Some(&first), 38, 8, JOB, Duration::ZERO, at(15));
        assert!((next.per_second - 2.8).abs() < 1e-9, "{}", next.per_second);
    }

    #[test]
    fn draining_a_backlog_onto_more_slots_is_not_more_arrivals() {
        // The backlog moves into flight on new capacity: nothing new arrived, the in-flight work
        // completes at its usual rate.
        let first = ArrivalEstimate::next(None, 108, 8, JOB, Duration::ZERO, at(0));
        let next = ArrivalEstimate::next(Some(&first), 96, 88, JOB, Duration::ZERO, at(15));
        // completed = (8 + 88)/2 · 15/10 = 72; arrived = 96 - 108 + 72 = 60 → 4/s.
        assert!((next.per_second - 4.0).abs() < 1e-9, "{}", next.per_second);
        assert!(
            next.per_second < 88.0 / 10.0,
            "below F/T, which counts drain capacity"
        );
    }

    #[test]
    fn smoothing_moves_part_of_the_way() {
        let first = ArrivalEstimate::next(None, 0, 0, JOB, SMOOTHING, at(0));
        let next = ArrivalEstimate::next(Some(&first), 60, 0, JOB, SMOOTHING, at(60));
        // Observed 1/s; after one smoothing time the estimate is 1 - 1/e of the way there.
        assert!((next.per_second - (1.0 - (-1.0f64).exp())).abs() < 1e-9);
    }

    #[test]
    fn a_drop_beyond_noise_is_followed_within_a_tick_a_rise_is_smoothed() {
        // 4 a second for minutes, then nothing at all for a tick: 60 expected, 0 seen.
        let steady = ArrivalEstimate {
            at: at(0),
            in_queue: 0,
            in_flight: 0,
            per_second: 4.0,
            dropped: false,
            fall: None,
        };
        let stopped = ArrivalEstimate::next(Some(&steady), 0, 0, JOB, SMOOTHING, at(15));
        assert!(stopped.per_second < 4.0 / 2.0, "{}", stopped.per_second);
        assert!(stopped.dropped);
        // 66 instead of 60 is noise: a small step of a 60 s smoothing.
        let noisy = ArrivalEstimate::next(Some(&steady), 66, 0, JOB, SMOOTHING, at(15));
        assert!(
            noisy.per_second > 4.0 && noisy.per_second < 4.1,
            "{}",
            noisy.per_second
        );
        assert!(!noisy.dropped);
        // 40 instead of 60 is within three standard deviations (and one message): noise too.
        let fewer = ArrivalEstimate::next(Some(&steady), 40, 0, JOB, SMOOTHING, at(15));
        assert!(!fewer.dropped, "{}", fewer.per_second);
        // With 40 jobs in flight (60 completions estimated), 30 arrivals instead of 60 is followed
        // (beyond the arrivals' noise) but not a drop beyond the completions' noise as well.
        let busy = ArrivalEstimate {
            in_queue: 60,
            in_flight: 40,
            ..steady
        };
        let noisy_drop = ArrivalEstimate::next(Some(&busy), 30, 40, JOB, SMOOTHING, at(15));
        assert!(noisy_drop.per_second < 3.0, "{}", noisy_drop.per_second);
        assert!(!noisy_drop.dropped);
        // So is a jump to 120: a quarter of the way after a quarter of the smoothing time.
        let jump = ArrivalEstimate::next(Some(&steady), 120, 0, JOB, SMOOTHING, at(15));
        let expected = 4.0 + 4.0 * (1.0 - (-0.25f64).exp());
        assert!(
            (jump.per_second - expected).abs() < 1e-9,
            "{}",
            jump.per_second
        );
    }

    #[test]
    fn a_drop_spread_over_short_readings_is_judged_over_all_of_them() {
        // 4.6 a second, 80 in flight finishing 40 every 5 s reading. Then the arrivals stop over
        // two readings (3, then 2): each reading alone falls within the noise of the completions
        // (23 expected against 40 completions, then 10 against 40), together they do not.
        let busy = ArrivalEstimate {
            at: at(0),
            in_queue: 780,
            in_flight: 80,
            per_second: 4.6,
            dropped: false,
            fall: None,
        };
        let first = ArrivalEstimate::next(Some(&busy), 743, 80, JOB, SMOOTHING, at(5));
        assert!(!first.dropped);
        assert!(
            first.per_second < 4.6 / 2.0,
            "followed: {}",
            first.per_second
        );
        let fall = first.fall.expect("a fall being followed");
        assert_eq!(fall.from_per_second, 4.6);
        assert_eq!(
            (fall.seconds, fall.arrived, fall.completed),
            (5.0, 3.0, 40.0)
        );
        let second = ArrivalEstimate::next(Some(&first), 705, 80, JOB, SMOOTHING, at(10));
        assert!(second.dropped, "{second:?}");
        // The drop is told once; the next readings start afresh.
        assert_eq!(second.fall, None);

        // The same readings with the arrivals at their rate, give or take noise: no fall, no drop.
        let noisy = ArrivalEstimate::next(Some(&busy), 780 - 40 + 20, 80, JOB, SMOOTHING, at(5));
        assert_eq!((noisy.dropped, noisy.fall), (false, None));
        let again = ArrivalEstimate::next(Some(&noisy), 780 - 80 + 47, 80, JOB, SMOOTHING, at(10));
        assert_eq!((again.dropped, again.fall), (false, None));
    }

    #[test]
    fn a_drop_goes_on_while_the_next_readings_still_fall_beyond_noise() {
        // One-minute jobs arriving 4 a second keep 240 in flight. Then nothing arrives: 187 left
        // in flight 15 s later means 0.4 arrived (187 − 240 + 53.4 completed) where 60 were
        // expected, beyond the noise of both counts.
        let long_job = Duration::from_secs(60);
        let busy = ArrivalEstimate {
            at: at(0),
            in_queue: 240,
            in_flight: 240,
            per_second: 4.0,
            dropped: false,
            fall: None,
        };
        let first = ArrivalEstimate::next(Some(&busy), 187, 187, long_job, SMOOTHING, at(15));
        assert!(first.dropped, "{first:?}");
        // Next, 146 in flight: 0.6 arrived (146 − 187 + 41.6) where 22 were expected. That is
        // beyond the arrivals' noise but not beyond the 42 estimated completions' too: alone it
        // would not be a drop; after one it is the same burst still ending.
        let second = ArrivalEstimate::next(Some(&first), 146, 146, long_job, SMOOTHING, at(30));
        assert!(second.dropped, "{second:?}");
        let without_the_first = ArrivalEstimate {
            dropped: false,
            fall: None,
            ..first
        };
        let alone = ArrivalEstimate::next(
            Some(&without_the_first),
            146,
            146,
            long_job,
            SMOOTHING,
            at(30),
        );
        assert!(!alone.dropped, "{alone:?}");
        // Then 113: none arrived (113 − 146 + 32.4) where 8.6 were expected. Within three standard
        // deviations and one message, but a chance of 0.0002 for a Poisson count: still ending,
        // and followed.
        let third = ArrivalEstimate::next(Some(&second), 113, 113, long_job, SMOOTHING, at(45));
        assert!(third.dropped, "{third:?}");
        assert!(third.per_second < second.per_second / 2.0, "{third:?}");
        // Not so without a drop before it: in steady traffic that is left to the smoothing.
        let steady = ArrivalEstimate {
            dropped: false,
            fall: None,
            ..second
        };
        let unfollowed =
            ArrivalEstimate::next(Some(&steady), 113, 113, long_job, SMOOTHING, at(45));
        assert!(!unfollowed.dropped, "{unfollowed:?}");
        assert!(
            unfollowed.per_second > second.per_second / 2.0,
            "{unfollowed:?}"
        );
        // Then 88: none arrived (0.1) where 3.2 were expected, a chance of 0.04: over.
        let fourth = ArrivalEstimate::next(Some(&third), 88, 88, long_job, SMOOTHING, at(60));
        assert!(!fourth.dropped, "{fourth:?}");
    }

    #[test]
    fn the_poisson_tail_is_exact_for_small_and_large_means() {
        assert!((poisson_at_most(0.0, 8.6) - (-8.6f64).exp()).abs() < 1e-12);
        // e^-3 (1 + 3 + 9/2)
        assert!((poisson_at_most(2.0, 3.0) - 0.423_190_081_126_846_8).abs() < 1e-12);
        // Summed in logarithms: e^-1000 alone underflows.
        let far_tail = poisson_at_most(900.0, 1000.0);
        assert!(
            (far_tail - 0.000_697_767_327_796).abs() < 1e-9,
            "{far_tail}"
        );
        assert_eq!(poisson_at_most(-1.0, 5.0), 0.0);
        assert_eq!(poisson_at_most(3.0, 0.0), 1.0);
    }

    #[test]
    fn a_stale_or_backwards_reading_starts_afresh() {
        let first = ArrivalEstimate::next(None, 100, 0, JOB, SMOOTHING, at(1000));
        let stale = ArrivalEstimate::next(Some(&first), 0, 20, JOB, SMOOTHING, at(1601));
        assert_eq!(stale.per_second, 2.0);
        let backwards = ArrivalEstimate::next(Some(&first), 0, 10, JOB, SMOOTHING, at(10));
        assert_eq!(backwards.per_second, 1.0);
    }
}
