//! What matters in a study: which decisions drive the objective, which option of each is best,
//! which sub-cells the best trials share, and how stable the top is across studies.
//!
//! The analysis fits a random forest ([`forest`]) to the completed trials (architecture
//! decisions and hyperparameters as [`Dimension`]s, the objective as response) and decomposes
//! it by functional ANOVA ([`fanova`]) over the *uniform* distribution on the whole space. A
//! search samples good regions far more often than bad ones; plain means per option inherit
//! that bias, the decomposition of a surrogate over the uniform space does not (as far as the
//! surrogate extrapolates well; where the decisions form a cell, two features of its graph
//! help it there, [`Structure`]; on such a cell's edges the main effects come from the
//! additive part alone and the trees add interactions, [`TreeEffects`]). Uncertainty comes
//! from the members: each is grown on its own bootstrap resample and decomposed on its own,
//! and the spread over members gives the interval of every importance and marginal effect.
//!
//! - [`Analysis::importance`]: the share of the objective's variance each decision explains
//!   alone (its main effect) for the ensemble's mean prediction, with the interval of that
//!   share over single members (rescaled to the ensemble's level);
//! - [`Analysis::marginals`]: the objective expected with each option of each decision, the
//!   others averaged over the space, with an interval, next to the plain mean of the trials;
//! - [`Analysis::motifs`]: options and pairs/triples of options enriched in the top decile
//!   ([`motifs`]);
//! - [`stability()`]: top-k overlap and rank correlations across studies.
//!
//! Cost (`bench/results/analysis_speed.txt`, a busy 2-core CPU): 0.25 s for 200 trials, 1.3 s
//! for 2,000, 3 s for 20,000 (each member sees a resample of at most
//! [`ForestConfig::max_samples`] trials); compute it once per change of the study, not per page.
//!
//! Everything is serde-serialisable with a [`SCHEMA_VERSION`] (what `nascent analyze --json`
//! prints); [`render`] draws the charts and [`fragment`] the HTML the report and the dashboard
//! embed.
//!
//! ```
//! use nascent_core::{Objective, SearchSpace};
//! use nascent_report::analysis::{Observations, analyze, AnalysisConfig};
//! use nascent_space::Nb201Space;
//!
//! let space = Nb201Space::new();
//! let mut rng = nascent_core::Rng::new(1);
//! let items = (0..60).map(|i| {
//!     let a = space.sample(&mut rng);
//!     let c = space.to_decisions(&a);
//!     let y = c.iter().map(|&o| o as f64).sum::<f64>(); // a toy objective
//!     (i, space.format(&a), c, y)
//! });
//! let obs = Observations::from_choices(space.decisions(), Objective::maximize("acc"), items).unwrap();
//! let analysis = analyze(&obs, &AnalysisConfig::default()).unwrap();
//! assert_eq!(analysis.importance.len(), 6);
//! ```

pub mod data;
pub mod fanova;
pub mod forest;
pub mod motifs;
pub mod render;
pub mod stability;
pub mod structure;

pub use data::{Dimension, DimensionKind, Observation, Observations};
pub use fanova::{
    Decomposition, TreeEffects, decompose_member, decompose_member_with, decompose_tree,
    exact_main_effects,
};
pub use forest::{Additive, Forest, ForestConfig, Member};
pub use motifs::{Motif, MotifConfig, MotifItem, Motifs};
pub use render::{
    fragment, importance_svg, marginal_svg, marginal_svg_with_truth, stability_fragment,
};
pub use stability::{Comparison, Stability, StabilityPair, StudyTrials, stability};
pub use structure::Structure;

use nascent_core::stats::spearman;
use nascent_core::storage::{StudyRecord, TrialRecord};
use nascent_core::{Direction, Error, Objective, Result};
use nascent_space::{ChainSpace, DartsSpace, Nb201Space};
use serde::{Deserialize, Serialize};

