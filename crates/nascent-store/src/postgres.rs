//! The PostgreSQL storage: one database shared by the workers of every machine.
//!
//! Opened from `postgresql://user[:password]@host[:port]/database` (also `postgres://`, and
//! any connection parameter the `postgres` crate accepts, such as `?application_name=w3` or
//! `?connect_timeout=5`). The tables are prefixed `nascent_`, so a database shared with other
//! applications (an Optuna storage has its own `studies` and `trials`) is left alone.
//!
//! - **Schema versioning.** `nascent_schema_version` holds the version; opening applies the
//!   missing [`PG_MIGRATIONS`] in one transaction under an advisory lock (so workers starting
//!   together migrate once), and a database from a newer nascent is refused with
//!   [`StorageError::NewerSchema`].
//! - **Claims.** A re-queued trial is claimed with `FOR UPDATE SKIP LOCKED`, so concurrent
//!   workers never wait on each other's candidate nor take the same one; a new trial is
//!   numbered under a lock of its study's row, so numbers stay contiguous and an architecture
//!   is created once.
//! - **Fencing.** Every write of a running trial (heartbeat, intermediate value, result)
//!   checks, in the same transaction, that the writing worker still holds it. Worker ids are
//!   unique per worker thread and process run (`host:pid:run:worker`), and re-queueing clears
//!   the holder, so a worker whose trial was re-queued (its heartbeat went stale while it was
//!   cut off) has its late heartbeat, values and result refused
//!   ([`StorageError::Conflict`]), whether the trial waits in the queue or another worker
//!   holds or finished it.
//! - **Indexes** for what runs at every trial: the queue (partial index on queued trials), a
//!   trial by number or architecture (unique indexes), the ranking of completed trials by the
//!   first objective (`ranked_trials`, used by `nascent best`), intermediate values by step
//!   (pruners). A study's trial count is kept on its row. None of these costs grows with the
//!   number of stored trials.
//! - **Resilience.** Each operation is one transaction. When the connection fails (server
//!   restarted, network cut, connection terminated) the operation reconnects with exponential
//!   backoff and runs again, for up to [`PgOptions::retry_for`]; after that it fails with an
//!   error saying so, and the trial it concerned stays running without heartbeat, for another
//!   worker to re-queue. Retried writes are idempotent: a retried claim returns the trial the
//!   lost attempt claimed, a retried creation the trial it created, a retried finish succeeds
//!   when the lost attempt committed.

use crate::memory::{check_result, held_by};
use nascent_core::storage::{
    Artefact, ArtefactKind, CreateOutcome, NewTrial, RequeueIf, StepValue, Storage, StorageError,
    StorageResult, StudyCounts, StudyId, StudyRecord, StudySpec, TrialRecord, TrialResult, now,
};
use nascent_core::{Budget, Direction, Metrics, TrialState};
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Row, Statement, Transaction};
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The schema migrations, in order: migration `i` (0-based) brings a database from version `i`
/// to version `i + 1`.
pub const PG_MIGRATIONS: &[&str] = &[
    // Version 1: studies, trials (with their metrics and objective values), intermediate
    // values, artefacts, and the indexes of every operation that runs per trial.
    r#"
    CREATE TABLE nascent_studies (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        space TEXT NOT NULL,
        objectives TEXT NOT NULL,
        constraints TEXT NOT NULL,
        config TEXT NOT NULL,
        seed BIGINT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        elapsed_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
        rank_sign DOUBLE PRECISION,
        n_trials BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE nascent_trials (
        id BIGSERIAL PRIMARY KEY,
        study_id BIGINT NOT NULL REFERENCES nascent_studies(id) ON DELETE CASCADE,
        number BIGINT NOT NULL,
        arch TEXT NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL')),
        reason TEXT,
        budget TEXT NOT NULL,
        seed BIGINT NOT NULL,
        worker TEXT,
        created DOUBLE PRECISION NOT NULL,
        started DOUBLE PRECISION,
        finished DOUBLE PRECISION,
        heartbeat DOUBLE PRECISION,
        cost_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 1,
        epochs INTEGER NOT NULL DEFAULT 0,
        metric_names TEXT[] NOT NULL DEFAULT '{}',
        metric_values DOUBLE PRECISION[] NOT NULL DEFAULT '{}',
        objective_values DOUBLE PRECISION[] NOT NULL DEFAULT '{}',
        rank_value DOUBLE PRECISION,
        UNIQUE (study_id, number),
        UNIQUE (study_id, arch)
    );
    CREATE INDEX nascent_trials_queued ON nascent_trials (study_id, number)
        WHERE state = 'RUNNING' AND worker IS NULL;
    CREATE INDEX nascent_trials_running ON nascent_trials (study_id, worker)
        WHERE state = 'RUNNING';
    CREATE INDEX nascent_trials_ranked ON nascent_trials (study_id, rank_value DESC, number)
        WHERE rank_value IS NOT NULL;
    CREATE INDEX nascent_trials_by_state ON nascent_trials (study_id, state);
    CREATE TABLE nascent_intermediate (
        study_id BIGINT NOT NULL,
        number BIGINT NOT NULL,
        step INTEGER NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (study_id, number, step),
        FOREIGN KEY (study_id, number) REFERENCES nascent_trials (study_id, number)
            ON DELETE CASCADE
    );
    CREATE INDEX nascent_intermediate_by_step ON nascent_intermediate (study_id, step, number);
    CREATE TABLE nascent_artefacts (
        id BIGSERIAL PRIMARY KEY,
        study_id BIGINT NOT NULL REFERENCES nascent_studies(id) ON DELETE CASCADE,
        trial_number BIGINT,
        kind TEXT NOT NULL CHECK (kind IN ('checkpoint', 'export', 'report', 'other')),
        path TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX nascent_artefacts_by_study ON nascent_artefacts (study_id, id);
    "#,
    // Version 2: the order trials finished in (the order a strategy was told of them), so a
    // resumed study replays it exactly: a per-study counter taken under the study's row lock
    // when a trial finishes; older finished trials are numbered by finish time.
    r#"
    ALTER TABLE nascent_studies ADD COLUMN n_finished BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE nascent_trials ADD COLUMN sequence BIGINT;
    UPDATE nascent_trials t SET sequence = r.rn FROM (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY study_id ORDER BY finished, number) - 1 AS rn
        FROM nascent_trials WHERE state <> 'RUNNING') r
    WHERE r.id = t.id;
    UPDATE nascent_studies s SET n_finished = (
        SELECT COUNT(*) FROM nascent_trials t WHERE t.study_id = s.id AND t.state <> 'RUNNING');
    "#,
    // Version 3: the finished trials counted by state, and their epochs, kept with the study
    // (added to under its row lock when a trial finishes), so that counting a study's trials
    // reads only its running ones.
    r#"
    ALTER TABLE nascent_studies ADD COLUMN n_complete BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE nascent_studies ADD COLUMN n_pruned BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE nascent_studies ADD COLUMN n_failed BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE nascent_studies ADD COLUMN epochs_finished BIGINT NOT NULL DEFAULT 0;
    UPDATE nascent_studies s SET
        n_complete = (SELECT COUNT(*) FROM nascent_trials t
                      WHERE t.study_id = s.id AND t.state = 'COMPLETE'),
        n_pruned = (SELECT COUNT(*) FROM nascent_trials t
                    WHERE t.study_id = s.id AND t.state = 'PRUNED'),
        n_failed = (SELECT COUNT(*) FROM nascent_trials t
                    WHERE t.study_id = s.id AND t.state = 'FAIL'),
        epochs_finished = (SELECT COALESCE(SUM(epochs), 0) FROM nascent_trials t
                           WHERE t.study_id = s.id AND t.state <> 'RUNNING');
    "#,
];

/// The schema version this build writes.
pub const PG_SCHEMA_VERSION: i64 = PG_MIGRATIONS.len() as i64;

/// An advisory-lock key (any constant) taken while migrating.
const MIGRATION_LOCK: i64 = 0x6e61_7363_656e_7401;

/// How a PostgreSQL storage is opened.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// How long an operation keeps reconnecting and retrying when the database is
    /// unreachable before it fails. Default: `NASCENT_STORAGE_RETRY_SECONDS` or 300 s.
    pub retry_for: Duration,
    /// How long one connection attempt may take (unless the URL sets `connect_timeout`).
    pub connect_timeout: Duration,
    /// How long sent data may stay unacknowledged before the connection counts as broken
    /// (TCP user timeout; also TCP keepalives), so a cut network is noticed.
    pub tcp_timeout: Duration,
    /// Apply migrations up to this version only (tests of migrations); `None` for the newest.
    pub schema_version: Option<i64>,
}

