//! The controller's one decision, as a pure function of what it sees, its policy, what it remembers
//! and the time: no I/O, no clock reads.

use std::time::{Duration, SystemTime};

use crate::decision::{Decision, Reason};
use crate::history::History;
use crate::observation::{Input, Observation};
use crate::policy::{Policy, PolicyKind};

/// Decides the group's desired capacity for this tick.
///
/// In order: any unreadable input holds; a capacity outside the group's bounds is brought back; at
/// zero, nothing starts until visible messages reach the activation threshold; a higher
/// recommendation scales out at once (compared against desired, which counts booting instances),
/// capped per step and by the group's max; a lower one scales in only to the highest recommendation
/// over the stabilization window, outside the tolerance, never below busy instances, at most the
/// per-step cap, never below the group's min, and to zero only once the queue has been empty for the
/// quiet cooldown. The thresholds policy also waits out its cooldowns.
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
            reason: Reason::OutsideBounds { min, max },
            terminate: Vec::new(),
        };
    }

    let rules = policy.rules();
    let recommended = policy.recommend(queue, group);
    let activating = current == 0 && queue.visible >= rules.activation();
    if current == 0 && !activating {
        return Decision::hold(
            Some(0),
            Some(0),
            Reason::BelowActivation {
                visible: queue.visible,
                threshold: rules.activation(),
            },
        );
    }
    let recommendation = if activating {
        recommended.max(1)
    } else {
        recommended
    };
    let hold = |reason| Decision::hold(Some(current), Some(recommendation), reason);

    if recommendation > current {
        if let (PolicyKind::Thresholds(thresholds), false) = (policy.kind(), activating) {
            if let Some(remaining) =
                cooldown_left(history.last_scale_out(), thresholds.out_cooldown(), now)
            {
                return hold(Reason::ScaleOutCooldown { remaining });
            }
        }
        let mut to = recommendation;
        if let Some(cap) = rules.scale_out_cap() {
            to = to.min(current.saturating_add(cap));
        }
        to = to.min(max);
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
                limited: to < recommendation,
            }
        };
        return Decision {
            current: Some(current),
            desired: Some(to),
            recommendation: Some(recommendation),
            reason,
            terminate: Vec::new(),
        };
    }
    if recommendation == current {
        return hold(Reason::Steady);
    }

    let window_start = now
        .checked_sub(rules.stabilization_window())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let window_high = history
        .highest_recommendation_since(window_start)
        .unwrap_or(0)
        .max(recommendation);
    if window_high >= current {
        return hold(Reason::Stabilizing {
            recommended: recommendation,
            window_high,
        });
    }
    if let PolicyKind::Thresholds(thresholds) = policy.kind() {
        if let Some(remaining) =
            cooldown_left(history.last_scaling(), thresholds.in_cooldown(), now)
        {
            return hold(Reason::ScaleInCooldown { remaining });
        }
    }

    let mut target = window_high;
    let mut limited = false;
    let quiet_for = if queue.total() == 0 {
        history
            .quiet_since()
            .map(|since| now.duration_since(since).unwrap_or(Duration::ZERO))
    } else {
        None
    };
    if target == 0 && quiet_for.is_none_or(|quiet| quiet < rules.zero_cooldown()) {
        target = 1;
        limited = true;
        if target >= current {
            return hold(Reason::QuietCooldown {
                remaining: rules
                    .zero_cooldown()
                    .saturating_sub(quiet_for.unwrap_or(Duration::ZERO)),
            });
        }
    }
    if f64::from(current - target) <= rules.tolerance_fraction() * f64::from(current) {
        return hold(Reason::WithinTolerance { target });
    }
    if target < group.busy {
        target = group.busy;
        limited = true;
        if target >= current {
            return hold(Reason::HeldByBusy { busy: group.busy });
        }
    }
    if let Some(cap) = rules.scale_in_cap() {
        if current - target > cap {
            target = current - cap;
            limited = true;
        }
    }
    if target < min {
        target = min;
        limited = true;
        if target >= current {
            return hold(Reason::AtMinimum { min });
        }
    }

    let mut terminate = group.idle_instances.clone();
    terminate.sort();
    terminate.truncate((current - target) as usize);
    let reason = match (target, quiet_for) {
        (0, Some(quiet_for)) => Reason::ScaleToZero { quiet_for },
        _ => Reason::ScaleIn {
            window_high,
            limited,
        },
    };
    Decision {
        current: Some(current),
        desired: Some(target),
        recommendation: Some(recommendation),
        reason,
        terminate,
    }
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

    fn latency() -> Policy {
        // 4 slots, 10 s jobs, 60 s acceptable wait: 24 waiting messages per instance.
        Policy::latency_target(LatencyTarget::new(
            4,
            Duration::from_secs(10),
            Duration::from_secs(60),
        ))
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
            Reason::ScaleOut { limited: false, .. }
        ));
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
            Reason::ScaleOut { limited: true, .. }
        ));
        let at_max = decide(
            &observe(queue(0, 400), group(20)),
            &policy,
            &History::new(),
            at(0),
        );
        assert_eq!(at_max.desired, None);
        assert!(matches!(at_max.reason, Reason::AtMaximum { .. }));
    }

    #[test]
    fn scale_in_waits_for_the_stabilization_window() {
        let policy = latency();
        let mut history = History::new();
        let busy = observe(queue(0, 40), group(2));
        let first = decide(&busy, &policy, &history, at(0));
        assert_eq!(first.desired, Some(10));
        history.record(at(0), &busy, &first);
        let calmer = observe(queue(0, 8), group(10));
        let held = decide(&calmer, &policy, &history, at(60));
        assert_eq!(held.desired, None);
        assert!(matches!(
            held.reason,
            Reason::Stabilizing {
                window_high: 10,
                ..
            }
        ));
        history.record(at(60), &calmer, &held);
        // At 301 s the 10 has left the window; the 2 recommended at 60 s is the highest.
        let released = decide(&calmer, &policy, &history, at(301));
        assert_eq!(released.desired, Some(2));
        assert!(matches!(
            released.reason,
            Reason::ScaleIn { window_high: 2, .. }
        ));
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

        let capped_policy =
            latency().with_rules(ScalingRules::default().max_removed_per_step(Some(2)));
        let capped = decide(
            &observe(queue(0, 4), group(10)),
            &capped_policy,
            &history,
            at(0),
        );
        assert_eq!(capped.desired, Some(8));

        let mut floored = group(10);
        floored.min = 6;
        let at_min = decide(&observe(queue(0, 4), floored), &latency(), &history, at(0));
        assert_eq!(at_min.desired, Some(6));
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
