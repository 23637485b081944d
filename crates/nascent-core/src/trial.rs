//! Trials, their states, the budget of one evaluation, and the history a strategy reads.

use crate::objective::{Constraint, Metrics, Objective};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::Hash;

/// Where a trial stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TrialState {
    /// Claimed by a worker and being evaluated.
    Running,
    /// Evaluated to the end; its metrics are final.
    Complete,
    /// Stopped early by a pruner; its metrics are those at the point it stopped.
    Pruned,
    /// The evaluation failed (the reason is in [`Trial::fail_reason`]).
    Fail,
}

impl TrialState {
    /// The name as stored and printed (`RUNNING`, `COMPLETE`, `PRUNED`, `FAIL`).
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Running => "RUNNING",
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Fail => "FAIL",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RUNNING" => TrialState::Running,
            "COMPLETE" => TrialState::Complete,
            "PRUNED" => TrialState::Pruned,
            "FAIL" => TrialState::Fail,
            _ => return None,
        })
    }

    /// Whether the trial has ended.
    pub fn is_finished(self) -> bool {
        self != TrialState::Running
    }
}

/// The fidelity of one evaluation: how much training it may spend. `None` fields take the
/// evaluator's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Training epochs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    /// Fraction of the training data used (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_fraction: Option<f64>,
    /// Input resolution (side in pixels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<u32>,
    /// Cells (or layers) per stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cells: Option<u32>,
    /// Base channel width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
}

impl Budget {
    /// A budget of `epochs` epochs, everything else default.
    pub fn epochs(epochs: u32) -> Self {
        Budget {
            epochs: Some(epochs),
            ..Budget::default()
        }
    }
}

/// One evaluation of one architecture in a study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial<A> {
    /// 0-based number of the trial in its study, in the order trials were created.
    pub number: u64,
    /// The architecture evaluated.
    pub arch: A,
    /// Where it stands.
    pub state: TrialState,
    /// Why it failed, for `Fail` (and why it was stopped, for `Pruned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    /// The fidelity it was evaluated at.
    #[serde(default)]
    pub budget: Budget,
    /// Everything the evaluator measured.
    #[serde(default)]
    pub metrics: Metrics,
    /// The study's objective values in the study's order (NaN where a metric is missing).
    #[serde(default)]
    pub values: Vec<f64>,
    /// Intermediate values reported during evaluation: (step, value).
    #[serde(default)]
    pub intermediate: Vec<(u32, f64)>,
    /// Seconds the evaluation took (or would take, on a tabular benchmark).
    #[serde(default)]
    pub cost_seconds: f64,
}

impl<A> Trial<A> {
    /// A new running trial.
    pub fn running(number: u64, arch: A, budget: Budget) -> Self {
        Trial {
            number,
            arch,
            state: TrialState::Running,
            fail_reason: None,
            budget,
            metrics: Metrics::new(),
            values: Vec::new(),
            intermediate: Vec::new(),
            cost_seconds: 0.0,
        }
    }

    /// Whether the trial completed with values.
    pub fn is_complete(&self) -> bool {
        self.state == TrialState::Complete
    }

    /// Fills `values` from `metrics` in the order of `objectives`.
    pub fn set_values(&mut self, objectives: &[Objective]) {
        self.values = objectives
            .iter()
            .map(|o| self.metrics.get(&o.metric).copied().unwrap_or(f64::NAN))
            .collect();
    }

    /// The same trial with its architecture mapped (to a string for storage, say).
    pub fn map_arch<B>(self, f: impl FnOnce(A) -> B) -> Trial<B> {
        Trial {
            number: self.number,
            arch: f(self.arch),
            state: self.state,
            fail_reason: self.fail_reason,
            budget: self.budget,
            metrics: self.metrics,
            values: self.values,
            intermediate: self.intermediate,
            cost_seconds: self.cost_seconds,
        }
    }
}

/// The trials of a study so far, as strategies see them.
///
/// Looks up an architecture in constant time (to refuse repeats) and ranks completed trials by
/// the first objective, feasible trials before infeasible ones.
#[derive(Clone, Debug)]
pub struct History<A: Clone + Eq + Hash> {
    objectives: Vec<Objective>,
    constraints: Vec<Constraint>,
    trials: Vec<Trial<A>>,
    by_arch: HashMap<A, usize>,
    /// Indices of the finished trials in the order they finished (were told).
    finish_order: Vec<usize>,
}

impl<A: Clone + Eq + Hash> History<A> {
    /// An empty history for these objectives (at least one).
    pub fn new(objectives: Vec<Objective>) -> Self {
        assert!(
            !objectives.is_empty(),
            "a study needs at least one objective"
        );
        History {
            objectives,
            constraints: Vec::new(),
            trials: Vec::new(),
            by_arch: HashMap::new(),
            finish_order: Vec::new(),
        }
    }

    /// Adds hard constraints; infeasible trials rank below every feasible one.
    pub fn with_constraints(mut self, constraints: Vec<Constraint>) -> Self {
        self.constraints = constraints;
        self
    }

    /// The study's objectives.
    pub fn objectives(&self) -> &[Objective] {
        &self.objectives
    }

    /// The study's constraints.
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// All trials in creation order.
    pub fn trials(&self) -> &[Trial<A>] {
        &self.trials
    }

    /// Number of trials (of any state).
    pub fn len(&self) -> usize {
        self.trials.len()
    }

