//! workpool-scaler: the controller that steers an Auto Scaling group from an SQS queue's depth.
//!
//! The heart is [`decide`], a pure function from an [`Observation`] (queue depth and group state), a
//! [`Policy`], the [`History`] and the time to a [`Decision`]: the desired capacity, the reason, and the
//! idle instances to let go. What it must remember between ticks (recommendations, the
//! [`ArrivalEstimate`], idle times) travels in the decision and is kept by [`History::record`].
//! Everything else is at the edges:
//!
//! - [`Controller`] runs one scaling target: read ([`QueueDepth`], [`Capacity`]), decide, publish
//!   ([`MetricsSink`]), apply; [`run_every`] runs several targets on an interval.
//! - [`aws`] implements the ports over SQS, CloudWatch and EC2 Auto Scaling; [`memory`] and
//!   [`LocalFleet`] implement them in memory (tests, the demo).
//! - [`simulate`] replays an arrival trace against a policy with the same `decide` and reports wait,
//!   cost and the lower bound, with an SVG chart.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use workpool_scaler::{decide, GroupReading, History, LatencyTarget, Observation, Policy, QueueReading};
//!
//! // 4 jobs at once per instance, 10 s per job, a message may wait 60 s.
//! let policy = Policy::latency_target(LatencyTarget::new(
//!     4,
//!     Duration::from_secs(10),
//!     Duration::from_secs(60),
//! ));
//! let observation = Observation {
//!     queue: Ok(QueueReading { visible: 48, not_visible: 8, delayed: 0 }),
//!     group: Ok(GroupReading { desired: 1, min: 0, max: 10, in_service: 1, ..Default::default() }),
//! };
//! let decision = decide(&observation, &policy, &History::new(), SystemTime::now());
//! // 8 in flight keep 2 instances busy. The 48 waiting should start within W = 3L/4 = 45 s, four
//! // and a half job times: 3 instances (12 slots) start 54 in that time, the 2 busy ones included.
//! assert_eq!(decision.desired, Some(3));
//! println!("{}", decision.reason); // scale out: the policy recommends 3
//! ```

mod arrival;
pub mod aws;
mod controller;
mod decide;
mod decision;
mod error;
mod history;
mod local_fleet;
pub mod memory;
mod observation;
mod policy;
mod ports;
pub mod simulate;

pub use arrival::{ArrivalEstimate, Fall};
pub use controller::{run_every, tick_all, Controller, TickReport};
pub use decide::decide;
pub use decision::{Decision, Reason, ScaleInLimit, ScaleOutLimit};
pub use error::Error;
pub use history::{History, ScalingEvent};
pub use local_fleet::LocalFleet;
pub use observation::{GroupReading, Input, Observation, QueueReading, ReadError};
pub use policy::{
    LatencyTarget, Policy, PolicyKind, PolicyProblem, Recommendation, ScalingRules, Thresholds,
};
pub use ports::{Capacity, MetricsSink, PublishedDepth, QueueDepth, TickMetrics};
