//! The queue's clock: every deadline is a [`tokio::time::Instant`] (so tests can pause time), and
//! wall-clock timestamps for messages are derived from it.

use std::time::SystemTime;

use tokio::time::Instant;

/// Maps the queue's monotonic instants to wall-clock time.
#[derive(Debug, Clone, Copy)]
pub(super) struct WallClock {
    origin: Instant,
    origin_wall: SystemTime,
}

impl WallClock {
    /// A clock anchored at the current instant.
    pub fn start() -> Self {
        Self {
            origin: Instant::now(),
            origin_wall: SystemTime::now(),
        }
    }

    /// The wall-clock time of `instant` (instants before the anchor map to the anchor).
    pub fn wall_time(&self, instant: Instant) -> SystemTime {
        self.origin_wall + instant.saturating_duration_since(self.origin)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn wall_time_follows_the_paused_clock() {
        let clock = WallClock::start();
        let before = clock.wall_time(Instant::now());
        tokio::time::sleep(Duration::from_secs(90)).await;
        let after = clock.wall_time(Instant::now());
        assert_eq!(
            after.duration_since(before).unwrap(),
            Duration::from_secs(90)
        );
    }
}
