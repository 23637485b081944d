//! The analysis recovers what matters on NAS-Bench-201, where the truth is known: the exact
//! functional-ANOVA main effects over all 15,625 cells of the CIFAR-10 12-epoch validation
//! accuracy (the search's objective). A 200-trial regularized-evolution run per seed 0 to 4 is
//! analysed; the mean Spearman correlation with the truth must reach 0.8 for the 6 edges'
//! importances and for the 30 (edge, operation) marginal effects.
//!
//! Needs `../shared/data/nb201/nb201.csv`: with `CI=true` a missing table fails the test,
//! otherwise the test says on stderr that it skipped.

mod validation;

use nascent_bench::Nb201Table;
use nascent_report::analysis::{
    AnalysisConfig, TreeEffects, marginal_svg, marginal_svg_with_truth,
};
use std::path::Path;
use std::sync::Arc;
use validation::{Column, table_observations, truth, truth_analysis, validate_seed};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/nb201/nb201.csv"
);

fn table() -> Option<Arc<Nb201Table>> {
    if !Path::new(DATA).exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and the NAS-Bench-201 table {DATA} is missing");
        }
        eprintln!("skipping: the NAS-Bench-201 table {DATA} is missing");
        return None;
    }
    Some(Arc::new(Nb201Table::load(DATA).expect("the table loads")))
}

/// The marginal chart's panel of `dimension`.
fn panel_of<'a, 'i>(doc: &'a roxmltree::Document<'i>, dimension: &str) -> roxmltree::Node<'a, 'i> {
    doc.descendants()
        .find(|n| n.attribute("data-dimension") == Some(dimension))
        .expect("one panel per edge")
}

/// The options of the marks of `class` in `panel`.
fn options_of<'a>(panel: roxmltree::Node<'a, '_>, class: &str) -> Vec<&'a str> {
    panel
        .descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .filter_map(|n| n.attribute("data-option"))
        .collect()
}

#[test]
fn two_hundred_evolution_trials_recover_the_true_importances_and_marginal_effects() {
    let Some(table) = table() else { return };
    let t = truth(&table, Column::Val12);
    let cfg = AnalysisConfig::default();
    let mut imp = Vec::new();
    let mut marg = Vec::new();
    let mut in_set = 0;
    let mut set_sizes = 0;
    let mut missed_edges = Vec::new();
    for seed in 0..5 {
        let (a, s) = validate_seed(table.clone(), &t, seed, 200, &cfg);
        eprintln!(
            "seed {seed}: importance Spearman {:.3}, marginal Spearman {:.3}, best op agrees on {}/6 edges, the table's best op is best or tied on {}/6",
            s.importance, s.marginals, s.best_ops_agree, s.best_in_set
        );
        in_set += s.best_in_set;
        missed_edges.extend(s.misses.iter().map(|(edge, _)| edge.clone()));
        assert_eq!(a.trials_used, 200);
        // The chart marks one best option per edge, the analysis's.
        let svg = marginal_svg(&a);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        for m in &a.marginals {
            let panel = panel_of(&doc, &m.dimension);
            assert_eq!(options_of(panel, "choice best"), vec![m.best.as_str()]);
            let tied = options_of(panel, "choice tied");
            let mut want: Vec<&str> = m.best_set[1..].iter().map(String::as_str).collect();
            want.sort_by_key(|l| m.choices.iter().position(|c| c.label == *l));
            assert_eq!(tied, want, "{}", m.dimension);
            set_sizes += m.best_set.len();
        }
        imp.push(s.importance);
        marg.push(s.marginals);
    }
    // The validation chart draws the truth over the estimate: one starred best option per
    // edge, the table's (nor_conv_3x3 on every edge).
    let (a, _) = validate_seed(table.clone(), &t, 0, 200, &cfg);
    let cells = table_observations(&table, Column::Val12);
    let svg = marginal_svg_with_truth(&a, &truth_analysis(&t, &cells));
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    for m in &a.marginals {
        let panel = panel_of(&doc, &m.dimension);
        let starred = options_of(panel, "truth truth-best");
        assert_eq!(starred, vec!["nor_conv_3x3"], "{}", m.dimension);
        let diamonds = panel
            .descendants()
            .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("truth")))
            .filter(|n| n.tag_name().name() == "path")
            .count();
        assert_eq!(diamonds, 5, "{}", m.dimension);
    }
    let mi = imp.iter().sum::<f64>() / 5.0;
    let mm = marg.iter().sum::<f64>() / 5.0;
    eprintln!("mean over seeds 0-4: importance Spearman {mi:.3}, marginal Spearman {mm:.3}");
    assert!(mi >= 0.8, "importance Spearman {mi:.3} < 0.8 ({imp:?})");
    assert!(mm >= 0.8, "marginal Spearman {mm:.3} < 0.8 ({marg:?})");
    // The table's best op (nor_conv_3x3 on every edge) is marked best or tied on all 30 edges
    // of the 5 runs: what the marginal-effect chart must show. Before the trees' main effects
    // were left out (`TreeEffects::ExceptCellEdges`), edge 3<-0 missed it on 3 of the 5.
    assert!(
        missed_edges.is_empty() && in_set == 30,
        "the table's best op marked on {in_set}/30 edges; missed on {missed_edges:?}"
    );
    // And the marks are no catch-all: fewer than 4 of the 5 ops per edge on average.
    let size = set_sizes as f64 / 30.0;
    assert!(size < 4.0, "{size:.2} ops marked best or tied per edge");
}

