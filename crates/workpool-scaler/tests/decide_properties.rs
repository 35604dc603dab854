//! Properties of `decide` that must hold for every input: bounds, no flapping (on a constant queue,
//! and in a closed loop where the work follows the capacity), monotone in backlog, holds on errors.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use workpool_scaler::{
    decide, GroupReading, History, LatencyTarget, Observation, Policy, QueueReading, ReadError,
    ScalingRules, Thresholds,
};

/// Reversals of direction allowed per stabilization window, on average, under a steady noisy load:
/// a controller that follows the noise reverses every tick or two; one that the window and the
/// tolerance hold turns about once per window at most, at an integer boundary of the load.
const REVERSALS_PER_WINDOW: f64 = 1.5;

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

/// A small closed-loop model of a queue and its fleet, one controller tick at a time: arrivals
/// (a constant rate with noise) join the queue, every in-service slot takes a message (busy =
/// min(work, slots)), jobs complete at `slots busy / T` per second, and capacity the controller
/// adds comes into service after a boot delay.
struct ClosedLoop {
    slots: u32,
    job_seconds: f64,
    arrivals_per_tick: f64,
    boot_ticks: usize,
    in_system: f64,
    in_service: u32,
    booting: VecDeque<(usize, u32)>,
}

impl ClosedLoop {
    fn observe(&self) -> Observation {
        let slots = f64::from(self.in_service * self.slots);
        let in_flight = self.in_system.min(slots);
        let busy = (in_flight / f64::from(self.slots)).ceil() as u32;
        let pending: u32 = self.booting.iter().map(|(_, n)| n).sum();
        Observation {
            queue: Ok(QueueReading {
                visible: (self.in_system - in_flight).round() as u64,
                not_visible: in_flight.round() as u64,
                delayed: 0,
            }),
            group: Ok(GroupReading {
                desired: self.in_service + pending,
                min: 0,
                max: 1000,
                in_service: self.in_service,
                pending,
                busy,
                idle_instances: (busy..self.in_service)
                    .map(|n| format!("i-{n:04}"))
                    .collect(),
            }),
        }
    }

    /// Applies a new desired capacity: more boots, less removes booting then idle instances.
    fn apply(&mut self, tick: usize, desired: u32, busy: u32) {
        let pending: u32 = self.booting.iter().map(|(_, n)| n).sum();
        let current = self.in_service + pending;
        if desired > current {
            self.booting
                .push_back((tick + self.boot_ticks, desired - current));
        } else {
            let mut remove = current - desired;
            while remove > 0 {
                let Some((_, n)) = self.booting.back_mut() else {
                    break;
                };
                let taken = remove.min(*n);
                *n -= taken;
                remove -= taken;
                if *n == 0 {
                    self.booting.pop_back();
                }
            }
            self.in_service -= remove.min(self.in_service.saturating_sub(busy));
        }
    }

    /// Plays one 15 s tick: boots finish, a share `15 s / T` of the jobs in flight completes, and
    /// the tick's arrivals (scaled by `noise`) come. With `T` ≥ 15 s the in-flight count settles at
    /// `λ·T` when capacity suffices (Little's law).
    fn advance(&mut self, tick: usize, noise: f64) {
        while self
            .booting
            .front()
            .is_some_and(|(ready, _)| *ready <= tick)
        {
            let (_, n) = self.booting.pop_front().expect("just checked");
            self.in_service += n;
        }
        let busy_slots = self.in_system.min(f64::from(self.in_service * self.slots));
        self.in_system -= busy_slots * (15.0 / self.job_seconds).min(1.0);
        self.in_system += self.arrivals_per_tick * noise;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_steady_load_in_a_closed_loop_does_not_flap_under_the_latency_target(
        slots in 1u32..8,
        job in 15u64..600,
        wait in 30u64..600,
        load in 1.0f64..50.0,
        boot_ticks in 0usize..8,
        seed in any::<u64>(),
        rules in rules(),
        window in 120u64..600,
        tolerance in 0.05f64..0.5,
    ) {
        // The stabilization window and the tolerance are the rules against flapping: without them
        // the capacity follows the noise, so here the window is at least eight ticks and the
        // tolerance at least 5 %.
        let rules = rules
            .scale_in_stabilization(Duration::from_secs(window))
            .tolerance(tolerance);
        let policy = Policy::latency_target(LatencyTarget::new(
            slots,
            Duration::from_secs(job),
            Duration::from_secs(wait),
        ))
        .with_rules(rules);
        // `load` instances' worth of work arrives: λ = load · s / T.
        let rate = load * f64::from(slots) / job as f64;
        let mut world = ClosedLoop {
            slots,
            job_seconds: job as f64,
            arrivals_per_tick: rate * 15.0,
            boot_ticks,
            in_system: 0.0,
            in_service: 0,
            booting: VecDeque::new(),
        };
        // Independent noise of ±20 % per tick, drawn from a seed so that shrinking cannot shape it
        // into a load that steps up and down (which the capacity should follow).
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut history = History::new();
        let mut moves = Vec::new();
        for tick in 0..480usize {
            let now = at(tick as u64 * 15);
            let observation = world.observe();
            let decision = decide(&observation, &policy, &history, now);
            history.record(now, &observation, &decision);
            if let (Some(from), Some(to)) = (decision.current, decision.desired) {
                if to != from {
                    moves.push((tick, from, to, decision.reason.to_string()));
                    let busy = observation.group.as_ref().map_or(0, |g| g.busy);
                    world.apply(tick, to, busy);
                }
            }
            world.advance(tick, 0.8 + 0.4 * rng.f64());
        }
        // Ignore the first half hour (start-up from zero); count reversals of direction after it.
        let settled: Vec<_> = moves.iter().filter(|(tick, ..)| *tick >= 120).collect();
        let mut reversals = 0;
        let mut direction = 0i8;
        for (_, from, to, _) in &settled {
            let moved = if to > from { 1 } else { -1 };
            if direction != 0 && moved != direction {
                reversals += 1;
            }
            direction = moved;
        }
        let allowed = (5400.0 / window as f64 * REVERSALS_PER_WINDOW).floor() as usize + 1;
        prop_assert!(
            reversals <= allowed,
            "{reversals} reversals (at most {allowed}) in 90 minutes of steady load: {settled:?}"
        );
    }
}
