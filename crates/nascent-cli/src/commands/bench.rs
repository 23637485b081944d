//! `nascent bench`: placeholder until the NB201 harness lands.

/// Arguments of `nascent bench`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    Err(anyhow::Error::new(crate::error::Internal(
        "`nascent bench` is not built yet".into(),
    )))
}