/// Version of the JSON layout of [`Analysis`] and [`Stability`]; raised when a field changes
/// meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Fewest completed trials the analysis runs on.
pub const MIN_TRIALS: usize = 8;

/// Settings of the analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisConfig {
    /// The surrogate.
    pub forest: ForestConfig,
    /// The motif search.
    pub motifs: MotifConfig,
    /// Coverage of the intervals over trees (0.9: from the 5th to the 95th percentile).
    pub interval: f64,
    /// What the trees on the additive part's residuals add to the decomposition: on a cell's
    /// edges interactions only (the default, [`TreeEffects::ExceptCellEdges`]), or their main
    /// effects on every dimension ([`TreeEffects::All`]).
    pub trees: TreeEffects,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            forest: ForestConfig::default(),
            motifs: MotifConfig::default(),
            interval: 0.9,
            trees: TreeEffects::ExceptCellEdges,
        }
    }
}

/// A quantity estimated from each tree: its mean, standard deviation and interval over trees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Mean over trees.
    pub mean: f64,
    /// Standard deviation over trees.
    pub std: f64,
    /// Lower end of the interval over trees.
    pub low: f64,
    /// Upper end of the interval over trees.
    pub high: f64,
}

impl Estimate {
    /// The estimate of a sample of per-tree values; `level` is the interval's coverage.
    pub fn of(values: &[f64], level: f64) -> Self {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Estimate {
                mean: f64::NAN,
                std: f64::NAN,
                low: f64::NAN,
                high: f64::NAN,
            };
        }
        let (mean, std) = crate::mean_std(&v);
        let mut s = v.clone();
        s.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let pos = p * (s.len() - 1) as f64;
            let (i, t) = (pos.floor() as usize, pos.fract());
            if i + 1 < s.len() {
                s[i] * (1.0 - t) + s[i + 1] * t
            } else {
                s[i]
            }
        };
        let a = ((1.0 - level) / 2.0).clamp(0.0, 0.5);
        Estimate {
            mean,
            std,
            low: q(a),
            high: q(1.0 - a),
        }
    }
}

/// How much a decision matters: the share of the objective's variance over the space that its
/// main effect explains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// The decision.
    pub dimension: String,
    /// Share of the variance (0 to 1) of the ensemble's mean prediction.
    pub mean: f64,
    /// Standard deviation over trees.
    pub std: f64,
    /// Lower end of the interval over trees.
    pub low: f64,
    /// Upper end of the interval over trees.
    pub high: f64,
    /// Rank among the decisions (1: most important).
    pub rank: usize,
}

/// The effect of one option (or one value of a numeric decision).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChoiceEffect {
    /// The option's name, or the value of a numeric decision.
    pub label: String,
    /// The value, for a numeric decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The objective expected with this option, the other decisions uniform over the space
    /// (mean over trees).
    pub mean: f64,
    /// Standard deviation over trees.
    pub std: f64,
    /// Lower end of the interval over trees.
    pub low: f64,
    /// Upper end of the interval over trees.
    pub high: f64,
    /// Trials that took this option (for a numeric decision: whose value is nearest this grid
    /// point).
    pub trials: usize,
    /// The plain mean of those trials' objective (biased toward where the search looked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_mean: Option<f64>,
    /// Share of the trees (bootstrap resamples) in which this option is the best one.
    #[serde(default)]
    pub p_best: f64,
    /// The interval over trees of this option's effect minus the best option's, paired tree by
    /// tree (so the trees' common shifts cancel); `[0, 0]` for the best option itself.
    #[serde(default)]
    pub gap_to_best: (f64, f64),
}

/// The marginal effect of one decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Marginal {
    /// The decision.
    pub dimension: String,
    /// Whether the decision is numeric (its choices are grid points).
    pub numeric: bool,
    /// One entry per option (or grid point).
    pub choices: Vec<ChoiceEffect>,
    /// The label of the best choice (largest mean when maximising, smallest when minimising).
    pub best: String,
    /// The choices the trials cannot tell apart from the best: those whose paired gap to the
    /// best ([`ChoiceEffect::gap_to_best`]) has an interval that reaches zero. The best choice
    /// comes first, the others in order of their mean.
    #[serde(default)]
    pub best_set: Vec<String>,
}

