//! A fleet of pretend instances in memory, for the demo and tests: the [`Capacity`] port with a boot
//! delay, scale-in protection for busy instances and a log of scaling changes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::error::Error;
use crate::history::ScalingEvent;
use crate::observation::GroupReading;
use crate::ports::Capacity;

/// An in-memory Auto Scaling group: setting the desired capacity launches instances that come into
/// service after the boot delay (measured on tokio's clock, so tests can pause time), or terminates
/// booting then idle instances, never busy (protected) ones. Cloning shares the fleet.
#[derive(Debug, Clone)]
pub struct LocalFleet {
    name: String,
    boot_delay: Duration,
    state: Arc<Mutex<FleetState>>,
}

#[derive(Debug)]
struct FleetState {
    min: u32,
    max: u32,
    desired: u32,
    next_id: u64,
    instances: Vec<LocalInstance>,
    events: Vec<ScalingEvent>,
}

#[derive(Debug, Clone)]
struct LocalInstance {
    id: String,
    ready_at: Instant,
    busy: bool,
}

impl LocalFleet {
    /// An empty fleet named `name` with bounds [0, 10] and a 30 s boot delay.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            boot_delay: Duration::from_secs(30),
            state: Arc::new(Mutex::new(FleetState {
                min: 0,
                max: 10,
                desired: 0,
                next_id: 0,
                instances: Vec::new(),
                events: Vec::new(),
            })),
        }
    }

    /// Time from launch to in service (default 30 s).
    pub fn boot_delay(mut self, delay: Duration) -> Self {
        self.boot_delay = delay;
        self
    }

    /// The fleet's bounds (default [0, 10]).
    pub fn bounds(self, min: u32, max: u32) -> Self {
        {
            let mut state = self.lock();
            state.min = min;
            state.max = max;
        }
        self
    }

    /// Marks an instance busy (protected from scale-in) or idle, like the sidecar does; unknown ids are
    /// ignored.
    pub fn set_busy(&self, instance_id: &str, busy: bool) {
        if let Some(instance) = self
            .lock()
            .instances
            .iter_mut()
            .find(|i| i.id == instance_id)
        {
            instance.busy = busy;
        }
    }

    /// The ids of the instances in service now.
    pub fn in_service_ids(&self) -> Vec<String> {
        let now = Instant::now();
        self.lock()
            .instances
            .iter()
            .filter(|i| i.ready_at <= now)
            .map(|i| i.id.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FleetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn resize(&self, desired: u32) -> Result<(), Error> {
        let mut state = self.lock();
        if desired < state.min || desired > state.max {
            return Err(Error::Aws {
                operation: "SetDesiredCapacity",
                resource: self.name.clone(),
                message: format!(
                    "desired capacity {desired} is outside the group's bounds [{}, {}]",
                    state.min, state.max
                ),
            });
        }
        let from = state.desired;
        state.desired = desired;
        if from != desired {
            state.events.push(ScalingEvent {
                at: SystemTime::now(),
                from,
                to: desired,
            });
        }
        let now = Instant::now();
        while (state.instances.len() as u32) < desired {
            let id = format!("local-{:04}", state.next_id);
            state.next_id += 1;
            state.instances.push(LocalInstance {
                id,
                ready_at: now + self.boot_delay,
                busy: false,
            });
        }
        while (state.instances.len() as u32) > desired {
            let victim = state
                .instances
                .iter()
                .rposition(|i| i.ready_at > now)
                .or_else(|| state.instances.iter().rposition(|i| !i.busy));
            match victim {
                Some(index) => {
                    state.instances.remove(index);
                }
                // Busy instances are protected: they stay until they are idle and the next change.
                None => break,
            }
        }
        Ok(())
    }
}

impl Capacity for LocalFleet {
    fn group_name(&self) -> &str {
        &self.name
    }

    async fn describe(&self) -> Result<GroupReading, Error> {
        let now = Instant::now();
        let state = self.lock();
        let in_service: Vec<&LocalInstance> = state
            .instances
            .iter()
            .filter(|i| i.ready_at <= now)
            .collect();
        Ok(GroupReading {
            desired: state.desired,
            min: state.min,
            max: state.max,
            in_service: in_service.len() as u32,
            pending: (state.instances.len() - in_service.len()) as u32,
            busy: in_service.iter().filter(|i| i.busy).count() as u32,
            idle_instances: in_service
                .iter()
                .filter(|i| !i.busy)
                .map(|i| i.id.clone())
                .collect(),
        })
    }

    async fn set_desired(&self, desired: u32) -> Result<(), Error> {
        self.resize(desired)
    }

    async fn terminate_with_decrement(&self, instance_id: &str) -> Result<(), Error> {
        let mut state = self.lock();
        let Some(index) = state.instances.iter().position(|i| i.id == instance_id) else {
            return Err(Error::Aws {
                operation: "TerminateInstanceInAutoScalingGroup",
                resource: instance_id.to_owned(),
                message: format!("no instance `{instance_id}` in `{}`", self.name),
            });
        };
        state.instances.remove(index);
        let from = state.desired;
        state.desired = from.saturating_sub(1).max(state.min);
        let to = state.desired;
        state.events.push(ScalingEvent {
            at: SystemTime::now(),
            from,
            to,
        });
        Ok(())
    }

    async fn scaling_events(&self, since: SystemTime) -> Result<Vec<ScalingEvent>, Error> {
        Ok(self
            .lock()
            .events
            .iter()
            .filter(|event| event.at >= since)
            .copied()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn instances_come_into_service_after_the_boot_delay() {
        let fleet = LocalFleet::new("local").boot_delay(Duration::from_secs(30));
        fleet.set_desired(3).await.expect("within bounds");
        let booting = fleet.describe().await.expect("readable");
        assert_eq!(
            (booting.desired, booting.in_service, booting.pending),
            (3, 0, 3)
        );
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(fleet.describe().await.expect("readable").in_service, 0);
        tokio::time::advance(Duration::from_secs(1)).await;
        let ready = fleet.describe().await.expect("readable");
        assert_eq!((ready.in_service, ready.pending), (3, 0));
        assert_eq!(ready.idle_instances.len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn scale_in_spares_busy_instances() {
        let fleet = LocalFleet::new("local").boot_delay(Duration::from_secs(1));
        fleet.set_desired(3).await.expect("within bounds");
        tokio::time::advance(Duration::from_secs(1)).await;
        let ids = fleet.in_service_ids();
        fleet.set_busy(&ids[2], true);
        let reading = fleet.describe().await.expect("readable");
        assert_eq!(reading.busy, 1);
        fleet.set_desired(1).await.expect("within bounds");
        assert_eq!(fleet.in_service_ids(), vec![ids[2].clone()]);
        fleet
            .terminate_with_decrement(&ids[2])
            .await
            .expect("exists");
        assert_eq!(fleet.describe().await.expect("readable").desired, 0);
        let events = fleet
            .scaling_events(SystemTime::UNIX_EPOCH)
            .await
            .expect("readable");
        let changes: Vec<(u32, u32)> = events.iter().map(|e| (e.from, e.to)).collect();
        assert_eq!(changes, vec![(0, 3), (3, 1), (1, 0)]);
    }

    #[tokio::test]
    async fn refuses_a_capacity_outside_its_bounds() {
        let fleet = LocalFleet::new("local").bounds(1, 2);
        let error = fleet.set_desired(3).await.expect_err("above max");
        assert!(error
            .to_string()
            .contains("outside the group's bounds [1, 2]"));
        assert!(fleet.terminate_with_decrement("i-nope").await.is_err());
    }
}
