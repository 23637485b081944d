//! Study settings: the TOML schema of a study file, checked into a [`StudyConfig`].
//!
//! Every field has a default (the base settings: NB201 cells, regularized evolution,
//! low-fidelity training on Fashion-MNIST, 30 minutes). [`StudySettings::check`] validates
//! every value against the backend's [`Catalog`] before anything runs and returns the
//! validated [`StudyConfig`]; errors name the field (dotted). Layering a file, the environment
//! and `--set` flags is the command line's business.

use crate::backend::{Catalog, SpaceInfo};
use crate::error::{Error, Result};
use nascent_core::{Budget, Constraint, Objective};
use nascent_estimate::{Fidelity, PrunerConfig, SurrogateConfig};
use nascent_space::chain::ChainConfig;
use nascent_space::joint::JointConfig;
use nascent_strategy::StrategyConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `[space]`: the search space, by the name it is registered under (`nb201`, `darts`,
/// `chain`: see the backend's [`Catalog`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceSettings {
    /// The space's registered name.
    pub kind: String,
    /// `[space.joint]`: the values each dimension of the joint space (`kind = "joint"`: the
    /// cell, its width and depth, and the training recipe) may take; the defaults of
    /// [`JointConfig`] when left out. Only for the joint space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joint: Option<JointConfig>,
    /// `[space.chain]`: the depths, operations, kernels, widths and strides a chain network
    /// (`kind = "chain"`) may have; the defaults of [`ChainConfig`] when left out. Only for
    /// the chain space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainConfig>,
}

impl Default for SpaceSettings {
    fn default() -> Self {
        SpaceSettings {
            kind: "nb201".into(),
            joint: None,
            chain: None,
        }
    }
}

impl SpaceSettings {
    /// The space registered as `kind`, with its default settings.
    pub fn named(kind: &str) -> Self {
        SpaceSettings {
            kind: kind.into(),
            ..SpaceSettings::default()
        }
    }
}

/// `[evaluator]`: how a search trial is scored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EvaluatorSettings {
    /// Train every trial at the low fidelity of `[fidelity]` (epochs, data fraction,
    /// resolution, cells, channels); the fidelity is recorded in the metrics (`fidelity.*`).
    #[default]
    LowFidelity,
    /// Train every trial in full: all the training data, the network at its full size
    /// (`[retrain]` channels and cells, else the space's defaults), for `epochs` epochs.
    /// `[fidelity]` is not used.
    Train {
        /// Epochs of every trial.
        #[serde(default = "five")]
        epochs: u32,
    },
    /// A Gaussian-process surrogate in front of low-fidelity training: it answers for the
    /// architectures it is confident about and trains the others.
    Surrogate(SurrogateConfig),
    /// Zero-cost proxies of the untrained network (no training): the objectives name proxies
    /// (`synflow`, ...).
    Proxy(ProxySettings),
}

fn five() -> u32 {
    5
}

impl EvaluatorSettings {
    /// The kind's name as the study file writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            EvaluatorSettings::LowFidelity => "low_fidelity",
            EvaluatorSettings::Train { .. } => "train",
            EvaluatorSettings::Surrogate(_) => "surrogate",
            EvaluatorSettings::Proxy(_) => "proxy",
        }
    }

    /// Whether trials are trained (and so report the training metrics).
    pub fn trains(&self) -> bool {
        !matches!(self, EvaluatorSettings::Proxy(_))
    }
}

/// `[evaluator] kind = "proxy"`: which zero-cost proxies, on how large a minibatch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    /// The proxies computed (each a metric of the trial).
    pub proxies: Vec<String>,
    /// Images in the minibatch the proxies see.
    pub batch: usize,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            proxies: vec!["synflow".into()],
            batch: 64,
        }
    }
}

/// `[data]`: what to search on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSettings {
    /// A dataset name (`fashion-mnist`, `mnist`, `cifar10`) or a path (IDX folder, CIFAR
    /// batches, image folder or .tar.gz, CSV table).
    pub name: String,
    /// Where a named dataset is (otherwise `$NASCENT_DATA`, the user cache, Debian's package,
    /// then the download).
    pub path: Option<PathBuf>,
    /// Fraction of the training files held out for validation (the search signal).
    pub validation_fraction: f64,
    /// The shape each sample is read as, `"CxHxW"` (e.g. `"1x28x28"` for a CSV table whose
    /// rows are 784 pixels and a label); `None` keeps the data's own (a table's rows are
    /// `Fx1x1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
}

