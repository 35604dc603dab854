//! `workpool simulate`: not built yet.

/// Options of `workpool simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `workpool simulate`.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`workpool simulate` is not built yet; see the open issues in the tracker")
}
