//! What the controller remembers between ticks: recent recommendations, when it last scaled, how long
//! the queue has been quiet, the arrival estimate (and when it last dropped beyond noise), and since
//! when each instance has been idle. The
//! window and the cooldowns are rebuildable from the group's scaling activities after a restart; the
//! rest is relearnt within a few ticks.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use crate::arrival::ArrivalEstimate;
use crate::decision::Decision;
use crate::observation::Observation;
use crate::ports::PublishedDepth;

/// How long recommendations are kept by default: longer than any sensible stabilization window.
const DEFAULT_RETENTION: Duration = Duration::from_secs(3600);

/// The controller's memory, updated after every decision with [`History::record`].
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    recommendations: VecDeque<(SystemTime, u32)>,
    last_scale_out: Option<SystemTime>,
    last_scale_in: Option<SystemTime>,
    quiet_since: Option<SystemTime>,
    arrivals: Option<ArrivalEstimate>,
    last_arrival_drop: Option<SystemTime>,
    idle_since: BTreeMap<String, SystemTime>,
    retention: Duration,
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

/// A past change of the group's desired capacity, as read from its scaling activities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingEvent {
    /// When the change was made.
    pub at: SystemTime,
    /// Desired capacity before.
    pub from: u32,
    /// Desired capacity after.
    pub to: u32,
}

impl History {
    /// An empty history: no recommendation seen, never scaled, queue not known to be quiet. Keeps
    /// recommendations for one hour.
    pub fn new() -> Self {
        Self {
            recommendations: VecDeque::new(),
            last_scale_out: None,
            last_scale_in: None,
            quiet_since: None,
            arrivals: None,
            last_arrival_drop: None,
            idle_since: BTreeMap::new(),
            retention: DEFAULT_RETENTION,
        }
    }

    /// How long recommendations are kept (default one hour); must cover the stabilization window.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Rebuilds a history from the group's past scaling changes (after a restart): the last scale-out
    /// and scale-in times, and each change's new capacity as a recommendation made at that time, so a
    /// fresh controller neither scales in nor out sooner than one that never stopped would.
    pub fn from_scaling_events(events: &[ScalingEvent]) -> Self {
        let mut history = Self::new();
        let mut sorted = events.to_vec();
        sorted.sort_by_key(|event| event.at);
        for event in sorted {
            history.push_recommendation(event.at, event.to);
            if event.to > event.from {
                history.last_scale_out = Some(event.at);
            } else if event.to < event.from {
                history.last_scale_in = Some(event.at);
            }
        }
        history
    }

    /// Takes how long the queue has been empty from the depth published before a restart: quiet
    /// since the end of the earliest period of the unbroken run of empty periods up to the newest
    /// (the queue may have emptied anywhere in that period, so its end is the safe guess), and no
    /// later than `now`. Not quiet when the newest period shows messages or nothing was published.
    /// The figures are samples: a queue that filled and emptied between two of them goes unseen,
    /// as it does between two ticks.
    pub fn quiet_from_published(mut self, depths: &[PublishedDepth], now: SystemTime) -> Self {
        let mut periods: Vec<&PublishedDepth> =
            depths.iter().filter(|depth| depth.from <= now).collect();
        periods.sort_by_key(|depth| depth.from);
        self.quiet_since = None;
        for depth in periods.iter().rev() {
            if depth.most > 0 {
                break;
            }
            self.quiet_since = Some(depth.until.min(now));
        }
        self
    }

    /// Remembers `capacity` as a recommendation made at `at`. A controller that starts (or
    /// restarts) in a loop remembers the group's desired capacity at its first reading this way,
    /// as Kubernetes' horizontal pod autoscaler does, so that it scales in only once a
    /// stabilization window of its own readings allows it, not on the first reading of an empty
    /// window.
    pub fn remember_capacity(&mut self, at: SystemTime, capacity: u32) {
        self.push_recommendation(at, capacity);
    }

    /// Remembers one tick: the recommendation made (its keep-up part, for the window), the change
    /// applied (if any), whether the queue was empty, the arrival estimate, and which instances were
    /// idle. An input that could not be read leaves what depends on it as it was.
    pub fn record(&mut self, now: SystemTime, observation: &Observation, decision: &Decision) {
        if let Some(keep_up) = decision.keep_up.or(decision.recommendation) {
            self.push_recommendation(now, keep_up);
        }
        if let Some(arrivals) = decision.arrivals {
            if arrivals.dropped {
                self.last_arrival_drop = Some(now);
            }
            self.arrivals = Some(arrivals);
        }
        if let Ok(group) = &observation.group {
            let mut idle_since = BTreeMap::new();
            for id in &group.idle_instances {
                let since = self.idle_since.get(id).copied().unwrap_or(now);
                idle_since.insert(id.clone(), since);
            }
            for id in &decision.terminate {
                idle_since.remove(id);
            }
            self.idle_since = idle_since;
        }
        if let (Some(from), Some(to)) = (decision.current, decision.desired) {
            if to > from {
                self.last_scale_out = Some(now);
            } else if to < from {
                self.last_scale_in = Some(now);
            }
        }
        match &observation.queue {
            Ok(queue) if queue.total() == 0 => {
                self.quiet_since.get_or_insert(now);
            }
            Ok(_) => self.quiet_since = None,
            Err(_) => {}
        }
        self.prune(now);
    }

