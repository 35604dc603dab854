//! The best fixed-fleet reaction to bursts: a yardstick for policies that react to the queue, which
//! can have no capacity in service for a burst that follows a quiet gap before the burst has
//! arrived and that capacity has booted.

use crate::simulate::bound::Job;
use crate::simulate::instance::Instance;
use crate::simulate::report::{percentile, SLO_QUANTILE};

/// The model the schedule runs in: the simulator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactiveModel {
    pub(super) slots: usize,
    pub(super) boot: u64,
    pub(super) acceptable_wait: u64,
    pub(super) quiet_gap: u64,
}

impl ReactiveModel {
    /// `slots` jobs at once per instance (at least 1), `boot` seconds from launch to in service
    /// (billed), p99 wait ≤ `acceptable_wait` seconds; a burst is a run of arrivals without a gap
    /// of `quiet_gap` seconds or more between two of them.
    ///
    /// # Panics
    /// If `slots` is zero.
    pub fn new(slots: u32, boot: u64, acceptable_wait: u64, quiet_gap: u64) -> Self {
        assert!(slots >= 1, "at least one slot per instance");
        Self {
            slots: slots as usize,
            boot,
            acceptable_wait,
            quiet_gap,
        }
    }
}

/// The cheapest fixed fleet meeting the SLO, and what it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedFleet {
    /// Instances launched at the first arrival of each burst.
    pub instances: u64,
    /// What the schedule cost, booting included.
    pub instance_seconds: u64,
    /// Its p99 wait, seconds.
    pub p99_wait: u64,
}

impl FixedFleet {
    /// The cost in instance-minutes.
    pub fn minutes(&self) -> f64 {
        self.instance_seconds as f64 / 60.0
    }
}

