//! What happens to a message whose handler failed: [`FailurePolicy`], a pure function of the receive
//! count.

use std::time::Duration;

use crate::source::MAX_VISIBILITY;

/// How a failed message comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Leave the message alone: it comes back when its visibility timeout runs out.
    QueueTimeout,
    /// Set the visibility timeout to `initial × 2^(receive count − 1)`, capped at `max` (and at SQS's
    /// 12 hours), with up to 10 % random jitter so failures do not come back in lockstep.
    Exponential {
        /// The delay after the first failed delivery.
        initial: Duration,
        /// The longest delay.
        max: Duration,
    },
}

impl Default for FailurePolicy {
    /// Exponential from 2 seconds up to 15 minutes.
    fn default() -> Self {
        FailurePolicy::Exponential {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl FailurePolicy {
    /// The visibility timeout to set after a failure of a message received `receive_count` times, or
    /// `None` to leave it to the queue. `jitter` in `[0, 1)` scales the random part (tests pass 0).
    pub fn delay(&self, receive_count: u32, jitter: f64) -> Option<Duration> {
        match *self {
            FailurePolicy::QueueTimeout => None,
            FailurePolicy::Exponential { initial, max } => {
                let exponent = receive_count.saturating_sub(1).min(32);
                let base = initial
                    .saturating_mul(1u32 << exponent.min(31))
                    .min(max)
                    .min(MAX_VISIBILITY);
                let extra = base.mul_f64(0.1 * jitter.clamp(0.0, 1.0));
                Some((base + extra).min(max.max(initial)).min(MAX_VISIBILITY))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_with_each_delivery_up_to_the_cap() {
        let policy = FailurePolicy::Exponential {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let delays: Vec<_> = (1..=6)
            .map(|n| policy.delay(n, 0.0).unwrap().as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn queue_timeout_leaves_the_message_alone() {
        assert_eq!(FailurePolicy::QueueTimeout.delay(3, 0.5), None);
    }

    proptest! {
        #[test]
        fn never_exceeds_the_cap_or_twelve_hours(count in 0u32..1000, jitter in 0.0f64..1.0,
                                                 initial in 0u64..100_000, max in 0u64..100_000) {
            let policy = FailurePolicy::Exponential {
                initial: Duration::from_secs(initial), max: Duration::from_secs(max) };
            let delay = policy.delay(count, jitter).unwrap();
            prop_assert!(delay <= Duration::from_secs(max.max(initial)).min(MAX_VISIBILITY));
        }
    }
}