    /// Whether there are no trials yet.
    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// Appends a trial (its `values` are filled from its metrics) and returns its index; a
    /// finished one joins the finish order.
    pub fn push(&mut self, mut trial: Trial<A>) -> usize {
        let i = self.trials.len();
        if trial.state.is_finished() {
            trial.set_values(&self.objectives);
            self.finish_order.push(i);
        }
        self.by_arch.insert(trial.arch.clone(), i);
        self.trials.push(trial);
        i
    }

    /// Replaces trial `i` (after it finished) and refreshes its `values`; a trial that was not
    /// finished before joins the finish order.
    pub fn update(&mut self, i: usize, mut trial: Trial<A>) {
        trial.set_values(&self.objectives);
        if trial.state.is_finished() && !self.trials[i].state.is_finished() {
            self.finish_order.push(i);
        }
        if self.trials[i].arch != trial.arch {
            self.by_arch.insert(trial.arch.clone(), i);
        }
        self.trials[i] = trial;
    }

    /// Indices of the finished trials in the order they finished: the order a strategy was
    /// told of them, which [`crate::Strategy::restore`] replays.
    pub fn finish_order(&self) -> &[usize] {
        &self.finish_order
    }

    /// Reorders the finish order from position `from` on by `key` (stable): a runner that
    /// learns of several finished trials at once puts them in the order they finished.
    pub fn sort_finish_order_from<K: Ord>(&mut self, from: usize, key: impl Fn(usize) -> K) {
        if from < self.finish_order.len() {
            self.finish_order[from..].sort_by_key(|&i| key(i));
        }
    }

    /// Whether `arch` has been proposed already (in any state).
    pub fn contains(&self, arch: &A) -> bool {
        self.by_arch.contains_key(arch)
    }

    /// The index of the latest trial of `arch`.
    pub fn index_of(&self, arch: &A) -> Option<usize> {
        self.by_arch.get(arch).copied()
    }

    /// The latest trial of `arch`.
    pub fn find(&self, arch: &A) -> Option<&Trial<A>> {
        self.index_of(arch).map(|i| &self.trials[i])
    }

    /// Completed trials, in order.
    pub fn completed(&self) -> impl Iterator<Item = &Trial<A>> {
        self.trials.iter().filter(|t| t.is_complete())
    }

    /// Total constraint violation of a trial (0 when feasible).
    pub fn violation(&self, trial: &Trial<A>) -> f64 {
        self.constraints
            .iter()
            .map(|c| c.violation(&trial.metrics))
            .sum()
    }

    /// The fitness of a completed trial on the first objective, larger is better; infeasible
    /// trials get a fitness below every feasible one; `None` for trials without a value.
    pub fn fitness(&self, trial: &Trial<A>) -> Option<f64> {
        if !trial.is_complete() {
            return None;
        }
        let v = *trial.values.first()?;
        if !v.is_finite() {
            return None;
        }
        let u = self.objectives[0].utility(v);
        let viol = self.violation(trial);
        if viol > 0.0 {
            Some(-1e12 - viol * 1e6 + u * 1e-6)
        } else {
            Some(u)
        }
    }

    /// The best completed feasible trial on the first objective (the earliest among ties).
    pub fn best(&self) -> Option<&Trial<A>> {
        let mut best: Option<(&Trial<A>, f64)> = None;
        for t in &self.trials {
            if self.violation(t) > 0.0 {
                continue;
            }
            if let Some(f) = self.fitness(t)
                && best.is_none_or(|(_, b)| f > b)
            {
                best = Some((t, f));
            }
        }
        best.map(|(t, _)| t)
    }

    /// Indices of completed trials sorted by fitness, best first.
    pub fn ranked(&self) -> Vec<usize> {
        let mut idx: Vec<(usize, f64)> = self
            .trials
            .iter()
            .enumerate()
            .filter_map(|(i, t)| self.fitness(t).map(|f| (i, f)))
            .collect();
        idx.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        idx.into_iter().map(|(i, _)| i).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(n: u64, arch: &str, acc: f64, lat: f64) -> Trial<String> {
        let mut t = Trial::running(n, arch.to_string(), Budget::default());
        t.state = TrialState::Complete;
        t.metrics.insert("acc".into(), acc);
        t.metrics.insert("lat".into(), lat);
        t
    }

    #[test]
    fn best_respects_direction_and_constraints() {
        let mut h =
            History::new(vec![Objective::maximize("acc")]).with_constraints(vec![Constraint {
                metric: "lat".into(),
                max: Some(5.0),
                min: None,
            }]);
        h.push(done(0, "a", 90.0, 4.0));
        h.push(done(1, "b", 95.0, 9.0));
        h.push(done(2, "c", 91.0, 5.0));
        assert_eq!(h.best().unwrap().arch, "c");
        assert_eq!(h.ranked(), vec![2, 0, 1]);
        assert!(h.contains(&"b".to_string()));
        assert!(!h.contains(&"d".to_string()));
        assert_eq!(h.trials()[1].values, vec![95.0]);
    }

    #[test]
    fn running_trials_have_no_fitness() {
        let mut h = History::new(vec![Objective::minimize("lat")]);
        let i = h.push(Trial::running(0, "x".to_string(), Budget::default()));
        assert!(h.fitness(&h.trials()[i]).is_none());
        assert!(h.best().is_none());
        h.update(i, done(0, "x", 1.0, 3.0));
        assert_eq!(h.fitness(&h.trials()[i]), Some(-3.0));
    }

    #[test]
    fn state_names_round_trip() {
        for s in [
            TrialState::Running,
            TrialState::Complete,
            TrialState::Pruned,
            TrialState::Fail,
        ] {
            assert_eq!(TrialState::parse(s.as_str()), Some(s));
        }
        assert_eq!(TrialState::parse("done"), None);
    }
}
