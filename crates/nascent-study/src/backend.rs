//! What a study needs from a deep-learning library, as traits this crate can call without
//! depending on one.
//!
//! A [`Backend`] knows the search spaces it can build networks for (its [`Catalog`], checked
//! against the settings before anything runs) and hands the driver one of them as a typed
//! [`SpaceEntry`] through [`Backend::with_space`]: the space itself, its [`Trainer`] and the
//! view that draws its architectures in the report. The libtorch backend is
//! `nascent_train::study::Torch`; adding a search space means the space, its network builder
//! and one line in that backend's registration table.

use crate::error::Result;
use crate::observer::StudyObserver;
use crate::settings::{ProxySettings, SpaceSettings, StudyConfig, TrainSettings};
use nascent_core::{Budget, Evaluator, SearchSpace};
use nascent_report::ArchView;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A search space as a backend registered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpaceInfo {
    /// The name settings use (`space.kind`) and storage records (the space's own name).
    pub name: String,
    /// One line for help texts.
    pub summary: String,
    /// Whether its networks take a width and depth (`channels`, `cells`) from the study; a
    /// chain architecture sets its own.
    pub scalable: bool,
}

/// What a backend offers, so settings can be checked before anything runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// The search spaces it builds networks for.
    pub spaces: Vec<SpaceInfo>,
    /// The zero-cost proxies it computes (`evaluator.kind = "proxy"`); empty when none.
    pub proxies: Vec<String>,
}

impl Catalog {
    /// The space registered as `name`.
    pub fn space(&self, name: &str) -> Option<&SpaceInfo> {
        self.spaces.iter().find(|s| s.name == name)
    }

    /// The names of the spaces, in registration order.
    pub fn space_names(&self) -> Vec<&str> {
        self.spaces.iter().map(|s| s.name.as_str()).collect()
    }
}

/// The deep-learning side of studies: the spaces it can train, each reached with its types.
pub trait Backend: Send + Sync {
    /// What it offers.
    fn catalog(&self) -> Catalog;

    /// Runs `task` with the space `space.kind` names, made with `space`'s settings; an error
    /// when there is none.
    fn with_space<T: SpaceTask>(&self, space: &SpaceSettings, task: T) -> Result<T::Output>;
}

/// Something done with one search space, whatever its architecture type (the driver's run,
/// the report's rewrite): the visitor a [`Backend`] calls with the space's [`SpaceEntry`].
pub trait SpaceTask {
    /// What it gives back.
    type Output;

    /// Does it with `entry`.
    fn run<S: SearchSpace + Clone + 'static>(self, entry: SpaceEntry<'_, S>) -> Self::Output;
}

/// One registered search space: the space, its trainer and its report view.
pub struct SpaceEntry<'a, S: SearchSpace> {
    /// The space.
    pub space: S,
    /// Builds and trains its networks.
    pub trainer: &'a dyn Trainer<S::Arch>,
    /// Draws its architectures in the report.
    pub view: Option<Box<dyn ArchView>>,
    /// Its registration.
    pub info: SpaceInfo,
}

/// The data of a study as loaded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// Where it came from.
    pub origin: String,
    /// Training samples.
    pub train: usize,
    /// Validation samples (the search signal).
    pub val: usize,
    /// Test samples (0 without a test split).
    pub test: usize,
    /// Shape of one sample, `[channels, height, width]`.
    pub shape: [usize; 3],
    /// Classes.
    pub classes: usize,
}

/// Trains the networks of one space's architectures `A`.
pub trait Trainer<A>: Send + Sync {
    /// Loads the study's data and gets ready to train (once per run).
    fn prepare(
        &self,
        config: &StudyConfig,
        observer: &dyn StudyObserver,
    ) -> Result<Box<dyn Prepared<A>>>;
}

/// A trainer with the study's data loaded.
pub trait Prepared<A>: Send + Sync {
    /// The data.
    fn data(&self) -> &DataInfo;

    /// Builds `arch` at `budget` without training it; the error says why it cannot be built.
    fn probe(&self, arch: &A, budget: &Budget) -> std::result::Result<(), String>;

    /// The evaluator that trains search trials with the study's `[train]` recipe (each trial's
    /// fidelity is its budget), using `threads` CPU threads.
    fn train_evaluator(&self, threads: usize) -> Result<Box<dyn Evaluator<A>>>;

    /// The evaluator that scores untrained networks (built at `budget`) with zero-cost
    /// proxies.
    fn proxy_evaluator(
        &self,
        settings: &ProxySettings,
        budget: &Budget,
    ) -> Result<Box<dyn Evaluator<A>>>;

    /// Training images per second of `arch` built at `budget` (its width, depth and
    /// resolution) with `recipe` on this machine, from a short measurement; `None` when the
    /// trainer cannot tell. The retraining sizes its epochs with it.
    fn training_speed(
        &self,
        _arch: &A,
        _budget: &Budget,
        _recipe: &TrainSettings,
        _threads: usize,
    ) -> Result<Option<f64>> {
        Ok(None)
    }

