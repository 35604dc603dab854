//! The controller's one decision, as a pure function of what it sees, its policy, what it remembers
//! and the time: no I/O, no clock reads.

use std::time::{Duration, SystemTime};

#[cfg(doc)]
use crate::arrival::ArrivalEstimate;
use crate::decision::{Decision, Reason, ScaleInLimit, ScaleOutLimit};
use crate::history::History;
use crate::observation::{GroupReading, Input, Observation, QueueReading};
use crate::policy::{Policy, PolicyKind, ScalingRules};

/// Decides the group's desired capacity for this tick.
///
/// In order: any unreadable input holds; a capacity outside the group's bounds is brought back; at
/// zero, nothing starts until visible messages reach the activation threshold; a higher
/// recommendation scales out at once (compared against desired, which counts booting instances),
/// capped per step and by the group's max; a lower one waits until the instances launched by a
/// recent scale-out are in service, then scales in only to the highest recommendation over the
/// stabilization window (for the latency target, of its keep-up part, and only after the reading
/// at which the arrivals last dropped beyond noise, see [`ArrivalEstimate::dropped`]), outside the
/// tolerance, never below busy instances, at most the per-step cap, never below the group's min,
/// and to zero only once the queue has been empty for the quiet cooldown. While the window holds,
/// instances idle for the idle-release time with nothing waiting still go (rent or buy), down to
/// the highest recommendation made while they were idle (see [`ScalingRules::release_idle_after`]).
/// The thresholds policy also waits out its cooldowns.
///
/// What `decide` needs to remember (recommendations, the arrival estimate, idle times) travels in the
/// returned [`Decision`] and is kept by [`History::record`].
pub fn decide(
    observation: &Observation,
    policy: &Policy,
    history: &History,
    now: SystemTime,
) -> Decision {
    let known_current = observation.group.as_ref().ok().map(|group| group.desired);
    let queue = match &observation.queue {
        Ok(queue) => queue,
        Err(error) => {
            return Decision::hold(
                known_current,
                None,
                Reason::InputUnreadable {
                    input: Input::Queue,
                    error: error.clone(),
                },
            )
        }
    };
    let group = match &observation.group {
        Ok(group) => group,
        Err(error) => {
            return Decision::hold(
                None,
                None,
                Reason::InputUnreadable {
                    input: Input::Group,
                    error: error.clone(),
                },
            )
        }
    };
    let current = group.desired;
    let (min, max) = (group.min, group.max);
    if min > max {
        return Decision::hold(Some(current), None, Reason::InvalidBounds { min, max });
    }
    if current < min || current > max {
        return Decision {
            current: Some(current),
            desired: Some(current.clamp(min, max)),
            recommendation: None,
            keep_up: None,
            arrivals: None,
            reason: Reason::OutsideBounds { min, max },
            terminate: Vec::new(),
        };
    }

    let rules = policy.rules();
    let advice = policy.recommend(queue, group, history.arrivals(), now);
    let activating = current == 0 && queue.visible >= rules.activation();
    // From here on every decision carries what was recommended and estimated, for the history.
    let decided = |desired: Option<u32>, recommendation: u32, reason, terminate| Decision {
        current: Some(current),
        desired,
        recommendation: Some(recommendation),
        keep_up: Some(advice.keep_up.min(recommendation)),
        arrivals: advice.arrivals,
        reason,
        terminate,
    };
    if current == 0 && !activating {
        return decided(
            None,
            0,
            Reason::BelowActivation {
                visible: queue.visible,
                threshold: rules.activation(),
            },
            Vec::new(),
        );
    }
    let recommendation = if activating {
        advice.capacity.max(1)
    } else {
        advice.capacity
    };
    let hold = |reason| decided(None, recommendation, reason, Vec::new());

    if recommendation > current {
        if let (PolicyKind::Thresholds(thresholds), false) = (policy.kind(), activating) {
            if let Some(remaining) =
                cooldown_left(history.last_scale_out(), thresholds.out_cooldown(), now)
            {
                return hold(Reason::ScaleOutCooldown { remaining });
            }
        }
        let mut to = recommendation;
        let mut limit = None;
        if let Some(step) = rules.scale_out_cap() {
            if current.saturating_add(step) < to {
                to = current.saturating_add(step);
                limit = Some(ScaleOutLimit::StepCap { step });
            }
        }
        if max < to {
            to = max;
            limit = Some(ScaleOutLimit::Maximum { max });
        }
        if to <= current {
            return hold(Reason::AtMaximum {
                recommended: recommendation,
                max,
            });
        }
        let reason = if activating {
            Reason::Activate {
                visible: queue.visible,
                threshold: rules.activation(),
            }
        } else {
            Reason::ScaleOut {
                recommended: recommendation,
                limit,
            }
        };
        return decided(Some(to), recommendation, reason, Vec::new());
    }
    if recommendation == current {
        return hold(Reason::Steady);
    }

    let in_cooldown = match policy.kind() {
        PolicyKind::Thresholds(thresholds) => {
            cooldown_left(history.last_scaling(), thresholds.in_cooldown(), now)
        }
        PolicyKind::LatencyTarget(_) => None,
    };
    let quiet_for = if queue.total() == 0 {
        history
            .quiet_since()
            .map(|since| now.duration_since(since).unwrap_or(Duration::ZERO))
    } else {
        None
    };
    let zero_allowed = quiet_for.is_some_and(|quiet| quiet >= rules.zero_cooldown());
    let idle_order = idle_longest_first(group, history, now);
    // What was recommended before the arrivals dropped beyond noise was for arrivals that have
    // stopped, and so, from the next tick on, was what the reading showing the drop recommended:
    // its estimate had moved only part of the way down. Neither the window nor the idle release
    // holds capacity for either.
    let remembered_since = if advice.arrivals.is_some_and(|arrivals| arrivals.dropped) {
        Some(now)
    } else {
        history.last_arrival_drop()
    };
    let memory = Memory {
        history,
        since: remembered_since,
    };

    let by_window = scale_in_by_window(
        group,
        rules,
        &memory,
        now,
        recommendation,
        in_cooldown,
        quiet_for,
    );
    let (target, reason) = match by_window {
        Ok(change) => change,
        Err(hold_reason) => {
            // The window, the tolerance or the quiet cooldown holds: idle instances may still go.
            let cooling = matches!(
                hold_reason,
                Reason::ScaleInCooldown { .. } | Reason::Booting { .. }
            );
            let release = IdleRelease {
                queue,
                rules,
                memory: &memory,
                now,
                current,
                min,
                recommendation,
                zero_allowed,
            };
            match release.decide(&idle_order) {
                Some((target, idle_for)) if !cooling => (
                    target,
                    Reason::ReleaseIdle {
                        released: current - target,
                        idle_for,
                    },
                ),
                _ => return hold(hold_reason),
            }
        }
    };
    let terminate = idle_order
        .into_iter()
        .take((current - target) as usize)
        .map(|(_, id)| id.to_owned())
        .collect();
    decided(Some(target), recommendation, reason, terminate)
}

