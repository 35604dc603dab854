//! Properties of `decide` that must hold for every input: bounds, no flapping, monotone in backlog,
//! holds on errors.

use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use workpool_scaler::{
    decide, GroupReading, History, LatencyTarget, Observation, Policy, QueueReading, ReadError,
    ScalingRules, Thresholds,
};

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + seconds)
}

fn rules() -> impl Strategy<Value = ScalingRules> {
    (
        1u64..20,
        proptest::option::of(1u32..10),
        0u64..600,
        0.0f64..0.5,
        proptest::option::of(1u32..10),
        0u64..600,
    )
        .prop_map(|(activation, out_cap, window, tolerance, in_cap, zero)| {
            ScalingRules::default()
                .activation_threshold(activation)
                .max_scale_out_step(out_cap)
                .scale_in_stabilization(Duration::from_secs(window))
                .tolerance(tolerance)
                .max_removed_per_step(in_cap)
                .scale_to_zero_cooldown(Duration::from_secs(zero))
        })
}

fn latency_policy() -> impl Strategy<Value = Policy> {
    (1u32..16, 1u64..600, 1u64..600, any::<bool>(), rules()).prop_map(
        |(slots, job, wait, delayed, rules)| {
            Policy::latency_target(
                LatencyTarget::new(slots, Duration::from_secs(job), Duration::from_secs(wait))
                    .count_delayed(delayed),
            )
            .with_rules(rules)
        },
    )
}

fn thresholds_policy() -> impl Strategy<Value = Policy> {
    (
        1.0f64..100.0,
        0.0f64..0.5,
        1u32..4,
        0u64..300,
        0u64..300,
        rules(),
    )
        .prop_map(|(high, low_share, step, out, inc, rules)| {
            Policy::thresholds(
                Thresholds::new(high, high * low_share)
                    .step(step)
                    .scale_out_cooldown(Duration::from_secs(out))
                    .scale_in_cooldown(Duration::from_secs(inc)),
            )
            .with_rules(rules)
        })
}

fn any_policy() -> impl Strategy<Value = Policy> {
    prop_oneof![latency_policy(), thresholds_policy()]
}

fn queue() -> impl Strategy<Value = QueueReading> {
    (0u64..10_000, 0u64..2_000, 0u64..1_000).prop_map(|(visible, not_visible, delayed)| {
        QueueReading {
            visible,
            not_visible,
            delayed,
        }
    })
}

fn group() -> impl Strategy<Value = GroupReading> {
    (0u32..10, 0u32..60, 0u32..60, 0u32..60).prop_map(|(min, span, desired, busy)| {
        let max = min + span;
        let desired = desired.clamp(min, max);
        GroupReading {
            desired,
            min,
            max,
            in_service: desired,
            pending: 0,
            busy: busy.min(desired),
            idle_instances: (0..desired - busy.min(desired))
                .map(|n| format!("i-{n:04}"))
                .collect(),
        }
    })
}

/// A history made by running the policy over a few earlier observations.
fn history_for(
    policy: &Policy,
    earlier: &[(QueueReading, GroupReading)],
    now_offset: u64,
) -> History {
    let mut history = History::new();
    for (tick, (queue, group)) in earlier.iter().enumerate() {
        let now = at(now_offset + tick as u64 * 15);
        let observation = Observation {
            queue: Ok(*queue),
            group: Ok(group.clone()),
        };
        let decision = decide(&observation, policy, &history, now);
        history.record(now, &observation, &decision);
    }
    history
}