impl DataSettings {
    /// The parsed `shape`, `[c, h, w]`; an error naming `data.shape` when it is malformed.
    pub fn parsed_shape(&self) -> Result<Option<[usize; 3]>> {
        let Some(text) = &self.shape else {
            return Ok(None);
        };
        let bad = || {
            invalid(
                "data.shape",
                format!(
                    "`{text}` is not CxHxW with three positive whole numbers (e.g. \"1x28x28\")"
                ),
            )
        };
        let parts: Vec<usize> = text
            .split(['x', 'X'])
            .map(|p| {
                p.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0 && n <= 1 << 16)
            })
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        match parts[..] {
            [c, h, w] => Ok(Some([c, h, w])),
            _ => Err(bad()),
        }
    }
}

impl Default for DataSettings {
    fn default() -> Self {
        DataSettings {
            name: "fashion-mnist".into(),
            path: None,
            validation_fraction: 0.1,
            shape: None,
        }
    }
}

/// The optimizer of a training recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with Nesterov momentum 0.9.
    Sgd,
    /// Adam.
    Adam,
    /// AdamW.
    Adamw,
}

/// The arithmetic of training (`precision` of a training recipe).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// What is fast where the model trains: float16 autocast (with loss scaling) on a CUDA
    /// GPU, bfloat16 autocast on a CPU with bfloat16 instructions (AVX512-BF16), float32 on
    /// any other CPU.
    #[default]
    Auto,
    /// float32 throughout.
    Float32,
    /// bfloat16 autocast on a GPU or a CPU (slower than float32 on a CPU without bfloat16
    /// instructions).
    Bfloat16,
    /// float16 autocast with loss scaling on a GPU; float32 on a CPU.
    Float16,
}

/// A training recipe (`[train]` for search trials, `[retrain.train]` for the final model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Batch size.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// Weight decay.
    pub weight_decay: f64,
    /// Label smoothing.
    pub label_smoothing: f64,
    /// Epochs of linear warm-up.
    pub warmup_epochs: u32,
    /// Clip the global gradient norm (0: off).
    pub grad_clip: f64,
    /// Use the dataset's standard augmentation.
    pub augment: bool,
    /// Cutout square side (0: off).
    pub cutout: usize,
    /// The arithmetic: `auto`, `float32`, `bfloat16` or `float16`.
    pub precision: Precision,
    /// Torch threads per worker (default: the cores divided among the workers).
    pub threads: Option<usize>,
    /// Data-parallel copies of the network on the CPU (1 to 64; 1: none): each batch is split
    /// into this many shares, each trained on its own thread by its own copy with `threads /
    /// replicas` torch threads, and the shares' gradients are averaged into one step. Where
    /// one small network uses its threads poorly (this project's 2-core CPU: the 16-channel
    /// NB201 network at 865 images/s on two threads, two copies on one thread each 984), copies
    /// train faster. At most one a thread; a GPU ignores it.
    pub replicas: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            batch_size: 128,
            lr: 0.1,
            optimizer: OptimizerKind::Sgd,
            weight_decay: 5e-4,
            label_smoothing: 0.0,
            warmup_epochs: 0,
            grad_clip: 5.0,
            augment: true,
            cutout: 0,
            precision: Precision::Auto,
            threads: None,
            replicas: 1,
        }
    }
}

/// `[budget]`: when the study ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetSettings {
    /// Wall-clock minutes for search and retraining together.
    pub minutes: Option<f64>,
    /// At most this many trials.
    pub trials: Option<u64>,
    /// At most this many epochs of training over all search trials.
    pub epochs: Option<u64>,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        BudgetSettings {
            minutes: Some(30.0),
            trials: None,
            epochs: None,
        }
    }
}