impl Default for PgOptions {
    fn default() -> Self {
        let retry = std::env::var("NASCENT_STORAGE_RETRY_SECONDS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(300.0);
        PgOptions {
            retry_for: Duration::from_secs_f64(retry),
            connect_timeout: Duration::from_secs(10),
            tcp_timeout: Duration::from_secs(20),
            schema_version: None,
        }
    }
}

/// A storage in a PostgreSQL database.
pub struct PostgresStorage {
    url: String,
    config: postgres::Config,
    options: PgOptions,
    /// Idle connections: an operation takes one (or opens one) and puts it back, so the
    /// threads of a process (workers, heartbeats) use the database at the same time.
    pool: Mutex<Vec<Conn>>,
}

/// A connection and its prepared statements (prepared once per connection, so each
/// statement afterwards costs one round trip).
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

/// How an operation runs: statements on their own (each atomic; for operations whose write is
/// one statement, and reads of one statement), in a read-write transaction, or in a read-only
/// transaction with one snapshot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Auto,
    Write,
    Read,
}

enum Exec<'a> {
    Tx(Transaction<'a>),
    Client(&'a mut Client),
}

/// What an operation's body talks to: the connection or its open transaction, with the
/// statement cache.
struct Db<'a> {
    exec: Exec<'a>,
    statements: &'a mut HashMap<&'static str, Statement>,
}

type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Db<'_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = match &mut self.exec {
            Exec::Tx(tx) => tx.prepare(sql)?,
            Exec::Client(c) => c.prepare(sql)?,
        };
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        let st = self.statement(sql)?;
        match &mut self.exec {
            Exec::Tx(tx) => tx.query(&st, params),
            Exec::Client(c) => c.query(&st, params),
        }
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        let st = self.statement(sql)?;
        match &mut self.exec {
            Exec::Tx(tx) => tx.query_opt(&st, params),
            Exec::Client(c) => c.query_opt(&st, params),
        }
    }

    fn query_one(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Row, postgres::Error> {
        let st = self.statement(sql)?;
        match &mut self.exec {
            Exec::Tx(tx) => tx.query_one(&st, params),
            Exec::Client(c) => c.query_one(&st, params),
        }
    }

    fn execute(&mut self, sql: &'static str, params: &Params<'_>) -> Result<u64, postgres::Error> {
        let st = self.statement(sql)?;
        match &mut self.exec {
            Exec::Tx(tx) => tx.execute(&st, params),
            Exec::Client(c) => c.execute(&st, params),
        }
    }

    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        match &mut self.exec {
            Exec::Tx(tx) => tx.batch_execute(sql),
            Exec::Client(c) => c.batch_execute(sql),
        }
    }
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Why one attempt at an operation failed: a refusal to return as is, or a database error
/// (retried when it is a lost connection).
enum Fail {
    Storage(StorageError),
    Db(postgres::Error),
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::Storage(e)
    }
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Fail::Db(e)
    }
}

type Attempt<T> = Result<T, Fail>;

/// Whether an error means "try again on a fresh connection": the connection broke or could not
/// be made, the server is shutting down or starting up, or the transaction lost a
/// serialization race.
fn transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08")
            || matches!(c, "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        source = s.source();
    }
    // No database code and no I/O cause: a connection-level failure (timeout, closed
    // stream) unless it names a conversion problem.
    let text = e.to_string();
    !(text.contains("deserializing") || text.contains("serializing"))
}

