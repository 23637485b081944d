//! Synthetic trials written straight through the [`Storage`] API, as a worker would: for the
//! dashboard's tests, its browser test and its benchmark. Accuracies are made up (a hash of the
//! architecture), never read as results.

use nascent_core::storage::{
    CreateOutcome, NewTrial, Storage, StorageResult, StudyRecord, StudySpec, TrialResult,
};
use nascent_core::{Budget, Metrics, Objective, Rng, SearchSpace, TrialState};
use std::collections::HashSet;

/// A study of `space` maximising `val_accuracy` and minimising `params`.
pub fn spec(name: &str, space: &str) -> StudySpec {
    StudySpec {
        name: name.to_string(),
        space: space.to_string(),
        objectives: vec![
            Objective::maximize("val_accuracy"),
            Objective::minimize("params"),
        ],
        constraints: vec![],
        config: serde_json::json!({
            "strategy": {"kind": "evolution", "population": 30, "sample": 10},
            "budget": {"trials": 100},
            "fidelity": {"epochs": 3, "channels": 8},
            "data": {"name": "synthetic"},
            "seed": 7
        }),
        seed: 7,
    }
}

/// Writes trials into one study as a worker does: create (claimed), report one value per
/// epoch, finish. Architectures are drawn from a space, each one new to the study.
pub struct SyntheticWorker<'a> {
    storage: &'a dyn Storage,
    study: StudyRecord,
    worker: String,
    rng: Rng,
    seen: HashSet<String>,
}

impl<'a> SyntheticWorker<'a> {
    /// A worker named `worker` writing into `study`, its draws seeded by `seed`.
    pub fn new(storage: &'a dyn Storage, study: StudyRecord, worker: &str, seed: u64) -> Self {
        SyntheticWorker {
            storage,
            study,
            worker: worker.to_string(),
            rng: Rng::new(seed),
            seen: HashSet::new(),
        }
    }

    /// A new architecture of `space`, not yet tried by this worker.
    pub fn draw<S: SearchSpace>(&mut self, space: &S) -> String {
        loop {
            let a = space.format(&space.sample(&mut self.rng));
            if self.seen.insert(a.clone()) {
                return a;
            }
        }
    }

    /// Creates (and claims) a trial of `arch`; its number, or `None` when the study has it.
    pub fn start(&mut self, arch: &str, epochs: u32) -> StorageResult<Option<u64>> {
        let t = NewTrial {
            arch: arch.to_string(),
            params: serde_json::json!({"lr": 0.025, "batch": 64}),
            budget: Budget::epochs(epochs),
            seed: self.rng.next_u64() % 1_000_000,
            worker: self.worker.clone(),
        };
        Ok(match self.storage.create_trial(self.study.id, &t, None)? {
            CreateOutcome::Created(r) => Some(r.number),
            _ => None,
        })
    }

    /// The made-up final accuracy (%) of `arch`.
    pub fn accuracy(arch: &str) -> f64 {
        let h = arch.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        60.0 + 35.0 * ((h >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Reports the learning curve of trial `number` (one value per epoch, rising to the
    /// architecture's accuracy) and finishes it as `state`.
    pub fn finish(
        &mut self,
        number: u64,
        arch: &str,
        epochs: u32,
        state: TrialState,
    ) -> StorageResult<()> {
        let acc = Self::accuracy(arch);
        for e in 1..=epochs {
            let v = acc * (1.0 - 0.5 * (-(e as f64) / 2.0).exp());
            self.storage
                .report(self.study.id, number, &self.worker, e, v)?;
        }
        let params = 1e5 + 1e6 * self.rng.uniform();
        let mut metrics = Metrics::new();
        let values = if state == TrialState::Fail {
            vec![f64::NAN, f64::NAN]
        } else {
            metrics.insert("val_accuracy".into(), acc);
            metrics.insert("params".into(), params);
            metrics.insert("train_accuracy".into(), (acc + 3.0).min(100.0));
            vec![acc, params]
        };
        self.storage.finish(
            self.study.id,
            number,
            &self.worker,
            &TrialResult {
                state,
                reason: (state == TrialState::Fail).then(|| "synthetic failure".to_string()),
                metrics,
                values,
                cost_seconds: 1.0 + 10.0 * self.rng.uniform(),
            },
        )
    }

    /// Writes `n` complete trials of `space` (every 10th failed, every 7th pruned).
    pub fn run<S: SearchSpace>(&mut self, space: &S, n: usize, epochs: u32) -> StorageResult<()> {
        for i in 0..n {
            let arch = self.draw(space);
            if let Some(num) = self.start(&arch, epochs)? {
                let state = if i % 10 == 9 {
                    TrialState::Fail
                } else if i % 7 == 6 {
                    TrialState::Pruned
                } else {
                    TrialState::Complete
                };
                self.finish(num, &arch, epochs, state)?;
            }
        }
        Ok(())
    }
}