/// The history as the scale-in rules read it: recommendations made at or before `since` (the
/// reading at which the arrivals last dropped beyond noise) are forgotten.
struct Memory<'a> {
    history: &'a History,
    since: Option<SystemTime>,
}

impl Memory<'_> {
    /// The highest recommendation remembered at or after `start`, and after the last drop.
    fn highest_since(&self, start: SystemTime) -> Option<u32> {
        let after_drop = self.since.map(|since| since + Duration::from_nanos(1));
        self.history
            .highest_recommendation_since(after_drop.map_or(start, |after| after.max(start)))
    }

    fn last_scale_out(&self) -> Option<SystemTime> {
        self.history.last_scale_out()
    }
}

/// The scale-in the stabilization window allows, after the thresholds' cooldown, the quiet
/// cooldown, the tolerance, busy instances, the per-step cap and the group's min: the new capacity
/// and why, or the reason to hold.
fn scale_in_by_window(
    group: &GroupReading,
    rules: &ScalingRules,
    memory: &Memory<'_>,
    now: SystemTime,
    recommendation: u32,
    in_cooldown: Option<Duration>,
    quiet_for: Option<Duration>,
) -> Result<(u32, Reason), Reason> {
    let current = group.desired;
    let window_start = now
        .checked_sub(rules.stabilization_window())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    if group.pending > 0
        && memory
            .last_scale_out()
            .is_some_and(|scaled_out| scaled_out >= window_start)
    {
        return Err(Reason::Booting {
            pending: group.pending,
        });
    }
    let window_high = memory
        .highest_since(window_start)
        .unwrap_or(0)
        .max(recommendation);
    if window_high >= current {
        return Err(Reason::Stabilizing {
            recommended: recommendation,
            window_high,
        });
    }
    if let Some(remaining) = in_cooldown {
        return Err(Reason::ScaleInCooldown { remaining });
    }
    let mut target = window_high;
    let mut limit = None;
    let zero_allowed = quiet_for.is_some_and(|quiet| quiet >= rules.zero_cooldown());
    if target == 0 && !zero_allowed {
        let remaining = rules
            .zero_cooldown()
            .saturating_sub(quiet_for.unwrap_or(Duration::ZERO));
        target = 1;
        limit = Some(ScaleInLimit::QuietCooldown { remaining });
        if target >= current {
            return Err(Reason::QuietCooldown { remaining });
        }
    }
    if within_tolerance(rules, current, target) {
        return Err(Reason::WithinTolerance { target });
    }
    if target < group.busy {
        target = group.busy;
        limit = Some(ScaleInLimit::Busy { busy: group.busy });
        if target >= current {
            return Err(Reason::HeldByBusy { busy: group.busy });
        }
    }
    if let Some(step) = rules.scale_in_cap() {
        if current - target > step {
            target = current - step;
            limit = Some(ScaleInLimit::StepCap { step });
        }
    }
    if target < group.min {
        target = group.min;
        limit = Some(ScaleInLimit::Minimum { min: group.min });
        if target >= current {
            return Err(Reason::AtMinimum { min: group.min });
        }
    }
    let reason = match (target, quiet_for) {
        (0, Some(quiet_for)) => Reason::ScaleToZero { quiet_for },
        _ => Reason::ScaleIn { window_high, limit },
    };
    Ok((target, reason))
}

