//! `workpool sidecar`: not built yet.

/// Options of `workpool sidecar`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `workpool sidecar`.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`workpool sidecar` is not built yet; see the open issues in the tracker")
}
