//! A deterministic synthetic evaluator for exercising runners, pruners and storages without
//! training anything.
//!
//! [`SyntheticEvaluator`] is a real [`Evaluator`]: given an architecture's final accuracy (from
//! a tabular benchmark, or a structural score) it "trains" epoch by epoch, sleeping a set time
//! per epoch and reporting a plausible learning curve — rising from chance towards that
//! accuracy along a power law whose speed depends on the architecture, with a little
//! deterministic noise — and honouring the budget's epochs and data fraction and the
//! reporter's `Stop`. The same architecture always gives the same curve.

use nascent_core::{
    Budget, Control, Evaluation, Evaluator, History, Metrics, Outcome, Reporter, Rng, SearchSpace,
    Strategy,
};
use nascent_space::{Nb201Arch, Nb201Op};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The final accuracy (%) of an architecture.
pub type Quality<A> = Arc<dyn Fn(&A) -> f64 + Send + Sync>;

/// A deterministic evaluator that reports a learning curve towards a given final accuracy.
pub struct SyntheticEvaluator<A> {
    quality: Quality<A>,
    /// Epochs when the budget sets none.
    pub epochs: u32,
    /// Time slept per epoch (the "training").
    pub sleep_per_epoch: Duration,
    /// The metric reported (`val_accuracy`).
    pub metric: String,
    /// Accuracy at epoch 0 (chance).
    pub start: f64,
    /// Amplitude of the deterministic noise added to each epoch's value.
    pub noise: f64,
    on_start: Option<StartHook<A>>,
}

/// Called with every architecture an evaluator starts on.
pub type StartHook<A> = Arc<dyn Fn(&A) + Send + Sync>;

impl<A: Hash + std::fmt::Debug> SyntheticEvaluator<A> {
    /// An evaluator whose architectures reach `quality(arch)` percent accuracy, with 10 epochs,
    /// no sleeping, chance at 10%, noise 0.3.
    pub fn new(quality: impl Fn(&A) -> f64 + Send + Sync + 'static) -> Self {
        SyntheticEvaluator {
            quality: Arc::new(quality),
            epochs: 10,
            sleep_per_epoch: Duration::ZERO,
            metric: "val_accuracy".into(),
            start: 10.0,
            noise: 0.3,
            on_start: None,
        }
    }

    /// Sets the default epochs.
    pub fn with_epochs(mut self, epochs: u32) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sleeps `d` per epoch.
    pub fn with_sleep(mut self, d: Duration) -> Self {
        self.sleep_per_epoch = d;
        self
    }

    /// Calls `hook` with every architecture it starts to evaluate (so tests can check what
    /// was evaluated and how often).
    pub fn with_on_start(mut self, hook: impl Fn(&A) + Send + Sync + 'static) -> Self {
        self.on_start = Some(Arc::new(hook));
        self
    }

    /// Appends `name(arch)` for every architecture it starts to evaluate to `log`.
    pub fn with_log(
        self,
        log: Arc<Mutex<Vec<String>>>,
        name: impl Fn(&A) -> String + Send + Sync + 'static,
    ) -> Self {
        self.with_on_start(move |a| log.lock().unwrap_or_else(|e| e.into_inner()).push(name(a)))
    }

    fn key(a: &A) -> u64 {
        let mut h = DefaultHasher::new();
        a.hash(&mut h);
        h.finish()
    }

    /// The noiseless curve's value at `epoch` for an architecture of final accuracy `q` and
    /// key `key` (which sets the speed of learning), with `fraction` of the data.
    pub fn curve_value(&self, q: f64, key: u64, epoch: u32, fraction: f64) -> f64 {
        // A smaller data fraction lowers the ceiling a little (as in low-fidelity training).
        let ceiling = self.start + (q - self.start) * (0.85 + 0.15 * fraction);
        let speed = 0.6 + 0.8 * ((key >> 11) as f64 / (1u64 << 53) as f64);
        ceiling - (ceiling - self.start) * (1.0 + epoch as f64).powf(-speed)
    }

    fn noise_at(&self, key: u64, epoch: u32) -> f64 {
        let mut s = key ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let u = nascent_core::rng::splitmix64(&mut s) >> 11;
        self.noise * (2.0 * (u as f64 / (1u64 << 53) as f64) - 1.0)
    }
}

impl<A: Hash + std::fmt::Debug + Send + Sync> Evaluator<A> for SyntheticEvaluator<A> {
    fn metrics(&self) -> Vec<String> {
        vec![self.metric.clone(), "epochs".into()]
    }

    fn evaluate(&self, arch: &A, budget: &Budget, reporter: &mut dyn Reporter) -> Outcome {
        if let Some(hook) = &self.on_start {
            hook(arch);
        }
        let t0 = Instant::now();
        let q = (self.quality)(arch);
        let key = Self::key(arch);
        let epochs = budget.epochs.unwrap_or(self.epochs).max(1);
        let fraction = budget.data_fraction.unwrap_or(1.0);
        let mut value = self.start;
        for e in 1..=epochs {
            if !self.sleep_per_epoch.is_zero() {
                std::thread::sleep(self.sleep_per_epoch);
            }
            value = self.curve_value(q, key, e, fraction) + self.noise_at(key, e);
            if reporter.report(e, value) == Control::Stop {
                let mut m = Metrics::new();
                m.insert(self.metric.clone(), value);
                m.insert("epochs".into(), e as f64);
                return Outcome::Pruned(Evaluation {
                    metrics: m,
                    cost_seconds: t0.elapsed().as_secs_f64(),
                });
            }
        }
        let mut m = Metrics::new();
        m.insert(self.metric.clone(), value);
        m.insert("epochs".into(), epochs as f64);
        Outcome::Complete(Evaluation {
            metrics: m,
            cost_seconds: t0.elapsed().as_secs_f64(),
        })
    }
}

