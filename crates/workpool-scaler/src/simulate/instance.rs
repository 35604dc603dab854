//! One simulated instance: when it comes into service and the jobs running in its slots. The
//! controller's simulation and the fixed-fleet yardstick start and end jobs on it the same way.

/// A simulated instance, billed from launch until it is released.
pub(super) struct Instance {
    /// Its number in the fleet, which names it (`i-00000007`).
    pub(super) id: u64,
    /// The second it comes into service (its launch plus the boot time).
    pub(super) ready_at: u64,
    /// When each running job ends, one entry per busy slot.
    pub(super) running: Vec<u64>,
}

impl Instance {
    /// Instance number `id`, launched now, that comes into service at `ready_at`, every slot free.
    pub(super) fn new(id: u64, ready_at: u64) -> Self {
        Self {
            id,
            ready_at,
            running: Vec::new(),
        }
    }

    /// Whether it is in service (booted) at `second`.
    pub(super) fn in_service(&self, second: u64) -> bool {
        self.ready_at <= second
    }

    /// The name the controller sees it by, as an EC2 instance id.
    pub(super) fn name(&self) -> String {
        format!("i-{:08}", self.id)
    }

    /// Whether no job is running on it.
    pub(super) fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// Frees the slots whose jobs have ended by `second`.
    pub(super) fn finish_jobs(&mut self, second: u64) {
        self.running.retain(|finish| *finish > second);
    }

    /// If it is in service at `second`, fills its free slots (of `slots`) with the jobs `next_waiting`
    /// hands out, oldest first, as `(arrival second, duration)`, until it has none; the wait of each
    /// job started goes to `waits`.
    pub(super) fn start_jobs(
        &mut self,
        second: u64,
        slots: usize,
        next_waiting: &mut impl FnMut() -> Option<(u64, u64)>,
        waits: &mut Vec<u64>,
    ) {
        if !self.in_service(second) {
            return;
        }
        while self.running.len() < slots {
            let Some((arrived, duration)) = next_waiting() else {
                return;
            };
            waits.push(second - arrived);
            self.running.push(second + duration);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_booting_instance_starts_nothing_and_a_booted_one_fills_its_free_slots_oldest_first() {
        let mut waiting = vec![(0, 10), (1, 20), (2, 30)].into_iter();
        let mut next = || waiting.next();
        let mut waits = Vec::new();
        let mut instance = Instance::new(0, 5);
        instance.start_jobs(4, 2, &mut next, &mut waits);
        assert!(instance.is_idle() && waits.is_empty());
        instance.start_jobs(5, 2, &mut next, &mut waits);
        assert_eq!(instance.running, vec![15, 25]);
        assert_eq!(waits, vec![5, 4]);
        // The first job ends at 15: its slot takes the next waiting job.
        instance.finish_jobs(15);
        instance.start_jobs(15, 2, &mut next, &mut waits);
        assert_eq!(instance.running, vec![25, 45]);
        assert_eq!(waits, vec![5, 4, 13]);
        instance.finish_jobs(45);
        assert!(instance.is_idle());
    }
}
