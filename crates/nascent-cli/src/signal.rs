//! The Ctrl-C policy of the `nascent` binary.

use anyhow::{Result, anyhow};
use nascent_study::StopSignal;
use std::sync::OnceLock;

/// The process's Ctrl-C signal: the first Ctrl-C (SIGINT, SIGTERM) raises it (a study then
/// re-queues its trials in flight and returns), a second one exits at once with status 130.
/// The handler is installed on the first call; later calls return the same signal.
pub fn ctrlc() -> Result<StopSignal> {
    static SIGNAL: OnceLock<std::result::Result<StopSignal, String>> = OnceLock::new();
    SIGNAL
        .get_or_init(|| {
            let s = StopSignal::new();
            let flag = s.clone();
            ctrlc::set_handler(move || {
                if flag.is_stopped() {
                    eprintln!("interrupted again: exiting now");
                    std::process::exit(130);
                }
                eprintln!(
                    "interrupted: finishing the current step, re-queueing the trials in \
                     flight (Ctrl-C again to exit at once)"
                );
                flag.stop();
            })
            .map_err(|e| e.to_string())?;
            Ok(s)
        })
        .clone()
        .map_err(|e| anyhow!("cannot install the Ctrl-C handler: {e}"))
}
