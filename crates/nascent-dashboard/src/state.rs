//! What the server holds: the storage, and per study a copy of its trials that is refreshed
//! incrementally (finished trials never change, so only the trials from the first unfinished
//! one on are read again).

use crate::error::DashError;
use nascent_core::storage::{Artefact, Storage, StorageError, StudyRecord, TrialRecord};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Trials of one study as last read from storage.
pub struct StudyCache {
    /// The study.
    pub record: StudyRecord,
    /// Its trials, by number (trial `i` at index `i`).
    pub trials: Vec<TrialRecord>,
    /// Its artefacts.
    pub artefacts: Vec<Artefact>,
    /// A fingerprint of what the dashboard shows; changes when a trial is created, reports,
    /// or ends.
    pub version: u64,
    refreshed: Option<Instant>,
}

impl StudyCache {
    fn new(record: StudyRecord) -> Self {
        StudyCache {
            record,
            trials: Vec::new(),
            artefacts: Vec::new(),
            version: 0,
            refreshed: None,
        }
    }

    /// Reads what changed since the last refresh (at most once per `min_interval`).
    fn refresh(&mut self, storage: &dyn Storage, min_interval: Duration) -> Result<(), DashError> {
        if self.refreshed.is_some_and(|t| t.elapsed() < min_interval) {
            return Ok(());
        }
        self.record = storage.study(&self.record.name)?;
        let first_open = self
            .trials
            .iter()
            .position(|t| !t.state.is_finished())
            .unwrap_or(self.trials.len());
        let fresh = storage.trials(self.record.id, first_open as u64)?;
        self.trials.truncate(first_open);
        self.trials.extend(fresh);
        self.artefacts = storage.artefacts(self.record.id)?;
        self.version = self.fingerprint(first_open);
        self.refreshed = Some(Instant::now());
        Ok(())
    }

    fn fingerprint(&self, first_open: usize) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.trials.len().hash(&mut h);
        first_open.hash(&mut h);
        for t in &self.trials[first_open.min(self.trials.len())..] {
            t.state_label().hash(&mut h);
            t.intermediate.len().hash(&mut h);
            t.intermediate
                .last()
                .map(|p| p.1.to_bits())
                .unwrap_or(0)
                .hash(&mut h);
        }
        self.artefacts.len().hash(&mut h);
        h.finish()
    }
}

/// Shared by every request.
pub struct AppState {
    /// The storage read.
    pub storage: Arc<dyn Storage>,
    /// Options the server was started with.
    pub options: crate::DashboardOptions,
    caches: Mutex<HashMap<String, Arc<Mutex<StudyCache>>>>,
    analyses: Mutex<HashMap<String, AnalysisEntry>>,
}

struct AnalysisEntry {
    version: u64,
    at: Instant,
    html: Arc<String>,
}

impl AppState {
    /// State over `storage`.
    pub fn new(storage: Arc<dyn Storage>, options: crate::DashboardOptions) -> Self {
        AppState {
            storage,
            options,
            caches: Mutex::new(HashMap::new()),
            analyses: Mutex::new(HashMap::new()),
        }
    }

    /// The analysis of a study computed before, while it is still good to show: the study has
    /// not changed since, or it was computed less than the analysis interval ago.
    pub fn cached_analysis(&self, name: &str, version: u64) -> Option<Arc<String>> {
        let m = lock(&self.analyses);
        let e = m.get(name)?;
        (e.version == version || e.at.elapsed() < self.options.analysis_interval)
            .then(|| e.html.clone())
    }

    /// Keeps the analysis of a study at `version`; returns it.
    pub fn store_analysis(&self, name: &str, version: u64, html: String) -> Arc<String> {
        let html = Arc::new(html);
        lock(&self.analyses).insert(
            name.to_string(),
            AnalysisEntry {
                version,
                at: Instant::now(),
                html: html.clone(),
            },
        );
        html
    }

    /// Whether the dashboard shows the study named `name`.
    pub fn shows(&self, name: &str) -> bool {
        self.options.study.as_deref().is_none_or(|s| s == name)
    }

    /// The studies shown, in creation order.
    pub fn studies(&self) -> Result<Vec<StudyRecord>, DashError> {
        Ok(self
            .storage
            .studies()?
            .into_iter()
            .filter(|s| self.shows(&s.name))
            .collect())
    }

    /// The refreshed cache of the study named `name`; [`DashError::NotFound`] when the
    /// storage has no such study (or the dashboard does not show it).
    pub fn study(&self, name: &str) -> Result<Arc<Mutex<StudyCache>>, DashError> {
        if !self.shows(name) {
            return Err(DashError::NotFound(format!("no study named `{name}`")));
        }
        let cache = {
            let mut caches = lock(&self.caches);
            match caches.get(name) {
                Some(c) => c.clone(),
                None => {
                    let record = match self.storage.study(name) {
                        Ok(r) => r,
                        Err(StorageError::NoStudy { .. }) => {
                            return Err(DashError::NotFound(format!("no study named `{name}`")));
                        }
                        Err(e) => return Err(e.into()),
                    };
                    let c = Arc::new(Mutex::new(StudyCache::new(record)));
                    caches.insert(name.to_string(), c.clone());
                    c
                }
            }
        };
        lock(&cache).refresh(&*self.storage, self.options.refresh_interval)?;
        Ok(cache)
    }

    /// The folder whose files the dashboard serves for a study: the one given in the options,
    /// else the folder of the study's report, else the deepest folder holding all its
    /// artefacts. `None` when there is none (or it would be the file system's root).
    pub fn artefact_dir(&self, cache: &StudyCache) -> Option<PathBuf> {
        if let Some(d) = self.options.artefact_dirs.get(&cache.record.name) {
            return d.canonicalize().ok();
        }
        let report = cache
            .artefacts
            .iter()
            .find(|a| a.kind == nascent_core::storage::ArtefactKind::Report)
            .and_then(|a| a.path.parent().map(PathBuf::from));
        let dir = report.or_else(|| {
            let mut dirs = cache
                .artefacts
                .iter()
                .filter_map(|a| a.path.parent().map(PathBuf::from));
            let first = dirs.next()?;
            Some(dirs.fold(first, |acc, d| common_ancestor(&acc, &d)))
        })?;
        let dir = dir.canonicalize().ok()?;
        // Never the root of the file system: that would serve every file.
        (dir.parent().is_some()).then_some(dir)
    }
}

fn common_ancestor(a: &std::path::Path, b: &std::path::Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}

/// Locks a mutex, recovering the data when a panicking request poisoned it (the caches are
/// rebuilt from storage on the next refresh, so nothing is lost).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