/// `[retrain]`: the best architecture trained again at full fidelity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrainSettings {
    /// Retrain at all.
    pub enabled: bool,
    /// Minutes of the total budget kept for retraining (and export and report).
    pub minutes: f64,
    /// Epochs; `None` fits as many as the reserved minutes allow, measured from the search.
    pub epochs: Option<u32>,
    /// Most epochs when fitting them to the time.
    pub max_epochs: u32,
    /// Channels of the final network (default: the search's).
    pub channels: Option<u32>,
    /// Cells of the final network (default: the search's).
    pub cells: Option<u32>,
    /// The training recipe (default: the search's).
    pub train: Option<TrainSettings>,
    /// Export genotype, weights (safetensors) and ONNX.
    pub export: bool,
    /// Networks the final model averages (an ensemble; 1, the default: one network). The
    /// members, the chosen architecture from different seeds, train at once, each on its share
    /// of the CPU threads (at most one member a thread), and the final model averages their
    /// softmax probabilities. Where threads speed one small network up less than they multiply
    /// (this 2-core CPU: one NB201 network at 16 channels about 800 images/s on both threads,
    /// two networks about 575 each on one), the members cost fewer epochs than they gain; the
    /// default study sets 2.
    pub ensemble: u32,
    /// The fewest epochs each member must get for the ensemble to be trained (0: always);
    /// below it, the final model is one network on all the threads. Members trained at once
    /// each get fewer epochs than one network would, which costs most where accuracy still
    /// climbs steeply with epochs (a short budget).
    pub ensemble_min_epochs: u32,
    /// `[retrain.race]`: the best few trials race briefly before one is retrained; none by
    /// default (the best trial is retrained).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub race: Option<RaceSettings>,
}

/// `[retrain.race]`: which of the search's best trials is retrained. The best `candidates`
/// trials (by the first objective, constraints respected) are each trained for `epochs` on
/// `data_fraction` of the training split at the retraining's width and depth, and the one with
/// the best validation accuracy is retrained. For a search whose scores cannot tell its best
/// apart (a zero-cost proxy ranks cells that differ in one edge almost level), a short real
/// training among them breaks the tie; its minutes come out of the retraining's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaceSettings {
    /// How many of the best trials race (2 or more).
    pub candidates: usize,
    /// Epochs of each race run.
    pub epochs: u32,
    /// Fraction of the training split each race run trains on.
    pub data_fraction: f64,
}

impl Default for RaceSettings {
    fn default() -> Self {
        RaceSettings {
            candidates: 5,
            epochs: 1,
            data_fraction: 0.25,
        }
    }
}

impl RaceSettings {
    fn check(&self) -> Result<()> {
        if !(2..=64).contains(&self.candidates) {
            return Err(invalid(
                "retrain.race.candidates",
                format!("must be 2 to 64, not {}", self.candidates),
            ));
        }
        if self.epochs == 0 {
            return Err(invalid("retrain.race.epochs", "must be at least 1"));
        }
        let f = self.data_fraction;
        if !(f > 0.0 && f <= 1.0) {
            return Err(invalid(
                "retrain.race.data_fraction",
                format!("must be in (0, 1], not {f}"),
            ));
        }
        Ok(())
    }
}

impl Default for RetrainSettings {
    fn default() -> Self {
        RetrainSettings {
            enabled: true,
            minutes: 17.0,
            epochs: None,
            max_epochs: 30,
            channels: None,
            cells: None,
            train: None,
            export: true,
            ensemble: 1,
            ensemble_min_epochs: 0,
            race: None,
        }
    }
}

fn default_name() -> String {
    "default".into()
}
fn default_storage() -> String {
    "nascent.db".into()
}
fn default_out() -> PathBuf {
    PathBuf::from("nascent-out")
}
fn default_objectives() -> Vec<Objective> {
    vec![Objective::maximize("val_accuracy")]
}
fn default_fidelity() -> Fidelity {
    Fidelity {
        epochs: Some(1),
        data_fraction: Some(0.25),
        resolution: None,
        cells: Some(1),
        channels: Some(8),
    }
}
fn one() -> usize {
    1
}
fn default_strategy() -> StrategyConfig {
    StrategyConfig::Evolution(nascent_strategy::EvolutionConfig {
        population: 8,
        sample_size: 3,
    })
}

