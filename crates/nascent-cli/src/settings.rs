//! Study settings: a TOML file, overridden field by field on the command line.
//!
//! Precedence: `--set key=value` flags over `NASCENT_*` environment variables over the file over
//! the defaults. Every field is checked before anything runs; errors name the field (dotted)
//! and the file.

use anyhow::{Context, Result, anyhow, bail};
use nascent_core::{Constraint, Objective};
use nascent_estimate::{Fidelity, PrunerConfig};
use nascent_strategy::StrategyConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The search space of a study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceKind {
    /// The NAS-Bench-201 cell, in the benchmark's macro network.
    Nb201,
    /// DARTS normal and reduction cells.
    Darts,
    /// Chain-structured (macro) networks.
    Chain,
}

/// `[space]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceSettings {
    /// Which space.
    pub kind: SpaceKind,
}

impl Default for SpaceSettings {
    fn default() -> Self {
        SpaceSettings {
            kind: SpaceKind::Nb201,
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
}

impl Default for DataSettings {
    fn default() -> Self {
        DataSettings {
            name: "fashion-mnist".into(),
            path: None,
            validation_fraction: 0.1,
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
    /// Torch threads per worker (default: the cores divided among the workers).
    pub threads: Option<usize>,
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
            threads: None,
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

/// Metrics a training evaluator reports.
pub const TRAIN_METRICS: [&str; 7] = [
    "val_accuracy",
    "train_accuracy",
    "test_accuracy",
    "params",
    "flops",
    "latency_ms",
    "train_seconds",
];

impl StudySettings {
    /// Checks every value; errors name the field.
    pub fn check(&self) -> Result<()> {
        let field = |f: &str, r: String| Err(anyhow!("invalid `{f}`: {r}"));
        if self.name.trim().is_empty() {
            return field("name", "must not be empty".into());
        }
        if self.workers == 0 || self.workers > 64 {
            return field("workers", format!("must be 1 to 64, not {}", self.workers));
        }
        self.strategy.check()?;
        self.fidelity.check("fidelity")?;
        self.pruner.check("pruner")?;
        let v = self.data.validation_fraction;
        if !(v > 0.0 && v < 1.0) {
            return field(
                "data.validation_fraction",
                format!("must be in (0, 1), not {v}"),
            );
        }
        check_train(&self.train, "train")?;
        if let Some(t) = &self.retrain.train {
            check_train(t, "retrain.train")?;
        }
        if self.objectives.is_empty() {
            return field("objectives", "name at least one objective".into());
        }
        for (i, o) in self.objectives.iter().enumerate() {
            if !TRAIN_METRICS.contains(&o.metric.as_str()) {
                return field(
                    &format!("objectives[{i}].metric"),
                    format!(
                        "unknown metric `{}` (known: {})",
                        o.metric,
                        TRAIN_METRICS.join(", ")
                    ),
                );
            }
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if !TRAIN_METRICS.contains(&c.metric.as_str()) {
                return field(
                    &format!("constraints[{i}].metric"),
                    format!(
                        "unknown metric `{}` (known: {})",
                        c.metric,
                        TRAIN_METRICS.join(", ")
                    ),
                );
            }
            if c.max.is_none() && c.min.is_none() {
                return field(&format!("constraints[{i}]"), "give `max` or `min`".into());
            }
        }
        if let Some(m) = self.budget.minutes
            && !(m > 0.0 && m.is_finite())
        {
            return field("budget.minutes", format!("must be positive, not {m}"));
        }
        if self.budget.minutes.is_none()
            && self.budget.trials.is_none()
            && self.budget.epochs.is_none()
        {
            return field(
                "budget",
                "set at least one of `minutes`, `trials`, `epochs`".into(),
            );
        }
        if self.budget.trials == Some(0) {
            return field("budget.trials", "must be at least 1".into());
        }
        if self.retrain.enabled {
            if !(self.retrain.minutes >= 0.0 && self.retrain.minutes.is_finite()) {
                return field(
                    "retrain.minutes",
                    format!("must be 0 or more, not {}", self.retrain.minutes),
                );
            }
            if let Some(m) = self.budget.minutes
                && self.retrain.minutes >= m
            {
                return field(
                    "retrain.minutes",
                    format!(
                        "({}) must be less than budget.minutes ({m})",
                        self.retrain.minutes
                    ),
                );
            }
            if self.retrain.epochs == Some(0) || self.retrain.max_epochs == 0 {
                return field("retrain.epochs", "must be at least 1".into());
            }
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

    /// Seconds of the search alone (the total minus what retraining keeps).
    pub fn search_seconds(&self) -> Option<f64> {
        let reserve = if self.retrain.enabled {
            self.retrain.minutes
        } else {
            0.0
        };
        self.budget.minutes.map(|m| (m - reserve) * 60.0)
    }
}

fn check_train(t: &TrainSettings, prefix: &str) -> Result<()> {
    let bad = |f: &str, r: String| Err(anyhow!("invalid `{prefix}.{f}`: {r}"));
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
    Ok(())
}

/// Settings file plus overrides, merged as TOML before typed parsing.
pub struct Layered {
    /// The merged document.
    pub doc: toml::Table,
    /// Where the file came from (for error messages).
    pub origin: String,
}

impl Layered {
    /// Reads `file` (if any), then applies `NASCENT_SET` style environment overrides and the
    /// `--set` flags, in that order.
    pub fn load(file: Option<&Path>, env: &[(String, String)], sets: &[String]) -> Result<Self> {
        let (mut doc, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read study file {}", path.display()))?;
                let doc: toml::Table = toml::from_str(&text).map_err(|e| {
                    anyhow!(
                        "{}: malformed TOML: {}",
                        path.display(),
                        e.to_string().trim()
                    )
                })?;
                (doc, path.display().to_string())
            }
            None => (toml::Table::new(), "the default study".to_string()),
        };
        for (k, v) in env {
            set_dotted(&mut doc, k, v).with_context(|| format!("environment override {k}"))?;
        }
        let mut layered = Layered { doc, origin };
        layered.apply_sets(sets)?;
        Ok(layered)
    }

    /// Starts from stored settings (to resume a study with some fields changed).
    pub fn from_settings(settings: &StudySettings, origin: String) -> Result<Self> {
        let doc = toml::Table::try_from(settings)
            .map_err(|e| anyhow!("cannot turn the stored settings into TOML: {e}"))?;
        Ok(Layered { doc, origin })
    }

    /// Applies `--set KEY=VALUE` overrides.
    pub fn apply_sets(&mut self, sets: &[String]) -> Result<()> {
        for s in sets {
            let (k, v) = s.split_once('=').ok_or_else(|| {
                anyhow!("--set `{s}`: expected KEY=VALUE, e.g. strategy.population=50")
            })?;
            set_dotted(&mut self.doc, k.trim(), v.trim()).with_context(|| format!("--set {s}"))?;
        }
        Ok(())
    }

    /// Parses the merged document into `T`, naming the dotted field of any error.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let value = toml::Value::Table(self.doc.clone());
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                anyhow!("{}: {}", self.origin, inner.to_string().trim())
            } else {
                anyhow!(
                    "{}: field `{}`: {}",
                    self.origin,
                    path,
                    inner.to_string().trim()
                )
            }
        })
    }
}

/// Environment overrides: `NASCENT_SET__STRATEGY__POPULATION=50` sets `strategy.population`.
pub fn env_overrides() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix("NASCENT_SET__")
                .map(|rest| (rest.to_lowercase().replace("__", "."), v))
        })
        .collect();
    out.sort();
    out
}

/// Sets `a.b.c = value` in `doc`, parsing `value` as a TOML value (a bare word is a string).
pub fn set_dotted(doc: &mut toml::Table, key: &str, value: &str) -> Result<()> {
    if key.is_empty() || key.split('.').any(|p| p.is_empty()) {
        bail!("`{key}` is not a dotted field name");
    }
    let parsed: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(value.into())),
        Err(_) => toml::Value::String(value.to_string()),
    };
    let parts: Vec<&str> = key.split('.').collect();
    let mut table = doc;
    for p in &parts[..parts.len() - 1] {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| anyhow!("`{p}` in `{key}` is not a table"))?;
    }
    table.insert(parts[parts.len() - 1].to_string(), parsed);
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
