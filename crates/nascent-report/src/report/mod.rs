//! The HTML report of a study: one self-contained page (inline CSS and SVG, a few lines of
//! inline JavaScript to sort the table) that opens offline.
//!
//! A [`Report`] is built from plain data: the study's name, space, strategy and objectives, the
//! trials as [`TrialRow`]s, and optionally the final retrained model ([`FinalResult`]) and an
//! [`ArchView`] that draws architectures. [`Report::to_html`] renders the page; [`Report::write`]
//! writes it to a file. The page holds:
//!
//! - a summary (counts by state, wall time, the best trial, settings),
//! - the final retrained model's results with links to the exported files,
//! - best-so-far of the first objective against time and against trial number, and every
//!   trial's value,
//! - the Pareto front, where there are several objectives,
//! - learning curves (the trials' intermediate values),
//! - cell diagrams of the best architectures,
//! - which operations the best architectures favour (their share among the top k against all
//!   trials),
//! - the trials table (click a column header to sort).
//!
//! ```
//! use nascent_core::{Objective, TrialState};
//! use nascent_report::report::{Nb201View, Report, TrialRow};
//! let mut report = Report::new("demo", "nb201", "random", vec![Objective::maximize("val_accuracy")]);
//! report.view = Some(Box::new(Nb201View));
//! let mut row = TrialRow::new(0, "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", TrialState::Complete);
//! row.metrics.insert("val_accuracy".into(), 91.2);
//! report.trials.push(row);
//! let html = report.to_html();
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! ```

mod html;
mod stats;
mod view;

pub use stats::{OpShare, best_so_far, format_duration, format_time, op_shares};
pub use view::{ArchDiagram, ArchView, ChainView, DartsView, DecisionView, Nb201View};

use nascent_core::storage::{StudyRecord, TrialRecord};
use nascent_core::{Direction, Error, Metrics, Objective, Result, TrialState};
use std::path::{Path, PathBuf};

/// One trial as the report shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRow {
    /// 0-based number in the study.
    pub number: u64,
    /// Canonical architecture string.
    pub arch: String,
    /// Where it stands.
    pub state: TrialState,
    /// Why it failed or was pruned.
    pub fail_reason: Option<String>,
    /// Everything measured.
    pub metrics: Metrics,
    /// Intermediate values (step, value), such as validation accuracy per epoch.
    pub intermediate: Vec<(u32, f64)>,
    /// When its evaluation started (Unix seconds).
    pub started: Option<f64>,
    /// When it ended (Unix seconds).
    pub finished: Option<f64>,
    /// Seconds the evaluation took.
    pub cost_seconds: f64,
}

impl TrialRow {
    /// A row with no metrics, times or intermediate values yet.
    pub fn new(number: u64, arch: impl Into<String>, state: TrialState) -> Self {
        TrialRow {
            number,
            arch: arch.into(),
            state,
            fail_reason: None,
            metrics: Metrics::new(),
            intermediate: Vec::new(),
            started: None,
            finished: None,
            cost_seconds: 0.0,
        }
    }

    /// The row of a stored trial.
    pub fn from_record(r: &TrialRecord) -> Self {
        TrialRow {
            number: r.number,
            arch: r.arch.clone(),
            state: r.state,
            fail_reason: r.reason.clone(),
            metrics: r.metrics.clone(),
            intermediate: r.intermediate.clone(),
            started: r.started,
            finished: r.finished,
            cost_seconds: r.cost_seconds,
        }
    }

    /// The value of `objective`, where measured and finite.
    pub fn value(&self, objective: &Objective) -> Option<f64> {
        self.metrics
            .get(&objective.metric)
            .copied()
            .filter(|v| v.is_finite())
    }
}

/// A file the study exported (genotype, weights, ONNX model), linked from the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedFile {
    /// What it is ("ONNX model", "weights", "genotype").
    pub label: String,
    /// Where it is. Relative paths are taken relative to the report's folder.
    pub path: PathBuf,
}

/// The final model: the best architecture retrained at full fidelity and evaluated on the test
/// split.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinalResult {
    /// The architecture retrained.
    pub arch: String,
    /// Test accuracy (%).
    pub test_accuracy: Option<f64>,
    /// Number of parameters.
    pub params: Option<f64>,
    /// FLOPs (multiply-adds) of one forward pass.
    pub flops: Option<f64>,
    /// Measured inference latency (milliseconds).
    pub latency_ms: Option<f64>,
    /// Anything else measured (epochs, training seconds, loss).
    pub metrics: Metrics,
    /// How it was retrained ("60 epochs, 32 channels, 5 cells").
    pub notes: String,
    /// The exported files.
    pub exports: Vec<ExportedFile>,
}

/// Everything a study report shows. Build it with [`Report::new`] (or
/// [`Report::from_records`]) and fill the public fields.
#[derive(Default)]
pub struct Report {
    /// The study's name.
    pub study: String,
    /// The search space's name.
    pub space: String,
    /// The search strategy's name.
    pub strategy: String,
    /// The objectives, in order; the first one ranks trials.
    pub objectives: Vec<Objective>,
    /// The trials.
    pub trials: Vec<TrialRow>,
    /// Extra lines for the summary (seed, budget, storage, workers), as (name, value).
    pub settings: Vec<(String, String)>,
    /// When the study started (Unix seconds); `None` takes the earliest trial start.
    pub started: Option<f64>,
    /// When the report was made (Unix seconds), shown in the header; `None` leaves it out.
    pub generated: Option<f64>,
    /// What the intermediate values are ("validation accuracy (%)"), for the learning curves.
    pub intermediate_label: String,
    /// The final retrained model, if any.
    pub final_result: Option<FinalResult>,
    /// How architectures are drawn and which operations they use; `None` leaves out the cell
    /// diagrams and the operations chart (unless `diagrams` are given).
    pub view: Option<Box<dyn ArchView>>,
    /// Precomputed diagrams, by architecture string; used before `view`.
    pub diagrams: Vec<(String, Vec<ArchDiagram>)>,
    /// How many of the best architectures are drawn (default 3).
    pub diagram_count: usize,
    /// The k of "the top k" in the operations chart (default 10).
    pub top_k: usize,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("study", &self.study)
            .field("space", &self.space)
            .field("strategy", &self.strategy)
            .field("objectives", &self.objectives)
            .field("trials", &self.trials.len())
            .field("final_result", &self.final_result)
            .field("view", &self.view.is_some())
            .finish_non_exhaustive()
    }
}

impl Report {
    /// A report with no trials yet.
    pub fn new(
        study: impl Into<String>,
        space: impl Into<String>,
        strategy: impl Into<String>,
        objectives: Vec<Objective>,
    ) -> Self {
        Report {
            study: study.into(),
            space: space.into(),
            strategy: strategy.into(),
            objectives,
            diagram_count: 3,
            top_k: 10,
            ..Report::default()
        }
    }

    /// A report of a stored study and its trials. The view that draws its architectures and
    /// the strategy are left empty (they come from the space's registration and the study's
    /// configuration): set [`Report::view`] and [`Report::strategy`].
    pub fn from_records(study: &StudyRecord, trials: &[TrialRecord]) -> Self {
        let mut r = Report::new(
            study.name.clone(),
            study.space.clone(),
            "",
            study.objectives.clone(),
        );
        r.trials = trials.iter().map(TrialRow::from_record).collect();
        r.started = Some(study.created);
        r.settings.push(("seed".into(), study.seed.to_string()));
        r
    }

    /// Completed trials with a finite value of the first objective, best first (ties: the
    /// earlier trial first).
    pub fn ranked(&self) -> Vec<&TrialRow> {
        let Some(obj) = self.objectives.first() else {
            return Vec::new();
        };
        let mut rows: Vec<(&TrialRow, f64)> = self
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .filter_map(|t| t.value(obj).map(|v| (t, obj.utility(v))))
            .collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.number.cmp(&b.0.number)));
        rows.into_iter().map(|(t, _)| t).collect()
    }

    /// The best completed trial on the first objective.
    pub fn best(&self) -> Option<&TrialRow> {
        self.ranked().into_iter().next()
    }

    /// The diagrams of `arch`: precomputed ones first, else drawn by the view.
    pub fn diagrams_of(&self, arch: &str) -> Vec<ArchDiagram> {
        if let Some((_, d)) = self.diagrams.iter().find(|(a, _)| a == arch) {
            return d.clone();
        }
        self.view
            .as_ref()
            .map(|v| v.diagrams(arch))
            .unwrap_or_default()
    }

    /// The page, with links to relative export paths left relative (right for a report
    /// written next to them).
    pub fn to_html(&self) -> String {
        html::render(self, None)
    }

    /// Writes the page to `path` (creating its folder), linking exported files relative to
    /// that folder, and returns the path written.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<PathBuf> {
        let path = path.as_ref();
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(d) = dir {
            std::fs::create_dir_all(d).map_err(|source| Error::Io {
                path: d.to_path_buf(),
                source,
            })?;
        }
        let base = dir.map(|d| d.canonicalize().unwrap_or_else(|_| d.to_path_buf()));
        let page = html::render(self, base.as_deref());
        std::fs::write(path, page).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        log::info!("wrote report {}", path.display());
        Ok(path.to_path_buf())
    }
}

/// The arrow shown next to an objective: ↑ maximised, ↓ minimised.
pub(crate) fn direction_arrow(d: Direction) -> &'static str {
    match d {
        Direction::Maximize => "↑",
        Direction::Minimize => "↓",
    }
}
