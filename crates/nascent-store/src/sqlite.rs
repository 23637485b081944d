//! The SQLite storage: one file per project, in WAL mode, shared by the threads of a process
//! and by the processes of a machine.
//!
//! Every operation that decides who does what (creating a trial, claiming a queued one,
//! finishing one) runs in an `IMMEDIATE` transaction, which takes the file's write lock before
//! it reads, so two workers — in one process or in several — never create the same
//! architecture twice or claim the same queued trial. Readers never block writers (WAL), and a
//! writer waits for the lock up to the busy timeout.
//!
//! The schema is versioned: a `schema_version` table holds the version, opening an older file
//! applies the missing [`MIGRATIONS`] in one transaction, and a file from a newer nascent is
//! refused with [`StorageError::NewerSchema`].

use crate::memory::{check_result, finished_epochs, held_by};
use nascent_core::storage::{
    Artefact, ArtefactKind, CreateOutcome, NewTrial, RequeueIf, StepValue, Storage, StorageError,
    StorageResult, StudyCounts, StudyId, StudyRecord, StudySpec, TrialRecord, TrialResult, now,
};
use nascent_core::{Budget, Metrics, TrialState};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The schema migrations, in order: migration `i` (0-based) brings a file from version `i` to
/// version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // Version 1: studies, trials, their metrics, objective values and intermediate values.
    r#"
    CREATE TABLE studies (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        space TEXT NOT NULL,
        objectives TEXT NOT NULL,
        constraints TEXT NOT NULL,
        config TEXT NOT NULL,
        seed INTEGER NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE trials (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        arch TEXT NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL')),
        reason TEXT,
        budget TEXT NOT NULL,
        seed INTEGER NOT NULL,
        worker TEXT,
        created REAL NOT NULL,
        started REAL,
        finished REAL,
        heartbeat REAL,
        cost_seconds REAL NOT NULL DEFAULT 0,
        UNIQUE (study_id, number),
        UNIQUE (study_id, arch)
    );
    CREATE INDEX trials_by_state ON trials (study_id, state);
    CREATE TABLE trial_metrics (
        trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value REAL,
        PRIMARY KEY (trial_id, name)
    );
    CREATE TABLE trial_values (
        trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
        objective INTEGER NOT NULL,
        value REAL,
        PRIMARY KEY (trial_id, objective)
    );
    CREATE TABLE trial_intermediate (
        trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        value REAL,
        PRIMARY KEY (trial_id, step)
    );
    "#,
    // Version 2: re-queue bookkeeping (attempts), epochs trained per trial (for budgets in
    // epochs), the study's wall-clock time over runs, artefacts, and look-up by step (for
    // pruners).
    r#"
    ALTER TABLE studies ADD COLUMN elapsed_seconds REAL NOT NULL DEFAULT 0;
    ALTER TABLE trials ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE trials ADD COLUMN epochs INTEGER NOT NULL DEFAULT 0;
    UPDATE trials SET epochs = COALESCE(
        (SELECT MAX(step) FROM trial_intermediate i WHERE i.trial_id = trials.id), 0);
    CREATE INDEX intermediate_by_step ON trial_intermediate (step, trial_id);
    CREATE TABLE artefacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        trial_number INTEGER,
        kind TEXT NOT NULL CHECK (kind IN ('checkpoint', 'export', 'report', 'other')),
        path TEXT NOT NULL,
        created REAL NOT NULL
    );
    "#,
    // Version 3: what keeps per-trial operations flat as a study grows: the queue as a
    // partial index, and the ranking of completed trials by the first objective (the study's
    // direction as a sign, the signed first value per trial) for `ranked_trials`.
    r#"
    ALTER TABLE studies ADD COLUMN rank_sign REAL;
    UPDATE studies SET rank_sign = CASE json_extract(objectives, '$[0].direction')
        WHEN 'maximize' THEN 1.0 WHEN 'minimize' THEN -1.0 END;
    ALTER TABLE trials ADD COLUMN rank_value REAL;
    UPDATE trials SET rank_value = (
        SELECT s.rank_sign * v.value FROM studies s, trial_values v
        WHERE s.id = trials.study_id AND v.trial_id = trials.id AND v.objective = 0
          AND abs(v.value) <= 1.7976931348623157e308)
    WHERE state = 'COMPLETE';
    CREATE INDEX trials_ranked ON trials (study_id, rank_value DESC, number)
        WHERE rank_value IS NOT NULL;
    CREATE INDEX trials_queued ON trials (study_id, number)
        WHERE state = 'RUNNING' AND worker IS NULL;
    "#,
    // Version 4: the order trials finished in (the order a strategy was told of them), so a
    // resumed study replays it exactly; older finished trials are numbered by finish time.
    r#"
    ALTER TABLE trials ADD COLUMN sequence INTEGER;
    UPDATE trials SET sequence = r.rn FROM (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY study_id ORDER BY finished, number) - 1 AS rn
        FROM trials WHERE state != 'RUNNING') AS r
    WHERE r.id = trials.id;
    CREATE INDEX trials_by_sequence ON trials (study_id, sequence) WHERE sequence IS NOT NULL;
    "#,
    // Version 5: the finished trials counted by state, and their epochs, kept with the study
    // (added to when a trial finishes), so that counting a study's trials reads only its
    // running ones.
    r#"
    ALTER TABLE studies ADD COLUMN n_complete INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE studies ADD COLUMN n_pruned INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE studies ADD COLUMN n_failed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE studies ADD COLUMN epochs_finished INTEGER NOT NULL DEFAULT 0;
    UPDATE studies SET
        n_complete = (SELECT COUNT(*) FROM trials t
                      WHERE t.study_id = studies.id AND t.state = 'COMPLETE'),
        n_pruned = (SELECT COUNT(*) FROM trials t
                    WHERE t.study_id = studies.id AND t.state = 'PRUNED'),
        n_failed = (SELECT COUNT(*) FROM trials t
                    WHERE t.study_id = studies.id AND t.state = 'FAIL'),
        epochs_finished = (SELECT COALESCE(SUM(epochs), 0) FROM trials t
                           WHERE t.study_id = studies.id AND t.state != 'RUNNING');
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How an SQLite storage is opened.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// How long a writer waits for another's lock before failing.
    pub busy_timeout: Duration,
    /// Apply migrations up to this version only (tests of migrations); `None` for the newest.
    pub schema_version: Option<i64>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(60),
            schema_version: None,
        }
    }
}

