#![allow(dead_code)]
//! NAS-Bench-201 as a real multi-fidelity evaluator for the tests: the 12-epoch validation
//! accuracy at low fidelity, the 200-epoch test accuracy at full fidelity (CIFAR-10).

use nascent_core::{Budget, Evaluation, Evaluator, Metrics, Outcome, Reporter};
use nascent_space::Nb201Arch;
use std::collections::HashMap;
use std::path::PathBuf;

/// The table file, or `None` (with a message naming it) when the shared data is absent; a
/// failure under CI (see [`nascent_core::testing`]).
pub fn table_path() -> Option<PathBuf> {
    nascent_core::testing::shared_data("nb201/nb201.csv")
}

/// CIFAR-10 accuracies of every NB201 cell.
pub struct Nb201Fidelities {
    rows: HashMap<Nb201Arch, (f64, f64)>,
}

impl Nb201Fidelities {
    pub fn load(path: &std::path::Path) -> Self {
        let mut r = csv::Reader::from_path(path).unwrap();
        let headers = r.headers().unwrap().clone();
        let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let (arch, low, full) = (
            col("arch_str"),
            col("cifar10valid_val_12ep"),
            col("cifar10_test_200ep"),
        );
        let mut rows = HashMap::new();
        for rec in r.records() {
            let rec = rec.unwrap();
            let a: Nb201Arch = rec[arch].parse().unwrap();
            rows.insert(a, (rec[low].parse().unwrap(), rec[full].parse().unwrap()));
        }
        assert_eq!(rows.len(), 15_625);
        Nb201Fidelities { rows }
    }

    /// (12-epoch validation, 200-epoch test) accuracy.
    pub fn get(&self, a: &Nb201Arch) -> (f64, f64) {
        self.rows[a]
    }
}

impl Evaluator<Nb201Arch> for Nb201Fidelities {
    fn metrics(&self) -> Vec<String> {
        vec!["val_accuracy".into()]
    }

    /// Up to 12 epochs: the 12-epoch validation accuracy; more: the 200-epoch test accuracy.
    fn evaluate(&self, arch: &Nb201Arch, budget: &Budget, _r: &mut dyn Reporter) -> Outcome {
        let (low, full) = self.get(arch);
        let epochs = budget.epochs.unwrap_or(200);
        let mut m = Metrics::new();
        m.insert("val_accuracy".into(), if epochs <= 12 { low } else { full });
        Outcome::Complete(Evaluation {
            metrics: m,
            cost_seconds: epochs as f64,
        })
    }
}

/// Kendall's tau-b between two paired samples.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len();
    let (mut conc, mut disc, mut ta, mut tb) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        for j in i + 1..n {
            let x = (a[i] - a[j]).signum();
            let y = (b[i] - b[j]).signum();
            if x == 0.0 && y == 0.0 {
                continue;
            } else if x == 0.0 {
                ta += 1.0;
            } else if y == 0.0 {
                tb += 1.0;
            } else if x == y {
                conc += 1.0;
            } else {
                disc += 1.0;
            }
        }
    }
    (conc - disc) / ((conc + disc + ta) * (conc + disc + tb)).sqrt()
}

impl Evaluator<Nb201Arch> for &Nb201Fidelities {
    fn metrics(&self) -> Vec<String> {
        (**self).metrics()
    }

    fn evaluate(&self, arch: &Nb201Arch, budget: &Budget, r: &mut dyn Reporter) -> Outcome {
        (**self).evaluate(arch, budget, r)
    }
}
