//! What a simulation run reports: wait percentiles, cost, actions, the lower bound, and samples for the
//! chart.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::simulate::model::Simulation;

/// The state of the simulated queue and group at one controller tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Seconds from the start.
    pub second: u64,
    /// Messages waiting (V).
    pub visible: u64,
    /// Messages being worked on (F).
    pub in_flight: u64,
    /// Desired capacity after the tick's decision (counts booting instances).
    pub desired: u32,
    /// Instances in service.
    pub in_service: u32,
}

/// The outcome of one simulation run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimulationReport {
    /// Messages in the trace.
    pub messages: u64,
    /// Messages still unstarted when the simulation stopped (counted in the wait figures with the wait
    /// they had so far).
    pub unfinished: u64,
    /// Median queue wait (arrival to start).
    pub p50_wait: Duration,
    /// 99th percentile queue wait.
    pub p99_wait: Duration,
    /// Longest queue wait.
    pub max_wait: Duration,
    /// Instance-seconds billed, booting included, until the work was done and the group back at its
    /// min (or the drain limit).
    pub instance_seconds: u64,
    /// The lower bound: the work's slot-seconds divided by the slots per instance, as instance-seconds.
    /// No policy can do the work with less; reaching it takes perfect foresight, no boot time and no
    /// idle slot.
    pub lower_bound_instance_seconds: u64,
    /// Of the instance-seconds billed, those spent booting (launched, not in service yet).
    pub booting_instance_seconds: u64,
    /// Slot-seconds free on instances in service that ran at least one job: mostly an instance's
    /// last jobs ending one by one, its other slots with nothing left to take.
    pub free_slot_seconds_beside_jobs: u64,
    /// Instance-seconds in service with no job running: kept by the stabilization window, the idle
    /// release time or the quiet cooldown, or booted after the work was gone.
    pub idle_instance_seconds: u64,
    /// Jobs each instance runs at once, as simulated.
    pub slots_per_instance: u32,
    /// Instances launched.
    pub launches: u64,
    /// Scale-out actions.
    pub scale_outs: u32,
    /// Scale-in actions.
    pub scale_ins: u32,
    /// Seconds simulated.
    pub simulated_seconds: u64,
    /// One sample per controller tick.
    pub samples: Vec<Sample>,
}

impl SimulationReport {
    /// Instance-minutes billed.
    pub fn instance_minutes(&self) -> f64 {
        self.instance_seconds as f64 / 60.0
    }

    /// The lower bound in instance-minutes.
    pub fn lower_bound_minutes(&self) -> f64 {
        self.lower_bound_instance_seconds as f64 / 60.0
    }

    /// Instance-minutes spent booting.
    pub fn booting_minutes(&self) -> f64 {
        self.booting_instance_seconds as f64 / 60.0
    }

    /// Instance-minutes in service beside running jobs: the free slots of instances that run some,
    /// over the slots per instance.
    pub fn free_slot_minutes_beside_jobs(&self) -> f64 {
        self.free_slot_seconds_beside_jobs as f64 / 60.0 / f64::from(self.slots_per_instance.max(1))
    }

    /// Instance-minutes in service with no job running.
    pub fn idle_instance_minutes(&self) -> f64 {
        self.idle_instance_seconds as f64 / 60.0
    }

    /// Instance-minutes over the lower bound (1.0 is perfect).
    pub fn cost_ratio(&self) -> f64 {
        if self.lower_bound_instance_seconds == 0 {
            return if self.instance_seconds == 0 {
                1.0
            } else {
                f64::INFINITY
            };
        }
        self.instance_seconds as f64 / self.lower_bound_instance_seconds as f64
    }

    pub(crate) fn finish(
        &mut self,
        mut waits: Vec<u64>,
        unstarted: &VecDeque<(u64, u64)>,
        end: u64,
        work_slot_seconds: u64,
        settings: &Simulation,
    ) {
        self.unfinished = unstarted.len() as u64;
        waits.extend(unstarted.iter().map(|(arrived, _)| end - arrived));
        waits.sort_unstable();
        self.messages = waits.len() as u64;
        self.p50_wait = percentile(&waits, 0.50);
        self.p99_wait = percentile(&waits, SLO_QUANTILE);
        self.max_wait = Duration::from_secs(waits.last().copied().unwrap_or(0));
        self.slots_per_instance = settings.slots();
        let slots = u64::from(settings.slots());
        self.lower_bound_instance_seconds = work_slot_seconds.div_ceil(slots);
        self.simulated_seconds = end;
    }
}

/// The quantile of the wait the SLO is on (p99), for the report, the offline bound and the
/// fixed-fleet yardstick alike.
pub(crate) const SLO_QUANTILE: f64 = 0.99;

/// The `q` quantile of sorted waits (nearest rank).
pub(crate) fn percentile(sorted: &[u64], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    Duration::from_secs(sorted[nearest_rank(q, sorted.len()) - 1])
}

/// How many of `n` jobs may wait longer than L while the p99 wait stays within it: `n − ⌈0.99 n⌉`.
pub(crate) fn late_allowed(n: usize) -> usize {
    n - nearest_rank(SLO_QUANTILE, n)
}

/// The 1-based rank of the `q` quantile among `n` ≥ 1 sorted values (nearest rank), as the report's
/// percentiles take it: the p99 is within a limit exactly when at least this many values are.
pub(crate) fn nearest_rank(q: f64, n: usize) -> usize {
    ((q * n as f64).ceil() as usize).clamp(1, n)
}

impl fmt::Display for SimulationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "messages          {}", self.messages)?;
        if self.unfinished > 0 {
            writeln!(f, "unfinished        {}", self.unfinished)?;
        }
        writeln!(f, "wait p50          {} s", self.p50_wait.as_secs())?;
        writeln!(f, "wait p99          {} s", self.p99_wait.as_secs())?;
        writeln!(f, "wait max          {} s", self.max_wait.as_secs())?;
        writeln!(f, "instance-minutes  {:.1}", self.instance_minutes())?;
        writeln!(
            f,
            "lower bound       {:.1} (ratio {:.3})",
            self.lower_bound_minutes(),
            self.cost_ratio()
        )?;
        writeln!(
            f,
            "booting           {:.1} instance-minutes ({} launches)",
            self.booting_minutes(),
            self.launches
        )?;
        writeln!(
            f,
            "unused            {:.1} instance-minutes in service: {:.1} in free slots beside running jobs, {:.1} with none running",
            self.free_slot_minutes_beside_jobs() + self.idle_instance_minutes(),
            self.free_slot_minutes_beside_jobs(),
            self.idle_instance_minutes()
        )?;
        writeln!(
            f,
            "scaling actions   {} ({} out, {} in)",
            self.scale_outs + self.scale_ins,
            self.scale_outs,
            self.scale_ins
        )?;
        write!(f, "simulated         {} s", self.simulated_seconds)
    }
}