/// The group's idle instances with how long each has been idle, longest first (ties by id).
fn idle_longest_first<'a>(
    group: &'a GroupReading,
    history: &History,
    now: SystemTime,
) -> Vec<(Duration, &'a str)> {
    let mut idle: Vec<(Duration, &str)> = group
        .idle_instances
        .iter()
        .map(|id| {
            let since = history.idle_since(id).unwrap_or(now);
            (
                now.duration_since(since).unwrap_or(Duration::ZERO),
                id.as_str(),
            )
        })
        .collect();
    idle.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    idle
}

/// What the rent-or-buy release looks at: with nothing waiting, instances idle for at least the
/// idle-release time go, even while the stabilization window holds the capacity.
struct IdleRelease<'a> {
    queue: &'a QueueReading,
    rules: &'a ScalingRules,
    memory: &'a Memory<'a>,
    now: SystemTime,
    current: u32,
    min: u32,
    recommendation: u32,
    zero_allowed: bool,
}

impl IdleRelease<'_> {
    /// The new capacity and how long the most recently idle of the released instances had been
    /// idle (they come first in `idle_order`), or `None` when none is to go. None goes:
    ///
    /// - while a message waits, or within the stabilization window (and the idle-release time) of
    ///   a scale-out: an instance idle while the fleet was short is no evidence of surplus;
    /// - below the highest recommendation made while it was idle, nor below the current one: an
    ///   instance some recommendation asked for during that time was not surplus all along;
    /// - below the group's min, below one before the quiet cooldown, more than the per-step cap,
    ///   or fewer than the tolerance.
    fn decide(&self, idle_order: &[(Duration, &str)]) -> Option<(u32, Duration)> {
        let after = self.rules.idle_release()?;
        if self.queue.visible > 0 {
            return None;
        }
        let since = |span: Duration| self.now.checked_sub(span).unwrap_or(SystemTime::UNIX_EPOCH);
        let settle = after.max(self.rules.stabilization_window());
        if self
            .memory
            .last_scale_out()
            .is_some_and(|scaled_out| scaled_out > since(settle))
        {
            return None;
        }
        let mut floor = self
            .recommendation
            .max(self.memory.highest_since(since(after)).unwrap_or(0))
            .max(self.min)
            .max(u32::from(!self.zero_allowed));
        if let Some(cap) = self.rules.scale_in_cap() {
            floor = floor.max(self.current.saturating_sub(cap));
        }
        let long_idle = idle_order
            .iter()
            .take_while(|(idle_for, _)| *idle_for >= after)
            .count();
        let removable = self.current.saturating_sub(floor).min(long_idle as u32);
        if removable == 0 || within_tolerance(self.rules, self.current, self.current - removable) {
            return None;
        }
        Some((
            self.current - removable,
            idle_order[removable as usize - 1].0,
        ))
    }
}

/// Whether going from `current` to `target` removes less than the tolerance's share of `current`.
fn within_tolerance(rules: &ScalingRules, current: u32, target: u32) -> bool {
    f64::from(current.saturating_sub(target)) < rules.tolerance_fraction() * f64::from(current)
}

