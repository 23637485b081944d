//! The in-memory storage: one process, gone when it ends. For tests, benchmarks and studies
//! whose results are written elsewhere.

use nascent_core::TrialState;
use nascent_core::storage::{
    Artefact, CreateOutcome, NewTrial, RequeueIf, StepValue, Storage, StorageError, StorageResult,
    StudyCounts, StudyId, StudyRecord, StudySpec, TrialRecord, TrialResult, now,
};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// A storage in memory, shared by the threads of one process.
#[derive(Debug)]
pub struct MemoryStorage {
    url: String,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    studies: Vec<StudyRecord>,
    /// Trials of study `i` (id `i + 1`), by number.
    trials: Vec<Vec<TrialRecord>>,
    /// Architecture string -> trial number, per study.
    by_arch: Vec<HashMap<String, u64>>,
    artefacts: Vec<Artefact>,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        MemoryStorage {
            url: "memory:".to_string(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every method validates
        // before it mutates), so a poisoned lock is taken over.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn index(&self, study: StudyId) -> StorageResult<usize> {
        let i = study.0 - 1;
        if i < 0 || i as usize >= self.studies.len() {
            return Err(StorageError::Invalid {
                what: "study id",
                reason: format!("no study with id {} in `memory:`", study.0),
            });
        }
        Ok(i as usize)
    }

    fn trial_mut(&mut self, study: StudyId, number: u64) -> StorageResult<&mut TrialRecord> {
        let i = self.index(study)?;
        self.trials[i]
            .get_mut(number as usize)
            .ok_or(StorageError::NoTrial {
                study: study.0,
                number,
            })
    }
}

/// The checks shared by `report`, `finish` and `heartbeat`: trial `number` of `study`, in
/// `state` and held by `holder`, runs and `worker` holds it.
pub(crate) fn held_by(
    study: StudyId,
    number: u64,
    state: TrialState,
    holder: Option<&str>,
    worker: &str,
) -> StorageResult<()> {
    let conflict = |reason: String| StorageError::Conflict {
        study: study.0,
        number,
        reason,
    };
    if state != TrialState::Running {
        return Err(conflict(format!("it is {} already", state.as_str())));
    }
    match holder {
        Some(w) if w == worker => Ok(()),
        Some(w) => Err(conflict(format!(
            "worker `{worker}` does not hold it (`{w}` does)"
        ))),
        None => Err(conflict(format!(
            "worker `{worker}` does not hold it (it is queued)"
        ))),
    }
}

fn held(t: &TrialRecord, worker: &str) -> StorageResult<()> {
    held_by(t.study, t.number, t.state, t.worker.as_deref(), worker)
}

/// Checks a result before it is written.
pub(crate) fn check_result(study: StudyId, number: u64, r: &TrialResult) -> StorageResult<()> {
    if r.state == TrialState::Running {
        return Err(StorageError::Conflict {
            study: study.0,
            number,
            reason: "a trial cannot finish in state RUNNING".into(),
        });
    }
    Ok(())
}

/// Epochs recorded for a trial that finishes: those reported, or the budget's for a trial that
/// completed without reporting.
pub(crate) fn finished_epochs(t: &TrialRecord, r: &TrialResult) -> u32 {
    if t.epochs == 0 && r.state == TrialState::Complete {
        t.budget.epochs.unwrap_or(0)
    } else {
        t.epochs
    }
}

fn requeue_ok(t: &TrialRecord, cond: &RequeueIf<'_>) -> bool {
    if t.state != TrialState::Running || t.worker.is_none() {
        return false;
    }
    if let Some(w) = cond.worker
        && t.worker.as_deref() != Some(w)
    {
        return false;
    }
    if let Some(before) = cond.heartbeat_before
        && t.heartbeat.is_some_and(|h| h >= before)
    {
        return false;
    }
    true
}

impl Storage for MemoryStorage {
    fn url(&self) -> &str {
        &self.url
    }

    fn create_study(&self, spec: &StudySpec) -> StorageResult<StudyRecord> {
        let mut g = self.lock();
        if g.studies.iter().any(|s| s.name == spec.name) {
            return Err(StorageError::StudyExists {
                url: self.url.clone(),
                name: spec.name.clone(),
            });
        }
        let rec = StudyRecord {
            id: StudyId(g.studies.len() as i64 + 1),
            name: spec.name.clone(),
            space: spec.space.clone(),
            objectives: spec.objectives.clone(),
            constraints: spec.constraints.clone(),
            config: spec.config.clone(),
            seed: spec.seed,
            created: now(),
            elapsed_seconds: 0.0,
        };
        g.studies.push(rec.clone());
        g.trials.push(Vec::new());
        g.by_arch.push(HashMap::new());
        Ok(rec)
    }

    fn study(&self, name: &str) -> StorageResult<StudyRecord> {
        let g = self.lock();
        g.studies
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| StorageError::NoStudy {
                url: self.url.clone(),
                name: name.to_string(),
            })
    }

    fn studies(&self) -> StorageResult<Vec<StudyRecord>> {
        Ok(self.lock().studies.clone())
    }

    fn record_elapsed(&self, study: StudyId, seconds: f64) -> StorageResult<()> {
        let mut g = self.lock();
        let i = g.index(study)?;
        let s = &mut g.studies[i];
        if seconds > s.elapsed_seconds {
            s.elapsed_seconds = seconds;
        }
        Ok(())
    }

