//! `workpool demo`: not built yet.

/// Options of `workpool demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `workpool demo`.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`workpool demo` is not built yet; see the open issues in the tracker")
}
