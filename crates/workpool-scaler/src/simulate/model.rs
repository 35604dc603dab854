//! The simulator: replays an arrival trace against a policy, second by second, with instances that take
//! time to boot and jobs that take time to run, and runs the same [`decide`] as the real controller
//! every interval.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::decide::decide;
use crate::error::Error;
use crate::history::History;
use crate::observation::{GroupReading, Observation, QueueReading};
use crate::policy::Policy;
use crate::simulate::bound::{offline_bound_with_boot, BoundModel, Job, OfflineBound};
use crate::simulate::burst_bound::{expected_burst_bound, ExpectedBurstBound};
use crate::simulate::instance::Instance;
use crate::simulate::reactive::{best_fixed_fleet, FixedFleet, ReactiveModel};
use crate::simulate::report::{Sample, SimulationReport};
use crate::simulate::trace::Trace;

/// How job durations are drawn around their mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobTimeDistribution {
    /// Every job takes exactly the mean.
    Fixed,
    /// Exponentially distributed around the mean (memoryless; many short jobs, a few long ones).
    Exponential,
}

/// A simulation's settings: the policy under test and the model of the fleet and the work.
#[derive(Debug, Clone)]
pub struct Simulation {
    policy: Policy,
    slots_per_instance: u32,
    mean_job_time: Duration,
    distribution: JobTimeDistribution,
    boot_time: Duration,
    interval: Duration,
    min: u32,
    max: u32,
    initial_instances: u32,
    seed: u64,
    drain_limit: Duration,
}

/// The simulated clock's origin: any fixed instant works, decide() only compares times.
const ORIGIN_SECS: u64 = 1_700_000_000;

