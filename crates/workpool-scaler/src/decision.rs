//! What [`decide`](crate::decide) returns: the capacity to set (if any), why, and which idle instances
//! to let go.

use std::fmt;
use std::time::Duration;

use crate::arrival::ArrivalEstimate;
use crate::observation::{Input, ReadError};

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The group's desired capacity when observed; `None` when the group could not be read.
    pub current: Option<u32>,
    /// The desired capacity to set; `None` means hold: change nothing.
    pub desired: Option<u32>,
    /// What the policy recommended before the common rules, when inputs were readable; kept in the
    /// [`History`](crate::History) for the stabilization window.
    pub recommendation: Option<u32>,
    /// The part of the recommendation the stabilization window remembers (see
    /// [`Recommendation::keep_up`](crate::Recommendation::keep_up)), when inputs were readable.
    pub keep_up: Option<u32>,
    /// The arrival estimate made this tick (latency target), remembered in the
    /// [`History`](crate::History) for the next one.
    pub arrivals: Option<ArrivalEstimate>,
    /// Why.
    pub reason: Reason,
    /// Idle instances to terminate (with a decrement of desired capacity) when scaling in, at most as
    /// many as the step removes; the rest of the step is a plain decrement.
    pub terminate: Vec<String>,
}

impl Decision {
    /// A hold: change nothing, for this reason.
    pub fn hold(current: Option<u32>, recommendation: Option<u32>, reason: Reason) -> Self {
        Self {
            current,
            desired: None,
            recommendation,
            keep_up: None,
            arrivals: None,
            reason,
            terminate: Vec::new(),
        }
    }

    /// This decision turned into a hold (it could not be applied), keeping what was recommended and
    /// estimated so the history still learns from the tick.
    pub fn unapplied(self) -> Self {
        Self {
            desired: None,
            terminate: Vec::new(),
            ..self
        }
    }

    /// Whether this decision changes the group.
    pub fn changes(&self) -> bool {
        matches!((self.current, self.desired), (Some(c), Some(d)) if c != d)
    }

    /// The capacity the group should have after this decision: the new desired capacity, or the
    /// current one on a hold; `None` when the group could not be read.
    pub fn resulting_capacity(&self) -> Option<u32> {
        self.desired.or(self.current)
    }
}

/// Why a [`Decision`] was made. Displays as one line for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// An input could not be read, so nothing changes.
    InputUnreadable {
        /// Which input.
        input: Input,
        /// What went wrong.
        error: ReadError,
    },
    /// The group's minimum is above its maximum, so nothing changes.
    InvalidBounds {
        /// The group's minimum.
        min: u32,
        /// The group's maximum.
        max: u32,
    },
    /// From zero to some capacity because visible messages reached the activation threshold.
    Activate {
        /// Visible messages.
        visible: u64,
        /// The activation threshold.
        threshold: u64,
    },
    /// At zero, and too few visible messages to start.
    BelowActivation {
        /// Visible messages.
        visible: u64,
        /// The activation threshold.
        threshold: u64,
    },
    /// More capacity, now.
    ScaleOut {
        /// What the policy recommended.
        recommended: u32,
        /// What kept the new capacity below the recommendation, if anything.
        limit: Option<ScaleOutLimit>,
    },
    /// The policy wants more but the group is at its maximum.
    AtMaximum {
        /// What the policy recommended.
        recommended: u32,
        /// The group's maximum.
        max: u32,
    },
    /// The policy wants more but the scale-out cooldown has not run out.
    ScaleOutCooldown {
        /// Time left.
        remaining: Duration,
    },
    /// The recommendation equals the current capacity.
    Steady,
    /// The policy wants less, but a higher recommendation within the stabilization window holds the
    /// capacity.
    Stabilizing {
        /// What the policy recommends now.
        recommended: u32,
        /// The highest recommendation within the window.
        window_high: u32,
    },
    /// Instances idle for the idle-release time, with nothing waiting, are let go although the
    /// stabilization window would hold the capacity.
    ReleaseIdle {
        /// Instances let go.
        released: u32,
        /// How long the most recently idle of them had been idle.
        idle_for: Duration,
    },
    /// Instances launched by a scale-out within the stabilization window are still booting: the
    /// scale-in waits until they are in service rather than undo the launch before it lands.
    Booting {
        /// Instances not in service yet.
        pending: u32,
    },
    /// The scale-in would be within the tolerance.
    WithinTolerance {
        /// The capacity scale-in would go to.
        target: u32,
    },
    /// Busy (scale-in protected) instances keep the capacity.
    HeldByBusy {
        /// Busy instances.
        busy: u32,
    },
    /// The group is at its minimum.
    AtMinimum {
        /// The group's minimum.
        min: u32,
    },
    /// The queue has not been empty long enough to drop to zero; one instance stays.
    QuietCooldown {
        /// Time left (the full cooldown when the queue is not quiet yet).
        remaining: Duration,
    },
    /// The policy wants less but the scale-in cooldown has not run out.
    ScaleInCooldown {
        /// Time left.
        remaining: Duration,
    },
    /// Less capacity: the highest recommendation over the stabilization window is below the current.
    ScaleIn {
        /// The highest recommendation within the window.
        window_high: u32,
        /// What kept the new capacity above the window's highest recommendation, if anything.
        limit: Option<ScaleInLimit>,
    },
    /// Down to zero: the queue has been empty for the whole quiet cooldown.
    ScaleToZero {
        /// How long the queue has been empty.
        quiet_for: Duration,
    },
    /// The current capacity is outside the group's bounds; brought back within them.
    OutsideBounds {
        /// The group's minimum.
        min: u32,
        /// The group's maximum.
        max: u32,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::InputUnreadable { input, error } => {
                write!(f, "hold: cannot read the {input}: {error}")
            }
            Reason::InvalidBounds { min, max } => {
                write!(f, "hold: the group's min {min} is above its max {max}")
            }
            Reason::Activate { visible, threshold } => write!(
                f,
                "activate: {visible} visible message(s) reached the activation threshold {threshold}"
            ),
            Reason::BelowActivation { visible, threshold } => write!(
                f,
                "hold at zero: {visible} visible message(s), below the activation threshold {threshold}"
            ),
            Reason::ScaleOut { recommended, limit } => {
                write!(f, "scale out: the policy recommends {recommended}")?;
                match limit {
                    Some(limit) => write!(f, "; {limit}"),
                    None => Ok(()),
                }
            }
            Reason::AtMaximum { recommended, max } => write!(
                f,
                "hold at max: the policy recommends {recommended}, the group's max is {max}"
            ),
            Reason::ScaleOutCooldown { remaining } => write!(
                f,
                "hold: scale-out cooldown, {}s left",
                remaining.as_secs()
            ),
            Reason::Steady => f.write_str("steady: the recommendation equals the current capacity"),
            Reason::Stabilizing {
                recommended,
                window_high,
            } => write!(
                f,
                "hold: the policy recommends {recommended} but {window_high} was recommended within the stabilization window"
            ),
            Reason::ReleaseIdle { released, idle_for } => write!(
                f,
                "release idle: {released} instance(s) idle for {}s or more with nothing waiting",
                idle_for.as_secs()
            ),
            Reason::Booting { pending } => write!(
                f,
                "hold: {pending} instance(s) launched within the stabilization window are still booting"
            ),
            Reason::WithinTolerance { target } => {
                write!(f, "hold: scaling in to {target} is within the tolerance")
            }
            Reason::HeldByBusy { busy } => {
                write!(f, "hold: {busy} busy instance(s) keep the capacity")
            }
            Reason::AtMinimum { min } => write!(f, "hold at the group's min {min}"),
            Reason::QuietCooldown { remaining } if remaining.is_zero() => write!(
                f,
                "hold at one: the queue must read empty at one more evaluation before scaling to zero"
            ),
            Reason::QuietCooldown { remaining } => write!(
                f,
                "hold at one: the queue must stay empty {}s more before scaling to zero",
                remaining.as_secs()
            ),
            Reason::ScaleInCooldown { remaining } => {
                write!(f, "hold: scale-in cooldown, {}s left", remaining.as_secs())
            }
            Reason::ScaleIn { window_high, limit } => {
                write!(
                    f,
                    "scale in: the highest recommendation over the stabilization window is {window_high}"
                )?;
                match limit {
                    Some(limit) => write!(f, "; {limit}"),
                    None => Ok(()),
                }
            }
            Reason::ScaleToZero { quiet_for } => write!(
                f,
                "scale to zero: the queue has been empty for {}s",
                quiet_for.as_secs()
            ),
            Reason::OutsideBounds { min, max } => write!(
                f,
                "back within bounds: the capacity was outside the group's [{min}, {max}]"
            ),
        }
    }
}

