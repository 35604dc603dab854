//! [`eventually`]: waiting for a condition with a deadline, instead of sleeping a fixed time.

use std::time::{Duration, Instant};

/// Waits until `done()` holds, looking every 50 ms; panics naming `what` after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