#[test]
fn the_truth_favours_convolutions_and_the_direct_edge() {
    let Some(table) = table() else { return };
    let t = truth(&table, Column::Val12);
    let fr = t.fractions();
    // Edge 3<-0 (input to output) matters most; every edge's best op is a 3x3 convolution.
    let top = (0..6).max_by(|&a, &b| fr[a].total_cmp(&fr[b])).unwrap();
    assert_eq!(top, 3);
    for m in &t.marginals {
        let best = (0..5).max_by(|&a, &b| m[a].total_cmp(&m[b])).unwrap();
        assert_eq!(best, 3, "{m:?}");
    }
    assert!(
        fr.iter().sum::<f64>() < 0.5,
        "interactions carry most of the variance"
    );
}

/// Two analysis settings on the evolution runs of seeds 100 to 111: per setting, the runs whose
/// best sets hold the table's best op on all 6 edges, and the mean importance and
/// marginal-effect Spearman.
fn two_configs_on_seeds_100_to_111(
    table: &Arc<Nb201Table>,
    t: &nascent_report::analysis::Decomposition,
    cfgs: [&AnalysisConfig; 2],
) -> ([usize; 2], [f64; 2], [f64; 2]) {
    let (mut all_six, mut imp, mut marg) = ([0usize; 2], [0.0f64; 2], [0.0f64; 2]);
    for seed in 100u64..112 {
        for (k, cfg) in cfgs.into_iter().enumerate() {
            let (_, s) = validate_seed(table.clone(), t, seed, 200, cfg);
            all_six[k] += usize::from(s.best_in_set == 6);
            imp[k] += s.importance / 12.0;
            marg[k] += s.marginals / 12.0;
        }
    }
    (all_six, imp, marg)
}

/// Each member draws its penalty from a range (`ForestConfig::additive_ridge_max`) rather than
/// using one value: on evolution runs the table's best op is then marked best or tied on all 6
/// edges in more runs, and the marginal effects rank more like the truth. Edge 3<-0 is the
/// case: the evolution run sees skip_connect win in the good cells it visits, while over all
/// cells a convolution there rescues the cells that have no other convolution on a path; with
/// one penalty the analysis marked skip_connect alone.
#[test]
fn a_range_of_penalties_marks_the_tables_best_op_on_more_runs_than_one_penalty() {
    let Some(table) = table() else { return };
    let t = truth(&table, Column::Val12);
    let range = AnalysisConfig::default();
    assert!(range.forest.additive_ridge_max.is_some());
    let mut fixed = AnalysisConfig::default();
    fixed.forest.additive_ridge_max = None;
    let (all_six, _, marg) = two_configs_on_seeds_100_to_111(&table, &t, [&range, &fixed]);
    eprintln!(
        "seeds 100-111: all 6 edges marked in {} runs with a range of penalties, {} with one; marginal Spearman {:.3} against {:.3}",
        all_six[0], all_six[1], marg[0], marg[1]
    );
    assert!(all_six[0] > all_six[1], "{all_six:?}");
    assert!(marg[0] > marg[1], "{marg:?}");
}

/// The trees on the additive part's residuals carry interactions only: leaving their own main
/// effects out marks the table's best op on all 6 edges in more runs, and ranks the
/// importances closer to the truth. With them, edge 3<-0 went to skip_connect: the evolution
/// run puts most of its trials there on skip_connect, in good cells whose other edges hold the
/// convolutions, and the trees' leaves carried that win to the cells it never visited, where a
/// convolution on 3<-0 rescues the cells that have no other one (73.6 against 72.5 in the table).
#[test]
fn trees_without_main_effects_mark_the_tables_best_op_on_more_runs() {
    let Some(table) = table() else { return };
    let t = truth(&table, Column::Val12);
    let interactions = AnalysisConfig::default();
    assert_eq!(interactions.trees, TreeEffects::ExceptCellEdges);
    let all = AnalysisConfig {
        trees: TreeEffects::All,
        ..AnalysisConfig::default()
    };
    let (all_six, imp, _) = two_configs_on_seeds_100_to_111(&table, &t, [&interactions, &all]);
    eprintln!(
        "seeds 100-111: all 6 edges marked in {} runs with the trees' interactions only, {} with their main effects too; importance Spearman {:.3} against {:.3}",
        all_six[0], all_six[1], imp[0], imp[1]
    );
    assert!(all_six[0] > all_six[1], "{all_six:?}");
    assert!(imp[0] > imp[1], "{imp:?}");
}
