//! The demo's flags, checked: every bad value is reported at once, each naming its flag.

use std::time::Duration;

use anyhow::bail;
use workpool_scaler::{LatencyTarget, Policy, PolicyKind, ScalingRules, Thresholds};

use super::duration_flag::show_duration;
use super::jobs::JobModel;
use super::Args;

/// Which scaling policy steers the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyName {
    /// Keep up with the estimated arrival rate λ and start every waiting message V within the
    /// target wait W (3/4 of --acceptable-wait): `max(round(λ·T/s), ceil(min(V·T/(s·W), λ·T/s +
    /// V/s)))`, with T = --job-time and s = --slots (`workpool_scaler::LatencyTarget` derives it).
    LatencyTarget,
    /// Step out above --high waiting messages per instance, in below --low.
    Thresholds,
}

/// Checked settings of one demo run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long the producer follows the trace.
    pub duration: Duration,
    /// Arrivals per second at the trace's busiest second.
    pub peak_rate: f64,
    /// Handler slots per instance.
    pub slots: u32,
    /// How long jobs take.
    pub job_model: JobModel,
    /// Launch to in service.
    pub boot_delay: Duration,
    /// Time between controller evaluations.
    pub interval: Duration,
    /// The fleet's bounds.
    pub min: u32,
    /// The fleet's bounds.
    pub max: u32,
    /// How long the run may drain after the producer is done.
    pub drain_limit: Duration,
    /// The policy the controller applies.
    pub policy: Policy,
}

impl Settings {
    /// Checks every flag; the error lists each bad value with its flag.
    pub fn from_args(args: &Args) -> anyhow::Result<Self> {
        let mut problems = Vec::new();
        let mut bad = |flag: &str, message: String| problems.push(format!("{flag}: {message}"));
        if args.duration.is_zero() {
            bad("--duration", "must be more than zero".to_owned());
        }
        if !(args.peak_rate.is_finite() && args.peak_rate > 0.0) {
            bad(
                "--peak-rate",
                format!("must be a positive number, got {}", args.peak_rate),
            );
        }
        if !(args.job_jitter.is_finite() && (0.0..1.0).contains(&args.job_jitter)) {
            bad(
                "--job-jitter",
                format!("must be at least 0 and below 1, got {}", args.job_jitter),
            );
        }
        if args.slots == 0 {
            bad("--slots", "must be at least 1".to_owned());
        }
        if args.job_time.is_zero() {
            bad("--job-time", "must be more than zero".to_owned());
        }
        if args.interval.is_zero() {
            bad("--interval", "must be more than zero".to_owned());
        }
        if args.max == 0 {
            bad("--max", "must be at least 1".to_owned());
        } else if args.min > args.max {
            bad(
                "--min",
                format!("must not be above --max ({}), got {}", args.max, args.min),
            );
        }
        let policy = policy(args);
        for problem in policy.problems() {
            // Slots and job time are checked above, for every policy.
            if !matches!(problem.field, "slots_per_instance" | "mean_job_time") {
                bad(flag_of(problem.field), problem.message);
            }
        }
        if !problems.is_empty() {
            bail!("invalid flags:\n  {}", problems.join("\n  "));
        }
        Ok(Self {
            duration: args.duration,
            peak_rate: args.peak_rate,
            slots: args.slots,
            job_model: JobModel {
                mean: args.job_time,
                jitter: args.job_jitter,
            },
            boot_delay: args.boot_delay,
            interval: args.interval,
            min: args.min,
            max: args.max,
            drain_limit: args.drain_limit,
            policy,
        })
    }

    /// One line naming the policy and its main values, for the header.
    pub fn policy_line(&self) -> String {
        let rules = self.policy.rules();
        let kind = match self.policy.kind() {
            PolicyKind::LatencyTarget(target) => format!(
                "latency target (acceptable wait {}, job time {})",
                show_duration(target.acceptable_wait()),
                show_duration(target.mean_job_time())
            ),
            PolicyKind::Thresholds(thresholds) => format!(
                "thresholds (out above {} waiting per instance, in below {}; cooldowns {} out, {} in)",
                thresholds.high(),
                thresholds.low(),
                show_duration(thresholds.out_cooldown()),
                show_duration(thresholds.in_cooldown())
            ),
        };
        format!(
            "{kind}; controller every {}, scale-in stabilization {}, to zero after {} quiet; {}..{} instances",
            show_duration(self.interval),
            show_duration(rules.stabilization_window()),
            show_duration(rules.zero_cooldown()),
            self.min,
            self.max
        )
    }
}

/// The policy the flags describe (unchecked: see [`Policy::problems`]).
fn policy(args: &Args) -> Policy {
    let rules = ScalingRules::default()
        .scale_in_stabilization(args.stabilization)
        .scale_to_zero_cooldown(args.zero_cooldown);
    let policy = match args.policy {
        PolicyName::LatencyTarget => Policy::latency_target(LatencyTarget::new(
            args.slots,
            args.job_time,
            args.acceptable_wait,
        )),
        PolicyName::Thresholds => Policy::thresholds(
            Thresholds::new(args.high, args.low)
                .step(args.step)
                .scale_out_cooldown(args.scale_out_cooldown)
                .scale_in_cooldown(args.scale_in_cooldown),
        ),
    };
    policy.with_rules(rules)
}

/// The flag behind a policy field.
fn flag_of(field: &str) -> &str {
    match field {
        "acceptable_wait" => "--acceptable-wait",
        "high" => "--high",
        "low" => "--low",
        "step" => "--step",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Demo {
        #[command(flatten)]
        args: Args,
    }

    fn settings(flags: &[&str]) -> anyhow::Result<Settings> {
        let demo = Demo::try_parse_from(std::iter::once("demo").chain(flags.iter().copied()))?;
        Settings::from_args(&demo.args)
    }

    #[test]
    fn the_defaults_make_a_usable_run() {
        let defaults = settings(&[]).expect("defaults are valid");
        assert_eq!(defaults.duration, Duration::from_secs(60));
        assert!(matches!(
            defaults.policy.kind(),
            PolicyKind::LatencyTarget(_)
        ));
        assert!(defaults.policy_line().starts_with("latency target"));
        let thresholds = settings(&["--policy", "thresholds"]).expect("valid");
        assert!(thresholds.policy_line().starts_with("thresholds"));
    }

    #[test]
    fn every_bad_value_is_reported_with_its_flag() {
        let error = settings(&[
            "--slots",
            "0",
            "--job-jitter",
            "1.5",
            "--duration",
            "0s",
            "--min",
            "5",
            "--max",
            "2",
            "--policy",
            "thresholds",
            "--high",
            "2",
            "--low",
            "3",
        ])
        .expect_err("invalid")
        .to_string();
        for flag in ["--slots", "--job-jitter", "--duration", "--min", "--low"] {
            assert!(error.contains(&format!("{flag}: ")), "{flag} in {error}");
        }
        let acceptable = settings(&["--acceptable-wait", "0s"]).expect_err("invalid");
        assert!(acceptable.to_string().contains("--acceptable-wait: "));
    }
}