    fn create_trial(
        &self,
        study: StudyId,
        trial: &NewTrial,
        max_trials: Option<u64>,
    ) -> StorageResult<CreateOutcome> {
        let mut g = self.lock();
        let i = g.index(study)?;
        if let Some(&n) = g.by_arch[i].get(&trial.arch) {
            return Ok(CreateOutcome::Exists(n));
        }
        let number = g.trials[i].len() as u64;
        if max_trials.is_some_and(|m| number >= m) {
            return Ok(CreateOutcome::LimitReached);
        }
        let t = now();
        let rec = TrialRecord::created(study, number, trial, t);
        g.by_arch[i].insert(trial.arch.clone(), number);
        g.trials[i].push(rec.clone());
        Ok(CreateOutcome::Created(Box::new(rec)))
    }

    fn claim_queued(&self, study: StudyId, worker: &str) -> StorageResult<Option<TrialRecord>> {
        let mut g = self.lock();
        let i = g.index(study)?;
        let Some(t) = g.trials[i].iter_mut().find(|t| t.is_queued()) else {
            return Ok(None);
        };
        let n = now();
        t.worker = Some(worker.to_string());
        t.started = Some(n);
        t.heartbeat = Some(n);
        t.attempts += 1;
        Ok(Some(t.clone()))
    }

    fn heartbeat(&self, study: StudyId, number: u64, worker: &str) -> StorageResult<bool> {
        let mut g = self.lock();
        let t = g.trial_mut(study, number)?;
        if held(t, worker).is_err() {
            return Ok(false);
        }
        t.heartbeat = Some(now());
        Ok(true)
    }

    fn report(
        &self,
        study: StudyId,
        number: u64,
        worker: &str,
        step: u32,
        value: f64,
    ) -> StorageResult<()> {
        let mut g = self.lock();
        let t = g.trial_mut(study, number)?;
        held(t, worker)?;
        match t.intermediate.binary_search_by_key(&step, |(s, _)| *s) {
            Ok(k) => t.intermediate[k].1 = value,
            Err(k) => t.intermediate.insert(k, (step, value)),
        }
        t.epochs = t.epochs.max(step);
        Ok(())
    }

    fn finish(
        &self,
        study: StudyId,
        number: u64,
        worker: &str,
        result: &TrialResult,
    ) -> StorageResult<()> {
        check_result(study, number, result)?;
        let mut g = self.lock();
        let i = g.index(study)?;
        let sequence = g.trials[i].iter().filter(|t| t.sequence.is_some()).count() as u64;
        let t = g.trial_mut(study, number)?;
        held(t, worker)?;
        t.sequence = Some(sequence);
        t.epochs = finished_epochs(t, result);
        t.state = result.state;
        t.reason = result.reason.clone();
        t.metrics = result.metrics.clone();
        t.values = result.values.clone();
        t.cost_seconds = result.cost_seconds;
        t.finished = Some(now());
        Ok(())
    }

    fn requeue(&self, study: StudyId, number: u64, cond: &RequeueIf<'_>) -> StorageResult<bool> {
        let mut g = self.lock();
        let t = g.trial_mut(study, number)?;
        if !requeue_ok(t, cond) {
            return Ok(false);
        }
        t.worker = None;
        t.started = None;
        t.heartbeat = None;
        t.intermediate.clear();
        t.epochs = 0;
        Ok(true)
    }

    fn trials(&self, study: StudyId, from: u64) -> StorageResult<Vec<TrialRecord>> {
        let g = self.lock();
        let i = g.index(study)?;
        Ok(g.trials[i].iter().skip(from as usize).cloned().collect())
    }

    fn trial(&self, study: StudyId, number: u64) -> StorageResult<TrialRecord> {
        let g = self.lock();
        let i = g.index(study)?;
        g.trials[i]
            .get(number as usize)
            .cloned()
            .ok_or(StorageError::NoTrial {
                study: study.0,
                number,
            })
    }

    fn step_values(&self, study: StudyId, step: u32) -> StorageResult<Vec<StepValue>> {
        let g = self.lock();
        let i = g.index(study)?;
        Ok(g.trials[i]
            .iter()
            .filter_map(|t| {
                t.intermediate
                    .binary_search_by_key(&step, |(s, _)| *s)
                    .ok()
                    .map(|k| StepValue {
                        number: t.number,
                        state: t.state,
                        value: t.intermediate[k].1,
                    })
            })
            .collect())
    }

    fn counts(&self, study: StudyId) -> StorageResult<StudyCounts> {
        let g = self.lock();
        let i = g.index(study)?;
        let mut c = StudyCounts::default();
        for t in &g.trials[i] {
            c.total += 1;
            c.epochs += t.epochs as u64;
            match t.state {
                TrialState::Running if t.worker.is_none() => c.queued += 1,
                TrialState::Running => c.running += 1,
                TrialState::Complete => c.complete += 1,
                TrialState::Pruned => c.pruned += 1,
                TrialState::Fail => c.failed += 1,
            }
        }
        Ok(c)
    }

    fn add_artefact(&self, artefact: &Artefact) -> StorageResult<()> {
        let mut g = self.lock();
        let i = g.index(artefact.study)?;
        if let Some(n) = artefact.trial
            && n as usize >= g.trials[i].len()
        {
            return Err(StorageError::NoTrial {
                study: artefact.study.0,
                number: n,
            });
        }
        g.artefacts.push(artefact.clone());
        Ok(())
    }

    fn artefacts(&self, study: StudyId) -> StorageResult<Vec<Artefact>> {
        let g = self.lock();
        g.index(study)?;
        Ok(g.artefacts
            .iter()
            .filter(|a| a.study == study)
            .cloned()
            .collect())
    }
}