/// A prior the study starts from: the best-scored architectures of a score file are its first
/// trials, then the strategy takes over knowing their results. Transfer from a proxy task
/// (NAS-Bench-201's table, `../shared/data/nb201/nb201.csv`, ranked by a CIFAR-10 column) or
/// zero-cost proxy scores (the CSV of `nascent proxies --out`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmStartSettings {
    /// The score file: a CSV with an `arch` (or `arch_str`) column and numeric columns.
    pub scores: PathBuf,
    /// The column that ranks them, higher first (several joined by `+`: the sum of ranks).
    pub column: String,
    /// How many of the best are the first trials.
    #[serde(default = "default_warm_k")]
    pub k: usize,
}

fn default_warm_k() -> usize {
    8
}

impl WarmStartSettings {
    fn check(&self) -> Result<()> {
        if self.k == 0 || self.k > 10_000 {
            return Err(invalid(
                "warm_start.k",
                format!("must be 1 to 10000, not {}", self.k),
            ));
        }
        if self.column.trim().is_empty() {
            return Err(invalid(
                "warm_start.column",
                "must name a column of the score file",
            ));
        }
        if self.scores.as_os_str().is_empty() {
            return Err(invalid(
                "warm_start.scores",
                "must be the path of a CSV file",
            ));
        }
        Ok(())
    }
}

/// A whole study file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudySettings {
    /// The study's name in the storage.
    #[serde(default = "default_name")]
    pub name: String,
    /// The seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Storage URL (`sqlite:///path.db`, a plain path, or `memory:`).
    #[serde(default = "default_storage")]
    pub storage: String,
    /// Worker threads evaluating trials at once.
    #[serde(default = "one")]
    pub workers: usize,
    /// Folder for the report and the exported model.
    #[serde(default = "default_out")]
    pub out: PathBuf,
    /// The search space.
    #[serde(default)]
    pub space: SpaceSettings,
    /// The strategy and its settings (`kind = "evolution"`, `population = 8`, ...).
    #[serde(default = "default_strategy")]
    pub strategy: StrategyConfig,
    /// The architectures tried first (a transfer prior); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_start: Option<WarmStartSettings>,
    /// How trials are scored (`kind = "low_fidelity"`, `"train"`, `"surrogate"`, `"proxy"`).
    #[serde(default)]
    pub evaluator: EvaluatorSettings,
    /// The dataset.
    #[serde(default)]
    pub data: DataSettings,
    /// The training recipe of search trials.
    #[serde(default)]
    pub train: TrainSettings,
    /// The fidelity of search trials (epochs, data fraction, resolution, cells, channels).
    #[serde(default = "default_fidelity")]
    pub fidelity: Fidelity,
    /// Early stopping of poor trials.
    #[serde(default)]
    pub pruner: PrunerConfig,
    /// What is optimised (the first ranks trials).
    #[serde(default = "default_objectives")]
    pub objectives: Vec<Objective>,
    /// Hard limits.
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    /// When the study ends.
    #[serde(default)]
    pub budget: BudgetSettings,
    /// The final retraining.
    #[serde(default)]
    pub retrain: RetrainSettings,
}

impl Default for StudySettings {
    /// The base settings a study file starts from (`nascent search` without a file runs the
    /// command line's default study instead: synflow over the NB201 cells).
    fn default() -> Self {
        StudySettings {
            name: default_name(),
            seed: 0,
            storage: default_storage(),
            workers: one(),
            out: default_out(),
            space: SpaceSettings::default(),
            strategy: default_strategy(),
            warm_start: None,
            evaluator: EvaluatorSettings::default(),
            data: DataSettings::default(),
            train: TrainSettings::default(),
            fidelity: default_fidelity(),
            pruner: PrunerConfig::default(),
            objectives: default_objectives(),
            constraints: Vec::new(),
            budget: BudgetSettings::default(),
            retrain: RetrainSettings::default(),
        }
    }
}

/// Metrics a training evaluator reports.
pub const TRAIN_METRICS: [&str; 8] = [
    "val_accuracy",
    "train_accuracy",
    "test_accuracy",
    "params",
    "flops",
    "latency_ms",
    "train_seconds",
    "train_images_per_second",
];