impl PostgresStorage {
    /// Connects to the database `url` names with default options, creating or migrating the
    /// schema.
    pub fn open(url: &str) -> StorageResult<Self> {
        Self::open_with(url, &PgOptions::default())
    }

    /// Connects with `options`.
    pub fn open_with(url: &str, options: &PgOptions) -> StorageResult<Self> {
        let open_err = |reason: String| StorageError::Open {
            url: url.to_string(),
            reason,
        };
        let mut config = postgres::Config::from_str(url.trim()).map_err(|e| StorageError::Url {
            url: url.to_string(),
            reason: format!("not a PostgreSQL connection URL: {e}"),
        })?;
        if config.get_dbname().is_none() {
            return Err(StorageError::Url {
                url: url.to_string(),
                reason: "no database name (use `postgresql://user@host:port/database`)".into(),
            });
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("nascent");
        }
        // Statements are prepared once per connection; plan each execution with its values,
        // so that a range such as `number >= $2` uses the index however many trials there are
        // (a generic plan guesses a third of the table).
        let server_options = match config.get_options() {
            Some(o) => format!("{o} -c plan_cache_mode=force_custom_plan"),
            None => "-c plan_cache_mode=force_custom_plan".to_string(),
        };
        config.options(&server_options);
        config
            .keepalives(true)
            .keepalives_idle(options.tcp_timeout / 2)
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3)
            .tcp_user_timeout(options.tcp_timeout);
        let storage = PostgresStorage {
            url: url.to_string(),
            config,
            options: options.clone(),
            pool: Mutex::new(Vec::new()),
        };
        let target = options.schema_version.unwrap_or(PG_SCHEMA_VERSION);
        // Fail fast at opening when the server cannot be reached at all (a wrong URL), but
        // wait through a server that is starting up.
        let client = storage.connect().map_err(|e| open_err(e.to_string()))?;
        storage.pool().push(Conn {
            client,
            statements: HashMap::new(),
        });
        storage
            .run("migrate", Mode::Write, |db, _| migrate(db, url, target))
            .map_err(|e| match e {
                StorageError::Backend { reason, .. } => open_err(reason),
                e => e,
            })?;
        Ok(storage)
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> StorageResult<i64> {
        self.run("schema_version", Mode::Auto, |db, _| {
            Ok(db
                .query_one("SELECT MAX(version) FROM nascent_schema_version", &[])?
                .get::<_, Option<i64>>(0)
                .unwrap_or(0))
        })
    }

    /// Returns a healthy connection to the pool.
    fn give_back(&self, conn: Option<Conn>) {
        if let Some(c) = conn
            && !c.client.is_closed()
        {
            self.pool().push(c);
        }
    }

