//! `workpool scale`: not built yet.

/// Options of `workpool scale`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `workpool scale`.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`workpool scale` is not built yet; see the open issues in the tracker")
}
