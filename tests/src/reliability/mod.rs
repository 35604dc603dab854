//! Helpers of the reliability suite (`tests/tests/reliability_*.rs`): a loopback TCP proxy that
//! can refuse connections to simulate an outage ([`FaultProxy`]), a ledger of deliveries per message
//! ([`Ledger`]) to count messages in and out, queue probes, a producer that keeps the queue shallow
//! ([`feed`]), log capture ([`LogCapture`]), process figures ([`rss_kib`], [`open_fds`]) and waiting
//! for a condition ([`eventually`]).

mod ledger;
mod logs;
mod process;
mod proxy;
mod queue;
mod waiting;

pub use ledger::{Ledger, LedgerReport};
pub use logs::LogCapture;
pub use process::{open_fds, rss_kib};
pub use proxy::FaultProxy;
pub use queue::{feed, send_bodies, QueueProbe};
pub use waiting::eventually;
