//! The simulator: replays an arrival trace against a policy and reports queue wait, cost in
//! instance-minutes, scaling actions and the lower bound; renders an SVG chart of the run; computes
//! the offline bound with boot of a trace ([`offline_bound_with_boot`]), the best fixed-fleet
//! reaction to its bursts ([`best_fixed_fleet`]) and the expected burst bound
//! ([`expected_burst_bound`]).

mod bound;
mod burst_bound;
mod chart;
mod instance;
mod model;
mod reactive;
mod report;
mod trace;

pub use bound::{offline_bound_with_boot, BoundModel, BoundWindow, Job, OfflineBound};
pub use burst_bound::{expected_burst_bound, ExpectedBurstBound};
pub use chart::render_svg;
pub use model::{JobTimeDistribution, Simulation};
pub use reactive::{best_fixed_fleet, FixedFleet, ReactiveModel};
pub use report::{Sample, SimulationReport};
pub use trace::{Trace, TraceRowProblem};
