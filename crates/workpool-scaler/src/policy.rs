//! Scaling policies: how many instances a queue's depth calls for, and the rules common to every policy.

use std::fmt;
use std::time::Duration;

use crate::observation::{GroupReading, QueueReading};

/// A complete scaling policy: how to turn queue depth into a recommended capacity ([`PolicyKind`]),
/// plus the rules that guard every change ([`ScalingRules`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    kind: PolicyKind,
    rules: ScalingRules,
}

/// Which recommendation a [`Policy`] makes.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyKind {
    /// Step up above a high backlog per instance, down below a low one.
    Thresholds(Thresholds),
    /// Enough capacity that a message waits no longer than an acceptable time.
    LatencyTarget(LatencyTarget),
}

impl Policy {
    /// A latency-target policy with the default [`ScalingRules`].
    pub fn latency_target(target: LatencyTarget) -> Self {
        Self {
            kind: PolicyKind::LatencyTarget(target),
            rules: ScalingRules::default(),
        }
    }

    /// A thresholds policy with the default [`ScalingRules`].
    pub fn thresholds(thresholds: Thresholds) -> Self {
        Self {
            kind: PolicyKind::Thresholds(thresholds),
            rules: ScalingRules::default(),
        }
    }

    /// Replaces the common rules (default: [`ScalingRules::default`]).
    pub fn with_rules(mut self, rules: ScalingRules) -> Self {
        self.rules = rules;
        self
    }

    /// The recommendation this policy makes.
    pub fn kind(&self) -> &PolicyKind {
        &self.kind
    }

    /// The common rules.
    pub fn rules(&self) -> &ScalingRules {
        &self.rules
    }

    /// Every problem with this policy's values, each naming its field; empty when the policy is usable.
    pub fn problems(&self) -> Vec<PolicyProblem> {
        let mut problems = Vec::new();
        match &self.kind {
            PolicyKind::Thresholds(t) => t.collect_problems(&mut problems),
            PolicyKind::LatencyTarget(l) => l.collect_problems(&mut problems),
        }
        self.rules.collect_problems(&mut problems);
        problems
    }

    /// The capacity this policy recommends for the observed queue and group, before the common rules
    /// (activation, caps, stabilization, bounds) are applied.
    pub fn recommend(&self, queue: &QueueReading, group: &GroupReading) -> u32 {
        match &self.kind {
            PolicyKind::Thresholds(t) => t.recommend(queue, group.desired),
            PolicyKind::LatencyTarget(l) => l.recommend(queue),
        }
    }
}

/// One invalid value in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// The field's name, as spelled in a configuration file (`high`, `slots_per_instance`, …).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn problem(problems: &mut Vec<PolicyProblem>, field: &'static str, message: impl Into<String>) {
    problems.push(PolicyProblem {
        field,
        message: message.into(),
    });
}

/// The classic alarm shape: scale out by `step` instances while the backlog per instance is above
/// `high`, in by `step` while it is below `low`, each direction with its own cooldown.
///
/// The backlog per instance is `ApproximateNumberOfMessages / desired capacity` (desired counts
/// instances still booting, so the policy does not pile on while they start).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    high: f64,
    low: f64,
    step: u32,
    scale_out_cooldown: Duration,
    scale_in_cooldown: Duration,
}

impl Thresholds {
    /// Thresholds scaling out above `high` and in below `low` messages per instance; step 1, scale-out
    /// cooldown 60 s, scale-in cooldown 300 s.
    pub fn new(high: f64, low: f64) -> Self {
        Self {
            high,
            low,
            step: 1,
            scale_out_cooldown: Duration::from_secs(60),
            scale_in_cooldown: Duration::from_secs(300),
        }
    }

    /// Instances added or removed per action (default 1).
    pub fn step(mut self, step: u32) -> Self {
        self.step = step;
        self
    }

    /// Least time between the last scale-out and the next one (default 60 s).
    pub fn scale_out_cooldown(mut self, cooldown: Duration) -> Self {
        self.scale_out_cooldown = cooldown;
        self
    }