/// A small evolutionary strategy for exercising runners: random architectures until
/// `warmup` trials have completed, then a mutation of the winner of a tournament of
/// `tournament` completed trials. Its state (the completed trials, ranked) is rebuilt from the
/// history by `restore`, and `tell` counts what it was told so tests can check that every
/// finished trial is told exactly once.
#[derive(Clone, Debug)]
pub struct TournamentMutation {
    /// Completed trials needed before mutating.
    pub warmup: usize,
    /// Tournament size.
    pub tournament: usize,
    /// (fitness, history index) of the completed trials told so far.
    pub pool: Vec<(f64, usize)>,
    /// History indices told so far (finished trials of any state), in order.
    pub told: Vec<usize>,
}

impl Default for TournamentMutation {
    fn default() -> Self {
        TournamentMutation {
            warmup: 5,
            tournament: 5,
            pool: Vec::new(),
            told: Vec::new(),
        }
    }
}

impl<S: SearchSpace> Strategy<S> for TournamentMutation {
    fn name(&self) -> String {
        "tournament-mutation".into()
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        if self.pool.len() < self.warmup.max(1) {
            return Some(space.sample(rng));
        }
        let picks = rng.sample_indices(self.pool.len(), self.tournament.max(1));
        let best = picks
            .into_iter()
            .map(|k| self.pool[k])
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))?;
        Some(space.mutate(&history.trials()[best.1].arch, rng))
    }

    fn tell(&mut self, _space: &S, history: &History<S::Arch>, index: usize, _rng: &mut Rng) {
        self.told.push(index);
        if let Some(f) = history.fitness(&history.trials()[index]) {
            self.pool.push((f, index));
        }
    }

    fn repeated(&mut self, _space: &S, _history: &History<S::Arch>, _index: usize, _rng: &mut Rng) {
    }
}

/// A structural accuracy score for NB201 cells when the benchmark table is not at hand: 3x3
/// convolutions help most, then 1x1 convolutions and skips; a cell with no path from input to
/// output sits at chance. Ranges from 10 to about 94.
pub fn nb201_structural_accuracy(arch: &Nb201Arch) -> f64 {
    if !arch.is_connected() {
        return 10.0;
    }
    let mut acc: f64 = 60.0;
    for op in arch.0 {
        acc += match op {
            Nb201Op::Conv3x3 => 5.5,
            Nb201Op::Conv1x1 => 3.0,
            Nb201Op::Skip => 1.5,
            Nb201Op::AvgPool3x3 => -1.0,
            Nb201Op::None => 0.0,
        };
    }
    // The direct edge 3<-0 with a skip adds a residual path.
    if arch.0[3] == Nb201Op::Skip {
        acc += 2.0;
    }
    acc.min(94.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nascent_core::RecordingReporter;

    #[test]
    fn curves_rise_and_are_deterministic() {
        let ev = SyntheticEvaluator::new(nb201_structural_accuracy).with_epochs(20);
        let arch = Nb201Arch::uniform(Nb201Op::Conv3x3);
        let mut r1 = RecordingReporter::default();
        let mut r2 = RecordingReporter::default();
        let o1 = ev.evaluate(&arch, &Budget::default(), &mut r1);
        let o2 = ev.evaluate(&arch, &Budget::default(), &mut r2);
        let metrics = |o: Outcome| match o {
            Outcome::Complete(e) => e.metrics,
            other => panic!("{other:?}"),
        };
        assert_eq!(metrics(o1), metrics(o2));
        assert_eq!(r1.values, r2.values);
        assert_eq!(r1.values.len(), 20);
        let first = r1.values[0].1;
        let last = r1.values[19].1;
        assert!(first < last - 20.0, "{first} -> {last}");
        assert!(last <= 94.5);
        // Fewer epochs and less data: lower accuracy.
        let low = Budget {
            epochs: Some(5),
            data_fraction: Some(0.25),
            ..Budget::default()
        };
        let mut r3 = RecordingReporter::default();
        let Outcome::Complete(e) = ev.evaluate(&arch, &low, &mut r3) else {
            panic!("complete");
        };
        assert_eq!(r3.values.len(), 5);
        assert!(e.metrics["val_accuracy"] < last);
        let dead = Nb201Arch::uniform(Nb201Op::None);
        assert_eq!(nb201_structural_accuracy(&dead), 10.0);
    }

    struct StopAt(u32);
    impl Reporter for StopAt {
        fn report(&mut self, step: u32, _value: f64) -> Control {
            if step >= self.0 {
                Control::Stop
            } else {
                Control::Continue
            }
        }
    }

    #[test]
    fn honours_stop() {
        let ev = SyntheticEvaluator::new(|_: &u32| 80.0);
        match ev.evaluate(&3, &Budget::epochs(10), &mut StopAt(4)) {
            Outcome::Pruned(e) => assert_eq!(e.metrics["epochs"], 4.0),
            other => panic!("{other:?}"),
        }
    }
}
