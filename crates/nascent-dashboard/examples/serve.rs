//! Serves the dashboard over a storage URL until interrupted (what `nascent dashboard` does,
//! without building the CLI):
//!
//! ```text
//! cargo run --release -p nascent-dashboard --example serve -- sqlite:///path/to/nascent.db [HOST] [PORT]
//! ```

use std::sync::Arc;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: serve STORAGE_URL [HOST] [PORT]");
        std::process::exit(1);
    };
    let mut options = nascent_dashboard::DashboardOptions::default();
    if let Some(h) = args.next() {
        options.host = h;
    }
    if let Some(p) = args.next() {
        options.port = p.parse().unwrap_or_else(|_| {
            eprintln!("error: port `{p}` is not a number from 0 to 65535");
            std::process::exit(1);
        });
    }
    let storage: Arc<dyn nascent_core::storage::Storage> = match nascent_store::open(&url) {
        Ok(s) => s.into(),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let listener = match nascent_dashboard::bind(&options).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    // The address on stdout (a script may read it), the rest on stderr.
    println!("http://{}", listener.local_addr().expect("bound address"));
    eprintln!("serving {url}; Ctrl-C stops");
    if let Err(e) = nascent_dashboard::serve(listener, storage, options).await {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