    /// Retrains `arch` as `plan` says, measures it and exports it.
    fn retrain(
        &self,
        arch: &A,
        plan: &RetrainPlan,
        observer: &dyn StudyObserver,
    ) -> Result<FinalModel>;
}

/// How the best architecture is retrained.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrainPlan {
    /// The search trial it came from.
    pub trial: u64,
    /// Its canonical string.
    pub arch: String,
    /// The space's name (recorded in the export).
    pub space: String,
    /// Epochs on all the training data.
    pub epochs: u32,
    /// Seconds the epochs fill: the trainer re-plans its schedule after each epoch to the
    /// epochs that fit, up to `max_epochs` (see `TimeLimit` in nascent-train); `None`: the
    /// epochs run as planned.
    pub time_limit: Option<f64>,
    /// The most epochs the time limit may lengthen the schedule to.
    pub max_epochs: u32,
    /// Base width (`None`: the space's default).
    pub channels: Option<u32>,
    /// Cells (`None`: the space's default).
    pub cells: Option<u32>,
    /// Input resolution (`None`: the data's).
    pub resolution: Option<u32>,
    /// The training recipe.
    pub recipe: TrainSettings,
    /// CPU threads, shared by the members.
    pub threads: usize,
    /// Networks trained (each from its own seed, at once, on `threads / members` threads) and
    /// averaged into the final model; 1: one network.
    pub members: usize,
    /// Export genotype, weights and ONNX into `out/model`.
    pub export: bool,
    /// The output folder.
    pub out: PathBuf,
}

fn one() -> u32 {
    1
}

/// What the final, retrained model achieved: written to `final.json` beside the report and
/// recorded in storage, so `nascent report` and `nascent best` can show it later.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalModel {
    /// [`crate::SCHEMA_VERSION`] (files written before it was recorded read as 1).
    #[serde(default = "one")]
    pub schema_version: u32,
    /// The genotype.
    pub arch: String,
    /// The search trial it came from.
    pub trial: u64,
    /// Its search-time validation accuracy.
    pub search_val_accuracy: Option<f64>,
    /// Epochs of retraining.
    pub epochs: u32,
    /// Epochs planned before the retraining, where its time limit cut or lengthened the
    /// schedule (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs_planned: Option<u32>,
    /// Width of the final network.
    pub channels: Option<u32>,
    /// Cells of the final network.
    pub cells: Option<u32>,
    /// Test accuracy (%) after retraining.
    pub test_accuracy: Option<f64>,
    /// Validation accuracy (%) after retraining.
    pub val_accuracy: Option<f64>,
    /// Training accuracy (%) after retraining.
    pub train_accuracy: f64,
    /// Parameters.
    pub params: f64,
    /// Multiply-accumulates of one forward pass.
    pub flops: Option<f64>,
    /// Batch-1 latency on this machine (ms).
    pub latency_ms: Option<f64>,
    /// Seconds of retraining.
    pub seconds: f64,
    /// Exported files: (what, path).
    pub exports: Vec<(String, PathBuf)>,
    /// The retraining epoch by epoch (absent in files written before it was recorded).
    #[serde(default)]
    pub history: Vec<FinalEpoch>,
    /// The race that chose it among the search's best (`[retrain.race]`; absent without one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub race: Vec<RaceRun>,
    /// The networks averaged into it (`retrain.ensemble`; absent for one network): its
    /// accuracies are then the ensemble's, its parameters, FLOPs and latency the members' sums.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberRun>,
}

/// One network of an ensemble final model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberRun {
    /// Its training seed.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: u32,
    /// Its own test accuracy (%).
    pub test_accuracy: Option<f64>,
    /// Its own validation accuracy (%).
    pub val_accuracy: Option<f64>,
    /// Seconds it trained.
    pub seconds: f64,
}

/// One run of `[retrain.race]`: a search trial trained briefly at the retraining's shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RaceRun {
    /// The search trial.
    pub trial: u64,
    /// Its genotype.
    pub arch: String,
    /// Validation accuracy (%) after the race's epochs (`None`: it failed).
    pub val_accuracy: Option<f64>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
}

impl RaceRun {
    /// One line for a log or a progress display: `race 2/5: #12 ARCH: val 84.20 % in 21 s`.
    pub fn line(&self, n: usize, of: usize) -> String {
        let result = match (&self.failed, self.val_accuracy) {
            (Some(reason), _) => format!("failed: {reason}"),
            (None, Some(v)) => format!("val {v:.2} %"),
            (None, None) => "no validation accuracy".into(),
        };
        format!(
            "race {n}/{of}: #{} {}: {result} in {:.0} s",
            self.trial, self.arch, self.seconds
        )
    }
}

/// One epoch of the final retraining, as `final.json` keeps it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalEpoch {
    /// 1-based epoch.
    pub epoch: u32,
    /// Mean training loss.
    pub loss: f64,
    /// Training accuracy (%).
    pub train_accuracy: f64,
    /// Validation accuracy (%), where there was a validation set.
    pub val_accuracy: Option<f64>,
}