/// Time left of a cooldown that started at `since`, or `None` when it has run out (or never started).
fn cooldown_left(
    since: Option<SystemTime>,
    cooldown: Duration,
    now: SystemTime,
) -> Option<Duration> {
    let elapsed = now.duration_since(since?).unwrap_or(Duration::ZERO);
    (elapsed < cooldown).then(|| cooldown - elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{GroupReading, QueueReading, ReadError};
    use crate::policy::{LatencyTarget, ScalingRules, Thresholds};

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + seconds)
    }

    /// 4 slots, 10 s jobs, 60 s acceptable wait, and a 30 s target wait (not the default 45 s, for
    /// round figures): 12 waiting messages per instance.
    fn target() -> LatencyTarget {
        LatencyTarget::new(4, Duration::from_secs(10), Duration::from_secs(60))
            .target_wait(Duration::from_secs(30))
    }

    fn latency() -> Policy {
        Policy::latency_target(target())
    }

    /// The same target without smoothing: each tick's arrival estimate is what that tick saw.
    fn unsmoothed() -> Policy {
        Policy::latency_target(target().rate_smoothing(Duration::ZERO))
    }

    fn queue(visible: u64, not_visible: u64) -> QueueReading {
        QueueReading {
            visible,
            not_visible,
            delayed: 0,
        }
    }

    fn group(desired: u32) -> GroupReading {
        GroupReading {
            desired,
            min: 0,
            max: 20,
            in_service: desired,
            pending: 0,
            busy: 0,
            idle_instances: Vec::new(),
        }
    }

    fn observe(queue: QueueReading, group: GroupReading) -> Observation {
        Observation {
            queue: Ok(queue),
            group: Ok(group),
        }
    }

    #[test]
    fn latency_target_follows_the_formula() {
        let history = History::new();
        // F/s = 8/4 = 2; V/s · T/L = 48/4 · 1/6 = 2; desired 4.
        let decision = decide(
            &observe(queue(48, 8), group(1)),
            &latency(),
            &history,
            at(0),
        );
        assert_eq!(decision.desired, Some(4));
        assert_eq!(decision.recommendation, Some(4));
        assert!(matches!(
            decision.reason,
            Reason::ScaleOut { limit: None, .. }
        ));
    }

    #[test]
    fn the_default_target_wait_is_three_quarters_of_the_acceptable_wait() {
        let policy = Policy::latency_target(LatencyTarget::new(
            4,
            Duration::from_secs(10),
            Duration::from_secs(60),
        ));
        // 8 in flight keep 2 instances busy; 48 waiting start within W = 45 s on
        // 48 · 10 / (4 · 45) = 2.7 instances: 3 (with W = 30 s it would be 4, with W = L, 2).
        let decision = decide(
            &observe(queue(48, 8), group(1)),
            &policy,
            &History::new(),
            at(0),
        );
        assert_eq!(decision.desired, Some(3));
    }

    #[test]
    fn the_default_tolerance_lets_a_group_of_twenty_lose_one_instance() {
        let rules = ScalingRules::default();
        assert!(!within_tolerance(&rules, 20, 19));
        assert!(within_tolerance(&rules, 21, 20));
        assert!(!within_tolerance(&rules, 40, 38));
        assert!(within_tolerance(&rules, 41, 39));
    }

    #[test]
    fn long_jobs_get_one_slot_per_message() {
        let policy = Policy::latency_target(LatencyTarget::new(
            2,
            Duration::from_secs(600),
            Duration::from_secs(60),
        ));
        let decision = decide(
            &observe(queue(9, 0), group(1)),
            &policy,
            &History::new(),
            at(0),
        );
        assert_eq!(decision.desired, Some(5));
    }

    #[test]
    fn delayed_messages_count_only_when_asked() {
        let target = LatencyTarget::new(1, Duration::from_secs(60), Duration::from_secs(60));
        let reading = QueueReading {
            visible: 0,
            not_visible: 1,
            delayed: 3,
        };
        let ignoring = decide(
            &observe(reading, group(1)),
            &Policy::latency_target(target.clone()),
            &History::new(),
            at(0),
        );
        assert_eq!(ignoring.desired, None);
        let counting = decide(
            &observe(reading, group(1)),
            &Policy::latency_target(target.count_delayed(true)),
            &History::new(),
            at(0),
        );
        assert_eq!(counting.desired, Some(4));
    }

    #[test]
    fn an_unreadable_input_holds() {
        let history = History::new();
        let broken_queue = Observation {
            queue: Err(ReadError::new("throttled")),
            group: Ok(group(3)),
        };
        let decision = decide(&broken_queue, &latency(), &history, at(0));
        assert_eq!(decision.desired, None);
        assert_eq!(decision.current, Some(3));
        assert_eq!(
            decision.reason.to_string(),
            "hold: cannot read the queue depth: throttled"
        );
        let broken_group = Observation {
            queue: Ok(queue(0, 0)),
            group: Err(ReadError::new("access denied")),
        };
        assert_eq!(
            decide(&broken_group, &latency(), &history, at(0)).desired,
            None
        );
    }

    #[test]
    fn zero_to_one_needs_the_activation_threshold() {
        let policy = latency().with_rules(ScalingRules::default().activation_threshold(5));
        let history = History::new();
        let below = decide(&observe(queue(4, 0), group(0)), &policy, &history, at(0));
        assert_eq!(below.desired, None);
        assert!(matches!(below.reason, Reason::BelowActivation { .. }));
        let reached = decide(&observe(queue(5, 0), group(0)), &policy, &history, at(0));
        assert_eq!(reached.desired, Some(1));
        assert!(matches!(reached.reason, Reason::Activate { .. }));
    }

    #[test]
    fn scale_out_is_capped_per_step_and_by_max() {
        let policy = latency().with_rules(ScalingRules::default().max_scale_out_step(Some(3)));
        let decision = decide(
            &observe(queue(0, 400), group(2)),
            &policy,
            &History::new(),
            at(0),
        );
        assert_eq!(decision.desired, Some(5));
        assert!(matches!(
            decision.reason,
            Reason::ScaleOut {
                limit: Some(ScaleOutLimit::StepCap { step: 3 }),
                ..
            }
        ));
        let at_max = decide(
            &observe(queue(0, 400), group(20)),
            &policy,
            &History::new(),
            at(0),
        );
        assert_eq!(at_max.desired, None);
        assert!(matches!(at_max.reason, Reason::AtMaximum { .. }));
        let to_max = decide(
            &observe(queue(0, 400), group(18)),
            &policy,
            &History::new(),
            at(0),
        );
        assert_eq!(to_max.desired, Some(20));
        assert_eq!(
            to_max.reason.to_string(),
            "scale out: the policy recommends 100; the group's max is 20"
        );
    }

    /// A decision without its arrival estimate, so that the next tick estimates afresh: for tests of
    /// the window and the idle release that must not see a drop in arrivals (see
    /// `a_drop_in_arrivals_beyond_noise_ends_the_window`).
    fn forgetting_arrivals(decision: Decision) -> Decision {
        Decision {
            arrivals: None,
            ..decision
        }
    }

    #[test]
    fn a_drop_in_arrivals_beyond_noise_ends_the_window() {
        let policy = unsmoothed();
        let mut history = History::new();
        let busy = observe(queue(0, 40), group(2));
        let first = decide(&busy, &policy, &history, at(0));
        assert_eq!(first.desired, Some(10));
        history.record(at(0), &busy, &first);
        // 15 s later 8 are in flight and nothing waits: 4 arrived (8 − 40 + 36 completed) where 60
        // were expected, beyond the noise of both counts. The 10 was for arrivals that stopped:
        // the capacity follows what arrives now (one instance keeps up with 4 per 15 s).
        let calmer = observe(queue(0, 8), group(10));
        let after = decide(&calmer, &policy, &history, at(15));
        assert!(after.arrivals.expect("estimated").dropped);
        assert_eq!(after.desired, Some(1), "{}", after.reason);
        assert!(matches!(
            after.reason,
            Reason::ScaleIn { window_high: 1, .. }
        ));
        history.record(at(15), &calmer, &after);
        assert_eq!(history.last_arrival_drop(), Some(at(15)));
    }

    #[test]
    fn the_window_forgets_the_drop_reading_itself_at_the_next_tick() {
        let policy = unsmoothed();
        let mut history = History::new();
        let busy = observe(queue(0, 40), group(2));
        let first = decide(&busy, &policy, &history, at(0));
        history.record(at(0), &busy, &first);
        // 25 arrived (20 − 40 + 45 completed) where 60 were expected: a drop beyond noise, and the
        // reading that shows it recommends 4 (1.67 a second of 10 s jobs on 4 slots).
        let falling = observe(queue(0, 20), group(10));
        let at_drop = decide(&falling, &policy, &history, at(15));
        assert!(at_drop.arrivals.expect("estimated").dropped);
        assert_eq!(at_drop.desired, Some(4), "{}", at_drop.reason);
        history.record(at(15), &falling, &at_drop);
        // 16 arrived (12 − 20 + 24) where 25 were expected: noise, not another drop. The 4 was
        // recommended on the way down; the window holds what came after it, the 3 of this reading.
        let settled = observe(queue(0, 12), group(4));
        let after = decide(&settled, &policy, &history, at(30));
        assert!(!after.arrivals.expect("estimated").dropped);
        assert_eq!(after.desired, Some(3), "{}", after.reason);
        assert!(matches!(
            after.reason,
            Reason::ScaleIn { window_high: 3, .. }
        ));
    }

    #[test]
    fn scale_in_waits_for_the_stabilization_window() {
        let policy = unsmoothed();
        let mut history = History::new();
        let busy = observe(queue(0, 40), group(2));
        let first = decide(&busy, &policy, &history, at(0));
        assert_eq!(first.desired, Some(10));
        history.record(at(0), &busy, &forgetting_arrivals(first));
        // 15 s later 8 are in flight and nothing waits: 2 instances keep up with 0.8 a second.
        let calmer = observe(queue(0, 8), group(10));
        let held = decide(&calmer, &policy, &history, at(15));
        assert_eq!(held.desired, None);
        assert!(matches!(
            held.reason,
            Reason::Stabilizing {
                window_high: 10,
                ..
            }
        ));
        history.record(at(15), &calmer, &held);
        // At 301 s the 10 has left the window. The queue held steady at 8 in flight, so arrivals
        // matched completions (8 per 10 s): 2 instances keep up, the highest in the window.
        let released = decide(&calmer, &policy, &history, at(301));
        assert_eq!(released.desired, Some(2));
        assert!(matches!(
            released.reason,
            Reason::ScaleIn { window_high: 2, .. }
        ));
    }

    #[test]
    fn the_window_holds_the_keep_up_part_not_the_backlog_part() {
        let policy = latency();
        let mut history = History::new();
        // 240 waiting, 8 in flight on 2 instances: 2 keep up; starting 240 within 30 s takes 20.
        let backlog = observe(queue(240, 8), group(2));
        let out = decide(&backlog, &policy, &history, at(0));
        assert_eq!(out.desired, Some(20));
        assert_eq!(out.keep_up, Some(2));
        history.record(at(0), &backlog, &out);
        // The backlog is gone 15 s later and 9 instances' worth of jobs run: the window remembers 2,
        // not 20, so the capacity follows the work at once.
        let drained = observe(queue(0, 36), group(20));
        let after = decide(&drained, &policy, &history, at(15));
        assert!(
            matches!(after.reason, Reason::ScaleIn { .. }),
            "{}",
            after.reason
        );
        assert!(after.desired.expect("scales in") < 20);
    }

    #[test]
    fn a_backlog_on_busy_slots_does_not_ratchet_the_capacity_up() {
        // Every slot is busy while a backlog waits for booting instances; the F/s term would
        // add the backlog term to the busy capacity again at every tick. The arrival estimate sees
        // that nothing more arrives, so the recommendation stays put.
        let policy = latency();
        let mut history = History::new();
        let mut current = 2;
        let mut recommendations = Vec::new();
        for tick in 0..6u64 {
            // 100 waiting, every slot of the in-service instances busy; arrivals just match the
            // completions (the total stays at 100 + in flight).
            let observation = observe(queue(100, 8), {
                let mut g = group(current);
                g.in_service = 2;
                g.pending = current - 2;
                g
            });
            let decision = decide(&observation, &policy, &history, at(tick * 15));
            history.record(at(tick * 15), &observation, &decision);
            current = decision.resulting_capacity().expect("readable");
            recommendations.push(decision.recommendation.expect("readable"));
        }
        assert!(
            recommendations.windows(2).all(|w| w[1] <= w[0]),
            "{recommendations:?}"
        );
    }

    /// Idle instances released after 60 s, and two readings: 16 in flight on 4 busy instances,
    /// then 8 on two of them (i-3 and i-4 idle).
    fn halving_load() -> (Policy, Observation, Observation) {
        let policy = unsmoothed()
            .with_rules(ScalingRules::default().release_idle_after(Some(Duration::from_secs(60))));
        let mut busy = group(4);
        busy.busy = 4;
        let mut half = group(4);
        half.busy = 2;
        half.idle_instances = vec!["i-3".into(), "i-4".into()];
        (
            policy,
            observe(queue(0, 16), busy),
            observe(queue(0, 8), half),
        )
    }

    #[test]
    fn idle_instances_go_after_the_idle_release_time_with_nothing_waiting() {
        let (policy, loaded, calmer) = halving_load();
        let mut history = History::new();
        let first = decide(&loaded, &policy, &history, at(0));
        history.record(at(0), &loaded, &forgetting_arrivals(first));
        // The load halves: two instances go idle; the window (300 s) still remembers 4. (The
        // arrival estimate starts afresh at every reading, so no drop ends the window: what
        // releases the instances is their idle time alone.)
        for second in [15, 30, 45, 60] {
            let decision = decide(&calmer, &policy, &history, at(second));
            assert_eq!(decision.desired, None, "{second} s: {}", decision.reason);
            history.record(at(second), &calmer, &forgetting_arrivals(decision));
        }
        // Idle since 15 s: at 75 s they have been idle for 60 s.
        let release = decide(&calmer, &policy, &history, at(75));
        assert_eq!(release.desired, Some(2), "{}", release.reason);
        assert_eq!(release.terminate, vec!["i-3", "i-4"]);
        assert!(matches!(
            release.reason,
            Reason::ReleaseIdle { released: 2, .. }
        ));
        // Not while anything waits.
        let waiting = Observation {
            queue: Ok(queue(1, 8)),
            ..calmer
        };
        assert_eq!(decide(&waiting, &policy, &history, at(75)).desired, None);
    }

    #[test]
    fn a_lasting_fall_of_the_arrivals_ends_the_window_over_a_few_readings() {
        // 16 in flight on 4 busy instances, then 8 from then on: no one reading falls beyond the
        // noise of the arrivals and completions, the readings since the fall together do, and the
        // window forgets the 4 it remembered before the idle release would have let them go.
        let (policy, loaded, calmer) = halving_load();
        let mut history = History::new();
        let first = decide(&loaded, &policy, &history, at(0));
        history.record(at(0), &loaded, &first);
        let mut scaled_in_at = None;
        for second in [15, 30, 45, 60] {
            let decision = decide(&calmer, &policy, &history, at(second));
            history.record(at(second), &calmer, &decision);
            if decision.desired.is_some() {
                assert_eq!(decision.desired, Some(2), "{}", decision.reason);
                assert!(
                    matches!(decision.reason, Reason::ScaleIn { .. }),
                    "{}",
                    decision.reason
                );
                scaled_in_at = Some(second);
                break;
            }
            assert!(
                !decision.arrivals.is_some_and(|a| a.dropped),
                "{second} s: one reading is not yet a drop"
            );
        }
        assert!(
            scaled_in_at.is_some_and(|second| second > 15),
            "{scaled_in_at:?}"
        );
    }

    #[test]
    fn idle_release_keeps_the_recommendations_and_the_quiet_cooldown() {
        let policy = unsmoothed()
            .with_rules(ScalingRules::default().release_idle_after(Some(Duration::from_secs(30))));
        let mut history = History::new();
        // 24 in flight on 6 instances puts 6 in the window.
        let full = observe(queue(0, 24), group(6));
        let first = decide(&full, &policy, &history, at(0));
        history.record(at(0), &full, &forgetting_arrivals(first));
        // Then 8 in flight, 5 instances idle: 2 keep up, so 4 of the idle ones go once idle 30 s.
        let mut reading = group(6);
        reading.idle_instances = (1..=5).map(|n| format!("i-{n}")).collect();
        reading.busy = 1;
        let light = observe(queue(0, 8), reading);
        for second in [15, 30] {
            let decision = decide(&light, &policy, &history, at(second));
            assert_eq!(decision.desired, None, "{}", decision.reason);
            history.record(at(second), &light, &decision);
        }
        let decision = decide(&light, &policy, &history, at(45));
        assert_eq!(decision.desired, Some(2), "{}", decision.reason);
        assert!(matches!(
            decision.reason,
            Reason::ReleaseIdle { released: 4, .. }
        ));
        assert_eq!(decision.terminate.len(), 4);

        // An empty queue: the last instance stays for the quiet cooldown (300 s).
        let mut history = History::new();
        let busy = observe(queue(0, 12), group(3));
        let first = decide(&busy, &policy, &history, at(0));
        history.record(at(0), &busy, &forgetting_arrivals(first));
        let mut idle = group(3);
        idle.idle_instances = vec!["i-1".into(), "i-2".into(), "i-3".into()];
        let empty = observe(queue(0, 0), idle);
        let mut reasons = Vec::new();
        for second in (15..=90).step_by(15) {
            let decision = decide(&empty, &policy, &history, at(second));
            history.record(at(second), &empty, &decision);
            if let Some(desired) = decision.desired {
                reasons.push((desired, decision.reason.to_string()));
                break;
            }
        }
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert_eq!(reasons[0].0, 1, "{reasons:?}");
        assert!(reasons[0].1.starts_with("release idle"), "{reasons:?}");
    }

    #[test]
    fn no_idle_release_within_the_window_of_a_scale_out() {
        let policy = unsmoothed()
            .with_rules(ScalingRules::default().release_idle_after(Some(Duration::from_secs(30))));
        let mut history = History::new();
        let start = observe(queue(0, 8), group(2));
        let first = decide(&start, &policy, &history, at(0));
        history.record(at(0), &start, &first);
        // 60 more in 15 s on top of the 12 completed: 4.8 a second keep 12 instances busy.
        let surge = observe(queue(60, 8), group(2));
        let out = decide(&surge, &policy, &history, at(15));
        assert_eq!(out.desired, Some(12), "{}", out.reason);
        history.record(at(15), &surge, &forgetting_arrivals(out));
        // The surge stops at once: 6 of the 12 sit idle, nothing waits. The window of the
        // scale-out keeps them, idle or not, until 300 s after it.
        let mut reading = group(12);
        reading.busy = 6;
        reading.idle_instances = (1..=6).map(|n| format!("i-{n}")).collect();
        let calm = observe(queue(0, 24), reading);
        let mut released_at = None;
        for second in (30..=600).step_by(15) {
            let decision = decide(&calm, &policy, &history, at(second));
            history.record(at(second), &calm, &decision);
            if decision.desired.is_some() {
                released_at = Some((second, decision.reason.to_string()));
                break;
            }
        }
        let (second, reason) = released_at.expect("released in the end");
        assert!(second >= 315, "{second} s: {reason}");
    }

    #[test]
    fn scale_in_waits_for_launched_instances_to_boot() {
        let policy = unsmoothed();
        let mut history = History::new();
        let backlog = observe(queue(72, 8), group(2));
        let out = decide(&backlog, &policy, &history, at(0));
        assert_eq!(out.desired, Some(6));
        history.record(at(0), &backlog, &out);
        // The backlog drained onto the two in service before the four new ones booted.
        let mut booting = group(6);
        booting.in_service = 2;
        booting.pending = 4;
        let drained = observe(queue(0, 4), booting);
        let held = decide(&drained, &policy, &history, at(15));
        assert_eq!(held.desired, None);
        assert!(matches!(held.reason, Reason::Booting { pending: 4 }));
        // Once they are in service the scale-in goes ahead.
        let in_service = observe(queue(0, 4), group(6));
        let scaled_in = decide(&in_service, &policy, &history, at(30));
        assert!(
            scaled_in.desired.is_some_and(|d| d < 6),
            "{}",
            scaled_in.reason
        );
    }

    #[test]
    fn scale_in_respects_tolerance_busy_cap_and_min() {
        let history = History::new();
        let policy = latency().with_rules(ScalingRules::default().tolerance(0.25));
        // 10 → 8 removes 20%, within a 25% tolerance.
        let tolerated = decide(&observe(queue(0, 32), group(10)), &policy, &history, at(0));
        assert!(matches!(
            tolerated.reason,
            Reason::WithinTolerance { target: 8 }
        ));

        let mut busy_group = group(10);
        busy_group.busy = 7;
        let busy = decide(
            &observe(queue(0, 4), busy_group),
            &latency(),
            &history,
            at(0),
        );
        assert_eq!(busy.desired, Some(7));
        assert_eq!(
            busy.reason,
            Reason::ScaleIn {
                window_high: 1,
                limit: Some(ScaleInLimit::Busy { busy: 7 })
            }
        );

        let capped_policy =
            latency().with_rules(ScalingRules::default().max_removed_per_step(Some(2)));
        let capped = decide(
            &observe(queue(0, 4), group(10)),
            &capped_policy,
            &history,
            at(0),
        );
        assert_eq!(capped.desired, Some(8));
        assert_eq!(
            capped.reason.to_string(),
            "scale in: the highest recommendation over the stabilization window is 1; at most 2 removed per step"
        );

        let mut floored = group(10);
        floored.min = 6;
        let at_min = decide(&observe(queue(0, 4), floored), &latency(), &history, at(0));
        assert_eq!(at_min.desired, Some(6));
        assert!(matches!(
            at_min.reason,
            Reason::ScaleIn {
                limit: Some(ScaleInLimit::Minimum { min: 6 }),
                ..
            }
        ));

        let unlimited = decide(
            &observe(queue(0, 4), group(10)),
            &latency(),
            &history,
            at(0),
        );
        assert_eq!(
            unlimited.reason,
            Reason::ScaleIn {
                window_high: 1,
                limit: None
            }
        );
    }

    #[test]
    fn a_scale_in_names_the_floor_that_sets_the_capacity_when_several_apply() {
        // Nothing in flight: the window's high is 0, so the quiet cooldown keeps one; 3 busy keep
        // three; a cap of 4 from 10 keeps six: the cap sets the capacity, and the reason says so.
        let policy = latency().with_rules(ScalingRules::default().max_removed_per_step(Some(4)));
        let mut reading = group(10);
        reading.busy = 3;
        let capped = decide(
            &observe(queue(0, 0), reading.clone()),
            &policy,
            &History::new(),
            at(0),
        );
        assert_eq!(capped.desired, Some(6));
        assert_eq!(
            capped.reason,
            Reason::ScaleIn {
                window_high: 0,
                limit: Some(ScaleInLimit::StepCap { step: 4 })
            }
        );
        // Without the cap the busy three set it; without busy ones, the quiet cooldown's one.
        let busy = decide(
            &observe(queue(0, 0), reading),
            &latency(),
            &History::new(),
            at(0),
        );
        assert_eq!(busy.desired, Some(3));
        assert!(matches!(
            busy.reason,
            Reason::ScaleIn {
                limit: Some(ScaleInLimit::Busy { busy: 3 }),
                ..
            }
        ));
        let quiet = decide(
            &observe(queue(0, 0), group(10)),
            &latency(),
            &History::new(),
            at(0),
        );
        assert_eq!(quiet.desired, Some(1));
        assert_eq!(
            quiet.reason.to_string(),
            "scale in: the highest recommendation over the stabilization window is 0; one stays until the queue has been empty 300s more"
        );
    }

    #[test]
    fn scale_in_terminates_known_idle_instances_first() {
        let mut reading = group(4);
        reading.idle_instances = vec!["i-c".into(), "i-a".into(), "i-b".into()];
        let decision = decide(
            &observe(queue(0, 4), reading),
            &latency(),
            &History::new(),
            at(0),
        );
        assert_eq!(decision.desired, Some(1));
        assert_eq!(decision.terminate, vec!["i-a", "i-b", "i-c"]);
    }

    #[test]
    fn zero_only_after_a_quiet_cooldown() {
        let policy = latency();
        let mut history = History::new();
        let empty = observe(queue(0, 0), group(1));
        let first = decide(&empty, &policy, &history, at(0));
        assert!(matches!(first.reason, Reason::QuietCooldown { .. }));
        history.record(at(0), &empty, &first);
        let still = decide(&empty, &policy, &history, at(299));
        assert!(
            matches!(still.reason, Reason::QuietCooldown { remaining } if remaining == Duration::from_secs(1))
        );
        history.record(at(299), &empty, &still);
        let zero = decide(&empty, &policy, &history, at(300));
        assert_eq!(zero.desired, Some(0));
        assert!(matches!(zero.reason, Reason::ScaleToZero { .. }));
    }

    #[test]
    fn thresholds_step_with_cooldowns() {
        let policy = Policy::thresholds(
            Thresholds::new(10.0, 2.0)
                .step(2)
                .scale_out_cooldown(Duration::from_secs(60))
                .scale_in_cooldown(Duration::from_secs(120)),
        )
        .with_rules(ScalingRules::default().scale_in_stabilization(Duration::ZERO));
        let mut history = History::new();
        let deep = observe(queue(50, 0), group(2));
        let out = decide(&deep, &policy, &history, at(0));
        assert_eq!(out.desired, Some(4));
        history.record(at(0), &deep, &out);
        let still_deep = observe(queue(100, 0), group(4));
        let cooling = decide(&still_deep, &policy, &history, at(30));
        assert!(matches!(cooling.reason, Reason::ScaleOutCooldown { .. }));
        assert_eq!(
            decide(&still_deep, &policy, &history, at(60)).desired,
            Some(6)
        );
        let shallow = observe(queue(1, 0), group(4));
        let in_cooling = decide(&shallow, &policy, &history, at(100));
        assert!(matches!(in_cooling.reason, Reason::ScaleInCooldown { .. }));
        assert_eq!(
            decide(&shallow, &policy, &history, at(120)).desired,
            Some(2)
        );
    }

    #[test]
    fn history_rebuilt_from_scaling_events_keeps_cooldown_and_window() {
        let policy = latency();
        let history = History::from_scaling_events(&[crate::ScalingEvent {
            at: at(0),
            from: 2,
            to: 8,
        }]);
        assert_eq!(history.last_scale_out(), Some(at(0)));
        let calm = observe(queue(0, 4), group(8));
        assert!(matches!(
            decide(&calm, &policy, &history, at(100)).reason,
            Reason::Stabilizing { window_high: 8, .. }
        ));
        assert_eq!(decide(&calm, &policy, &history, at(301)).desired, Some(1));
    }

    #[test]
    fn outside_bounds_is_brought_back() {
        let mut reading = group(25);
        reading.max = 20;
        let decision = decide(
            &observe(queue(0, 0), reading),
            &latency(),
            &History::new(),
            at(0),
        );
        assert_eq!(decision.desired, Some(20));
    }
}