    /// The highest recommendation remembered at or after `since`, if any: the keep-up part of the
    /// latency target's, the whole of the thresholds policy's, and the capacity set by each scaling
    /// activity a restored history was rebuilt from.
    pub fn highest_recommendation_since(&self, since: SystemTime) -> Option<u32> {
        self.recommendations
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, value)| *value)
            .max()
    }

    /// When the controller last scaled out.
    pub fn last_scale_out(&self) -> Option<SystemTime> {
        self.last_scale_out
    }

    /// When the controller last scaled in.
    pub fn last_scale_in(&self) -> Option<SystemTime> {
        self.last_scale_in
    }

    /// When the controller last scaled in either direction.
    pub fn last_scaling(&self) -> Option<SystemTime> {
        self.last_scale_out.max(self.last_scale_in)
    }

    /// Since when the queue has been seen empty without interruption, if it is.
    pub fn quiet_since(&self) -> Option<SystemTime> {
        self.quiet_since
    }

    /// The arrival estimate of the last tick that made one.
    pub fn arrivals(&self) -> Option<&ArrivalEstimate> {
        self.arrivals.as_ref()
    }

    /// When the arrival estimate last followed a drop beyond noise (see
    /// [`ArrivalEstimate::dropped`]), if it ever did.
    pub fn last_arrival_drop(&self) -> Option<SystemTime> {
        self.last_arrival_drop
    }

    /// Since when `instance` has been seen idle at every tick, if it was idle at the last one.
    pub fn idle_since(&self, instance: &str) -> Option<SystemTime> {
        self.idle_since.get(instance).copied()
    }

    fn push_recommendation(&mut self, at: SystemTime, value: u32) {
        self.recommendations.push_back((at, value));
    }

    fn prune(&mut self, now: SystemTime) {
        let Some(oldest_kept) = now.checked_sub(self.retention) else {
            return;
        };
        while self
            .recommendations
            .front()
            .is_some_and(|(at, _)| *at < oldest_kept)
        {
            self.recommendations.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    /// A one-minute period starting at `start` seconds with at most `most` messages.
    fn minute(start: u64, most: u64) -> PublishedDepth {
        PublishedDepth {
            from: at(start),
            until: at(start + 60),
            most,
        }
    }

    #[test]
    fn quiet_since_the_end_of_the_first_empty_period_after_the_last_with_messages() {
        // Messages in the minute from 0, then three empty minutes (given out of order).
        let depths = [minute(180, 0), minute(0, 7), minute(120, 0), minute(60, 0)];
        let history = History::new().quiet_from_published(&depths, at(250));
        assert_eq!(history.quiet_since(), Some(at(120)));
    }

    #[test]
    fn messages_in_the_newest_period_or_nothing_published_is_not_quiet() {
        let depths = [minute(0, 0), minute(60, 0), minute(120, 1)];
        assert_eq!(
            History::new()
                .quiet_from_published(&depths, at(150))
                .quiet_since(),
            None
        );
        assert_eq!(
            History::new()
                .quiet_from_published(&[], at(150))
                .quiet_since(),
            None
        );
    }

    #[test]
    fn the_quiet_never_starts_after_now_and_periods_after_now_are_ignored() {
        // The only empty period is the current one: quiet since now, not since its end.
        let current = History::new().quiet_from_published(&[minute(0, 0)], at(20));
        assert_eq!(current.quiet_since(), Some(at(20)));
        // A period that begins after now (a clock ahead of ours) does not count, messages or not.
        let ahead = History::new().quiet_from_published(&[minute(0, 0), minute(60, 5)], at(30));
        assert_eq!(ahead.quiet_since(), Some(at(30)));
    }

    #[test]
    fn single_figures_count_from_their_own_time() {
        let figure = |seconds, most| PublishedDepth {
            from: at(seconds),
            until: at(seconds),
            most,
        };
        let depths = [figure(0, 3), figure(15, 0), figure(30, 0)];
        let history = History::new().quiet_from_published(&depths, at(45));
        assert_eq!(history.quiet_since(), Some(at(15)));
    }

    #[test]
    fn the_read_back_quiet_survives_the_next_empty_tick_and_ends_with_a_busy_one() {
        let restored = History::new().quiet_from_published(&[minute(0, 0)], at(100));
        let observe = |total| Observation {
            queue: Ok(crate::QueueReading {
                visible: total,
                not_visible: 0,
                delayed: 0,
            }),
            group: Ok(crate::GroupReading::default()),
        };
        let decision = Decision::hold(Some(1), None, crate::Reason::Steady);
        let mut history = restored;
        history.record(at(115), &observe(0), &decision);
        assert_eq!(history.quiet_since(), Some(at(60)));
        history.record(at(130), &observe(2), &decision);
        assert_eq!(history.quiet_since(), None);
    }
}