impl Simulation {
    /// A simulation of `policy` with 4 slots per instance, exponential jobs of 30 s mean, 60 s boot
    /// time, a 15 s controller interval, group bounds [0, 1000], no instance at the start, seed 1, and
    /// at most one hour after the trace's last arrival to drain and scale in.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            slots_per_instance: 4,
            mean_job_time: Duration::from_secs(30),
            distribution: JobTimeDistribution::Exponential,
            boot_time: Duration::from_secs(60),
            interval: Duration::from_secs(15),
            min: 0,
            max: 1000,
            initial_instances: 0,
            seed: 1,
            drain_limit: Duration::from_secs(3600),
        }
    }

    /// Jobs each instance runs at once (default 4).
    pub fn slots_per_instance(mut self, slots: u32) -> Self {
        self.slots_per_instance = slots;
        self
    }

    /// Mean job duration (default 30 s); each job lasts a whole number of seconds, at least one.
    pub fn mean_job_time(mut self, mean: Duration) -> Self {
        self.mean_job_time = mean;
        self
    }

    /// How job durations spread around the mean (default exponential).
    pub fn distribution(mut self, distribution: JobTimeDistribution) -> Self {
        self.distribution = distribution;
        self
    }

    /// Time from launch to in service (default 60 s); billed like running time.
    pub fn boot_time(mut self, boot: Duration) -> Self {
        self.boot_time = boot;
        self
    }

    /// Time between controller evaluations (default 15 s), whole seconds.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The group's bounds (default [0, 1000]).
    pub fn bounds(mut self, min: u32, max: u32) -> Self {
        self.min = min;
        self.max = max;
        self
    }

    /// Instances in service at the start (default 0; raised to the group's min; above its max, the
    /// run is refused).
    pub fn initial_instances(mut self, instances: u32) -> Self {
        self.initial_instances = instances;
        self
    }

    /// Seed of the job-duration draws (default 1); the same seed gives the same run.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Most time simulated after the last arrival to finish the work and scale in (default one hour).
    pub fn drain_limit(mut self, limit: Duration) -> Self {
        self.drain_limit = limit;
        self
    }

    /// The policy under test.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn check(&self) -> Result<(), Error> {
        let problems = self.policy.problems();
        if !problems.is_empty() {
            return Err(Error::InvalidPolicy { problems });
        }
        let invalid = |setting, message: &str| {
            Err(Error::InvalidSimulation {
                setting,
                message: message.to_owned(),
            })
        };
        if self.slots_per_instance == 0 {
            return invalid("slots_per_instance", "must be at least 1");
        }
        if self.mean_job_time.is_zero() {
            return invalid("mean_job_time", "must be more than zero");
        }
        if self.interval.as_secs() == 0 {
            return invalid("interval", "must be at least one second");
        }
        if self.min > self.max {
            return invalid("min", "must not be above max");
        }
        if self.initial_instances > self.max {
            return invalid("initial_instances", "must not be above max");
        }
        Ok(())
    }

    /// Replays `trace` and reports wait, cost and actions.
    pub fn run(&self, trace: &Trace) -> Result<SimulationReport, Error> {
        self.check()?;
        let mut world = World::new(self);
        let origin = SystemTime::UNIX_EPOCH + Duration::from_secs(ORIGIN_SECS);
        let interval = self.interval.as_secs();
        let end_limit = trace.duration_secs() + self.drain_limit.as_secs();
        let mut rows = trace.rows().iter().peekable();
        let mut history = History::new();
        let mut report = SimulationReport::default();
        let mut second = 0u64;
        loop {
            world.now = second;
            while let Some((_, count)) = rows.next_if(|(at, _)| *at == second) {
                for _ in 0..*count {
                    world.arrive(second);
                }
            }
            world.finish_jobs(second);
            // Free slots take waiting messages before the controller looks: a long-polling consumer
            // receives a message the moment it arrives if it has a slot, so the depth the controller
            // reads holds only what no slot could take.
            world.start_jobs(second);
            if second % interval == 0 {
                let now = origin + Duration::from_secs(second);
                let observation = world.observe();
                let decision = decide(&observation, &self.policy, &history, now);
                if let (Some(from), Some(to)) = (decision.current, decision.desired) {
                    if to > from {
                        report.scale_outs += 1;
                        report.launches += u64::from(to - from);
                        world.launch(to - from, second);
                    } else if to < from {
                        report.scale_ins += 1;
                        world.remove(from - to, &decision.terminate);
                    }
                }
                history.record(now, &observation, &decision);
                report.samples.push(world.sample(second));
            }
            report.instance_seconds += world.instances.len() as u64;
            let fleet = world.census(second);
            report.booting_instance_seconds += fleet.booting;
            report.free_slot_seconds_beside_jobs += fleet.free_slots_beside_jobs;
            report.idle_instance_seconds += fleet.idle_instances;
            second += 1;
            let drained = second >= trace.duration_secs() && world.is_idle();
            if drained || second >= end_limit {
                break;
            }
        }
        report.finish(
            world.waits,
            &world.queue,
            second,
            world.work_slot_seconds,
            self,
        );
        Ok(report)
    }

    /// The jobs a run of `trace` sees, in arrival order: the same durations [`Simulation::run`]
    /// draws (same seed, same order), whatever the policy.
    pub fn jobs(&self, trace: &Trace) -> Vec<Job> {
        let mut rng = fastrand::Rng::with_seed(self.seed);
        let mut jobs = Vec::with_capacity(trace.total_arrivals() as usize);
        for (second, count) in trace.rows() {
            for _ in 0..*count {
                jobs.push(Job {
                    arrival: *second,
                    duration: self.draw_duration(&mut rng),
                });
            }
        }
        jobs
    }

    /// The offline bound with boot ([`offline_bound_with_boot`]) of `trace` in this model (slots,
    /// boot time, the instances at the start, the jobs of this seed) for runs that keep p99 wait
    /// within `acceptable_wait`. Policy-independent: every run of every policy on `trace` in this
    /// model that finishes its work with p99 wait ≤ `acceptable_wait` costs at least this much.
    pub fn offline_bound(&self, trace: &Trace, acceptable_wait: Duration) -> OfflineBound {
        let model = BoundModel::new(self.slots_per_instance, self.boot_time, acceptable_wait)
            .initial_instances(self.initial_instances.clamp(self.min, self.max));
        offline_bound_with_boot(&self.jobs(trace), &model)
    }

    /// The best fixed-fleet reaction ([`best_fixed_fleet`]) to the bursts of `trace` in this model
    /// (slots, boot time, the jobs of this seed), bursts being separated by `quiet_gap` without
    /// arrivals, for p99 wait within `acceptable_wait`.
    pub fn best_fixed_fleet(
        &self,
        trace: &Trace,
        acceptable_wait: Duration,
        quiet_gap: Duration,
    ) -> Option<FixedFleet> {
        let model = ReactiveModel::new(
            self.slots_per_instance,
            self.boot_time.as_secs(),
            acceptable_wait.as_secs(),
            quiet_gap.as_secs(),
        );
        best_fixed_fleet(&self.jobs(trace), &model)
    }

    /// The expected burst bound ([`expected_burst_bound`]) of `trace` in this model (slots,
    /// boot time, mean job time), bursts being separated by `quiet_gap` without arrivals, for p99
    /// wait within `acceptable_wait`: on average over job times, every policy that has nothing in
    /// service as each burst begins and meets the SLO costs at least this much. It holds for the
    /// group starting empty (the simulation's initial instances are not counted).
    pub fn expected_burst_bound(
        &self,
        trace: &Trace,
        acceptable_wait: Duration,
        quiet_gap: Duration,
    ) -> ExpectedBurstBound {
        let model = ReactiveModel::new(
            self.slots_per_instance,
            self.boot_time.as_secs(),
            acceptable_wait.as_secs(),
            quiet_gap.as_secs(),
        );
        expected_burst_bound(
            &self.jobs(trace),
            self.mean_job_time.as_secs_f64(),
            self.distribution,
            &model,
        )
    }

    /// One job's duration: whole seconds, at least one.
    fn draw_duration(&self, rng: &mut fastrand::Rng) -> u64 {
        let mean = self.mean_job_time.as_secs_f64();
        let drawn = match self.distribution {
            JobTimeDistribution::Fixed => mean,
            JobTimeDistribution::Exponential => -(1.0 - rng.f64()).ln() * mean,
        };
        (drawn.round() as u64).max(1)
    }

    pub(crate) fn slots(&self) -> u32 {
        self.slots_per_instance
    }
}