/// How well the surrogate fits the trials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurrogateFit {
    /// What the surrogate is.
    pub model: String,
    /// Its settings.
    pub config: ForestConfig,
    /// R² of the out-of-bag predictions.
    pub oob_r2: Option<f64>,
    /// Spearman correlation of the out-of-bag predictions with the objective.
    pub oob_spearman: Option<f64>,
    /// Trees with any variance (the others have no decomposition and are left out).
    pub trees_used: usize,
}

/// The analysis of one study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Version of this JSON layout ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The study's name (empty when not from storage).
    pub study: String,
    /// The search space's name (empty when not from storage).
    pub space: String,
    /// The objective analysed.
    pub objective: Objective,
    /// Trials in the study.
    pub trials_total: usize,
    /// Completed trials analysed.
    pub trials_used: usize,
    /// The decisions.
    pub dimensions: Vec<Dimension>,
    /// The surrogate and how well it fits.
    pub surrogate: SurrogateFit,
    /// The surrogate's mean of the objective over the uniform space.
    pub space_mean: Estimate,
    /// Coverage of the intervals over trees (0.9: 5th to 95th percentile).
    pub interval: f64,
    /// The share of the variance all main effects explain together (the rest is interactions).
    pub main_effects_share: Estimate,
    /// One per decision, in the order of [`Analysis::dimensions`].
    pub importance: Vec<Importance>,
    /// One per decision, in the order of [`Analysis::dimensions`].
    pub marginals: Vec<Marginal>,
    /// Motifs of the top decile; `None` with too few trials.
    pub motifs: Option<Motifs>,
    /// What was left out and why.
    pub notes: Vec<String>,
}

impl Analysis {
    /// The importances, most important first.
    pub fn ranked_importance(&self) -> Vec<&Importance> {
        let mut v: Vec<&Importance> = self.importance.iter().collect();
        v.sort_by_key(|i| i.rank);
        v
    }

    /// The marginal effects of every categorical option, as ((decision, option), mean).
    pub fn option_effects(&self) -> Vec<((String, String), f64)> {
        self.marginals
            .iter()
            .filter(|m| !m.numeric)
            .flat_map(|m| {
                m.choices
                    .iter()
                    .map(|c| ((m.dimension.clone(), c.label.clone()), c.mean))
            })
            .collect()
    }
}

