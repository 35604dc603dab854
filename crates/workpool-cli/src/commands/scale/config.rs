//! The `workpool scale` configuration file: settings and several scaling targets, read and checked in
//! one pass so that every bad key is reported at once.
//!
//! ```toml
//! interval = 15            # seconds between evaluations (the --interval flag wins)
//! namespace = "Workpool"   # CloudWatch namespace
//!
//! [[target]]
//! queue = "video-jobs"
//! group = "video-workers"
//! policy = "latency-target"   # the default; or "thresholds"
//! slots_per_instance = 4
//! mean_job_time = 30          # seconds
//! acceptable_wait = 120       # seconds
//!
//! [[target]]
//! queue = "emails"
//! group = "mailers"
//! policy = "thresholds"
//! high = 100                  # visible messages per instance
//! low = 10
//! ```
//!
//! Durations are whole seconds. The latency target also takes `count_delayed`, `target_wait` and
//! `rate_smoothing`. Every policy also takes the common rules `activation_threshold`,
//! `max_scale_out_step`, `scale_in_stabilization`, `tolerance`, `max_removed_per_step`,
//! `scale_to_zero_cooldown` and `release_idle_after` (seconds, or `false` to keep idle instances
//! until the stabilization window lets them go). Every bad key is reported, each with its target,
//! whether or not other keys are missing. A group is steered by one target only; one queue may feed
//! several groups.

use std::fmt;
use std::time::Duration;

use toml::{Table, Value};
use workpool_scaler::{LatencyTarget, Policy, ScalingRules, Thresholds};

/// A checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleConfig {
    /// Seconds between evaluations, if set.
    pub interval: Option<Duration>,
    /// The CloudWatch namespace, if set.
    pub namespace: Option<String>,
    /// The scaling targets, in file order.
    pub targets: Vec<TargetConfig>,
}

/// One queue and the group that works it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetConfig {
    /// The queue's name.
    pub queue: String,
    /// The Auto Scaling group's name.
    pub group: String,
    /// How to scale it.
    pub policy: Policy,
}

/// Every problem found in a configuration, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigReport {
    /// One line per problem: `key: what is wrong`.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the configuration has {} problem(s); nothing was done:",
            self.problems.len()
        )?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigReport {}

const COMMON_KEYS: [&str; 10] = [
    "queue",
    "group",
    "policy",
    "activation_threshold",
    "max_scale_out_step",
    "scale_in_stabilization",
    "tolerance",
    "max_removed_per_step",
    "scale_to_zero_cooldown",
    "release_idle_after",
];
const LATENCY_KEYS: [&str; 6] = [
    "slots_per_instance",
    "mean_job_time",
    "acceptable_wait",
    "count_delayed",
    "target_wait",
    "rate_smoothing",
];
const THRESHOLD_KEYS: [&str; 5] = [
    "high",
    "low",
    "step",
    "scale_out_cooldown",
    "scale_in_cooldown",
];