/// The metric a study adds to every trained trial when it retrains: the full epochs of the
/// trial's architecture that fit in the time reserved for retraining, from its measured speed.
pub const RETRAIN_EPOCHS: &str = "retrain_epochs";

/// Settings checked against a backend: what [`crate::Study`] runs.
///
/// Only [`StudySettings::check`] makes one, so holding a `StudyConfig` means every value was
/// validated (linfa's `Params` -> `check()` -> `ValidParams`).
#[derive(Clone, Debug, PartialEq)]
pub struct StudyConfig {
    settings: StudySettings,
    space: SpaceInfo,
}

impl std::ops::Deref for StudyConfig {
    type Target = StudySettings;
    fn deref(&self) -> &StudySettings {
        &self.settings
    }
}

impl StudyConfig {
    /// The settings.
    pub fn settings(&self) -> &StudySettings {
        &self.settings
    }

    /// The settings, given back (to change and check again).
    pub fn into_settings(self) -> StudySettings {
        self.settings
    }

    /// The search space as the backend registered it.
    pub fn space(&self) -> &SpaceInfo {
        &self.space
    }

    /// The budget every search trial is evaluated at: the `[fidelity]` for low-fidelity
    /// training (and the surrogate and proxies in front of it), the full network for
    /// `kind = "train"`.
    pub fn trial_budget(&self) -> Budget {
        let f = &self.settings.fidelity;
        match &self.settings.evaluator {
            EvaluatorSettings::Train { epochs } => Budget {
                epochs: Some(*epochs),
                data_fraction: None,
                resolution: None,
                cells: self.settings.retrain.cells,
                channels: self.settings.retrain.channels,
            },
            _ => Budget {
                epochs: f.epochs,
                data_fraction: f.data_fraction,
                resolution: f.resolution,
                cells: f.cells,
                channels: f.channels,
            },
        }
    }

    /// Seconds of the search alone (the total minus what retraining keeps).
    pub fn search_seconds(&self) -> Option<f64> {
        let s = &self.settings;
        let reserve = if s.retrain.enabled {
            s.retrain.minutes
        } else {
            0.0
        };
        s.budget.minutes.map(|m| (m - reserve) * 60.0)
    }

    /// The metrics the trial evaluator reports (objectives and constraints must name them).
    pub fn trial_metrics(&self) -> Vec<String> {
        self.settings.trial_metrics()
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::config(field, reason)
}

impl StudySettings {
    /// Checks every value (against `catalog`, what the backend offers) and returns the
    /// validated configuration; errors name the field.
    pub fn check(mut self, catalog: &Catalog) -> Result<StudyConfig> {
        let space = self.check_values(catalog)?;
        if self.space.kind == "joint" {
            // Written out in full, so that `--dry-run` and the stored settings show every
            // value the space may take.
            self.space.joint.get_or_insert_with(JointConfig::default);
        }
        if self.space.kind == "chain" {
            self.space.chain.get_or_insert_with(ChainConfig::default);
        }
        Ok(StudyConfig {
            settings: self,
            space,
        })
    }

