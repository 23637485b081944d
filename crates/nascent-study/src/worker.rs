//! Worker identities, whether a worker is still alive, and the stop signal.
//!
//! A worker id is `HOST:PID:rRUN:wINDEX`. A running trial whose worker lives on this host is
//! known to be abandoned when its process is gone (or, for this very process, when no run of
//! this process has that worker any more), so a study resumed right after a crash re-queues
//! its trials at once instead of waiting for their heartbeats to go stale. Trials of workers on
//! other hosts are re-queued when their heartbeat is stale.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// This machine's host name (`/proc/sys/kernel/hostname`, `$HOSTNAME`, or `localhost`).
pub fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        let h: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect();
        if h.is_empty() {
            "localhost".to_string()
        } else {
            h
        }
    })
}

fn live() -> &'static Mutex<HashSet<String>> {
    static LIVE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The worker ids of one run of this process, registered as alive until dropped.
#[derive(Debug)]
pub struct WorkerSet {
    ids: Vec<String>,
}

impl WorkerSet {
    /// Registers `n` new worker ids.
    pub fn new(n: usize) -> Self {
        static RUN: AtomicU64 = AtomicU64::new(0);
        let run = RUN.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let ids: Vec<String> = (0..n)
            .map(|i| format!("{}:{pid}:r{run}:w{i}", hostname()))
            .collect();
        let mut g = live().lock().unwrap_or_else(|e| e.into_inner());
        g.extend(ids.iter().cloned());
        WorkerSet { ids }
    }

    /// The ids.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }
}

impl Drop for WorkerSet {
    fn drop(&mut self) {
        let mut g = live().lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.ids {
            g.remove(id);
        }
    }
}

/// Whether a worker id belongs to a live run of this process.
pub fn is_live_here(worker: &str) -> bool {
    live()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(worker)
}

/// Whether `worker` is known to be dead: it ran on this host and its process is gone, or it
/// ran in this process and no run of this process has it. `false` when that cannot be known
/// (another host, an id of another format, no `/proc`).
pub fn is_known_dead(worker: &str) -> bool {
    let mut parts = worker.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    if host != hostname() {
        return false;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if pid == std::process::id() {
        return !is_live_here(worker);
    }
    process_gone(pid)
}

/// Whether process `pid` is gone (or a zombie), from `/proc`; `false` when unknown.
fn process_gone(pid: u32) -> bool {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            // `pid (comm) S ...`: the state follows the last ')'.
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].trim_start().chars().next());
            matches!(state, Some('Z') | Some('X'))
        }
    }
}

/// A flag that asks a run to stop: it stops claiming trials, re-queues the trials in flight
/// at their next intermediate value, and returns. The library installs no signal handler: a
/// program raises it from its own (the `nascent` binary's Ctrl-C handler does).
#[derive(Clone, Debug, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// A signal not raised.
    pub fn new() -> Self {
        Self::default()
    }

    /// Raises it.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether it is raised.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness() {
        let set = WorkerSet::new(2);
        let id = set.ids()[1].clone();
        assert!(id.starts_with(&format!("{}:{}:", hostname(), std::process::id())));
        assert!(!is_known_dead(&id));
        drop(set);
        assert!(is_known_dead(&id));
        // Another host: unknown, so not known dead.
        assert!(!is_known_dead("some-other-host:1:r0:w0"));
        assert!(!is_known_dead("not an id"));
        // A process that surely is gone (pids are below 2^22 on Linux).
        let gone = format!("{}:4294967:r0:w0", hostname());
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(is_known_dead(&gone));
        }
    }

    #[test]
    fn stop_signal() {
        let s = StopSignal::new();
        let t = s.clone();
        assert!(!t.is_stopped());
        s.stop();
        assert!(t.is_stopped());
    }
}