/// The cheapest schedule of this family that keeps p99 wait ≤ L on `jobs` (in arrival order): at
/// the very second a burst's first message arrives, launch the same number of instances P for
/// every burst; start waiting jobs oldest first on any free slot in service; once the burst's
/// arrivals are over and nothing waits, release every instance the second it is idle.
///
/// It is generous to the policy in every way a controller could not be: it reacts at the first
/// arrival (not at its next reading), knows how many instances the whole burst will need before
/// the burst has shown its rate or its length, never launches twice, and releases instances the
/// second their last job ends. What it cannot do, as no policy that reacts to the queue can, is
/// have an instance in service before a burst's first arrival plus the boot time, short of keeping
/// instances through the quiet gap before it (which costs the gap, on idle→burst 25 or 30
/// minutes an instance, against one minute of boot).
///
/// `None` when no fleet up to one slot per job meets the SLO (a job longer than L cannot wait
/// less than the boot, say).
pub fn best_fixed_fleet(jobs: &[Job], model: &ReactiveModel) -> Option<FixedFleet> {
    if jobs.is_empty() {
        return None;
    }
    let bursts = bursts(jobs, model.quiet_gap);
    let largest = bursts.iter().map(|b| b.len()).max().unwrap_or(0);
    let most = largest.div_ceil(model.slots).max(1) as u64;
    // The p99 wait falls (never rises) as P grows: with more slots, each job of the oldest-first
    // order starts no later. So the smallest P meeting the SLO is found by bisection, and the
    // cheapest is looked for among the next few (more instances can finish sooner).
    let meets =
        |instances: u64| run(jobs, &bursts, instances, model).p99_wait <= model.acceptable_wait;
    if !meets(most) {
        return None;
    }
    let (mut low, mut high) = (1, most);
    while low < high {
        let middle = (low + high) / 2;
        if meets(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    (low..=most.min(low + NEIGHBOURS))
        .map(|instances| run(jobs, &bursts, instances, model))
        .filter(|fleet| fleet.p99_wait <= model.acceptable_wait)
        .min_by_key(|fleet| fleet.instance_seconds)
}

/// Fleets above the smallest one meeting the SLO that are tried as well.
const NEIGHBOURS: u64 = 20;

/// The jobs split into bursts: index ranges of runs of arrivals without a gap of `quiet_gap` or
/// more.
pub(super) fn bursts(jobs: &[Job], quiet_gap: u64) -> Vec<std::ops::Range<usize>> {
    let mut bursts = Vec::new();
    let mut start = 0;
    for index in 1..jobs.len() {
        if jobs[index].arrival - jobs[index - 1].arrival >= quiet_gap {
            bursts.push(start..index);
            start = index;
        }
    }
    bursts.push(start..jobs.len());
    bursts
}

fn run(
    jobs: &[Job],
    bursts: &[std::ops::Range<usize>],
    instances: u64,
    model: &ReactiveModel,
) -> FixedFleet {
    let mut fleet: Vec<Instance> = Vec::new();
    let mut waits = Vec::with_capacity(jobs.len());
    let mut next_job = 0;
    let mut next_burst = 0;
    let mut cost = 0;
    let mut second = jobs[0].arrival;
    while next_job < jobs.len() || !fleet.is_empty() {
        if let Some(burst) = bursts.get(next_burst) {
            if jobs[burst.start].arrival == second {
                // Each burst launches `instances`, numbered on from the bursts before it.
                let first_id = next_burst as u64 * instances;
                fleet.extend(
                    (0..instances).map(|n| Instance::new(first_id + n, second + model.boot)),
                );
                next_burst += 1;
            }
        }
        let arrived = jobs[next_job..]
            .iter()
            .take_while(|job| job.arrival <= second)
            .count()
            + next_job;
        let mut next_waiting = || {
            let job = jobs[next_job..arrived].first()?;
            next_job += 1;
            Some((job.arrival, job.duration))
        };
        for instance in &mut fleet {
            instance.finish_jobs(second);
            instance.start_jobs(second, model.slots, &mut next_waiting, &mut waits);
        }
        // Nothing waits, and every message of the latest burst has arrived.
        if next_job == arrived && bursts[next_burst - 1].end <= arrived {
            fleet.retain(|instance| !instance.in_service(second) || !instance.is_idle());
        }
        cost += fleet.len() as u64;
        second += 1;
    }
    waits.sort_unstable();
    FixedFleet {
        instances,
        instance_seconds: cost,
        p99_wait: percentile(&waits, SLO_QUANTILE).as_secs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_instance_serves_a_burst_it_can_start_in_time() {
        // Four 10 s jobs at once, one slot, boot 5 s, L 40 s: the last starts at 5 + 30 = 35.
        let model = ReactiveModel::new(1, 5, 40, 60);
        let fleet = best_fixed_fleet(
            &Job::from_pairs(&[(0, 10), (0, 10), (0, 10), (0, 10)]),
            &model,
        )
        .unwrap();
        assert_eq!(fleet.instances, 1);
        assert_eq!(fleet.p99_wait, 35);
        // Billed from launch (0) to the end of the last job (45).
        assert_eq!(fleet.instance_seconds, 45);
    }

    #[test]
    fn a_tighter_wait_needs_more_instances_each_booted() {
        // L 20 s: one instance starts the last job at 35, two start the last pair at 15.
        let model = ReactiveModel::new(1, 5, 20, 60);
        let fleet = best_fixed_fleet(
            &Job::from_pairs(&[(0, 10), (0, 10), (0, 10), (0, 10)]),
            &model,
        )
        .unwrap();
        assert_eq!(fleet.instances, 2);
        assert_eq!(fleet.p99_wait, 15);
        assert_eq!(fleet.instance_seconds, 2 * 25);
    }

    #[test]
    fn every_burst_after_a_quiet_gap_boots_its_own_fleet() {
        // Two bursts 100 s apart, each one 10 s job: each pays its boot again.
        let model = ReactiveModel::new(1, 5, 20, 60);
        let fleet = best_fixed_fleet(&Job::from_pairs(&[(0, 10), (100, 10)]), &model).unwrap();
        assert_eq!(fleet.instances, 1);
        assert_eq!(fleet.p99_wait, 5);
        assert_eq!(fleet.instance_seconds, 2 * 15);
    }

    #[test]
    fn a_wait_shorter_than_the_boot_cannot_be_met() {
        let model = ReactiveModel::new(1, 30, 20, 60);
        assert_eq!(best_fixed_fleet(&Job::from_pairs(&[(0, 10)]), &model), None);
    }
}
