//! A throwaway PostgreSQL server for tests and benchmarks: a fresh cluster (`initdb`) in a
//! temporary directory, started with `pg_ctl` on a free port, stopped and deleted when the
//! [`PgServer`] drops (also when a test panics).
//!
//! PostgreSQL refuses to run as root, so when this process is root the server runs as the
//! `postgres` user (`runuser -u postgres`), which Debian's `postgresql` package creates. The
//! binaries are looked up on `PATH`, then in `/usr/lib/postgresql/<version>/bin` (Debian's
//! place), newest version first.
//!
//! [`PgServer::for_test`] is what tests call: `None` (with a line on stderr saying why) when
//! PostgreSQL is not installed and `CI` is not `true`; a panic when it is missing in CI.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running throwaway PostgreSQL server; stopped and deleted on drop.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    listen: String,
    as_postgres: bool,
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

impl PgServer {
    /// Starts a server for a test named `test`: `None` (saying why on stderr) when PostgreSQL
    /// is missing outside CI; panics when it is missing with `CI=true` or fails to start.
    pub fn for_test(test: &str) -> Option<PgServer> {
        Self::installed_for_test(test)
            .then(|| PgServer::start().unwrap_or_else(|e| panic!("{test}: {e}")))
    }

    /// Whether PostgreSQL is installed: `false` (saying why on stderr) outside CI; panics
    /// when it is missing with `CI=true`.
    pub fn installed_for_test(test: &str) -> bool {
        match find_bindir() {
            Some(_) => true,
            None => {
                let why = "PostgreSQL is not installed (no `initdb`/`pg_ctl` on PATH or in \
                           /usr/lib/postgresql/*/bin; Debian: apt-get install postgresql)";
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{test}: {why}, and CI=true requires it");
                }
                eprintln!("{test}: skipped: {why}");
                false
            }
        }
    }

    /// Starts a server on 127.0.0.1 and a free port.
    pub fn start() -> Result<PgServer, String> {
        Self::start_on("127.0.0.1")
    }

    /// Starts a server listening on `listen` (a comma-separated list of addresses, as
    /// PostgreSQL's `listen_addresses`) and a free port, accepting any user without a
    /// password from anywhere (it is a throwaway test server).
    pub fn start_on(listen: &str) -> Result<PgServer, String> {
        let bin = find_bindir().ok_or("PostgreSQL is not installed")?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("nascent-pg-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        let data = dir.path().join("data");
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(
                    "cannot give the temporary directory to user `postgres` (does the \
                            user exist? Debian's postgresql package creates it)"
                        .into(),
                );
            }
        }
        let mut server = PgServer {
            bin,
            dir,
            data,
            port: 0,
            listen: listen.to_string(),
            as_postgres,
        };
        let out = server.pg(
            "initdb",
            &[
                "-D",
                path_str(&server.data)?,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        )?;
        check(&out, "initdb")?;
        let hba = server.data.join("pg_hba.conf");
        let mut text = std::fs::read_to_string(&hba).map_err(|e| format!("pg_hba.conf: {e}"))?;
        text.push_str("\nhost all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n");
        std::fs::write(&hba, text).map_err(|e| format!("pg_hba.conf: {e}"))?;
        // A port found free may be taken before the server binds it: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            match server.ctl_start() {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn ctl_start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses={} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            self.port,
            path_str(self.dir.path())?,
            self.listen
        );
        let log = self.dir.path().join("server.log");
        let out = self.pg(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.data)?,
                "-l",
                path_str(&log)?,
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        check(&out, "pg_ctl start").map_err(|e| {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            format!("{e}\nserver log:\n{tail}")
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` on this server, reached at `host`.
    pub fn url_at(&self, host: &str, db: &str) -> String {
        format!("postgresql://postgres@{host}:{}/{db}", self.port)
    }

    /// The URL of database `db` on this server (via 127.0.0.1).
    pub fn url(&self, db: &str) -> String {
        self.url_at("127.0.0.1", db)
    }

    /// Creates a new empty database with a unique name and returns its URL.
    pub fn new_database(&self) -> Result<String, String> {
        let n = DATABASES.fetch_add(1, Ordering::SeqCst);
        let name = format!("nascent_{}_{n}", std::process::id());
        self.sql(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url(&name))
    }

    /// Runs one SQL statement as the superuser in database `postgres` (through `psql`).
    pub fn sql(&self, statement: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url("postgres"))
            .args(["-c", statement])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        check(&out, "psql")?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Terminates, server-side, every connection whose `application_name` is `app`; how many.
    pub fn terminate(&self, app: &str) -> Result<usize, String> {
        let out = self.sql(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = '{}'",
            app.replace('\'', "''")
        ))?;
        out.parse().map_err(|e| format!("`{out}`: {e}"))
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every connection is cut.
    pub fn restart(&self) -> Result<(), String> {
        self.stop("fast")?;
        self.ctl_start()
    }

    /// Stops the server (`pg_ctl stop -m MODE`).
    pub fn stop(&self, mode: &str) -> Result<(), String> {
        let out = self.pg(
            "pg_ctl",
            &["-D", path_str(&self.data)?, "-m", mode, "-w", "stop"],
        )?;
        check(&out, "pg_ctl stop")
    }

    /// Starts the server again after [`PgServer::stop`].
    pub fn start_again(&self) -> Result<(), String> {
        self.ctl_start()
    }

    fn pg(&self, tool: &str, args: &[&str]) -> Result<Output, String> {
        let exe = self.bin.join(tool);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        c.args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self.stop("immediate");
        }
    }
}

fn check(out: &Output, what: &str) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("`{}` is not valid UTF-8", p.display()))
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn is_root() -> bool {
    // /proc/self/status has "Uid: real effective saved fs".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The directory holding `initdb`, `pg_ctl` and `psql`, if PostgreSQL is installed.
pub fn find_bindir() -> Option<PathBuf> {
    let has_all = |d: &Path| {
        ["initdb", "pg_ctl", "psql"]
            .iter()
            .all(|t| d.join(t).is_file())
    };
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((v, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            // Debian's /usr/bin/psql is a wrapper; the real tools sit together elsewhere.
            if let Ok(real) = d.join("initdb").canonicalize()
                && let Some(parent) = real.parent()
            {
                candidates.push(parent.to_path_buf());
            }
        }
    }
    candidates.into_iter().find(|d| has_all(d))
}

/// Waits until `cond` holds or `timeout` passes; whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}