    /// Least time between the last scaling action of either direction and a scale-in (default 300 s).
    pub fn scale_in_cooldown(mut self, cooldown: Duration) -> Self {
        self.scale_in_cooldown = cooldown;
        self
    }

    /// The backlog per instance above which the policy scales out.
    pub fn high(&self) -> f64 {
        self.high
    }

    /// The backlog per instance below which the policy scales in.
    pub fn low(&self) -> f64 {
        self.low
    }

    /// The least time between scale-outs.
    pub fn out_cooldown(&self) -> Duration {
        self.scale_out_cooldown
    }

    /// The least time between any scaling action and a scale-in.
    pub fn in_cooldown(&self) -> Duration {
        self.scale_in_cooldown
    }

    fn collect_problems(&self, problems: &mut Vec<PolicyProblem>) {
        if !(self.high.is_finite() && self.high > 0.0) {
            problem(
                problems,
                "high",
                format!("must be a positive number, got {}", self.high),
            );
        }
        if !(self.low.is_finite() && self.low >= 0.0) {
            problem(
                problems,
                "low",
                format!("must be zero or more, got {}", self.low),
            );
        } else if self.high.is_finite() && self.low >= self.high {
            problem(
                problems,
                "low",
                format!("must be below high ({}), got {}", self.high, self.low),
            );
        }
        if self.step == 0 {
            problem(problems, "step", "must be at least 1");
        }
    }

    fn recommend(&self, queue: &QueueReading, desired: u32) -> u32 {
        let backlog = queue.visible as f64;
        let per_instance = if desired == 0 {
            if backlog > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        } else {
            backlog / f64::from(desired)
        };
        if per_instance > self.high {
            desired.saturating_add(self.step)
        } else if per_instance < self.low {
            desired.saturating_sub(self.step)
        } else {
            desired
        }
    }
}

/// Enough capacity that a message waits about `acceptable_wait` at most:
/// `desired = ceil(F/s + (V [+ D])/s · min(1, T/L))`, with `s` slots per instance, `T` the mean job
/// time and `L` the acceptable wait. Long jobs (T ≥ L) get one slot per message; short ones get AWS's
/// "acceptable backlog per instance" of `s · L/T`.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyTarget {
    slots_per_instance: u32,
    mean_job_time: Duration,
    acceptable_wait: Duration,
    count_delayed: bool,
}

impl LatencyTarget {
    /// A latency target for instances with `slots_per_instance` concurrent jobs each, jobs taking
    /// `mean_job_time` on average, and messages allowed to wait `acceptable_wait`. Delayed messages are
    /// not counted unless [`count_delayed`](Self::count_delayed) says so.
    pub fn new(
        slots_per_instance: u32,
        mean_job_time: Duration,
        acceptable_wait: Duration,
    ) -> Self {
        Self {
            slots_per_instance,
            mean_job_time,
            acceptable_wait,
            count_delayed: false,
        }
    }

    /// Whether delayed messages (D) count as backlog, so capacity is ready when they turn visible
    /// (default false).
    pub fn count_delayed(mut self, count: bool) -> Self {
        self.count_delayed = count;
        self
    }

    /// Concurrent jobs per instance (s).
    pub fn slots_per_instance(&self) -> u32 {
        self.slots_per_instance
    }

    /// Mean job time (T).
    pub fn mean_job_time(&self) -> Duration {
        self.mean_job_time
    }

    /// Acceptable wait (L).
    pub fn acceptable_wait(&self) -> Duration {
        self.acceptable_wait
    }

    fn collect_problems(&self, problems: &mut Vec<PolicyProblem>) {
        if self.slots_per_instance == 0 {
            problem(problems, "slots_per_instance", "must be at least 1");
        }
        if self.mean_job_time.is_zero() {
            problem(problems, "mean_job_time", "must be more than zero");
        }
        if self.acceptable_wait.is_zero() {
            problem(problems, "acceptable_wait", "must be more than zero");
        }
    }