/// Parses and checks configuration text.
pub fn parse(text: &str) -> Result<ScaleConfig, ConfigReport> {
    let table: Table = text
        .parse()
        .map_err(|error: toml::de::Error| ConfigReport {
            problems: vec![
                format!("not valid TOML: {}", error.message())
                    + &error
                        .span()
                        .map(|span| format!(" (at byte {})", span.start))
                        .unwrap_or_default(),
            ],
        })?;
    let mut problems = Vec::new();
    let mut top = Keys::new(&table, "", &mut problems);
    let interval = top.seconds("interval");
    let namespace = top.string("namespace");
    let targets_value = top.take("target");
    top.reject_others(&["interval", "namespace", "target"]);
    let mut targets = Vec::new();
    match targets_value {
        None => problems.push("target: at least one [[target]] is needed".to_owned()),
        Some(Value::Array(items)) => {
            let mut steered: Vec<(&str, usize)> = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let prefix = format!("target[{index}].");
                match item {
                    Value::Table(target) => {
                        if let Some(Value::String(group)) = target.get("group") {
                            match steered.iter().find(|(seen, _)| seen == group) {
                                Some((_, first)) => problems.push(format!(
                                    "{prefix}group: `{group}` is already steered by target[{first}]; \
                                     two controllers on one group would undo each other's changes"
                                )),
                                None => steered.push((group, index)),
                            }
                        }
                        if let Some(target) = parse_target(target, &prefix, &mut problems) {
                            targets.push(target);
                        }
                    }
                    _ => problems.push(format!("target[{index}]: must be a table")),
                }
            }
        }
        Some(_) => problems.push("target: must be an array of tables ([[target]])".to_owned()),
    }
    if interval == Some(Duration::ZERO) {
        problems.push("interval: must be at least 1 second".to_owned());
    }
    if problems.is_empty() {
        Ok(ScaleConfig {
            interval,
            namespace,
            targets,
        })
    } else {
        Err(ConfigReport { problems })
    }
}

fn parse_target(table: &Table, prefix: &str, problems: &mut Vec<String>) -> Option<TargetConfig> {
    let mut keys = Keys::new(table, prefix, problems);
    let queue = keys.required_string("queue");
    let group = keys.required_string("group");
    let policy_name = keys
        .string("policy")
        .unwrap_or_else(|| "latency-target".to_owned());
    // Every value present is checked, even when another is missing or the policy is unknown: a
    // missing value is stood in for by a valid one, and problems with stand-ins are not reported
    // (the value is already reported missing).
    let mut stand_ins: Vec<&'static str> = Vec::new();
    let (kind, complete) = match policy_name.as_str() {
        "thresholds" => {
            let high = keys.required_f64("high");
            let low = keys.required_f64("low");
            let step = keys.u64("step");
            let out_cooldown = keys.seconds("scale_out_cooldown");
            let in_cooldown = keys.seconds("scale_in_cooldown");
            keys.reject_others(&[&COMMON_KEYS[..], &THRESHOLD_KEYS[..]].concat());
            let complete = high.is_some() && low.is_some();
            let low_value = stand_in(low, "low", 0.0, &mut stand_ins);
            let high_value = stand_in(high, "high", low_value.max(0.0) + 1.0, &mut stand_ins);
            let mut thresholds = Thresholds::new(high_value, low_value);
            if let Some(step) = step {
                thresholds = thresholds.step(saturating_u32(step));
            }
            if let Some(cooldown) = out_cooldown {
                thresholds = thresholds.scale_out_cooldown(cooldown);
            }
            if let Some(cooldown) = in_cooldown {
                thresholds = thresholds.scale_in_cooldown(cooldown);
            }
            (Policy::thresholds(thresholds), complete)
        }
        name => {
            let known = name == "latency-target";
            if !known {
                keys.problem(
                    "policy",
                    format!("unknown policy `{name}`; expected `latency-target` or `thresholds`"),
                );
            }
            // An unknown policy cannot say what it needs: nothing is reported missing for it.
            let (slots, job, wait) = if known {
                (
                    keys.required_u64("slots_per_instance"),
                    keys.required_seconds("mean_job_time"),
                    keys.required_seconds("acceptable_wait"),
                )
            } else {
                (
                    keys.u64("slots_per_instance"),
                    keys.seconds("mean_job_time"),
                    keys.seconds("acceptable_wait"),
                )
            };
            let count_delayed = keys.bool("count_delayed").unwrap_or(false);
            let target_wait = keys.seconds("target_wait");
            let smoothing = keys.seconds("rate_smoothing");
            if known {
                keys.reject_others(&[&COMMON_KEYS[..], &LATENCY_KEYS[..]].concat());
            } else {
                keys.reject_others(
                    &[&COMMON_KEYS[..], &LATENCY_KEYS[..], &THRESHOLD_KEYS[..]].concat(),
                );
            }
            let complete = known && slots.is_some() && job.is_some() && wait.is_some();
            let slots = stand_in(slots, "slots_per_instance", 1, &mut stand_ins);
            let job = stand_in(job, "mean_job_time", Duration::from_secs(1), &mut stand_ins);
            let wait = stand_in(wait, "acceptable_wait", Duration::MAX, &mut stand_ins);
            let mut target =
                LatencyTarget::new(saturating_u32(slots), job, wait).count_delayed(count_delayed);
            if let Some(aimed) = target_wait {
                target = target.target_wait(aimed);
            }
            if let Some(smoothing) = smoothing {
                target = target.rate_smoothing(smoothing);
            }
            (Policy::latency_target(target), complete)
        }
    };
    let mut rules = ScalingRules::default();
    if let Some(value) = keys.u64("activation_threshold") {
        rules = rules.activation_threshold(value);
    }
    if let Some(value) = keys.u64("max_scale_out_step") {
        rules = rules.max_scale_out_step(Some(saturating_u32(value)));
    }
    if let Some(value) = keys.seconds("scale_in_stabilization") {
        rules = rules.scale_in_stabilization(value);
    }
    if let Some(value) = keys.f64("tolerance") {
        rules = rules.tolerance(value);
    }
    if let Some(value) = keys.u64("max_removed_per_step") {
        rules = rules.max_removed_per_step(Some(saturating_u32(value)));
    }
    if let Some(value) = keys.seconds("scale_to_zero_cooldown") {
        rules = rules.scale_to_zero_cooldown(value);
    }
    if let Some(value) = keys.seconds_or_off("release_idle_after") {
        rules = rules.release_idle_after(value);
    }
    let policy = kind.with_rules(rules);
    for problem in policy.problems() {
        if !stand_ins.contains(&problem.field) {
            problems.push(format!("{prefix}{}: {}", problem.field, problem.message));
        }
    }
    Some(TargetConfig {
        queue: queue?,
        group: group?,
        policy: complete.then_some(policy)?,
    })
}