/// Analyses `obs`: fits the surrogate, decomposes it, finds the motifs.
pub fn analyze(obs: &Observations, cfg: &AnalysisConfig) -> Result<Analysis> {
    obs.check()?;
    if obs.rows.len() < MIN_TRIALS {
        return Err(Error::config(
            "trials",
            format!(
                "the analysis needs at least {MIN_TRIALS} completed trials with a value of `{}`, the study has {}",
                obs.objective.metric,
                obs.rows.len()
            ),
        ));
    }
    if obs.dimensions.is_empty() {
        return Err(Error::config(
            "dimensions",
            "the study has no decision to analyse",
        ));
    }
    if cfg.forest.trees == 0 {
        return Err(Error::config("forest.trees", "must be at least 1"));
    }
    if !(cfg.interval > 0.0 && cfg.interval < 1.0) {
        return Err(Error::config("interval", "must be between 0 and 1"));
    }
    let x: Vec<Vec<f64>> = obs.rows.iter().map(|r| r.x.clone()).collect();
    let y: Vec<f64> = obs.rows.iter().map(|r| r.y).collect();
    let forest = Forest::fit(&obs.dimensions, &x, &y, &cfg.forest);
    let structured = forest
        .members
        .iter()
        .any(|m| m.additive.as_ref().is_some_and(|a| a.structure.is_some()));
    let all_trees: Vec<Decomposition> = forest
        .members
        .iter()
        .map(|m| decompose_member_with(m, &obs.dimensions, cfg.trees))
        .collect();
    let decomps: Vec<&Decomposition> = all_trees.iter().filter(|d| d.variance > 0.0).collect();
    let mut notes = obs.notes.clone();
    if decomps.is_empty() {
        notes.push("the objective does not vary with any decision: nothing to decompose".into());
    }
    let level = cfg.interval;
    let p = obs.dimensions.len();
    let fractions: Vec<Vec<f64>> = decomps.iter().map(|d| d.fractions()).collect();
    let ensemble = ensemble_fractions(&forest, &all_trees, cfg.forest.seed);
    let mut importance: Vec<Importance> = obs
        .dimensions
        .iter()
        .enumerate()
        .map(|(e, d)| {
            let per_tree: Vec<f64> = fractions.iter().map(|f| f[e]).collect();
            let est = Estimate::of(&per_tree, level);
            // A single member's share is biased low (its own noise inflates its total
            // variance): its spread is rescaled to the ensemble's level.
            let scale = if est.mean > 0.0 {
                ensemble[e] / est.mean
            } else {
                1.0
            };
            let or_zero = |v: f64| if decomps.is_empty() { 0.0 } else { v };
            Importance {
                dimension: d.name.clone(),
                mean: or_zero(ensemble[e]),
                std: or_zero(est.std * scale),
                low: or_zero(est.low * scale),
                high: or_zero(est.high * scale),
                rank: 0,
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| {
        importance[b]
            .mean
            .total_cmp(&importance[a].mean)
            .then(a.cmp(&b))
    });
    for (r, &i) in order.iter().enumerate() {
        importance[i].rank = r + 1;
    }
    let marginals = obs
        .dimensions
        .iter()
        .enumerate()
        .map(|(e, d)| marginal(obs, &all_trees, e, d, level))
        .collect();
    let oob: Vec<(f64, f64)> = forest
        .oob
        .iter()
        .zip(&y)
        .filter(|(p, _)| p.is_finite())
        .map(|(p, y)| (*p, *y))
        .collect();
    let (oob_r2, oob_spearman) = if oob.len() >= 3 {
        let m = oob.iter().map(|o| o.1).sum::<f64>() / oob.len() as f64;
        let ss: f64 = oob.iter().map(|o| (o.1 - m).powi(2)).sum();
        let res: f64 = oob.iter().map(|o| (o.0 - o.1).powi(2)).sum();
        let (a, b): (Vec<f64>, Vec<f64>) = oob.iter().copied().unzip();
        ((ss > 0.0).then(|| 1.0 - res / ss), spearman(&a, &b))
    } else {
        (None, None)
    };
    let main_share: Vec<f64> = fractions.iter().map(|f| f.iter().sum()).collect();
    let mut main_effects_share = Estimate::of(&main_share, level);
    main_effects_share.mean = ensemble.iter().sum::<f64>().min(1.0);
    let space_mean: Vec<f64> = all_trees.iter().map(|d| d.mean).collect();
    Ok(Analysis {
        schema_version: SCHEMA_VERSION,
        study: String::new(),
        space: String::new(),
        objective: obs.objective.clone(),
        trials_total: obs.trials_total,
        trials_used: obs.rows.len(),
        dimensions: obs.dimensions.clone(),
        surrogate: SurrogateFit {
            model: match cfg.forest.additive_ridge {
                Some(_) if structured && cfg.trees == TreeEffects::ExceptCellEdges => "ensemble of additive ridge models (each member's penalty drawn from a range) with the cell's structure features (connected, a path with a convolution) plus regression trees on their residuals, one per bootstrap resample; the edges' main effects come from the additive part, the trees add interactions there".into(),
                Some(_) if structured => "ensemble of additive ridge models (each member's penalty drawn from a range) with the cell's structure features (connected, a path with a convolution) plus regression trees on their residuals, one per bootstrap resample".into(),
                Some(_) => "ensemble of additive ridge models (each member's penalty drawn from a range) plus regression trees on their residuals, one per bootstrap resample".into(),
                None => "random forest (bootstrap, variance reduction, subset splits)".into(),
            },
            config: cfg.forest.clone(),
            oob_r2,
            oob_spearman,
            trees_used: decomps.len(),
        },
        space_mean: Estimate::of(&space_mean, level),
        interval: level,
        main_effects_share,
        importance,
        marginals,
        motifs: motifs::motifs(obs, &cfg.motifs),
        notes,
    })
}

/// Points of the Monte Carlo estimate of the ensemble's variance.
const VARIANCE_POINTS: usize = 1024;

/// The share of the variance of the ensemble's mean prediction that each dimension's main
/// effect explains. The main effects of the mean prediction are the means of the members'
/// (exact); its total variance is estimated from [`VARIANCE_POINTS`] uniform random points.
/// Shares of the mean are steadier than means of the members' shares: each member's noise
/// inflates its own variance, and averaging removes much of it.
fn ensemble_fractions(forest: &Forest, members: &[Decomposition], seed: u64) -> Vec<f64> {
    let dims = &forest.dimensions;
    let t = members.len().max(1) as f64;
    let mean = members.iter().map(|d| d.mean).sum::<f64>() / t;
    let main: Vec<f64> = (0..dims.len())
        .map(|e| {
            let atoms = members.first().map_or(0, |d| d.marginals[e].len());
            (0..atoms)
                .map(|a| {
                    let m = members.iter().map(|d| d.marginals[e][a]).sum::<f64>() / t;
                    (m - mean).powi(2)
                })
                .sum::<f64>()
                / atoms.max(1) as f64
        })
        .collect();
    let mut rng = nascent_core::Rng::new(nascent_core::derive_seed(seed, 0xA11A));
    let preds: Vec<f64> = (0..VARIANCE_POINTS)
        .map(|_| {
            let u: Vec<f64> = dims
                .iter()
                .map(|d| match d.options() {
                    Some(o) => rng.below(o.len()) as f64,
                    None => rng.uniform(),
                })
                .collect();
            forest
                .members
                .iter()
                .map(|m| m.predict_unit(dims, &u))
                .sum::<f64>()
                / forest.members.len().max(1) as f64
        })
        .collect();
    let pm = preds.iter().sum::<f64>() / preds.len() as f64;
    let var = preds.iter().map(|p| (p - pm).powi(2)).sum::<f64>() / preds.len() as f64;
    // The main effects cannot explain more than all the variance; Monte Carlo noise aside.
    let var = var.max(main.iter().sum::<f64>());
    main.iter()
        .map(|v| if var > 0.0 { v / var } else { 0.0 })
        .collect()
}

/// The marginal effect of dimension `e` from every tree's decomposition.
fn marginal(
    obs: &Observations,
    trees: &[Decomposition],
    e: usize,
    d: &Dimension,
    level: f64,
) -> Marginal {
    let numeric = matches!(d.kind, DimensionKind::Numeric { .. });
    let grid = fanova::grid_points();
    let labels: Vec<(String, Option<f64>)> = match &d.kind {
        DimensionKind::Categorical { options } => {
            options.iter().map(|o| (o.clone(), None)).collect()
        }
        DimensionKind::Numeric { .. } => grid
            .iter()
            .map(|&u| {
                let v = d.from_unit(u);
                (crate::plot::format_value(v), Some(v))
            })
            .collect(),
    };
    // Which choice each trial falls in.
    let slot = |v: f64| -> usize {
        if numeric {
            ((d.unit(v) * grid.len() as f64) as usize).min(grid.len() - 1)
        } else {
            v as usize
        }
    };
    let mut counts = vec![0usize; labels.len()];
    let mut sums = vec![0.0; labels.len()];
    for r in &obs.rows {
        let s = slot(r.x[e]);
        if s < labels.len() {
            counts[s] += 1;
            sums[s] += r.y;
        }
    }
    // Better is larger when maximising: every comparison below runs on the signed value.
    let sign = match obs.objective.direction {
        Direction::Maximize => 1.0,
        Direction::Minimize => -1.0,
    };
    let per_tree: Vec<Vec<f64>> = (0..labels.len())
        .map(|c| trees.iter().map(|t| t.marginals[e][c]).collect())
        .collect();
    let mut choices: Vec<ChoiceEffect> = labels
        .into_iter()
        .enumerate()
        .map(|(c, (label, value))| {
            let est = Estimate::of(&per_tree[c], level);
            ChoiceEffect {
                label,
                value,
                mean: est.mean,
                std: est.std,
                low: est.low,
                high: est.high,
                trials: counts[c],
                observed_mean: (counts[c] > 0).then(|| sums[c] / counts[c] as f64),
                p_best: 0.0,
                gap_to_best: (0.0, 0.0),
            }
        })
        .collect();
    let best_index = choices
        .iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| (sign * a.mean).total_cmp(&(sign * b.mean)))
        .map(|(i, _)| i);
    // How often each choice wins, tree by tree.
    let mut wins = vec![0usize; choices.len()];
    for tree in trees {
        let w = (0..choices.len())
            .filter(|&c| tree.marginals[e][c].is_finite())
            .max_by(|&a, &b| {
                (sign * tree.marginals[e][a]).total_cmp(&(sign * tree.marginals[e][b]))
            });
        if let Some(w) = w {
            wins[w] += 1;
        }
    }
    let mut best_set = Vec::new();
    if let Some(b) = best_index {
        for (c, choice) in choices.iter_mut().enumerate() {
            choice.p_best = wins[c] as f64 / trees.len().max(1) as f64;
            if c == b {
                continue;
            }
            let gaps: Vec<f64> = per_tree[c]
                .iter()
                .zip(&per_tree[b])
                .map(|(x, y)| x - y)
                .collect();
            let g = Estimate::of(&gaps, level);
            choice.gap_to_best = (g.low, g.high);
        }
        best_set.push(b);
        let mut tied: Vec<usize> = (0..choices.len())
            .filter(|&c| c != b)
            .filter(|&c| {
                let (low, high) = choices[c].gap_to_best;
                // The gap's interval reaches zero (either sign of the objective).
                low <= 0.0 && high >= 0.0
            })
            .collect();
        tied.sort_by(|&x, &y| (sign * choices[y].mean).total_cmp(&(sign * choices[x].mean)));
        best_set.extend(tied);
    }
    let best = best_index
        .map(|b| choices[b].label.clone())
        .unwrap_or_default();
    let best_set = best_set
        .into_iter()
        .map(|c| choices[c].label.clone())
        .collect();
    Marginal {
        dimension: d.name.clone(),
        numeric,
        choices,
        best,
        best_set,
    }
}

/// Analyses a stored study whose space is a built-in one (`nb201`, `darts`, `chain` with its
/// default settings), on objective `objective_index`.
pub fn analyze_study(
    study: &StudyRecord,
    trials: &[TrialRecord],
    objective_index: usize,
    cfg: &AnalysisConfig,
) -> Result<Analysis> {
    let obs = match study.space.as_str() {
        "nb201" => Observations::from_records(
            &Nb201Space::new(),
            &study.objectives,
            objective_index,
            trials,
        )?,
        "darts" => Observations::from_records(
            &DartsSpace::new(),
            &study.objectives,
            objective_index,
            trials,
        )?,
        "chain" => Observations::from_records(
            &ChainSpace::default(),
            &study.objectives,
            objective_index,
            trials,
        )?,
        other => {
            return Err(Error::unknown(
                "search space for the analysis",
                other,
                &["nb201", "darts", "chain"],
            ));
        }
    };
    let mut a = analyze(&obs, cfg)?;
    a.study = study.name.clone();
    a.space = study.space.clone();
    Ok(a)
}