    fn check_values(&self, catalog: &Catalog) -> Result<SpaceInfo> {
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if self.workers == 0 || self.workers > 64 {
            return Err(invalid(
                "workers",
                format!("must be 1 to 64, not {}", self.workers),
            ));
        }
        let space = catalog.space(&self.space.kind).cloned().ok_or_else(|| {
            invalid(
                "space.kind",
                format!(
                    "unknown space `{}` (known: {})",
                    self.space.kind,
                    catalog.space_names().join(", ")
                ),
            )
        })?;
        match (&self.space.joint, self.space.kind.as_str()) {
            (Some(j), "joint") => j.check("space.joint.")?,
            (Some(_), kind) => {
                return Err(invalid(
                    "space.joint",
                    format!("applies to space.kind = \"joint\" only, not `{kind}`"),
                ));
            }
            (None, _) => {}
        }
        match (&self.space.chain, self.space.kind.as_str()) {
            (Some(c), "chain") => c.check_at("space.chain.")?,
            (Some(_), kind) => {
                return Err(invalid(
                    "space.chain",
                    format!("applies to space.kind = \"chain\" only, not `{kind}`"),
                ));
            }
            (None, _) => {}
        }
        self.strategy.check()?;
        if let Some(w) = &self.warm_start {
            w.check()?;
        }
        self.fidelity.check("fidelity")?;
        self.pruner.check("pruner")?;
        self.check_evaluator(catalog)?;
        if !space.scalable {
            let used_fidelity = !matches!(self.evaluator, EvaluatorSettings::Train { .. });
            for (field, set) in [
                (
                    "fidelity.channels",
                    used_fidelity && self.fidelity.channels.is_some(),
                ),
                (
                    "fidelity.cells",
                    used_fidelity && self.fidelity.cells.is_some(),
                ),
                ("retrain.channels", self.retrain.channels.is_some()),
                ("retrain.cells", self.retrain.cells.is_some()),
            ] {
                if set {
                    return Err(invalid(
                        field,
                        format!(
                            "a {} architecture sets its own widths and depth; leave `channels` \
                             and `cells` out of `[fidelity]` and `[retrain]`",
                            space.name
                        ),
                    ));
                }
            }
        }
        self.data.parsed_shape()?;
        let v = self.data.validation_fraction;
        if !(v > 0.0 && v < 1.0) {
            return Err(invalid(
                "data.validation_fraction",
                format!("must be in (0, 1), not {v}"),
            ));
        }
        check_train(&self.train, "train")?;
        if let Some(t) = &self.retrain.train {
            check_train(t, "retrain.train")?;
        }
        self.check_objectives()?;
        self.check_budget()?;
        Ok(space)
    }

    fn check_evaluator(&self, catalog: &Catalog) -> Result<()> {
        match &self.evaluator {
            EvaluatorSettings::LowFidelity => Ok(()),
            EvaluatorSettings::Train { epochs } => {
                if *epochs == 0 {
                    return Err(invalid("evaluator.epochs", "must be at least 1"));
                }
                Ok(())
            }
            EvaluatorSettings::Surrogate(c) => Ok(c.check("evaluator")?),
            EvaluatorSettings::Proxy(p) => {
                if catalog.proxies.is_empty() {
                    return Err(invalid(
                        "evaluator.kind",
                        "`proxy` needs zero-cost proxies, which this backend was not given",
                    ));
                }
                if p.proxies.is_empty() {
                    return Err(invalid(
                        "evaluator.proxies",
                        format!("name at least one (known: {})", catalog.proxies.join(", ")),
                    ));
                }
                for (i, name) in p.proxies.iter().enumerate() {
                    if !catalog.proxies.iter().any(|k| k == name) {
                        return Err(invalid(
                            format!("evaluator.proxies[{i}]"),
                            format!(
                                "unknown proxy `{name}` (known: {})",
                                catalog.proxies.join(", ")
                            ),
                        ));
                    }
                }
                if p.batch < 2 {
                    return Err(invalid("evaluator.batch", "must be at least 2"));
                }
                Ok(())
            }
        }
    }

    /// The metrics the trial evaluator reports: the proxies, or the training metrics (and
    /// [`RETRAIN_EPOCHS`] when the study retrains).
    fn trial_metrics(&self) -> Vec<String> {
        match &self.evaluator {
            EvaluatorSettings::Proxy(p) => p.proxies.clone(),
            _ => {
                let mut m: Vec<String> = TRAIN_METRICS.iter().map(|m| m.to_string()).collect();
                if self.retrain.enabled {
                    m.push(RETRAIN_EPOCHS.into());
                }
                m
            }
        }
    }

    fn check_objectives(&self) -> Result<()> {
        let known = self.trial_metrics();
        let what = format!(
            "the {} evaluator reports {}",
            self.evaluator.kind(),
            known.join(", ")
        );
        if self.objectives.is_empty() {
            return Err(invalid("objectives", "name at least one objective"));
        }
        for (i, o) in self.objectives.iter().enumerate() {
            if !known.contains(&o.metric) {
                return Err(invalid(
                    format!("objectives[{i}].metric"),
                    format!("unknown metric `{}` ({what})", o.metric),
                ));
            }
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if !known.contains(&c.metric) {
                return Err(invalid(
                    format!("constraints[{i}].metric"),
                    format!("unknown metric `{}` ({what})", c.metric),
                ));
            }
            if c.max.is_none() && c.min.is_none() {
                return Err(invalid(format!("constraints[{i}]"), "give `max` or `min`"));
            }
        }
        Ok(())
    }

