//! [`TrainEvaluator`]: the performance estimator that trains each architecture for real.
//!
//! It builds the architecture with a [`Builder`], trains it with a [`Trainer`] on
//! [`DataSplits`] and reports what it measured. The [`Budget`] of a trial sets the fidelity:
//! `epochs`, `data_fraction` (a seeded subset of the training split), `resolution` (inputs
//! resized), `cells` and `channels` (the network's depth and width).
//!
//! Metrics (accuracies in percent): `val_accuracy`, `train_accuracy`, `test_accuracy` (when
//! asked for and the data has a test set), `params`, `flops` (multiply-accumulates of one
//! sample, for networks that describe themselves as a graph: every built-in builder),
//! `latency_ms` (batch-1 inference on the device, when asked for), `train_seconds`, and
//! `epochs`. The
//! validation accuracy of every epoch goes to the trial's [`Reporter`], which may stop the
//! trial (pruned). A genotype that cannot be built, a loss that diverges, or any other failure
//! (even a panic inside libtorch) ends the trial as failed with the reason.

use crate::data::DataSplits;
use crate::error::{TrainError, TrainResult};
use crate::model::{Builder, Model, NetSpec};
use crate::trainer::{
    NoObserver, TimeLimit, TrainConfig, TrainEnd, TrainObserver, TrainReport, Trainer,
};
use nascent_core::{Budget, Error, Evaluation, Evaluator, Metrics, Outcome, Reporter};
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;
use tch::Device;

/// Held while a network is seeded and built (see [`TrainEvaluator::train`]).
static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Adjusts the training configuration and the network specification to one architecture
/// (spaces whose points carry their own training recipe or width, such as the joint space).
pub type ArchSetup<A> = Arc<dyn Fn(&A, &mut TrainConfig, &mut NetSpec) + Send + Sync>;

/// Told each trained architecture's training speed (images a second of its last epoch).
pub type SpeedHook<A> = Arc<dyn Fn(&A, f64) + Send + Sync>;

/// Trains architectures of type `A` and measures them.
pub struct TrainEvaluator<A> {
    setup: Option<ArchSetup<A>>,
    speed_hook: Option<SpeedHook<A>>,
    builder: Box<dyn Builder<A>>,
    data: Arc<DataSplits>,
    config: TrainConfig,
    spec: NetSpec,
    device: Device,
    report_test: bool,
    measure_latency: bool,
    _arch: PhantomData<fn(&A)>,
}

impl<A> std::fmt::Debug for TrainEvaluator<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainEvaluator")
            .field("data", &self.data.origin)
            .field("config", &self.config)
            .field("spec", &self.spec)
            .field("device", &self.device)
            .finish()
    }
}

impl<A> TrainEvaluator<A> {
    /// An evaluator training with `config` on `device`; the network's input shape and classes
    /// come from `data`, its width and depth are the builder's defaults unless set with
    /// [`TrainEvaluator::with_scale`]. The configuration is checked.
    pub fn new(
        builder: Box<dyn Builder<A>>,
        data: Arc<DataSplits>,
        config: TrainConfig,
        device: Device,
    ) -> TrainResult<Self> {
        config.check()?;
        let [c, h, w] = data.shape();
        if h != w {
            return Err(Error::data(
                &data.origin,
                None,
                format!("networks take square inputs; the samples are {h}x{w}"),
            )
            .into());
        }
        let spec = NetSpec {
            in_channels: c as i64,
            resolution: h as i64,
            classes: data.classes() as i64,
            channels: None,
            cells: None,
        };
        Ok(TrainEvaluator {
            setup: None,
            speed_hook: None,
            builder,
            data,
            config,
            spec,
            device,
            report_test: false,
            measure_latency: false,
            _arch: PhantomData,
        })
    }

    /// Also measures (and reports) the test accuracy.
    pub fn with_test(mut self, on: bool) -> Self {
        self.report_test = on;
        self
    }

    /// Also measures the trained network's batch-1 inference latency on the device
    /// (`latency_ms`, the median of 20 passes after 5 warm-up passes).
    pub fn with_latency(mut self, on: bool) -> Self {
        self.measure_latency = on;
        self
    }

    /// Sets the default width (`channels`) and depth (`cells`) of the networks; a trial's
    /// budget overrides them.
    pub fn with_scale(mut self, channels: Option<i64>, cells: Option<i64>) -> Self {
        self.spec.channels = channels;
        self.spec.cells = cells;
        self
    }

    /// Adjusts each run's configuration and network to its architecture (after the budget's
    /// settings, so the architecture's own recipe and width win).
    pub fn with_setup(mut self, setup: ArchSetup<A>) -> Self {
        self.setup = Some(setup);
        self
    }

    /// The same evaluator, telling `hook` the training speed of every architecture it
    /// evaluates (the joint space's cost model learns from it).
    pub fn with_speed_hook(mut self, hook: SpeedHook<A>) -> Self {
        self.speed_hook = Some(hook);
        self
    }

    /// The network specification for `budget`.
    pub fn spec_for(&self, budget: &Budget) -> NetSpec {
        let mut spec = self.spec.clone();
        if let Some(r) = budget.resolution {
            spec.resolution = r as i64;
        }
        if let Some(c) = budget.channels {
            spec.channels = Some(c as i64);
        }
        if let Some(n) = budget.cells {
            spec.cells = Some(n as i64);
        }
        spec
    }

    /// The training configuration each run starts from.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The training configuration each run starts from, to adjust.
    pub fn config_mut(&mut self) -> &mut TrainConfig {
        &mut self.config
    }