/// A storage in one SQLite file.
#[derive(Debug)]
pub struct SqliteStorage {
    url: String,
    path: PathBuf,
    conn: Mutex<Connection>,
}

const TRIAL_COLUMNS: &str = "id, number, arch, params, state, reason, budget, seed, worker, \
    created, started, finished, heartbeat, cost_seconds, attempts, epochs, sequence";

impl SqliteStorage {
    /// Opens (creating it if needed) the SQLite file at `path` with default options; `url` is
    /// the name errors give.
    pub fn open(path: impl AsRef<Path>, url: &str) -> StorageResult<Self> {
        Self::open_with(path, url, &SqliteOptions::default())
    }

    /// Opens the file at `path` with `options`.
    pub fn open_with(
        path: impl AsRef<Path>,
        url: &str,
        options: &SqliteOptions,
    ) -> StorageResult<Self> {
        let path = path.as_ref().to_path_buf();
        let open_err = |reason: String| StorageError::Open {
            url: url.to_string(),
            reason,
        };
        if path.as_os_str().is_empty() {
            return Err(open_err("the path is empty".into()));
        }
        if path.is_dir() {
            return Err(open_err(format!("`{}` is a directory", path.display())));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match std::fs::metadata(&parent) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(open_err(format!(
                    "directory `{}` does not exist",
                    parent.display()
                )));
            }
            Err(e) => {
                return Err(open_err(format!(
                    "directory `{}` cannot be read: {e}",
                    parent.display()
                )));
            }
            Ok(m) if !m.is_dir() => {
                return Err(open_err(format!(
                    "`{}` is not a directory",
                    parent.display()
                )));
            }
            Ok(_) => {}
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| open_err(format!("{e} (path `{}`)", path.display())))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(|e| open_err(e.to_string()))?;
        let target = options.schema_version.unwrap_or(SCHEMA_VERSION);
        // Several processes opening a new file at once may find it locked while another
        // switches it to WAL or creates the schema; SQLite does not always wait on its busy
        // handler then, so wait here.
        let deadline = std::time::Instant::now() + options.busy_timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            match init(&mut conn, url, target) {
                Ok(()) => break,
                Err(InitError::Sql(e)) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(InitError::Sql(e)) => {
                    return Err(open_err(format!("{e} (path `{}`)", path.display())));
                }
                Err(InitError::Storage(e)) => return Err(e),
            }
        }
        Ok(SqliteStorage {
            url: url.to_string(),
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> StorageResult<i64> {
        let c = self.lock();
        c.query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .map_err(|e| self.be(e))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A connection whose user panicked mid-transaction rolls back when the transaction
        // guard drops, so the connection is consistent and can be taken over.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
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

    /// Runs `f` in an `IMMEDIATE` transaction (the write lock taken first) and commits.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StorageResult<T>) -> StorageResult<T> {
        let mut c = self.lock();
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.be(e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| self.be(e))?;
        Ok(out)
    }

    /// Runs `f` in a read transaction (one consistent snapshot).
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StorageResult<T>) -> StorageResult<T> {
        let mut c = self.lock();
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| self.be(e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| self.be(e))?;
        Ok(out)
    }

    fn check_study(&self, tx: &Transaction<'_>, study: StudyId) -> StorageResult<()> {
        let found: Option<i64> = tx
            .query_row("SELECT id FROM studies WHERE id = ?1", [study.0], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.be(e))?;
        match found {
            Some(_) => Ok(()),
            None => Err(StorageError::Invalid {
                what: "study id",
                reason: format!("no study with id {} in `{}`", study.0, self.url),
            }),
        }
    }

    fn study_row(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<RawStudy> {
        Ok(RawStudy {
            id: r.get(0)?,
            name: r.get(1)?,
            space: r.get(2)?,
            objectives: r.get(3)?,
            constraints: r.get(4)?,
            config: r.get(5)?,
            seed: r.get(6)?,
            created: r.get(7)?,
            elapsed: r.get(8)?,
        })
    }

    fn decode_study(&self, raw: RawStudy) -> StorageResult<StudyRecord> {
        let what = |col: &str| format!("column `{col}` of study `{}`", raw.name);
        Ok(StudyRecord {
            id: StudyId(raw.id),
            objectives: serde_json::from_str(&raw.objectives)
                .map_err(|e| self.corrupt(&what("objectives"), e))?,
            constraints: serde_json::from_str(&raw.constraints)
                .map_err(|e| self.corrupt(&what("constraints"), e))?,
            config: serde_json::from_str(&raw.config)
                .map_err(|e| self.corrupt(&what("config"), e))?,
            name: raw.name,
            space: raw.space,
            seed: raw.seed as u64,
            created: raw.created,
            elapsed_seconds: raw.elapsed,
        })
    }

    /// Loads trials `WHERE study_id = ?1 AND <cond>` with their metrics, values and
    /// intermediate values, by number.
    fn load_trials(
        &self,
        tx: &Transaction<'_>,
        study: StudyId,
        cond: &str,
        arg: i64,
    ) -> StorageResult<Vec<TrialRecord>> {
        let sql = format!(
            "SELECT {TRIAL_COLUMNS} FROM trials WHERE study_id = ?1 AND {cond} ORDER BY number"
        );
        let mut stmt = tx.prepare_cached(&sql).map_err(|e| self.be(e))?;
        let raws: Vec<RawTrial> = stmt
            .query_map(params![study.0, arg], |r| {
                Ok(RawTrial {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    arch: r.get(2)?,
                    params: r.get(3)?,
                    state: r.get(4)?,
                    reason: r.get(5)?,
                    budget: r.get(6)?,
                    seed: r.get(7)?,
                    worker: r.get(8)?,
                    created: r.get(9)?,
                    started: r.get(10)?,
                    finished: r.get(11)?,
                    heartbeat: r.get(12)?,
                    cost_seconds: r.get(13)?,
                    attempts: r.get(14)?,
                    epochs: r.get(15)?,
                    sequence: r.get(16)?,
                })
            })
            .map_err(|e| self.be(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.be(e))?;
        if raws.is_empty() {
            return Ok(Vec::new());
        }
        let sub = format!("SELECT id FROM trials WHERE study_id = ?1 AND {cond}");
        let mut metrics: HashMap<i64, Metrics> = HashMap::new();
        let mut values: HashMap<i64, Vec<f64>> = HashMap::new();
        let mut inter: HashMap<i64, Vec<(u32, f64)>> = HashMap::new();
        {
            let sql = format!(
                "SELECT trial_id, name, value FROM trial_metrics WHERE trial_id IN ({sub})"
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(|e| self.be(e))?;
            let mut rows = stmt.query(params![study.0, arg]).map_err(|e| self.be(e))?;
            while let Some(r) = rows.next().map_err(|e| self.be(e))? {
                let id: i64 = r.get(0).map_err(|e| self.be(e))?;
                let name: String = r.get(1).map_err(|e| self.be(e))?;
                let v: Option<f64> = r.get(2).map_err(|e| self.be(e))?;
                metrics
                    .entry(id)
                    .or_default()
                    .insert(name, v.unwrap_or(f64::NAN));
            }
        }
        {
            let sql = format!(
                "SELECT trial_id, objective, value FROM trial_values WHERE trial_id IN ({sub}) \
                 ORDER BY trial_id, objective"
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(|e| self.be(e))?;
            let mut rows = stmt.query(params![study.0, arg]).map_err(|e| self.be(e))?;
            while let Some(r) = rows.next().map_err(|e| self.be(e))? {
                let id: i64 = r.get(0).map_err(|e| self.be(e))?;
                let v: Option<f64> = r.get(2).map_err(|e| self.be(e))?;
                values.entry(id).or_default().push(v.unwrap_or(f64::NAN));
            }
        }
        {
            let sql = format!(
                "SELECT trial_id, step, value FROM trial_intermediate WHERE trial_id IN ({sub}) \
                 ORDER BY trial_id, step"
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(|e| self.be(e))?;
            let mut rows = stmt.query(params![study.0, arg]).map_err(|e| self.be(e))?;
            while let Some(r) = rows.next().map_err(|e| self.be(e))? {
                let id: i64 = r.get(0).map_err(|e| self.be(e))?;
                let step: i64 = r.get(1).map_err(|e| self.be(e))?;
                let v: Option<f64> = r.get(2).map_err(|e| self.be(e))?;
                inter
                    .entry(id)
                    .or_default()
                    .push((step as u32, v.unwrap_or(f64::NAN)));
            }
        }
        raws.into_iter()
            .map(|raw| {
                let what = |col: &str| format!("column `{col}` of trial {}", raw.number);
                let state = TrialState::parse(&raw.state)
                    .ok_or_else(|| self.corrupt(&what("state"), &raw.state))?;
                Ok(TrialRecord {
                    study,
                    number: raw.number as u64,
                    params: serde_json::from_str(&raw.params)
                        .map_err(|e| self.corrupt(&what("params"), e))?,
                    budget: serde_json::from_str::<Budget>(&raw.budget)
                        .map_err(|e| self.corrupt(&what("budget"), e))?,
                    arch: raw.arch,
                    state,
                    reason: raw.reason,
                    metrics: metrics.remove(&raw.id).unwrap_or_default(),
                    values: values.remove(&raw.id).unwrap_or_default(),
                    intermediate: inter.remove(&raw.id).unwrap_or_default(),
                    seed: raw.seed as u64,
                    worker: raw.worker,
                    created: raw.created,
                    started: raw.started,
                    finished: raw.finished,
                    heartbeat: raw.heartbeat,
                    cost_seconds: raw.cost_seconds,
                    attempts: raw.attempts as u32,
                    epochs: raw.epochs as u32,
                    sequence: raw.sequence.map(|s| s as u64),
                })
            })
            .collect()
    }

    fn one_trial(
        &self,
        tx: &Transaction<'_>,
        study: StudyId,
        number: u64,
    ) -> StorageResult<TrialRecord> {
        self.load_trials(tx, study, "number = ?2", number as i64)?
            .pop()
            .ok_or(StorageError::NoTrial {
                study: study.0,
                number,
            })
    }

    /// The row id, state and worker of a trial (for the checks before writing).
    fn trial_head(
        &self,
        tx: &Transaction<'_>,
        study: StudyId,
        number: u64,
    ) -> StorageResult<TrialRecord> {
        self.check_study(tx, study)?;
        self.one_trial(tx, study, number)
    }
}

fn json(v: &impl serde::Serialize) -> String {
    // Serialising plain data (maps with string keys, numbers, strings) cannot fail.
    serde_json::to_string(v).expect("plain data serialises to JSON")
}

struct RawStudy {
    id: i64,
    name: String,
    space: String,
    objectives: String,
    constraints: String,
    config: String,
    seed: i64,
    created: f64,
    elapsed: f64,
}

struct RawTrial {
    id: i64,
    number: i64,
    arch: String,
    params: String,
    state: String,
    reason: Option<String>,
    budget: String,
    seed: i64,
    worker: Option<String>,
    created: f64,
    started: Option<f64>,
    finished: Option<f64>,
    heartbeat: Option<f64>,
    cost_seconds: f64,
    attempts: i64,
    epochs: i64,
    sequence: Option<i64>,
}

/// Why opening a file failed: an SQL error (retried when the file is busy) or a refusal.
enum InitError {
    Sql(rusqlite::Error),
    Storage(StorageError),
}

impl From<rusqlite::Error> for InitError {
    fn from(e: rusqlite::Error) -> Self {
        InitError::Sql(e)
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Sets WAL mode and the connection's pragmas, then brings the schema to `target`.
fn init(conn: &mut Connection, url: &str, target: i64) -> Result<(), InitError> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        log::warn!(
            "storage `{url}`: the file system does not allow WAL mode (journal mode {mode}); \
             several processes may wait on each other"
        );
    }
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    migrate(conn, url, target)
}

/// Brings the file to `target` (creating the schema in an empty file); refuses newer files and
/// SQLite files that are not nascent storages.
fn migrate(conn: &mut Connection, url: &str, target: i64) -> Result<(), InitError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let has_version: bool = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
        [],
        |r| r.get::<_, i64>(0),
    )? > 0;
    let version: i64 = if has_version {
        tx.query_row("SELECT MAX(version) FROM schema_version", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .unwrap_or(0)
    } else {
        let others: Vec<String> = tx
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())?;
        if !others.is_empty() {
            return Err(InitError::Storage(StorageError::Open {
                url: url.to_string(),
                reason: format!(
                    "the file is an SQLite database but not a nascent storage (it has tables {})",
                    others.join(", ")
                ),
            }));
        }
        tx.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL);")?;
        0
    };
    if version > SCHEMA_VERSION {
        return Err(InitError::Storage(StorageError::NewerSchema {
            url: url.to_string(),
            found: version,
            supported: SCHEMA_VERSION,
        }));
    }
    if version < target {
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .take(target as usize)
            .skip(version as usize)
        {
            tx.execute_batch(sql).map_err(|e| {
                if is_busy(&e) {
                    InitError::Sql(e)
                } else {
                    InitError::Storage(StorageError::Open {
                        url: url.to_string(),
                        reason: format!("migration to schema version {} failed: {e}", i + 1),
                    })
                }
            })?;
        }
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [target])?;
        if version > 0 {
            log::info!("storage `{url}`: migrated schema version {version} to {target}");
        }
    }
    tx.commit()?;
    Ok(())
}

fn write_values(tx: &Transaction<'_>, id: i64, result: &TrialResult) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM trial_metrics WHERE trial_id = ?1", [id])?;
    tx.execute("DELETE FROM trial_values WHERE trial_id = ?1", [id])?;
    {
        let mut m = tx.prepare_cached(
            "INSERT INTO trial_metrics (trial_id, name, value) VALUES (?1, ?2, ?3)",
        )?;
        for (name, v) in &result.metrics {
            m.execute(params![id, name, nan_to_null(*v)])?;
        }
    }
    let mut s = tx.prepare_cached(
        "INSERT INTO trial_values (trial_id, objective, value) VALUES (?1, ?2, ?3)",
    )?;
    for (k, v) in result.values.iter().enumerate() {
        s.execute(params![id, k as i64, nan_to_null(*v)])?;
    }
    Ok(())
}

fn nan_to_null(v: f64) -> Option<f64> {
    if v.is_nan() { None } else { Some(v) }
}

fn trial_id(tx: &Transaction<'_>, study: StudyId, number: u64) -> rusqlite::Result<i64> {
    tx.query_row(
        "SELECT id FROM trials WHERE study_id = ?1 AND number = ?2",
        params![study.0, number as i64],
        |r| r.get(0),
    )
}

const STUDY_COLUMNS: &str =
    "id, name, space, objectives, constraints, config, seed, created, elapsed_seconds";

impl Storage for SqliteStorage {
    fn url(&self) -> &str {
        &self.url
    }

    fn create_study(&self, spec: &StudySpec) -> StorageResult<StudyRecord> {
        self.write(|tx| {
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT id FROM studies WHERE name = ?1",
                    [&spec.name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.be(e))?;
            if exists.is_some() {
                return Err(StorageError::StudyExists {
                    url: self.url.clone(),
                    name: spec.name.clone(),
                });
            }
            let created = now();
            tx.execute(
                "INSERT INTO studies (name, space, objectives, constraints, config, seed, created, \
                 rank_sign) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    spec.name,
                    spec.space,
                    json(&spec.objectives),
                    json(&spec.constraints),
                    json(&spec.config),
                    spec.seed as i64,
                    created,
                    spec.objectives.first().map(|o| match o.direction {
                        nascent_core::Direction::Maximize => 1.0,
                        nascent_core::Direction::Minimize => -1.0,
                    })
                ],
            )
            .map_err(|e| self.be(e))?;
            Ok(StudyRecord {
                id: StudyId(tx.last_insert_rowid()),
                name: spec.name.clone(),
                space: spec.space.clone(),
                objectives: spec.objectives.clone(),
                constraints: spec.constraints.clone(),
                config: spec.config.clone(),
                seed: spec.seed,
                created,
                elapsed_seconds: 0.0,
            })
        })
    }

    fn study(&self, name: &str) -> StorageResult<StudyRecord> {
        let raw = self.read(|tx| {
            tx.query_row(
                &format!("SELECT {STUDY_COLUMNS} FROM studies WHERE name = ?1"),
                [name],
                |r| self.study_row(r),
            )
            .optional()
            .map_err(|e| self.be(e))
        })?;
        match raw {
            Some(raw) => self.decode_study(raw),
            None => Err(StorageError::NoStudy {
                url: self.url.clone(),
                name: name.to_string(),
            }),
        }
    }

    fn studies(&self) -> StorageResult<Vec<StudyRecord>> {
        let raws = self.read(|tx| {
            let mut stmt = tx
                .prepare(&format!("SELECT {STUDY_COLUMNS} FROM studies ORDER BY id"))
                .map_err(|e| self.be(e))?;
            let rows = stmt
                .query_map([], |r| self.study_row(r))
                .map_err(|e| self.be(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.be(e))?;
            Ok(rows)
        })?;
        raws.into_iter().map(|r| self.decode_study(r)).collect()
    }

    fn record_elapsed(&self, study: StudyId, seconds: f64) -> StorageResult<()> {
        self.write(|tx| {
            self.check_study(tx, study)?;
            tx.execute(
                "UPDATE studies SET elapsed_seconds = MAX(elapsed_seconds, ?2) WHERE id = ?1",
                params![study.0, seconds],
            )
            .map_err(|e| self.be(e))?;
            Ok(())
        })
    }

    fn create_trial(
        &self,
        study: StudyId,
        trial: &NewTrial,
        max_trials: Option<u64>,
    ) -> StorageResult<CreateOutcome> {
        self.write(|tx| {
            self.check_study(tx, study)?;
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT number FROM trials WHERE study_id = ?1 AND arch = ?2",
                    params![study.0, trial.arch],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.be(e))?;
            if let Some(n) = existing {
                return Ok(CreateOutcome::Exists(n as u64));
            }
            // Numbers are contiguous from 0: the count is the largest plus one, read from the
            // (study_id, number) index without scanning the study.
            let count: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?1",
                    [study.0],
                    |r| r.get(0),
                )
                .map_err(|e| self.be(e))?;
            let number = count as u64;
            if max_trials.is_some_and(|m| number >= m) {
                return Ok(CreateOutcome::LimitReached);
            }
            let t = now();
            tx.execute(
                "INSERT INTO trials (study_id, number, arch, params, state, budget, seed, worker, \
                 created, started, heartbeat, attempts, epochs) \
                 VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5, ?6, ?7, ?8, ?8, ?8, 1, 0)",
                params![
                    study.0,
                    number as i64,
                    trial.arch,
                    json(&trial.params),
                    json(&trial.budget),
                    trial.seed as i64,
                    trial.worker,
                    t
                ],
            )
            .map_err(|e| self.be(e))?;
            Ok(CreateOutcome::Created(Box::new(TrialRecord::created(
                study, number, trial, t,
            ))))
        })
    }

    fn claim_queued(&self, study: StudyId, worker: &str) -> StorageResult<Option<TrialRecord>> {
        self.write(|tx| {
            self.check_study(tx, study)?;
            let number: Option<i64> = tx
                .query_row(
                    "SELECT number FROM trials WHERE study_id = ?1 AND state = 'RUNNING' \
                     AND worker IS NULL ORDER BY number LIMIT 1",
                    [study.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.be(e))?;
            let Some(number) = number else {
                return Ok(None);
            };
            let t = now();
            tx.execute(
                "UPDATE trials SET worker = ?3, started = ?4, heartbeat = ?4, \
                 attempts = attempts + 1 WHERE study_id = ?1 AND number = ?2",
                params![study.0, number, worker, t],
            )
            .map_err(|e| self.be(e))?;
            self.one_trial(tx, study, number as u64).map(Some)
        })
    }

    fn heartbeat(&self, study: StudyId, number: u64, worker: &str) -> StorageResult<bool> {
        self.write(|tx| {
            self.check_study(tx, study)?;
            let n = tx
                .execute(
                    "UPDATE trials SET heartbeat = ?4 WHERE study_id = ?1 AND number = ?2 \
                     AND state = 'RUNNING' AND worker = ?3",
                    params![study.0, number as i64, worker, now()],
                )
                .map_err(|e| self.be(e))?;
            if n == 0 {
                // Distinguish "not ours" from "no such trial".
                trial_id(tx, study, number).map_err(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => StorageError::NoTrial {
                        study: study.0,
                        number,
                    },
                    e => self.be(e),
                })?;
            }
            Ok(n > 0)
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
        self.write(|tx| {
            let (id, state, holder): (i64, String, Option<String>) = tx
                .query_row(
                    "SELECT id, state, worker FROM trials WHERE study_id = ?1 AND number = ?2",
                    params![study.0, number as i64],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(|e| self.be(e))?
                .ok_or(StorageError::NoTrial {
                    study: study.0,
                    number,
                })?;
            let state = TrialState::parse(&state).ok_or_else(|| {
                self.corrupt(&format!("column `state` of trial {number}"), &state)
            })?;
            held_by(study, number, state, holder.as_deref(), worker)?;
            tx.execute(
                "INSERT INTO trial_intermediate (trial_id, step, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (trial_id, step) DO UPDATE SET value = excluded.value",
                params![id, step as i64, nan_to_null(value)],
            )
            .map_err(|e| self.be(e))?;
            tx.execute(
                "UPDATE trials SET epochs = MAX(epochs, ?2) WHERE id = ?1",
                params![id, step as i64],
            )
            .map_err(|e| self.be(e))?;
            Ok(())
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
        self.write(|tx| {
            let t = self.trial_head(tx, study, number)?;
            held_by(study, number, t.state, t.worker.as_deref(), worker)?;
            let id = trial_id(tx, study, number).map_err(|e| self.be(e))?;
            let epochs = finished_epochs(&t, result);
            let sign: Option<f64> = tx
                .query_row(
                    "SELECT rank_sign FROM studies WHERE id = ?1",
                    [study.0],
                    |r| r.get(0),
                )
                .map_err(|e| self.be(e))?;
            let rank = match (result.state, sign, result.values.first()) {
                (TrialState::Complete, Some(s), Some(v)) if v.is_finite() => Some(s * v),
                _ => None,
            };
            tx.execute(
                "UPDATE trials SET state = ?2, reason = ?3, cost_seconds = ?4, finished = ?5, \
                 epochs = ?6, rank_value = ?7, sequence = COALESCE((SELECT MAX(sequence) \
                 FROM trials WHERE study_id = ?8 AND sequence IS NOT NULL), -1) + 1 \
                 WHERE id = ?1",
                params![
                    id,
                    result.state.as_str(),
                    result.reason,
                    result.cost_seconds,
                    now(),
                    epochs as i64,
                    rank,
                    study.0
                ],
            )
            .map_err(|e| self.be(e))?;
            write_values(tx, id, result).map_err(|e| self.be(e))?;
            tx.execute(
                "UPDATE studies SET n_complete = n_complete + (?2 = 'COMPLETE'), \
                 n_pruned = n_pruned + (?2 = 'PRUNED'), n_failed = n_failed + (?2 = 'FAIL'), \
                 epochs_finished = epochs_finished + ?3 WHERE id = ?1",
                params![study.0, result.state.as_str(), epochs as i64],
            )
            .map_err(|e| self.be(e))?;
            Ok(())
        })
    }

    fn requeue(&self, study: StudyId, number: u64, cond: &RequeueIf<'_>) -> StorageResult<bool> {
        self.write(|tx| {
            self.check_study(tx, study)?;
            let id = match trial_id(tx, study, number) {
                Ok(id) => id,
                Err(rusqlite::Error::QueryReturnedNoRows) => {
                    return Err(StorageError::NoTrial {
                        study: study.0,
                        number,
                    });
                }
                Err(e) => return Err(self.be(e)),
            };
            let n = tx
                .execute(
                    "UPDATE trials SET worker = NULL, started = NULL, heartbeat = NULL, epochs = 0 \
                     WHERE id = ?1 AND state = 'RUNNING' AND worker IS NOT NULL \
                     AND (?2 IS NULL OR worker = ?2) \
                     AND (?3 IS NULL OR heartbeat IS NULL OR heartbeat < ?3)",
                    params![id, cond.worker, cond.heartbeat_before],
                )
                .map_err(|e| self.be(e))?;
            if n > 0 {
                tx.execute("DELETE FROM trial_intermediate WHERE trial_id = ?1", [id])
                    .map_err(|e| self.be(e))?;
            }
            Ok(n > 0)
        })
    }

    fn trials(&self, study: StudyId, from: u64) -> StorageResult<Vec<TrialRecord>> {
        self.read(|tx| {
            self.check_study(tx, study)?;
            self.load_trials(tx, study, "number >= ?2", from as i64)
        })
    }

    fn trial(&self, study: StudyId, number: u64) -> StorageResult<TrialRecord> {
        self.read(|tx| self.trial_head(tx, study, number))
    }

    fn step_values(&self, study: StudyId, step: u32) -> StorageResult<Vec<StepValue>> {
        self.read(|tx| {
            self.check_study(tx, study)?;
            let mut stmt = tx
                .prepare_cached(
                    "SELECT t.number, t.state, i.value FROM trial_intermediate i \
                     JOIN trials t ON t.id = i.trial_id \
                     WHERE i.step = ?2 AND t.study_id = ?1 ORDER BY t.number",
                )
                .map_err(|e| self.be(e))?;
            let rows = stmt
                .query_map(params![study.0, step as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<f64>>(2)?,
                    ))
                })
                .map_err(|e| self.be(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.be(e))?;
            rows.into_iter()
                .map(|(n, s, v)| {
                    Ok(StepValue {
                        number: n as u64,
                        state: TrialState::parse(&s).ok_or_else(|| {
                            self.corrupt(&format!("column `state` of trial {n}"), &s)
                        })?,
                        value: v.unwrap_or(f64::NAN),
                    })
                })
                .collect()
        })
    }

    fn counts(&self, study: StudyId) -> StorageResult<StudyCounts> {
        self.read(|tx| {
            self.check_study(tx, study)?;
            // The finished trials from the study's counters, the trials from the largest
            // number (numbers run from 0 without gaps), the running ones from the state
            // index: nothing here reads the finished trials.
            let mut c = tx
                .prepare_cached(
                    "SELECT n_complete, n_pruned, n_failed, epochs_finished, \
                     (SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?1) \
                     FROM studies WHERE id = ?1",
                )
                .map_err(|e| self.be(e))?
                .query_row([study.0], |r| {
                    Ok(StudyCounts {
                        complete: r.get::<_, i64>(0)? as u64,
                        pruned: r.get::<_, i64>(1)? as u64,
                        failed: r.get::<_, i64>(2)? as u64,
                        epochs: r.get::<_, i64>(3)? as u64,
                        total: r.get::<_, i64>(4)? as u64,
                        ..StudyCounts::default()
                    })
                })
                .map_err(|e| self.be(e))?;
            let mut stmt = tx
                .prepare_cached(
                    "SELECT worker IS NULL, COUNT(*), COALESCE(SUM(epochs), 0) \
                     FROM trials WHERE study_id = ?1 AND state = 'RUNNING' \
                     GROUP BY worker IS NULL",
                )
                .map_err(|e| self.be(e))?;
            let rows = stmt
                .query_map([study.0], |r| {
                    Ok((
                        r.get::<_, bool>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(|e| self.be(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.be(e))?;
            for (no_worker, n, epochs) in rows {
                c.epochs += epochs as u64;
                if no_worker {
                    c.queued += n as u64;
                } else {
                    c.running += n as u64;
                }
            }
            Ok(c)
        })
    }

    fn first_unfinished(&self, study: StudyId) -> StorageResult<u64> {
        self.read(|tx| {
            self.check_study(tx, study)?;
            // The running trials from the state index, else one past the largest number
            // (the (study, number) unique index): neither reads the finished trials.
            let first: Option<i64> = tx
                .query_row(
                    "SELECT MIN(number) FROM trials WHERE study_id = ?1 AND state = 'RUNNING'",
                    [study.0],
                    |r| r.get(0),
                )
                .map_err(|e| self.be(e))?;
            let next = match first {
                Some(n) => n,
                None => tx
                    .query_row(
                        "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?1",
                        [study.0],
                        |r| r.get(0),
                    )
                    .map_err(|e| self.be(e))?,
            };
            Ok(next as u64)
        })
    }

    fn ranked_trials(
        &self,
        study: StudyId,
        offset: u64,
        limit: u64,
    ) -> StorageResult<Vec<TrialRecord>> {
        self.read(|tx| {
            self.check_study(tx, study)?;
            let numbers: Vec<i64> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT number FROM trials WHERE study_id = ?1 AND rank_value IS NOT NULL \
                         ORDER BY rank_value DESC, number LIMIT ?2 OFFSET ?3",
                    )
                    .map_err(|e| self.be(e))?;
                stmt.query_map(
                    params![
                        study.0,
                        limit.min(i64::MAX as u64) as i64,
                        offset.min(i64::MAX as u64) as i64
                    ],
                    |r| r.get(0),
                )
                .map_err(|e| self.be(e))?
                .collect::<rusqlite::Result<_>>()
                .map_err(|e| self.be(e))?
            };
            numbers
                .into_iter()
                .map(|n| self.one_trial(tx, study, n as u64))
                .collect()
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
        self.write(|tx| {
            self.check_study(tx, artefact.study)?;
            if let Some(n) = artefact.trial {
                trial_id(tx, artefact.study, n).map_err(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => StorageError::NoTrial {
                        study: artefact.study.0,
                        number: n,
                    },
                    e => self.be(e),
                })?;
            }
            tx.execute(
                "INSERT INTO artefacts (study_id, trial_number, kind, path, created) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    artefact.study.0,
                    artefact.trial.map(|n| n as i64),
                    artefact.kind.as_str(),
                    path,
                    artefact.created
                ],
            )
            .map_err(|e| self.be(e))?;
            Ok(())
        })
    }

    fn artefacts(&self, study: StudyId) -> StorageResult<Vec<Artefact>> {
        self.read(|tx| {
            self.check_study(tx, study)?;
            let mut stmt = tx
                .prepare_cached(
                    "SELECT trial_number, kind, path, created FROM artefacts \
                     WHERE study_id = ?1 ORDER BY id",
                )
                .map_err(|e| self.be(e))?;
            let rows = stmt
                .query_map([study.0], |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, f64>(3)?,
                    ))
                })
                .map_err(|e| self.be(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.be(e))?;
            rows.into_iter()
                .map(|(trial, kind, path, created)| {
                    Ok(Artefact {
                        study,
                        trial: trial.map(|n| n as u64),
                        kind: ArtefactKind::parse(&kind)
                            .ok_or_else(|| self.corrupt("column `kind` of artefacts", &kind))?,
                        path: PathBuf::from(path),
                        created,
                    })
                })
                .collect()
        })
    }
}