    fn check_budget(&self) -> Result<()> {
        if let Some(m) = self.budget.minutes
            && !(m > 0.0 && m.is_finite())
        {
            return Err(invalid(
                "budget.minutes",
                format!("must be positive, not {m}"),
            ));
        }
        if self.budget.minutes.is_none()
            && self.budget.trials.is_none()
            && self.budget.epochs.is_none()
        {
            return Err(invalid(
                "budget",
                "set at least one of `minutes`, `trials`, `epochs`",
            ));
        }
        if self.budget.trials == Some(0) {
            return Err(invalid("budget.trials", "must be at least 1"));
        }
        if self.budget.epochs == Some(0) {
            return Err(invalid("budget.epochs", "must be at least 1"));
        }
        if self.retrain.enabled {
            if !(self.retrain.minutes >= 0.0 && self.retrain.minutes.is_finite()) {
                return Err(invalid(
                    "retrain.minutes",
                    format!("must be 0 or more, not {}", self.retrain.minutes),
                ));
            }
            if let Some(m) = self.budget.minutes
                && self.retrain.minutes >= m
            {
                return Err(invalid(
                    "retrain.minutes",
                    format!(
                        "({}) must be less than budget.minutes ({m})",
                        self.retrain.minutes
                    ),
                ));
            }
            if self.retrain.epochs == Some(0) || self.retrain.max_epochs == 0 {
                return Err(invalid("retrain.epochs", "must be at least 1"));
            }
        }
        if !(1..=16).contains(&self.retrain.ensemble) {
            return Err(invalid(
                "retrain.ensemble",
                format!("must be 1 to 16, not {}", self.retrain.ensemble),
            ));
        }
        if let Some(race) = &self.retrain.race {
            if !self.retrain.enabled {
                return Err(invalid(
                    "retrain.race",
                    "races the trials for the retraining; set `retrain.enabled = true` or \
                     leave it out",
                ));
            }
            race.check()?;
        }
        Ok(())
    }

    /// Makes the paths of a study file relative to the file's folder.
    pub fn resolve_paths(&mut self, file: &Path) {
        self.out = relative_to(Some(file), &self.out);
        if let Some(p) = &self.data.path {
            self.data.path = Some(relative_to(Some(file), p));
        }
    }
}

fn check_train(t: &TrainSettings, prefix: &str) -> Result<()> {
    let bad = |f: &str, r: String| Err(invalid(format!("{prefix}.{f}"), r));
    if t.batch_size == 0 {
        return bad("batch_size", "must be at least 1".into());
    }
    if !(t.lr > 0.0 && t.lr.is_finite()) {
        return bad("lr", format!("must be positive, not {}", t.lr));
    }
    if t.weight_decay.is_nan() || t.weight_decay < 0.0 {
        return bad(
            "weight_decay",
            format!("must be 0 or more, not {}", t.weight_decay),
        );
    }
    if !(0.0..1.0).contains(&t.label_smoothing) {
        return bad(
            "label_smoothing",
            format!("must be in [0, 1), not {}", t.label_smoothing),
        );
    }
    if t.grad_clip.is_nan() || t.grad_clip < 0.0 {
        return bad(
            "grad_clip",
            format!("must be 0 (off) or more, not {}", t.grad_clip),
        );
    }
    if t.threads == Some(0) {
        return bad("threads", "must be at least 1".into());
    }
    if !(1..=64).contains(&t.replicas) {
        return bad("replicas", format!("must be 1 to 64, not {}", t.replicas));
    }
    Ok(())
}

/// Resolves a path relative to the study file's folder (or the working directory).
pub fn relative_to(base: Option<&Path>, p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match base.and_then(|b| b.parent()) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(p),
        _ => p.to_path_buf(),
    }
}
