//! One module per subcommand.

pub mod demo;
pub mod scale;
pub mod sidecar;
pub mod simulate;