    fn recommend(&self, queue: &QueueReading) -> u32 {
        let slots = f64::from(self.slots_per_instance.max(1));
        let waiting = queue.visible + if self.count_delayed { queue.delayed } else { 0 };
        let share = if self.acceptable_wait.is_zero() {
            1.0
        } else {
            (self.mean_job_time.as_secs_f64() / self.acceptable_wait.as_secs_f64()).min(1.0)
        };
        let instances = (queue.not_visible as f64 + waiting as f64 * share) / slots;
        // Shave off float noise so an exact multiple does not round up to one more instance.
        let rounded = (instances - 1e-9).ceil().max(0.0);
        if rounded >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            rounded as u32
        }
    }
}

/// Rules every policy obeys, whatever it recommends.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingRules {
    activation_threshold: u64,
    max_scale_out_step: Option<u32>,
    scale_in_stabilization: Duration,
    tolerance: f64,
    max_removed_per_step: Option<u32>,
    scale_to_zero_cooldown: Duration,
}

impl Default for ScalingRules {
    fn default() -> Self {
        Self {
            activation_threshold: 1,
            max_scale_out_step: None,
            scale_in_stabilization: Duration::from_secs(300),
            tolerance: 0.1,
            max_removed_per_step: None,
            scale_to_zero_cooldown: Duration::from_secs(300),
        }
    }
}

impl ScalingRules {
    /// Visible messages needed to go from zero instances to one (default 1).
    pub fn activation_threshold(mut self, messages: u64) -> Self {
        self.activation_threshold = messages;
        self
    }

    /// Most instances added in one step (default: no cap).
    pub fn max_scale_out_step(mut self, instances: Option<u32>) -> Self {
        self.max_scale_out_step = instances;
        self
    }

    /// Scale in only to the highest recommendation seen over this window (default 300 s).
    pub fn scale_in_stabilization(mut self, window: Duration) -> Self {
        self.scale_in_stabilization = window;
        self
    }

    /// Ignore a scale-in that would remove no more than this fraction of the current capacity
    /// (default 0.1).
    pub fn tolerance(mut self, fraction: f64) -> Self {
        self.tolerance = fraction;
        self
    }

    /// Most instances removed in one step (default: no cap).
    pub fn max_removed_per_step(mut self, instances: Option<u32>) -> Self {
        self.max_removed_per_step = instances;
        self
    }

    /// How long the queue must be empty (nothing visible, in flight or delayed) before the last
    /// instance goes (default 300 s).
    pub fn scale_to_zero_cooldown(mut self, cooldown: Duration) -> Self {
        self.scale_to_zero_cooldown = cooldown;
        self
    }

    /// Visible messages needed to go from zero instances to one.
    pub fn activation(&self) -> u64 {
        self.activation_threshold
    }

    /// Most instances added in one step, if capped.
    pub fn scale_out_cap(&self) -> Option<u32> {
        self.max_scale_out_step
    }

    /// The scale-in stabilization window.
    pub fn stabilization_window(&self) -> Duration {
        self.scale_in_stabilization
    }

    /// The scale-in tolerance, a fraction of the current capacity.
    pub fn tolerance_fraction(&self) -> f64 {
        self.tolerance
    }

    /// Most instances removed in one step, if capped.
    pub fn scale_in_cap(&self) -> Option<u32> {
        self.max_removed_per_step
    }

    /// How long the queue must be quiet before scaling to zero.
    pub fn zero_cooldown(&self) -> Duration {
        self.scale_to_zero_cooldown
    }

    fn collect_problems(&self, problems: &mut Vec<PolicyProblem>) {
        if self.activation_threshold == 0 {
            problem(problems, "activation_threshold", "must be at least 1");
        }
        if self.max_scale_out_step == Some(0) {
            problem(problems, "max_scale_out_step", "must be at least 1");
        }
        if self.max_removed_per_step == Some(0) {
            problem(problems, "max_removed_per_step", "must be at least 1");
        }
        if !(self.tolerance.is_finite() && (0.0..1.0).contains(&self.tolerance)) {
            problem(
                problems,
                "tolerance",
                format!("must be at least 0 and below 1, got {}", self.tolerance),
            );
        }
    }
}