proptest! {
    #[test]
    fn the_result_stays_within_the_groups_bounds(
        policy in any_policy(),
        queue in queue(),
        group in group(),
        earlier in proptest::collection::vec((queue(), group()), 0..8),
    ) {
        let history = history_for(&policy, &earlier, 0);
        let observation = Observation { queue: Ok(queue), group: Ok(group.clone()) };
        let decision = decide(&observation, &policy, &history, at(200));
        let result = decision.resulting_capacity().expect("group was readable");
        prop_assert!(result >= group.min && result <= group.max, "{result} outside [{}, {}]: {}", group.min, group.max, decision.reason);
        prop_assert!(decision.terminate.len() as u32 <= group.desired.saturating_sub(result));
        if result < group.desired {
            prop_assert!(result >= group.busy.min(group.max), "scaled below busy: {}", decision.reason);
        }
    }

    #[test]
    fn any_read_error_holds_and_never_zeroes(
        policy in any_policy(),
        queue in queue(),
        group in group(),
        which in 0u8..3,
        earlier in proptest::collection::vec((queue(), group()), 0..8),
    ) {
        let history = history_for(&policy, &earlier, 0);
        let observation = Observation {
            queue: if which != 1 { Err(ReadError::new("queue read failed")) } else { Ok(queue) },
            group: if which != 0 { Err(ReadError::new("group read failed")) } else { Ok(group) },
        };
        let decision = decide(&observation, &policy, &history, at(200));
        prop_assert_eq!(decision.desired, None);
        prop_assert!(decision.terminate.is_empty());
        prop_assert!(!decision.changes());
    }

    #[test]
    fn more_backlog_never_means_less_capacity(
        policy in any_policy(),
        low in queue(),
        extra_visible in 0u64..5_000,
        extra_in_flight in 0u64..1_000,
        extra_delayed in 0u64..500,
        group in group(),
        earlier in proptest::collection::vec((queue(), group()), 0..8),
    ) {
        let history = history_for(&policy, &earlier, 0);
        let high = QueueReading {
            visible: low.visible + extra_visible,
            not_visible: low.not_visible + extra_in_flight,
            delayed: low.delayed + extra_delayed,
        };
        let decide_for = |queue: QueueReading| {
            let observation = Observation { queue: Ok(queue), group: Ok(group.clone()) };
            decide(&observation, &policy, &history, at(200)).resulting_capacity().expect("readable")
        };
        prop_assert!(decide_for(low) <= decide_for(high));
    }

    #[test]
    fn a_constant_backlog_does_not_flap_under_the_latency_target(
        policy in latency_policy(),
        queue in queue(),
        start in group(),
    ) {
        assert_settles_without_reversal(&policy, queue, start)?;
    }

    #[test]
    fn a_constant_backlog_does_not_flap_under_sane_thresholds(
        high in 1.0f64..100.0,
        low_share in 0.0f64..0.5,
        rules in rules(),
        queue in queue(),
        start in group(),
    ) {
        // With step 1 and low ≤ high/2, one step out cannot drop the backlog per instance below low.
        let policy = Policy::thresholds(Thresholds::new(high, high * low_share)).with_rules(rules);
        assert_settles_without_reversal(&policy, queue, start)?;
    }
}

/// Runs the controller for two hours against a queue whose depth never changes, the group following
/// every decision at once; the capacity must move in one direction only.
fn assert_settles_without_reversal(
    policy: &Policy,
    queue: QueueReading,
    start: GroupReading,
) -> Result<(), TestCaseError> {
    let mut group = start;
    group.busy = 0;
    let mut history = History::new();
    let mut direction = 0i8;
    for tick in 0..480u64 {
        let now = at(tick * 15);
        let observation = Observation {
            queue: Ok(queue),
            group: Ok(group.clone()),
        };
        let decision = decide(&observation, policy, &history, now);
        history.record(now, &observation, &decision);
        if let Some(desired) = decision.desired {
            let moved = (desired as i64 - group.desired as i64).signum() as i8;
            if moved != 0 {
                prop_assert!(
                    direction == 0 || direction == moved,
                    "reversed at tick {tick}: {} → {desired} ({})",
                    group.desired,
                    decision.reason
                );
                direction = moved;
            }
            group.desired = desired;
            group.in_service = desired;
        }
    }
    Ok(())
}
