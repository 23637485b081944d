//! Validation of the analysis on the full NAS-Bench-201 table, shared by the test
//! `analysis_nb201` and the program `examples/analysis_nb201.rs`.
//!
//! The truth: the exact functional ANOVA main effects over all 15,625 cells of the objective
//! the search sees (CIFAR-10 validation accuracy after the 12-epoch schedule). The estimate: the
//! analysis of a 200-trial regularized-evolution run on that objective.

#![allow(dead_code)]

use nascent_bench::{Dataset, Nb201Evaluator, Nb201Table, VAL_ACCURACY};
use nascent_core::stats::spearman;
use nascent_core::{Budget, History, Objective, Rng, SearchSpace, run_queries};
use nascent_report::analysis::{
    Analysis, AnalysisConfig, Decomposition, Observations, analyze, exact_main_effects,
};
use nascent_space::Nb201Space;
use nascent_strategy::{StrategyConfig, StrategyKind};
use std::sync::Arc;

/// Which table column is the truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// CIFAR-10 validation accuracy after 12 epochs (the search signal).
    Val12,
    /// CIFAR-10 test accuracy after 200 epochs.
    Test200,
}

/// Every cell of the table as observations of `column`.
pub fn table_observations(table: &Nb201Table, column: Column) -> Observations {
    let space = Nb201Space::new();
    let items = table.rows().iter().enumerate().map(|(i, r)| {
        let y = match column {
            Column::Val12 => r.signal(Dataset::Cifar10),
            Column::Test200 => r.test(Dataset::Cifar10),
        };
        (
            i as u64,
            space.format(&r.arch),
            space.to_decisions(&r.arch),
            y,
        )
    });
    Observations::from_choices(space.decisions(), Objective::maximize(VAL_ACCURACY), items)
        .expect("the table's cells are valid NB201 decisions")
}

/// The exact main effects of `column` over the whole table.
pub fn truth(table: &Nb201Table, column: Column) -> Decomposition {
    exact_main_effects(&table_observations(table, column)).expect("the table is full factorial")
}

/// The trials of a `trials`-query run of strategy `kind` with its default settings (regularized
/// evolution: population 30, tournaments of 10) on the 12-epoch validation accuracy, seeded with
/// `seed`.
pub fn search_run(
    table: Arc<Nb201Table>,
    kind: StrategyKind,
    seed: u64,
    trials: usize,
) -> Observations {
    let space = Nb201Space::new();
    let eval = Nb201Evaluator::new(table, Dataset::Cifar10);
    let mut strategy = StrategyConfig::default_for(kind)
        .build::<Nb201Space>()
        .expect("the default evolution settings are valid");
    let objective = Objective::maximize(VAL_ACCURACY);
    let mut history = History::new(vec![objective.clone()]);
    let mut rng = Rng::new(seed);
    run_queries(
        &space,
        &mut strategy,
        &eval,
        &mut history,
        trials,
        &Budget::epochs(12),
        &mut rng,
    );
    let items = history
        .trials()
        .iter()
        .filter(|t| t.is_complete())
        .map(|t| {
            (
                t.number,
                space.format(&t.arch),
                space.to_decisions(&t.arch),
                t.metrics[VAL_ACCURACY],
            )
        });
    Observations::from_choices(space.decisions(), objective, items)
        .expect("evolution proposes valid cells")
}

/// How well an analysis recovers the truth.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// Spearman of the 6 edges' importances.
    pub importance: f64,
    /// Spearman of the 30 (edge, op) marginal effects.
    pub marginals: f64,
    /// Edges whose best op (largest marginal) is the table's best op.
    pub best_ops_agree: usize,
    /// Edges whose best set (the ops the trials cannot tell from the best) holds the table's
    /// best op.
    pub best_in_set: usize,
    /// Mean size of the best sets over the edges.
    pub best_set_size: f64,
    /// Share of the 30 marginal effects whose interval holds the true value.
    pub marginal_coverage: f64,
    /// Share of the 24 paired gaps to an edge's marked best op (the intervals that decide what
    /// is tied) whose interval holds the true gap.
    pub gap_coverage: f64,
    /// The edges whose best set misses the table's best op, with what the analysis marked.
    pub misses: Vec<(String, Vec<String>)>,
}