/// What kept a scale-out short of the policy's recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleOutLimit {
    /// The per-step cap ([`ScalingRules::max_scale_out_step`](crate::ScalingRules::max_scale_out_step)).
    StepCap {
        /// Instances added at most per step.
        step: u32,
    },
    /// The group's maximum.
    Maximum {
        /// The group's maximum.
        max: u32,
    },
}

impl fmt::Display for ScaleOutLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleOutLimit::StepCap { step } => write!(f, "at most {step} added per step"),
            ScaleOutLimit::Maximum { max } => write!(f, "the group's max is {max}"),
        }
    }
}

/// What kept a scale-in above the highest recommendation over the stabilization window. When several
/// apply, the one that sets the new capacity (the highest floor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleInLimit {
    /// The queue has not been empty for the quiet cooldown, so one instance stays.
    QuietCooldown {
        /// Time left (the full cooldown when how long the queue has been empty is unknown).
        remaining: Duration,
    },
    /// Busy (scale-in protected) instances stay.
    Busy {
        /// Busy instances.
        busy: u32,
    },
    /// The per-step cap ([`ScalingRules::max_removed_per_step`](crate::ScalingRules::max_removed_per_step)).
    StepCap {
        /// Instances removed at most per step.
        step: u32,
    },
    /// The group's minimum.
    Minimum {
        /// The group's minimum.
        min: u32,
    },
}

impl fmt::Display for ScaleInLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleInLimit::QuietCooldown { remaining } if remaining.is_zero() => {
                f.write_str("one stays until the queue reads empty at one more evaluation")
            }
            ScaleInLimit::QuietCooldown { remaining } => write!(
                f,
                "one stays until the queue has been empty {}s more",
                remaining.as_secs()
            ),
            ScaleInLimit::Busy { busy } => write!(f, "{busy} busy instance(s) stay"),
            ScaleInLimit::StepCap { step } => write!(f, "at most {step} removed per step"),
            ScaleInLimit::Minimum { min } => write!(f, "the group's min is {min}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quiet_cooldown_says_how_long_is_left_or_that_one_more_empty_reading_is_needed() {
        let left = Reason::QuietCooldown {
            remaining: Duration::from_secs(40),
        };
        assert_eq!(
            left.to_string(),
            "hold at one: the queue must stay empty 40s more before scaling to zero"
        );
        let unseen = Reason::QuietCooldown {
            remaining: Duration::ZERO,
        };
        assert_eq!(
            unseen.to_string(),
            "hold at one: the queue must read empty at one more evaluation before scaling to zero"
        );
    }
}