    /// Has each run's epochs fill a time ([`TrainConfig::time_limit`]): the schedule shortens
    /// or lengthens to the epochs that fit. `None` lifts the limit.
    pub fn with_time_limit(mut self, limit: Option<TimeLimit>) -> Self {
        self.config.time_limit = limit;
        self
    }

    /// Builds and trains `arch` within `budget`, returning the trained model and the report.
    pub fn train(
        &self,
        arch: &A,
        budget: &Budget,
        reporter: &mut dyn Reporter,
        observer: &mut dyn TrainObserver,
    ) -> TrainResult<(Model, TrainReport)> {
        let mut cfg = self.config.clone();
        if let Some(e) = budget.epochs {
            cfg.epochs = e;
        }
        if let Some(r) = budget.resolution {
            cfg.resolution = Some(r as i64);
        }
        cfg.evaluate_test = self.report_test;
        let mut spec = self.spec_for(budget);
        if let Some(setup) = &self.setup {
            setup(arch, &mut cfg, &mut spec);
        }
        let trainer = Trainer::new(cfg)?;
        let data = match budget.data_fraction {
            Some(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(Error::config(
                    "budget.data_fraction",
                    format!("must be in (0, 1], got {f}"),
                )
                .into());
            }
            Some(f) if f < 1.0 => {
                let mut d = (*self.data).clone();
                d.train = d.train.fraction(f, self.config.seed ^ 0xDA7A);
                std::borrow::Cow::Owned(d)
            }
            _ => std::borrow::Cow::Borrowed(&*self.data),
        };
        // Seeding torch's global generator and drawing the initial weights from it is one step
        // for the whole process: networks built at once on several threads (an ensemble's
        // members) each draw exactly their seed's weights.
        // Data-parallel copies, at most one a thread, on the CPU only; they take the model's
        // weights when the training starts.
        let copies = if self.device.is_cuda() {
            0
        } else {
            trainer.config().replicas.min(trainer.threads()).max(1) - 1
        };
        let (mut model, mut replicas) = {
            let _init = INIT
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            trainer.seed_torch();
            let model = Model::new(&*self.builder, arch, spec.clone(), self.device)?;
            let replicas = (0..copies)
                .map(|_| Model::new(&*self.builder, arch, spec.clone(), self.device))
                .collect::<TrainResult<Vec<_>>>()?;
            (model, replicas)
        };
        let report =
            trainer.fit_replicated(&mut model, &mut replicas, &data, reporter, observer)?;
        Ok((model, report))
    }

    fn metrics_of(&self, model: &Model, report: &TrainReport, seconds: f64) -> Metrics {
        let mut m = Metrics::new();
        if let Some(v) = report.val_accuracy {
            m.insert("val_accuracy".into(), v);
        }
        m.insert("train_accuracy".into(), report.train_accuracy);
        if let Some(t) = report.test_accuracy {
            m.insert("test_accuracy".into(), t);
        }
        m.insert("params".into(), model.num_params() as f64);
        if let Ok(c) = crate::metrics::complexity(model) {
            m.insert("flops".into(), c.flops as f64);
        }
        if self.measure_latency
            && let Ok(l) = crate::metrics::latency(model, 1, 5, 20)
        {
            m.insert("latency_ms".into(), l.median_ms);
        }
        m.insert("train_seconds".into(), seconds);
        if let Some(ips) = report
            .epochs
            .last()
            .map(|e| e.images_per_second)
            .filter(|x| x.is_finite() && *x > 0.0)
        {
            m.insert("train_images_per_second".into(), ips);
        }
        m.insert("epochs".into(), report.epochs_done as f64);
        m
    }
}

impl<A> Evaluator<A> for TrainEvaluator<A> {
    fn metrics(&self) -> Vec<String> {
        let mut m = vec![
            "val_accuracy".to_string(),
            "train_accuracy".into(),
            "params".into(),
            "flops".into(),
            "train_seconds".into(),
            "train_images_per_second".into(),
            "epochs".into(),
        ];
        if self.report_test {
            m.push("test_accuracy".into());
        }
        if self.measure_latency {
            m.push("latency_ms".into());
        }
        m
    }

    fn evaluate(&self, arch: &A, budget: &Budget, reporter: &mut dyn Reporter) -> Outcome {
        let t0 = Instant::now();
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.train(arch, budget, reporter, &mut NoObserver)
        }));
        let seconds = t0.elapsed().as_secs_f64();
        match run {
            Ok(Ok((model, report))) => {
                if let (Some(hook), Some(e)) = (&self.speed_hook, report.epochs.last())
                    && e.images_per_second.is_finite()
                    && e.images_per_second > 0.0
                {
                    hook(arch, e.images_per_second);
                }
                let evaluation = Evaluation {
                    metrics: self.metrics_of(&model, &report, seconds),
                    cost_seconds: seconds,
                };
                match report.end {
                    TrainEnd::Completed => Outcome::Complete(evaluation),
                    TrainEnd::Stopped => Outcome::Pruned(evaluation),
                }
            }
            Ok(Err(e)) => Outcome::Failed {
                reason: failure_reason(&e),
                cost_seconds: seconds,
            },
            Err(panic) => Outcome::Failed {
                reason: format!("training panicked: {}", panic_message(&panic)),
                cost_seconds: seconds,
            },
        }
    }
}

fn failure_reason(e: &TrainError) -> String {
    match e {
        TrainError::Diverged(r) => format!("diverged: {r}"),
        other => other.to_string(),
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}