    fn pool(&self) -> MutexGuard<'_, Vec<Conn>> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connect(&self) -> Result<Client, postgres::Error> {
        let deadline = Instant::now() + self.options.retry_for;
        let mut pause = Duration::from_millis(50);
        loop {
            match self.config.connect(NoTls) {
                Ok(c) => return Ok(c),
                // "The database system is starting up": wait for it.
                Err(e)
                    if e.code().is_some_and(|c| c.code() == "57P03")
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn be(&self, e: impl std::fmt::Display) -> StorageError {
        StorageError::Backend {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }

    fn corrupt(&self, what: &str, e: impl std::fmt::Display) -> StorageError {
        StorageError::Backend {
            url: self.url.clone(),
            reason: format!("corrupt {what}: {e}"),
        }
    }

    /// Runs `f` (in a transaction, committed, unless `mode` is [`Mode::Auto`]); on a lost
    /// connection reconnects with backoff and runs `f` again (its second argument then
    /// `true`), for up to [`PgOptions::retry_for`].
    fn run<T>(
        &self,
        op: &str,
        mode: Mode,
        mut f: impl FnMut(&mut Db<'_>, bool) -> Attempt<T>,
    ) -> StorageResult<T> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(50);
        let mut retry = false;
        let mut last_warning: Option<Instant> = None;
        let mut guard: Option<Conn> = self.pool().pop();
        loop {
            let attempt = (|| -> Attempt<T> {
                if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
                    guard = None;
                    guard = Some(Conn {
                        client: self.connect()?,
                        statements: HashMap::new(),
                    });
                }
                let Conn { client, statements } = guard.as_mut().expect("connected above");
                if mode == Mode::Auto {
                    let mut db = Db {
                        exec: Exec::Client(client),
                        statements,
                    };
                    return f(&mut db, retry);
                }
                let tx = if mode == Mode::Read {
                    client
                        .build_transaction()
                        .isolation_level(IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()?
                } else {
                    client.transaction()?
                };
                let mut db = Db {
                    exec: Exec::Tx(tx),
                    statements,
                };
                let out = f(&mut db, retry)?;
                if let Exec::Tx(tx) = db.exec {
                    tx.commit()?;
                }
                Ok(out)
            })();
            match attempt {
                Ok(v) => {
                    if retry {
                        log::info!(
                            "storage `{}`: {op} went through after {:.1} s of retries",
                            self.url,
                            start.elapsed().as_secs_f64()
                        );
                    }
                    self.give_back(guard);
                    return Ok(v);
                }
                Err(Fail::Storage(e)) => {
                    self.give_back(guard);
                    return Err(e);
                }
                Err(Fail::Db(e)) if transient(&e) => {
                    if guard.as_ref().is_some_and(|c| c.client.is_closed()) || e.code().is_none() {
                        guard = None;
                    }
                    if start.elapsed() >= self.options.retry_for {
                        return Err(StorageError::Backend {
                            url: self.url.clone(),
                            reason: format!(
                                "gave up on {op} after retrying for {:.0} s (the limit; set \
                                 NASCENT_STORAGE_RETRY_SECONDS to wait longer): {e}",
                                self.options.retry_for.as_secs_f64()
                            ),
                        });
                    }
                    if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        log::warn!(
                            "storage `{}`: {op} failed ({e}); reconnecting and retrying for up \
                             to {:.0} s",
                            self.url,
                            self.options.retry_for.as_secs_f64()
                        );
                        last_warning = Some(Instant::now());
                    }
                    // Jitter, so that workers cut off together do not return in lockstep.
                    let jitter = Duration::from_micros(
                        (now().fract() * 1e6) as u64 % (pause.as_micros() as u64 / 2 + 1),
                    );
                    std::thread::sleep(pause + jitter);
                    pause = (pause * 2).min(Duration::from_secs(2));
                    retry = true;
                }
                Err(Fail::Db(e)) => {
                    self.give_back(guard);
                    return Err(self.be(describe(&e)));
                }
            }
        }
    }

    fn check_study(&self, db: &mut Db<'_>, study: StudyId) -> Attempt<()> {
        match db.query_opt("SELECT 1 FROM nascent_studies WHERE id = $1", &[&study.0])? {
            Some(_) => Ok(()),
            None => Err(self.no_study_id(study).into()),
        }
    }

    fn no_study_id(&self, study: StudyId) -> StorageError {
        StorageError::Invalid {
            what: "study id",
            reason: format!("no study with id {} in `{}`", study.0, self.url),
        }
    }

    /// The error for a missing trial: an unknown study id or an unknown number.
    fn missing_trial(&self, db: &mut Db<'_>, study: StudyId, number: u64) -> Fail {
        match self.check_study(db, study) {
            Err(e) => e,
            Ok(()) => StorageError::NoTrial {
                study: study.0,
                number,
            }
            .into(),
        }
    }

    /// Why a write of `worker` to trial `number` matched no row: no such study or trial, the
    /// trial is not running, or another worker holds it (the fencing refusal).
    fn refusal(&self, db: &mut Db<'_>, study: StudyId, number: u64, worker: &str) -> Fail {
        let row = match db.query_opt(
            "SELECT state, worker FROM nascent_trials WHERE study_id = $1 AND number = $2",
            &[&study.0, &(number as i64)],
        ) {
            Ok(r) => r,
            Err(e) => return e.into(),
        };
        let Some(r) = row else {
            return self.missing_trial(db, study, number);
        };
        let state: String = r.get(0);
        let Some(state) = TrialState::parse(&state) else {
            return self
                .corrupt(&format!("column `state` of trial {number}"), &state)
                .into();
        };
        match held_by(
            study,
            number,
            state,
            r.get::<_, Option<String>>(1).as_deref(),
            worker,
        ) {
            Err(e) => e.into(),
            Ok(()) => self
                .be(format!(
                    "trial {number}: the write matched no row although it is held"
                ))
                .into(),
        }
    }

    fn decode_study(&self, r: &Row) -> StorageResult<StudyRecord> {
        let name: String = r.get(1);
        let what = |col: &str| format!("column `{col}` of study `{name}`");
        Ok(StudyRecord {
            id: StudyId(r.get(0)),
            space: r.get(2),
            objectives: serde_json::from_str(r.get(3))
                .map_err(|e| self.corrupt(&what("objectives"), e))?,
            constraints: serde_json::from_str(r.get(4))
                .map_err(|e| self.corrupt(&what("constraints"), e))?,
            config: serde_json::from_str(r.get(5)).map_err(|e| self.corrupt(&what("config"), e))?,
            seed: r.get::<_, i64>(6) as u64,
            created: r.get(7),
            elapsed_seconds: r.get(8),
            name,
        })
    }

    /// A trial from a row of [`trial_columns!`].
    fn decode_trial(&self, study: StudyId, r: &Row) -> StorageResult<TrialRecord> {
        let number: i64 = r.get(0);
        let what = |col: &str| format!("column `{col}` of trial {number}");
        let state: String = r.get(3);
        let names: Vec<String> = r.get(16);
        let values: Vec<f64> = r.get(17);
        if names.len() != values.len() {
            return Err(self.corrupt(
                &what("metric_values"),
                format!("{} names but {} values", names.len(), values.len()),
            ));
        }
        let steps: Vec<i32> = r.get(18);
        let step_values: Vec<f64> = r.get(19);
        Ok(TrialRecord {
            study,
            number: number as u64,
            arch: r.get(1),
            params: serde_json::from_str(r.get(2)).map_err(|e| self.corrupt(&what("params"), e))?,
            state: TrialState::parse(&state).ok_or_else(|| self.corrupt(&what("state"), &state))?,
            reason: r.get(4),
            budget: serde_json::from_str::<Budget>(r.get(5))
                .map_err(|e| self.corrupt(&what("budget"), e))?,
            seed: r.get::<_, i64>(6) as u64,
            worker: r.get(7),
            created: r.get(8),
            started: r.get(9),
            finished: r.get(10),
            heartbeat: r.get(11),
            cost_seconds: r.get(12),
            attempts: r.get::<_, i32>(13) as u32,
            epochs: r.get::<_, i32>(14) as u32,
            values: r.get(15),
            metrics: names.into_iter().zip(values).collect::<Metrics>(),
            intermediate: steps
                .into_iter()
                .map(|s| s as u32)
                .zip(step_values)
                .collect(),
            sequence: r.get::<_, Option<i64>>(20).map(|s| s as u64),
        })
    }

    fn decode_all(&self, study: StudyId, rows: &[Row]) -> Attempt<Vec<TrialRecord>> {
        Ok(rows
            .iter()
            .map(|r| self.decode_trial(study, r))
            .collect::<StorageResult<_>>()?)
    }

    fn one(&self, db: &mut Db<'_>, study: StudyId, number: u64) -> Attempt<TrialRecord> {
        match db.query_opt(
            concat!(
                "SELECT ",
                trial_columns!(),
                " FROM nascent_trials t WHERE t.study_id = $1 AND t.number = $2"
            ),
            &[&study.0, &(number as i64)],
        )? {
            Some(r) => Ok(self.decode_trial(study, &r)?),
            None => Err(self.missing_trial(db, study, number)),
        }
    }
}

/// The columns a trial is read from (over `t`): its row, and its intermediate values as two
/// arrays ordered by step (one statement, so one snapshot and one round trip).
macro_rules! trial_columns {
    () => {
        "t.number, t.arch, t.params, t.state, t.reason, t.budget, t.seed, t.worker, t.created, \
         t.started, t.finished, t.heartbeat, t.cost_seconds, t.attempts, t.epochs, \
         t.objective_values, t.metric_names, t.metric_values, \
         ARRAY(SELECT i.step FROM nascent_intermediate i \
               WHERE i.study_id = t.study_id AND i.number = t.number ORDER BY i.step), \
         ARRAY(SELECT i.value FROM nascent_intermediate i \
               WHERE i.study_id = t.study_id AND i.number = t.number ORDER BY i.step), \
         t.sequence"
    };
}
use trial_columns;

macro_rules! study_columns {
    () => {
        "id, name, space, objectives, constraints, config, seed, created, elapsed_seconds"
    };
}

fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn json(v: &impl serde::Serialize) -> String {
    // Serialising plain data (maps with string keys, numbers, strings) cannot fail.
    serde_json::to_string(v).expect("plain data serialises to JSON")
}

/// Brings the database to `target` (creating the schema in a database without one); refuses
/// newer ones.
fn migrate(db: &mut Db<'_>, url: &str, target: i64) -> Attempt<()> {
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    db.batch_execute(
        "CREATE TABLE IF NOT EXISTS nascent_schema_version (version BIGINT NOT NULL)",
    )?;
    let version: i64 = db
        .query_one("SELECT MAX(version) FROM nascent_schema_version", &[])?
        .get::<_, Option<i64>>(0)
        .unwrap_or(0);
    if version > PG_SCHEMA_VERSION {
        return Err(StorageError::NewerSchema {
            url: url.to_string(),
            found: version,
            supported: PG_SCHEMA_VERSION,
        }
        .into());
    }
    if version < target {
        for (i, sql) in PG_MIGRATIONS
            .iter()
            .enumerate()
            .take(target as usize)
            .skip(version as usize)
        {
            db.batch_execute(sql).map_err(|e| {
                if transient(&e) {
                    Fail::Db(e)
                } else {
                    Fail::Storage(StorageError::Open {
                        url: url.to_string(),
                        reason: format!(
                            "migration to schema version {} failed: {}",
                            i + 1,
                            describe(&e)
                        ),
                    })
                }
            })?;
        }
        db.execute("DELETE FROM nascent_schema_version", &[])?;
        db.execute(
            "INSERT INTO nascent_schema_version (version) VALUES ($1)",
            &[&target],
        )?;
        if version > 0 {
            log::info!("storage `{url}`: migrated schema version {version} to {target}");
        }
    }
    // Statements prepared before the schema existed would be stale.
    db.statements.clear();
    Ok(())
}

fn rank_sign(spec: &StudySpec) -> Option<f64> {
    spec.objectives.first().map(|o| match o.direction {
        Direction::Maximize => 1.0,
        Direction::Minimize => -1.0,
    })
}

impl Storage for PostgresStorage {
    fn url(&self) -> &str {
        &self.url
    }

    fn create_study(&self, spec: &StudySpec) -> StorageResult<StudyRecord> {
        let objectives = json(&spec.objectives);
        let constraints = json(&spec.constraints);
        let config = json(&spec.config);
        let seed = spec.seed as i64;
        let sign = rank_sign(spec);
        self.run("create_study", Mode::Auto, |db, retry| {
            let created = now();
            let row = db.query_opt(
                "INSERT INTO nascent_studies \
                 (name, space, objectives, constraints, config, seed, created, rank_sign) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING \
                 RETURNING id",
                &[
                    &spec.name,
                    &spec.space,
                    &objectives,
                    &constraints,
                    &config,
                    &seed,
                    &created,
                    &sign,
                ],
            )?;
            if let Some(row) = row {
                return Ok(StudyRecord {
                    id: StudyId(row.get(0)),
                    name: spec.name.clone(),
                    space: spec.space.clone(),
                    objectives: spec.objectives.clone(),
                    constraints: spec.constraints.clone(),
                    config: spec.config.clone(),
                    seed: spec.seed,
                    created,
                    elapsed_seconds: 0.0,
                });
            }
            if retry {
                // The lost attempt may have created it: the same study is this one.
                let r = db.query_one(
                    concat!(
                        "SELECT ",
                        study_columns!(),
                        " FROM nascent_studies WHERE name = $1"
                    ),
                    &[&spec.name],
                )?;
                let existing = self.decode_study(&r)?;
                if existing.space == spec.space
                    && existing.objectives == spec.objectives
                    && existing.constraints == spec.constraints
                    && existing.config == spec.config
                    && existing.seed == spec.seed
                {
                    return Ok(existing);
                }
            }
            Err(StorageError::StudyExists {
                url: self.url.clone(),
                name: spec.name.clone(),
            }
            .into())
        })
    }

    fn study(&self, name: &str) -> StorageResult<StudyRecord> {
        let row = self.run("study", Mode::Auto, |db, _| {
            Ok(db.query_opt(
                concat!(
                    "SELECT ",
                    study_columns!(),
                    " FROM nascent_studies WHERE name = $1"
                ),
                &[&name],
            )?)
        })?;
        match row {
            Some(r) => self.decode_study(&r),
            None => Err(StorageError::NoStudy {
                url: self.url.clone(),
                name: name.to_string(),
            }),
        }
    }

    fn studies(&self) -> StorageResult<Vec<StudyRecord>> {
        let rows = self.run("studies", Mode::Auto, |db, _| {
            Ok(db.query(
                concat!(
                    "SELECT ",
                    study_columns!(),
                    " FROM nascent_studies ORDER BY id"
                ),
                &[],
            )?)
        })?;
        rows.iter().map(|r| self.decode_study(r)).collect()
    }

    fn record_elapsed(&self, study: StudyId, seconds: f64) -> StorageResult<()> {
        self.run("record_elapsed", Mode::Auto, |db, _| {
            let n = db.execute(
                "UPDATE nascent_studies SET elapsed_seconds = GREATEST(elapsed_seconds, $2) \
                 WHERE id = $1 AND elapsed_seconds < $2",
                &[&study.0, &seconds],
            )?;
            if n == 0 {
                self.check_study(db, study)?;
            }
            Ok(())
        })
    }

    fn create_trial(
        &self,
        study: StudyId,
        trial: &NewTrial,
        max_trials: Option<u64>,
    ) -> StorageResult<CreateOutcome> {
        let params = json(&trial.params);
        let budget = json(&trial.budget);
        let seed = trial.seed as i64;
        self.run("create_trial", Mode::Write, |db, retry| {
            // The study's row lock numbers trials one at a time (the row read is its latest
            // version once the lock is granted).
            let Some(row) = db.query_opt(
                "SELECT n_trials FROM nascent_studies WHERE id = $1 FOR UPDATE",
                &[&study.0],
            )?
            else {
                return Err(self.no_study_id(study).into());
            };
            let count: i64 = row.get(0);
            let t = now();
            let inserted = if max_trials.is_some_and(|m| count as u64 >= m) {
                None
            } else {
                // The unique index on the architecture decides, atomically, whether it is new.
                db.query_opt(
                    "WITH ins AS (INSERT INTO nascent_trials (study_id, number, arch, params, \
                         state, budget, seed, worker, created, started, heartbeat, attempts, \
                         epochs) \
                         VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, $7, $8, $8, $8, 1, 0) \
                         ON CONFLICT (study_id, arch) DO NOTHING RETURNING number) \
                     UPDATE nascent_studies s SET n_trials = ins.number + 1 FROM ins \
                     WHERE s.id = $1 RETURNING ins.number",
                    &[
                        &study.0,
                        &count,
                        &trial.arch,
                        &params,
                        &budget,
                        &seed,
                        &trial.worker,
                        &t,
                    ],
                )?
            };
            if inserted.is_none() {
                // Already a trial (committed before the lock was granted, so visible to this
                // new statement), or the study is full.
                let Some(r) = db.query_opt(
                    "SELECT number, worker, attempts, state FROM nascent_trials \
                     WHERE study_id = $1 AND arch = $2",
                    &[&study.0, &trial.arch],
                )?
                else {
                    return Ok(CreateOutcome::LimitReached);
                };
                let number: i64 = r.get(0);
                let ours = r.get::<_, Option<String>>(1).as_deref() == Some(&trial.worker)
                    && r.get::<_, i32>(2) == 1
                    && r.get::<_, String>(3) == "RUNNING";
                if retry && ours {
                    // The lost attempt created it.
                    let t = self.one(db, study, number as u64)?;
                    return Ok(CreateOutcome::Created(Box::new(t)));
                }
                return Ok(CreateOutcome::Exists(number as u64));
            }
            Ok(CreateOutcome::Created(Box::new(TrialRecord::created(
                study,
                count as u64,
                trial,
                t,
            ))))
        })
    }

    fn claim_queued(&self, study: StudyId, worker: &str) -> StorageResult<Option<TrialRecord>> {
        self.run("claim_queued", Mode::Auto, |db, retry| {
            if retry {
                // A worker holds one trial at a time: one it holds now is the one the lost
                // attempt claimed.
                if let Some(r) = db.query_opt(
                    concat!(
                        "SELECT ",
                        trial_columns!(),
                        " FROM nascent_trials t WHERE t.study_id = $1 AND t.state = 'RUNNING' \
                         AND t.worker = $2 ORDER BY t.number LIMIT 1"
                    ),
                    &[&study.0, &worker],
                )? {
                    return Ok(Some(self.decode_trial(study, &r)?));
                }
            }
            // One statement: the lowest queued trial not locked by another claimer.
            let row = db.query_opt(
                concat!(
                    "UPDATE nascent_trials t SET worker = $2, started = $3, heartbeat = $3, \
                     attempts = attempts + 1 \
                     WHERE t.id = (SELECT q.id FROM nascent_trials q WHERE q.study_id = $1 \
                         AND q.state = 'RUNNING' AND q.worker IS NULL ORDER BY q.number LIMIT 1 \
                         FOR UPDATE SKIP LOCKED) \
                     RETURNING ",
                    trial_columns!()
                ),
                &[&study.0, &worker, &now()],
            )?;
            match row {
                Some(r) => Ok(Some(self.decode_trial(study, &r)?)),
                None => {
                    self.check_study(db, study)?;
                    Ok(None)
                }
            }
        })
    }

    fn heartbeat(&self, study: StudyId, number: u64, worker: &str) -> StorageResult<bool> {
        let n = number as i64;
        self.run("heartbeat", Mode::Auto, |db, _| {
            let updated = db.execute(
                "UPDATE nascent_trials SET heartbeat = $4 WHERE study_id = $1 AND number = $2 \
                 AND state = 'RUNNING' AND worker = $3",
                &[&study.0, &n, &worker, &now()],
            )?;
            if updated == 0
                && db
                    .query_opt(
                        "SELECT 1 FROM nascent_trials WHERE study_id = $1 AND number = $2",
                        &[&study.0, &n],
                    )?
                    .is_none()
            {
                return Err(self.missing_trial(db, study, number));
            }
            Ok(updated > 0)
        })
    }

    fn report(
        &self,
        study: StudyId,
        number: u64,
        worker: &str,
        step: u32,
        value: f64,
    ) -> StorageResult<()> {
        let n = number as i64;
        let step = step as i32;
        self.run("report", Mode::Auto, |db, _| {
            // One statement: the fencing check (the worker holds the running trial, its row
            // locked by the update) and the value.
            let written = db.query_opt(
                "WITH held AS (UPDATE nascent_trials SET epochs = GREATEST(epochs, $3) \
                     WHERE study_id = $1 AND number = $2 AND state = 'RUNNING' AND worker = $4 \
                     RETURNING number) \
                 INSERT INTO nascent_intermediate (study_id, number, step, value) \
                 SELECT $1, number, $3, $5 FROM held \
                 ON CONFLICT (study_id, number, step) DO UPDATE SET value = excluded.value \
                 RETURNING 1",
                &[&study.0, &n, &step, &worker, &value],
            )?;
            match written {
                Some(_) => Ok(()),
                None => Err(self.refusal(db, study, number, worker)),
            }
        })
    }

    fn finish(
        &self,
        study: StudyId,
        number: u64,
        worker: &str,
        result: &TrialResult,
    ) -> StorageResult<()> {
        check_result(study, number, result)?;
        let n = number as i64;
        let names: Vec<&str> = result.metrics.keys().map(String::as_str).collect();
        let values: Vec<f64> = result.metrics.values().copied().collect();
        let complete = result.state == TrialState::Complete;
        let first = result
            .values
            .first()
            .copied()
            .filter(|v| complete && v.is_finite());
        self.run("finish", Mode::Auto, |db, retry| {
            // One statement: the fencing check (the trial locked while this worker holds it),
            // the place in the finish order (the study's counter, under its row lock, taken
            // only when the fencing check passes), the result, the epochs (the budget's for a
            // trial that completed without reporting) and the rank by the first objective.
            let updated = db.execute(
                "WITH held AS (SELECT CASE WHEN epochs = 0 AND $4::TEXT = 'COMPLETE' \
                     THEN COALESCE((budget::jsonb ->> 'epochs')::INTEGER, 0) ELSE epochs END AS e \
                     FROM nascent_trials WHERE study_id = $1 AND number = $2 \
                     AND state = 'RUNNING' AND worker = $3 FOR UPDATE), \
                 s AS (UPDATE nascent_studies SET n_finished = n_finished + 1, \
                     n_complete = n_complete + CASE WHEN $4 = 'COMPLETE' THEN 1 ELSE 0 END, \
                     n_pruned = n_pruned + CASE WHEN $4 = 'PRUNED' THEN 1 ELSE 0 END, \
                     n_failed = n_failed + CASE WHEN $4 = 'FAIL' THEN 1 ELSE 0 END, \
                     epochs_finished = epochs_finished + (SELECT e FROM held) \
                     WHERE id = $1 AND EXISTS (SELECT 1 FROM held) \
                     RETURNING n_finished - 1 AS seq, rank_sign) \
                 UPDATE nascent_trials t SET state = $4, reason = $5, cost_seconds = $6, \
                 finished = $7, epochs = (SELECT e FROM held), \
                 metric_names = $8, metric_values = $9, objective_values = $10, \
                 rank_value = s.rank_sign * $11, sequence = s.seq \
                 FROM s WHERE t.study_id = $1 AND t.number = $2 AND t.state = 'RUNNING' \
                 AND t.worker = $3",
                &[
                    &study.0,
                    &n,
                    &worker,
                    &result.state.as_str(),
                    &result.reason,
                    &result.cost_seconds,
                    &now(),
                    &names,
                    &values,
                    &result.values,
                    &first,
                ],
            )?;
            if updated > 0 {
                return Ok(());
            }
            if retry
                && let Some(r) = db.query_opt(
                    "SELECT state, worker FROM nascent_trials WHERE study_id = $1 AND number = $2",
                    &[&study.0, &n],
                )?
                && r.get::<_, String>(0) == result.state.as_str()
                && r.get::<_, Option<String>>(1).as_deref() == Some(worker)
            {
                // The lost attempt committed this very result.
                return Ok(());
            }
            Err(self.refusal(db, study, number, worker))
        })
    }

    fn requeue(&self, study: StudyId, number: u64, cond: &RequeueIf<'_>) -> StorageResult<bool> {
        let n = number as i64;
        self.run("requeue", Mode::Auto, |db, _| {
            let done = db.query_opt(
                "WITH q AS (UPDATE nascent_trials SET worker = NULL, started = NULL, \
                     heartbeat = NULL, epochs = 0 \
                     WHERE study_id = $1 AND number = $2 AND state = 'RUNNING' \
                     AND worker IS NOT NULL AND ($3::TEXT IS NULL OR worker = $3) \
                     AND ($4::DOUBLE PRECISION IS NULL OR heartbeat IS NULL OR heartbeat < $4) \
                     RETURNING number), \
                 d AS (DELETE FROM nascent_intermediate i USING q \
                     WHERE i.study_id = $1 AND i.number = q.number) \
                 SELECT number FROM q",
                &[&study.0, &n, &cond.worker, &cond.heartbeat_before],
            )?;
            if done.is_some() {
                return Ok(true);
            }
            if db
                .query_opt(
                    "SELECT 1 FROM nascent_trials WHERE study_id = $1 AND number = $2",
                    &[&study.0, &n],
                )?
                .is_none()
            {
                return Err(self.missing_trial(db, study, number));
            }
            Ok(false)
        })
    }

    fn trials(&self, study: StudyId, from: u64) -> StorageResult<Vec<TrialRecord>> {
        let from = from.min(i64::MAX as u64) as i64;
        self.run("trials", Mode::Auto, |db, _| {
            let rows = db.query(
                concat!(
                    "SELECT ",
                    trial_columns!(),
                    " FROM nascent_trials t WHERE t.study_id = $1 AND t.number >= $2 \
                     ORDER BY t.number"
                ),
                &[&study.0, &from],
            )?;
            if rows.is_empty() {
                self.check_study(db, study)?;
            }
            self.decode_all(study, &rows)
        })
    }

    fn trial(&self, study: StudyId, number: u64) -> StorageResult<TrialRecord> {
        self.run("trial", Mode::Auto, |db, _| self.one(db, study, number))
    }

    fn step_values(&self, study: StudyId, step: u32) -> StorageResult<Vec<StepValue>> {
        let step = step as i32;
        let rows = self.run("step_values", Mode::Read, |db, _| {
            self.check_study(db, study)?;
            Ok(db.query(
                "SELECT i.number, t.state, i.value FROM nascent_intermediate i \
                 JOIN nascent_trials t ON t.study_id = i.study_id AND t.number = i.number \
                 WHERE i.study_id = $1 AND i.step = $2 ORDER BY i.number",
                &[&study.0, &step],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.get(0);
                let s: String = r.get(1);
                Ok(StepValue {
                    number: n as u64,
                    state: TrialState::parse(&s)
                        .ok_or_else(|| self.corrupt(&format!("column `state` of trial {n}"), &s))?,
                    value: r.get(2),
                })
            })
            .collect()
    }

    fn counts(&self, study: StudyId) -> StorageResult<StudyCounts> {
        // One snapshot: the study's counters (the trials, the finished ones by state and their
        // epochs) and its running trials from their partial index; nothing reads the finished
        // trials.
        let rows = self.run("counts", Mode::Read, |db, _| {
            Ok(db.query(
                "SELECT s.n_trials, s.n_complete, s.n_pruned, s.n_failed, s.epochs_finished, \
                     r.queued, r.running, r.epochs \
                 FROM nascent_studies s, LATERAL (SELECT \
                     COUNT(*) FILTER (WHERE t.worker IS NULL) AS queued, \
                     COUNT(*) FILTER (WHERE t.worker IS NOT NULL) AS running, \
                     COALESCE(SUM(t.epochs), 0)::BIGINT AS epochs \
                     FROM nascent_trials t WHERE t.study_id = s.id AND t.state = 'RUNNING') r \
                 WHERE s.id = $1",
                &[&study.0],
            )?)
        })?;
        let Some(r) = rows.first() else {
            return Err(self.no_study_id(study));
        };
        let n = |i: usize| r.get::<_, i64>(i) as u64;
        Ok(StudyCounts {
            total: n(0),
            complete: n(1),
            pruned: n(2),
            failed: n(3),
            epochs: n(4) + n(7),
            queued: n(5),
            running: n(6),
        })
    }

    fn first_unfinished(&self, study: StudyId) -> StorageResult<u64> {
        self.run("first_unfinished", Mode::Auto, |db, _| {
            // The running trials from their partial index, else the study's trial counter:
            // neither reads the finished trials.
            let row = db.query_opt(
                "SELECT COALESCE((SELECT MIN(number) FROM nascent_trials \
                     WHERE study_id = $1 AND state = 'RUNNING'), s.n_trials) \
                 FROM nascent_studies s WHERE s.id = $1",
                &[&study.0],
            )?;
            match row {
                Some(r) => Ok(r.get::<_, i64>(0) as u64),
                None => {
                    self.check_study(db, study)?;
                    Ok(0)
                }
            }
        })
    }

    fn ranked_trials(
        &self,
        study: StudyId,
        offset: u64,
        limit: u64,
    ) -> StorageResult<Vec<TrialRecord>> {
        let offset = offset.min(i64::MAX as u64) as i64;
        let limit = limit.min(i64::MAX as u64) as i64;
        self.run("ranked_trials", Mode::Auto, |db, _| {
            let rows = db.query(
                concat!(
                    "SELECT ",
                    trial_columns!(),
                    " FROM nascent_trials t WHERE t.study_id = $1 AND t.rank_value IS NOT NULL \
                     ORDER BY t.rank_value DESC, t.number LIMIT $2 OFFSET $3"
                ),
                &[&study.0, &limit, &offset],
            )?;
            if rows.is_empty() {
                self.check_study(db, study)?;
            }
            self.decode_all(study, &rows)
        })
    }

    fn add_artefact(&self, artefact: &Artefact) -> StorageResult<()> {
        let path = artefact
            .path
            .to_str()
            .ok_or_else(|| StorageError::Invalid {
                what: "artefact path",
                reason: format!("`{}` is not valid UTF-8", artefact.path.display()),
            })?;
        let trial = artefact.trial.map(|n| n as i64);
        let kind = artefact.kind.as_str();
        self.run("add_artefact", Mode::Write, |db, retry| {
            self.check_study(db, artefact.study)?;
            if let Some(n) = trial
                && db
                    .query_opt(
                        "SELECT 1 FROM nascent_trials WHERE study_id = $1 AND number = $2",
                        &[&artefact.study.0, &n],
                    )?
                    .is_none()
            {
                return Err(StorageError::NoTrial {
                    study: artefact.study.0,
                    number: n as u64,
                }
                .into());
            }
            if retry
                && db
                    .query_opt(
                        "SELECT 1 FROM nascent_artefacts WHERE study_id = $1 \
                         AND trial_number IS NOT DISTINCT FROM $2 AND kind = $3 AND path = $4 \
                         AND created = $5",
                        &[&artefact.study.0, &trial, &kind, &path, &artefact.created],
                    )?
                    .is_some()
            {
                return Ok(());
            }
            db.execute(
                "INSERT INTO nascent_artefacts (study_id, trial_number, kind, path, created) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&artefact.study.0, &trial, &kind, &path, &artefact.created],
            )?;
            Ok(())
        })
    }

    fn artefacts(&self, study: StudyId) -> StorageResult<Vec<Artefact>> {
        let rows = self.run("artefacts", Mode::Read, |db, _| {
            self.check_study(db, study)?;
            Ok(db.query(
                "SELECT trial_number, kind, path, created FROM nascent_artefacts \
                 WHERE study_id = $1 ORDER BY id",
                &[&study.0],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                let kind: String = r.get(1);
                Ok(Artefact {
                    study,
                    trial: r.get::<_, Option<i64>>(0).map(|n| n as u64),
                    kind: ArtefactKind::parse(&kind)
                        .ok_or_else(|| self.corrupt("column `kind` of artefacts", &kind))?,
                    path: PathBuf::from(r.get::<_, String>(2)),
                    created: r.get(3),
                })
            })
            .collect()
    }
}
