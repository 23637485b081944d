//! The tabular evaluator: looks an NB201 cell up in the tables instead of training it.

use crate::table::{Dataset, Device, LatencyTable, Nb201Table};
use nascent_core::{Budget, Evaluation, Evaluator, Metrics, Outcome, Reporter};
use nascent_space::Nb201Arch;
use std::sync::Arc;

/// Metric: validation accuracy (%) after the 12-epoch schedule, the search signal.
pub const VAL_ACCURACY: &str = "val_accuracy";
/// Metric: test accuracy (%) after the 200-epoch schedule, what a run reports.
pub const TEST_ACCURACY: &str = "test_accuracy";
/// Metric: trainable parameters of the network.
pub const PARAMS: &str = "params";
/// Metric: multiply-accumulates of one forward pass, which NAS-Bench-201 calls FLOPs.
pub const FLOPS: &str = "flops";

/// The metric name of the latency (ms) on `device`: `latency_ms.DEVICE`.
pub fn latency_metric(device: &str) -> String {
    format!("latency_ms.{device}")
}

/// Evaluates NB201 cells by table look-up on one data set: the 12-epoch validation accuracy
/// (the search signal), the 200-epoch test accuracy, parameters and FLOPs of the benchmark's
/// network on that data set (computed from the cell), and the latency on the chosen devices.
#[derive(Clone, Debug)]
pub struct Nb201Evaluator {
    table: Arc<Nb201Table>,
    dataset: Dataset,
    latency: Option<(Arc<LatencyTable>, Vec<Device>)>,
}

impl Nb201Evaluator {
    /// An evaluator on `dataset`, without latencies.
    pub fn new(table: Arc<Nb201Table>, dataset: Dataset) -> Self {
        Nb201Evaluator {
            table,
            dataset,
            latency: None,
        }
    }

    /// The same evaluator also reporting the latency on `devices`.
    pub fn with_latency(mut self, latency: Arc<LatencyTable>, devices: Vec<Device>) -> Self {
        self.latency = Some((latency, devices));
        self
    }

    /// The data set.
    pub fn dataset(&self) -> Dataset {
        self.dataset
    }

    /// The accuracy table.
    pub fn table(&self) -> &Nb201Table {
        &self.table
    }

    /// Everything measured for `arch`.
    pub fn measure(&self, arch: &Nb201Arch) -> Metrics {
        let row = self.table.row(arch);
        let shape = self.dataset.shape();
        let mut m = Metrics::new();
        m.insert(VAL_ACCURACY.into(), row.signal(self.dataset));
        m.insert(TEST_ACCURACY.into(), row.test(self.dataset));
        m.insert(PARAMS.into(), shape.params(arch) as f64);
        m.insert(FLOPS.into(), shape.macs(arch) as f64);
        if let Some((lat, devices)) = &self.latency {
            for &d in devices {
                m.insert(latency_metric(lat.device_name(d)), lat.latency(arch, d));
            }
        }
        m
    }
}

impl Evaluator<Nb201Arch> for Nb201Evaluator {
    fn metrics(&self) -> Vec<String> {
        let mut out = vec![
            VAL_ACCURACY.to_string(),
            TEST_ACCURACY.to_string(),
            PARAMS.to_string(),
            FLOPS.to_string(),
        ];
        if let Some((lat, devices)) = &self.latency {
            out.extend(devices.iter().map(|&d| latency_metric(lat.device_name(d))));
        }
        out
    }

    fn evaluate(&self, arch: &Nb201Arch, _: &Budget, reporter: &mut dyn Reporter) -> Outcome {
        let metrics = self.measure(arch);
        reporter.report(12, metrics[VAL_ACCURACY]);
        Outcome::Complete(Evaluation {
            metrics,
            cost_seconds: 0.0,
        })
    }
}
