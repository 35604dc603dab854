//! The simulator: replays an arrival trace against a policy and reports queue wait, cost in
//! instance-minutes, scaling actions and the lower bound; renders an SVG chart of the run.

mod chart;
mod model;
mod report;
mod trace;

pub use chart::render_svg;
pub use model::{JobTimeDistribution, Simulation};
pub use report::{Sample, SimulationReport};
pub use trace::Trace;
