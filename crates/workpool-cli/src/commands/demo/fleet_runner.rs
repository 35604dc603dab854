//! Makes the [`LocalFleet`]'s pretend instances real: every instance in service runs a
//! `workpool::Consumer` with N slots on the demo queue; an instance the fleet lets go is shut down
//! gracefully (running jobs finish, received-but-unstarted messages are released). Like the sidecar,
//! each instance tells the fleet whether it is busy, so scale-in spares busy instances.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tracing::instrument::WithSubscriber;
use workpool::memory::MemoryQueue;
use workpool::{Consumer, Control, Summary};
use workpool_scaler::LocalFleet;

use super::jobs::{handler, JobModel, Tally};

/// How the instances' consumers are set up.
#[derive(Debug, Clone)]
pub struct InstanceSettings {
    /// Handler slots per instance.
    pub slots: usize,
    /// The modelled job time.
    pub job_model: JobModel,
    /// How long a stopping instance lets its running jobs finish before releasing them.
    pub grace_period: Duration,
}

/// One instance's running consumer.
struct RunningInstance {
    control: Control,
    in_flight: Arc<AtomicU64>,
    task: JoinHandle<Result<Summary, workpool::Error>>,
}

/// Keeps one real consumer per in-service instance of a [`LocalFleet`]. Call
/// [`reconcile`](Self::reconcile) often (every 100 ms or so).
pub struct FleetRunner {
    fleet: LocalFleet,
    queue: MemoryQueue,
    settings: InstanceSettings,
    tally: Arc<Tally>,
    logs: tracing::Dispatch,
    running: HashMap<String, RunningInstance>,
    stopping: Vec<(String, JoinHandle<Result<Summary, workpool::Error>>)>,
}

impl FleetRunner {
    /// A runner with no instance started yet; consumers log through `logs`.
    pub fn new(
        fleet: LocalFleet,
        queue: MemoryQueue,
        settings: InstanceSettings,
        tally: Arc<Tally>,
        logs: tracing::Dispatch,
    ) -> Self {
        Self {
            fleet,
            queue,
            settings,
            tally,
            logs,
            running: HashMap::new(),
            stopping: Vec::new(),
        }
    }

    /// Starts a consumer for every instance that came into service, stops the consumers of instances
    /// that left the fleet, and tells the fleet which instances are busy.
    pub fn reconcile(&mut self) {
        let in_service = self.fleet.in_service_ids();
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|id| !in_service.contains(id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(instance) = self.running.remove(&id) {
                instance.control.shutdown();
                self.stopping.push((id, instance.task));
            }
        }
        for id in in_service {
            if !self.running.contains_key(&id) {
                let instance = self.start(&id);
                self.running.insert(id, instance);
            }
        }
        for (id, instance) in &self.running {
            let busy = instance.in_flight.load(Ordering::Relaxed) > 0;
            self.fleet.set_busy(id, busy);
        }
    }

    /// Instances with a running consumer (in service).
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Instances that left the fleet and are still finishing their jobs.
    pub fn draining(&self) -> usize {
        self.stopping
            .iter()
            .filter(|(_, task)| !task.is_finished())
            .count()
    }

    /// Shuts every consumer down gracefully and returns what each one did, stopped ones included.
    pub async fn stop_all(mut self) -> anyhow::Result<Vec<Summary>> {
        for (id, instance) in self.running.drain() {
            instance.control.shutdown();
            self.stopping.push((id, instance.task));
        }
        let mut summaries = Vec::with_capacity(self.stopping.len());
        for (id, task) in self.stopping {
            let summary = task
                .await
                .with_context(|| format!("instance {id}: its consumer task failed"))?
                .with_context(|| format!("instance {id}: its consumer failed"))?;
            summaries.push(summary);
        }
        Ok(summaries)
    }

    fn start(&self, id: &str) -> RunningInstance {
        let in_flight = Arc::new(AtomicU64::new(0));
        let consumer = Consumer::new(self.queue.clone())
            .concurrency(self.settings.slots)
            .grace_period(self.settings.grace_period);
        let control = consumer.control();
        let service = handler(
            self.settings.job_model,
            self.tally.clone(),
            in_flight.clone(),
        );
        let run = consumer.run(service).into_future();
        let task = tokio::spawn(run.with_subscriber(self.logs.clone()));
        tracing::debug!(instance = id, "consumer started for an instance in service");
        RunningInstance {
            control,
            in_flight,
            task,
        }
    }
}