/// What the fleet's capacity is doing at one second, beyond running jobs.
#[derive(Default)]
struct Census {
    /// Instances launched and not in service yet.
    booting: u64,
    /// Free slots on instances in service that run at least one job.
    free_slots_beside_jobs: u64,
    /// Instances in service that run no job at all.
    idle_instances: u64,
}

struct World<'a> {
    settings: &'a Simulation,
    rng: fastrand::Rng,
    queue: VecDeque<(u64, u64)>,
    instances: Vec<Instance>,
    next_id: u64,
    waits: Vec<u64>,
    work_slot_seconds: u64,
    /// The simulated second being played.
    now: u64,
}

impl<'a> World<'a> {
    fn new(settings: &'a Simulation) -> Self {
        let mut world = Self {
            settings,
            rng: fastrand::Rng::with_seed(settings.seed),
            queue: VecDeque::new(),
            instances: Vec::new(),
            next_id: 0,
            waits: Vec::new(),
            work_slot_seconds: 0,
            now: 0,
        };
        let initial = settings.initial_instances.clamp(settings.min, settings.max);
        for _ in 0..initial {
            world.add_instance(0);
        }
        world
    }

    fn arrive(&mut self, second: u64) {
        let duration = self.settings.draw_duration(&mut self.rng);
        self.work_slot_seconds += duration;
        self.queue.push_back((second, duration));
    }

    fn finish_jobs(&mut self, second: u64) {
        for instance in &mut self.instances {
            instance.finish_jobs(second);
        }
    }

    fn start_jobs(&mut self, second: u64) {
        let slots = self.settings.slots_per_instance as usize;
        let mut next_waiting = || self.queue.pop_front();
        for instance in &mut self.instances {
            instance.start_jobs(second, slots, &mut next_waiting, &mut self.waits);
        }
    }

    fn observe(&self) -> Observation {
        let in_service = self.instances.iter().filter(|i| i.in_service(self.now));
        let busy = in_service.clone().filter(|i| !i.is_idle()).count() as u32;
        let idle_instances = in_service
            .clone()
            .filter(|i| i.is_idle())
            .map(Instance::name)
            .collect();
        let in_service_count = in_service.count() as u32;
        let desired = self.instances.len() as u32;
        Observation {
            queue: Ok(QueueReading {
                visible: self.queue.len() as u64,
                not_visible: self.in_flight(),
                delayed: 0,
            }),
            group: Ok(GroupReading {
                desired,
                min: self.settings.min,
                max: self.settings.max,
                in_service: in_service_count,
                pending: desired - in_service_count,
                busy,
                idle_instances,
            }),
        }
    }

    /// One pass over the fleet at `second`: what boots, and what of the capacity in service runs
    /// no job.
    fn census(&self, second: u64) -> Census {
        let slots = self.settings.slots_per_instance as usize;
        let mut census = Census::default();
        for instance in &self.instances {
            if !instance.in_service(second) {
                census.booting += 1;
            } else if instance.is_idle() {
                census.idle_instances += 1;
            } else {
                census.free_slots_beside_jobs += (slots - instance.running.len()) as u64;
            }
        }
        census
    }

    fn in_flight(&self) -> u64 {
        self.instances.iter().map(|i| i.running.len() as u64).sum()
    }

    fn add_instance(&mut self, ready_at: u64) {
        self.instances.push(Instance::new(self.next_id, ready_at));
        self.next_id += 1;
    }

    fn launch(&mut self, count: u32, second: u64) {
        for _ in 0..count {
            self.add_instance(second + self.settings.boot_time.as_secs());
        }
    }

    fn remove(&mut self, count: u32, chosen: &[String]) {
        let mut left = count as usize;
        let before = self.instances.len();
        self.instances
            .retain(|i| !(i.is_idle() && chosen.contains(&i.name())));
        left = left.saturating_sub(before - self.instances.len());
        // A blind decrement: booting instances go first (newest first), then idle ones; busy instances
        // are protected from scale-in.
        while left > 0 {
            let now = self.now;
            let victim = self
                .instances
                .iter()
                .rposition(|i| !i.in_service(now))
                .or_else(|| self.instances.iter().rposition(Instance::is_idle));
            match victim {
                Some(index) => {
                    self.instances.remove(index);
                    left -= 1;
                }
                None => break,
            }
        }
    }

    fn sample(&self, second: u64) -> Sample {
        let in_service = self
            .instances
            .iter()
            .filter(|i| i.in_service(second))
            .count() as u32;
        Sample {
            second,
            visible: self.queue.len() as u64,
            in_flight: self.in_flight(),
            desired: self.instances.len() as u32,
            in_service,
        }
    }

    fn is_idle(&self) -> bool {
        self.queue.is_empty()
            && self.in_flight() == 0
            && self.instances.len() as u32 <= self.settings.min
    }
}