/// `value`, or the valid stand-in when it is missing (remembering which field stands in).
fn stand_in<T>(
    value: Option<T>,
    field: &'static str,
    valid: T,
    stand_ins: &mut Vec<&'static str>,
) -> T {
    value.unwrap_or_else(|| {
        stand_ins.push(field);
        valid
    })
}

fn saturating_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Reads typed keys out of one table, recording a problem for each wrong or missing one.
struct Keys<'a> {
    table: &'a Table,
    prefix: &'a str,
    problems: &'a mut Vec<String>,
}

impl<'a> Keys<'a> {
    fn new(table: &'a Table, prefix: &'a str, problems: &'a mut Vec<String>) -> Self {
        Self {
            table,
            prefix,
            problems,
        }
    }

    fn problem(&mut self, key: &str, message: impl fmt::Display) {
        self.problems
            .push(format!("{}{key}: {message}", self.prefix));
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.table.get(key).cloned()
    }

    fn reject_others(&mut self, known: &[&str]) {
        let unknown: Vec<String> = self
            .table
            .keys()
            .filter(|key| !known.contains(&key.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            self.problem(&key, "unknown key for this policy or section");
        }
    }

    fn typed<T>(
        &mut self,
        key: &str,
        expected: &str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Option<T> {
        let value = self.table.get(key)?;
        let read = read(value);
        if read.is_none() {
            self.problem(key, format!("must be {expected}, got `{value}`"));
        }
        read
    }

    fn required<T>(&mut self, key: &str, value: Option<T>) -> Option<T> {
        if value.is_none() && !self.table.contains_key(key) {
            self.problem(key, "missing");
        }
        value
    }

    fn string(&mut self, key: &str) -> Option<String> {
        self.typed(key, "a string", |v| {
            v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
        })
    }

    fn required_string(&mut self, key: &str) -> Option<String> {
        let value = self.string(key);
        self.required(key, value)
    }

    fn u64(&mut self, key: &str) -> Option<u64> {
        self.typed(key, "a whole number, 0 or more", |v| {
            v.as_integer().and_then(|n| u64::try_from(n).ok())
        })
    }

    fn required_u64(&mut self, key: &str) -> Option<u64> {
        let value = self.u64(key);
        self.required(key, value)
    }

    fn seconds(&mut self, key: &str) -> Option<Duration> {
        self.typed(key, "a whole number of seconds", |v| {
            v.as_integer()
                .and_then(|n| u64::try_from(n).ok())
                .map(Duration::from_secs)
        })
    }

    /// Whole seconds, or `false` for "off".
    fn seconds_or_off(&mut self, key: &str) -> Option<Option<Duration>> {
        self.typed(key, "a whole number of seconds or false", |v| match v {
            Value::Boolean(false) => Some(None),
            other => other
                .as_integer()
                .and_then(|n| u64::try_from(n).ok())
                .map(|n| Some(Duration::from_secs(n))),
        })
    }

    fn required_seconds(&mut self, key: &str) -> Option<Duration> {
        let value = self.seconds(key);
        self.required(key, value)
    }

    fn f64(&mut self, key: &str) -> Option<f64> {
        self.typed(key, "a number", |v| {
            v.as_float().or_else(|| v.as_integer().map(|n| n as f64))
        })
    }

    fn required_f64(&mut self, key: &str) -> Option<f64> {
        let value = self.f64(key);
        self.required(key, value)
    }

    fn bool(&mut self, key: &str) -> Option<bool> {
        self.typed(key, "true or false", Value::as_bool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_several_targets_of_both_policies() {
        let config = parse(
            r#"
            interval = 5
            namespace = "Test"
            [[target]]
            queue = "a"
            group = "ga"
            slots_per_instance = 4
            mean_job_time = 30
            acceptable_wait = 120
            scale_in_stabilization = 60
            [[target]]
            queue = "b"
            group = "gb"
            policy = "thresholds"
            high = 100
            low = 10.5
            step = 2
            "#,
        )
        .expect("valid");
        assert_eq!(config.interval, Some(Duration::from_secs(5)));
        assert_eq!(config.namespace.as_deref(), Some("Test"));
        assert_eq!(config.targets.len(), 2);
        assert_eq!(
            config.targets[0].policy.rules().stabilization_window(),
            Duration::from_secs(60)
        );
        assert!(matches!(
            config.targets[1].policy.kind(),
            workpool_scaler::PolicyKind::Thresholds(_)
        ));
    }

    #[test]
    fn reports_every_bad_key_at_once() {
        let report = parse(
            r#"
            interval = "soon"
            colour = "blue"
            [[target]]
            queue = "a"
            slots_per_instance = 0
            mean_job_time = 30
            high = 3
            [[target]]
            queue = "b"
            group = "gb"
            policy = "thresholds"
            high = 10
            low = 20
            tolerance = 2.0
            "#,
        )
        .expect_err("invalid");
        let problems = report.problems.join("\n");
        for expected in [
            "interval: must be a whole number of seconds",
            "colour: unknown key",
            "target[0].group: missing",
            "target[0].acceptable_wait: missing",
            "target[0].high: unknown key",
            // Reported although acceptable_wait is missing from the same target.
            "target[0].slots_per_instance: must be at least 1",
            "target[1].low: must be below high (10), got 20",
            "target[1].tolerance: must be at least 0 and below 1",
        ] {
            assert!(
                problems.contains(expected),
                "{expected} not in:\n{problems}"
            );
        }
        assert_eq!(report.problems.len(), 8, "{problems}");
        assert!(report
            .to_string()
            .starts_with("the configuration has 8 problem(s)"));
    }

    #[test]
    fn values_are_checked_whatever_else_is_missing_or_unknown() {
        let report = parse(
            r#"
            [[target]]
            queue = "a"
            group = "g"
            policy = "thresholds"
            low = -1
            step = 0
            tolerance = 1.5
            [[target]]
            queue = "b"
            group = "h"
            policy = "latency-targett"
            slots_per_instance = 0
            target_wait = 0
            activation_threshold = 0
            [[target]]
            queue = "c"
            group = "k"
            mean_job_time = 0
            target_wait = 600
            acceptable_wait = 60
            release_idle_after = "soon"
            "#,
        )
        .expect_err("invalid");
        assert_eq!(
            report.problems,
            vec![
                "target[0].high: missing",
                "target[0].low: must be zero or more, got -1",
                "target[0].step: must be at least 1",
                "target[0].tolerance: must be at least 0 and below 1, got 1.5",
                "target[1].policy: unknown policy `latency-targett`; expected `latency-target` or `thresholds`",
                "target[1].slots_per_instance: must be at least 1",
                "target[1].target_wait: must be more than zero",
                "target[1].activation_threshold: must be at least 1",
                "target[2].slots_per_instance: missing",
                "target[2].release_idle_after: must be a whole number of seconds or false, got `\"soon\"`",
                "target[2].mean_job_time: must be more than zero",
                "target[2].target_wait: must be at most acceptable_wait (60 s), got 600 s",
            ]
        );
    }

    #[test]
    fn reads_the_latency_target_and_idle_release_keys() {
        let config = parse(
            r#"
            [[target]]
            queue = "a"
            group = "g"
            slots_per_instance = 2
            mean_job_time = 30
            acceptable_wait = 120
            target_wait = 90
            rate_smoothing = 240
            release_idle_after = false
            [[target]]
            queue = "b"
            group = "h"
            slots_per_instance = 2
            mean_job_time = 30
            acceptable_wait = 120
            release_idle_after = 75
            "#,
        )
        .expect("valid");
        let workpool_scaler::PolicyKind::LatencyTarget(target) = config.targets[0].policy.kind()
        else {
            panic!("a latency target");
        };
        assert_eq!(target.aimed_wait(), Duration::from_secs(90));
        assert_eq!(target.smoothing(Duration::ZERO), Duration::from_secs(240));
        assert_eq!(config.targets[0].policy.rules().idle_release(), None);
        assert_eq!(
            config.targets[1].policy.rules().idle_release(),
            Some(Duration::from_secs(75))
        );
    }

    #[test]
    fn a_policy_value_out_of_range_is_named() {
        let report = parse(
            "[[target]]\nqueue = \"a\"\ngroup = \"g\"\nslots_per_instance = 0\nmean_job_time = 1\nacceptable_wait = 1\n",
        )
        .expect_err("invalid");
        assert_eq!(
            report.problems,
            vec!["target[0].slots_per_instance: must be at least 1"]
        );
    }

    #[test]
    fn needs_a_target_and_valid_toml() {
        assert_eq!(
            parse("interval = 15").expect_err("no target").problems,
            vec!["target: at least one [[target]] is needed"]
        );
        assert!(parse("[[target]\n").expect_err("syntax").problems[0].starts_with("not valid TOML"));
    }

    #[test]
    fn one_group_steered_by_two_targets_is_refused() {
        let target = |queue: &str, group: &str| {
            format!(
                "[[target]]\nqueue = \"{queue}\"\ngroup = \"{group}\"\npolicy = \"thresholds\"\nhigh = 10\nlow = 1\n"
            )
        };
        let text = [
            target("a", "g"),
            target("b", "h"),
            target("c", "g"),
            target("a", "k"),
        ]
        .concat();
        assert_eq!(
            parse(&text).expect_err("one group twice").problems,
            vec![
                "target[2].group: `g` is already steered by target[0]; two controllers on one group \
                 would undo each other's changes"
            ]
        );
    }
}