/// Compares `a` with the truth `t`.
pub fn score(a: &Analysis, t: &Decomposition) -> Score {
    let est: Vec<f64> = a.importance.iter().map(|i| i.mean).collect();
    let importance = spearman(&est, &t.fractions()).unwrap_or(f64::NAN);
    let est_m: Vec<f64> = a
        .marginals
        .iter()
        .flat_map(|m| m.choices.iter().map(|c| c.mean))
        .collect();
    let true_m: Vec<f64> = t.marginals.iter().flatten().copied().collect();
    let marginals = spearman(&est_m, &true_m).unwrap_or(f64::NAN);
    let best_true = |tm: &Vec<f64>| {
        tm.iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .map(|(i, _)| i)
            .unwrap_or(0)
    };
    let best_ops_agree = a
        .marginals
        .iter()
        .zip(&t.marginals)
        .filter(|(m, tm)| m.choices.iter().position(|c| c.label == m.best) == Some(best_true(tm)))
        .count();
    let best_set_size = a
        .marginals
        .iter()
        .map(|m| m.best_set.len() as f64)
        .sum::<f64>()
        / a.marginals.len().max(1) as f64;
    let (mut covered, mut gaps_covered, mut gaps) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for (m, tm) in a.marginals.iter().zip(&t.marginals) {
        let b = m.choices.iter().position(|c| c.label == m.best);
        for (c, choice) in m.choices.iter().enumerate() {
            covered += usize::from(choice.low <= tm[c] && tm[c] <= choice.high);
            if let Some(b) = b.filter(|&b| b != c) {
                let gap = tm[c] - tm[b];
                gaps += 1;
                gaps_covered +=
                    usize::from(choice.gap_to_best.0 <= gap && gap <= choice.gap_to_best.1);
            }
        }
        if !m.best_set.contains(&m.choices[best_true(tm)].label) {
            misses.push((m.dimension.clone(), m.best_set.clone()));
        }
    }
    Score {
        importance,
        marginals,
        best_ops_agree,
        best_in_set: a.marginals.len() - misses.len(),
        best_set_size,
        marginal_coverage: covered as f64 / true_m.len().max(1) as f64,
        gap_coverage: gaps_covered as f64 / gaps.max(1) as f64,
        misses,
    }
}

/// The analysis of one evolution run and its score against the truth.
pub fn validate_seed(
    table: Arc<Nb201Table>,
    t: &Decomposition,
    seed: u64,
    trials: usize,
    cfg: &AnalysisConfig,
) -> (Analysis, Score) {
    let obs = search_run(table, StrategyKind::Evolution, seed, trials);
    let a = analyze(&obs, cfg).expect("200 trials are enough to analyse");
    let s = score(&a, t);
    (a, s)
}

/// The truth drawn as an analysis (zero-width intervals), for its marginal-effect chart.
pub fn truth_analysis(t: &Decomposition, dims: &Observations) -> Analysis {
    use nascent_report::analysis::{ChoiceEffect, Estimate, Importance, Marginal, SurrogateFit};
    let fr = t.fractions();
    let mut order: Vec<usize> = (0..fr.len()).collect();
    order.sort_by(|&a, &b| fr[b].total_cmp(&fr[a]));
    let point = |v: f64| Estimate {
        mean: v,
        std: 0.0,
        low: v,
        high: v,
    };
    Analysis {
        schema_version: nascent_report::analysis::SCHEMA_VERSION,
        study: "NAS-Bench-201 (all 15,625 cells)".into(),
        space: "nb201".into(),
        objective: dims.objective.clone(),
        trials_total: dims.rows.len(),
        trials_used: dims.rows.len(),
        dimensions: dims.dimensions.clone(),
        surrogate: SurrogateFit {
            model: "exact (the full table)".into(),
            config: Default::default(),
            oob_r2: None,
            oob_spearman: None,
            trees_used: 0,
        },
        space_mean: point(t.mean),
        interval: 0.9,
        main_effects_share: point(fr.iter().sum()),
        importance: dims
            .dimensions
            .iter()
            .enumerate()
            .map(|(e, d)| Importance {
                dimension: d.name.clone(),
                mean: fr[e],
                std: 0.0,
                low: fr[e],
                high: fr[e],
                rank: order.iter().position(|&i| i == e).unwrap_or(0) + 1,
            })
            .collect(),
        marginals: dims
            .dimensions
            .iter()
            .enumerate()
            .map(|(e, d)| {
                let options = d.options().unwrap_or(&[]);
                let best = (0..options.len())
                    .max_by(|&a, &b| t.marginals[e][a].total_cmp(&t.marginals[e][b]))
                    .unwrap_or(0);
                Marginal {
                    dimension: d.name.clone(),
                    numeric: false,
                    choices: options
                        .iter()
                        .enumerate()
                        .map(|(o, label)| ChoiceEffect {
                            label: label.clone(),
                            value: None,
                            mean: t.marginals[e][o],
                            std: 0.0,
                            low: t.marginals[e][o],
                            high: t.marginals[e][o],
                            trials: dims.rows.len() / options.len(),
                            observed_mean: Some(t.marginals[e][o]),
                            p_best: if o == best { 1.0 } else { 0.0 },
                            gap_to_best: (
                                t.marginals[e][o] - t.marginals[e][best],
                                t.marginals[e][o] - t.marginals[e][best],
                            ),
                        })
                        .collect(),
                    best: options.get(best).cloned().unwrap_or_default(),
                    best_set: options.get(best).cloned().into_iter().collect(),
                }
            })
            .collect(),
        motifs: None,
        notes: Vec::new(),
    }
}
