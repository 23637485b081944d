//! `nascent dashboard`: the live, read-only web dashboard over a storage (nascent-dashboard).

use super::open_existing;
use anyhow::{Context, Result};
use std::sync::Arc;

/// Arguments of `nascent dashboard`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The storage URL (`nascent.db`, `sqlite:///path.db`).
    #[arg(long, default_value = "nascent.db")]
    pub storage: String,
    /// Show only this study.
    #[arg(long)]
    pub study: Option<String>,
    /// Address to listen on; the default serves this machine only.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

/// Runs the command: serves until interrupted. The address goes to stdout.
pub fn run(args: Args) -> Result<()> {
    let storage: Arc<dyn nascent_core::storage::Storage> = open_existing(&args.storage)?.into();
    if let Some(name) = &args.study {
        storage.study(name)?;
    }
    let options = nascent_dashboard::DashboardOptions {
        host: args.host,
        port: args.port,
        study: args.study,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the dashboard's runtime")?;
    rt.block_on(async move {
        let listener = nascent_dashboard::bind(&options).await?;
        let addr = listener.local_addr()?;
        println!("http://{addr}");
        eprintln!(
            "dashboard of {} at http://{addr} (Ctrl-C stops)",
            storage.url()
        );
        nascent_dashboard::serve(listener, storage, options).await?;
        Ok::<(), anyhow::Error>(())
    })
}
