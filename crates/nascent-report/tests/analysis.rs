//! The analysis of what matters, on synthetic studies whose truth is known by construction:
//! importances and marginal effects under biased sampling, hyperparameters read from stored
//! trials, motifs, stability across studies, the JSON contract and the charts.

use nascent_core::stats::spearman;
use nascent_core::storage::{StudyId, TrialRecord};
use nascent_core::{Budget, Decision, Metrics, Objective, Rng, SearchSpace, TrialState};
use nascent_report::analysis::{
    Analysis, AnalysisConfig, Observations, SCHEMA_VERSION, StudyTrials, analyze, fragment,
    importance_svg, marginal_svg, stability, stability_fragment,
};
use nascent_space::Nb201Space;

fn decisions(n: usize, k: usize) -> Vec<Decision> {
    let opts: Vec<String> = (0..k).map(|o| format!("op{o}")).collect();
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    (0..n)
        .map(|d| Decision::new(format!("d{d}"), &opts))
        .collect()
}

/// y = Σ_d scale_d · effect(option) + a small interaction + noise, where the sampler prefers
/// option 0 with probability `bias` on every decision.
fn biased_study(seed: u64, n: usize, bias: f64) -> (Observations, Vec<f64>) {
    let scales = [4.0, 2.0, 1.0, 0.4];
    let effect = [0.0, 1.0, -1.0, 0.5];
    let mut rng = Rng::new(seed);
    let items: Vec<(u64, String, Vec<usize>, f64)> = (0..n)
        .map(|i| {
            let c: Vec<usize> = (0..4)
                .map(|_| if rng.bernoulli(bias) { 0 } else { rng.below(4) })
                .collect();
            let y = c
                .iter()
                .zip(scales)
                .map(|(&o, s)| s * effect[o])
                .sum::<f64>()
                + 0.3 * (c[0] == 1 && c[1] == 1) as u8 as f64
                + 0.1 * rng.normal();
            (i as u64, format!("{c:?}"), c, y)
        })
        .collect();
    let obs =
        Observations::from_choices(&decisions(4, 4), Objective::maximize("acc"), items).unwrap();
    // The true main-effect variances are proportional to scale².
    (obs, scales.iter().map(|s| s * s).collect())
}

#[test]
fn importances_and_best_options_survive_a_biased_sampler() {
    for seed in 0..3 {
        let (obs, truth) = biased_study(seed, 240, 0.6);
        let a = analyze(&obs, &AnalysisConfig::default()).unwrap();
        let est: Vec<f64> = a.importance.iter().map(|i| i.mean).collect();
        assert_eq!(spearman(&est, &truth), Some(1.0), "seed {seed}: {est:?}");
        for m in &a.marginals[..3] {
            assert_eq!(m.best, "op1", "{}", m.dimension);
        }
        // Intervals hold their means and the uncertainty is reported.
        for i in &a.importance {
            assert!(i.low <= i.mean && i.mean <= i.high, "{i:?}");
            assert!(i.std > 0.0);
        }
        assert!(a.surrogate.oob_r2.unwrap() > 0.9, "{:?}", a.surrogate);
        assert!(a.main_effects_share.mean > 0.9);
    }
}

fn record(number: u64, arch: &str, params: serde_json::Value, value: f64) -> TrialRecord {
    let mut metrics = Metrics::new();
    metrics.insert("val_accuracy".into(), value);
    TrialRecord {
        study: StudyId(1),
        number,
        arch: arch.into(),
        params,
        state: TrialState::Complete,
        reason: None,
        budget: Budget::default(),
        metrics,
        values: vec![value],
        intermediate: Vec::new(),
        seed: 0,
        worker: None,
        created: 0.0,
        started: None,
        finished: None,
        heartbeat: None,
        cost_seconds: 0.0,
        attempts: 1,
        epochs: 1,
        sequence: Some(number),
    }
}

#[test]
fn hyperparameters_of_stored_trials_are_decisions_too() {
    let space = Nb201Space::new();
    let mut rng = Rng::new(7);
    let mut records = Vec::new();
    for i in 0..150u64 {
        let arch = space.sample(&mut rng);
        let lr = 10f64.powf(rng.uniform_range(-4.0, -1.0));
        let opt = if rng.bernoulli(0.5) { "sgd" } else { "adam" };
        // The learning rate matters most: best near 1e-2.5, on a log scale.
        let y = 90.0 - 8.0 * (lr.log10() + 2.5).powi(2) + if opt == "adam" { 1.0 } else { 0.0 };
        records.push(record(
            i,
            &space.format(&arch),
            serde_json::json!({"lr": lr, "optimizer": {"name": opt}, "epochs": 3}),
            y,
        ));
    }
    let mut failed = record(
        150,
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        serde_json::json!({}),
        f64::NAN,
    );
    failed.state = TrialState::Fail;
    records.push(failed);
    records.push(record(
        151,
        "not an arch",
        serde_json::json!({"lr": 0.01}),
        50.0,
    ));
    let obs =
        Observations::from_records(&space, &[Objective::maximize("val_accuracy")], 0, &records)
            .unwrap();
    let names: Vec<&str> = obs.dimensions.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names[6..], ["lr", "optimizer.name"], "{names:?}");
    assert!(
        obs.notes.iter().any(|n| n.contains("not complete")),
        "{:?}",
        obs.notes
    );
    assert!(
        obs.notes.iter().any(|n| n.contains("trial 151")),
        "{:?}",
        obs.notes
    );
    assert!(
        obs.notes.iter().any(|n| n.contains("`epochs` is constant")),
        "{:?}",
        obs.notes
    );
    let a = analyze(&obs, &AnalysisConfig::default()).unwrap();
    let top = a.ranked_importance()[0];
    assert_eq!(top.dimension, "lr", "{:?}", a.ranked_importance());
    let lr = a.marginals.iter().find(|m| m.dimension == "lr").unwrap();
    assert!(lr.numeric);
    let best: f64 = lr
        .choices
        .iter()
        .find(|c| c.label == lr.best)
        .unwrap()
        .value
        .unwrap();
    assert!((best.log10() + 2.5).abs() < 0.5, "best lr {best}");
    let opt = a
        .marginals
        .iter()
        .find(|m| m.dimension == "optimizer.name")
        .unwrap();
    assert_eq!(opt.best, "adam");
    // The charts draw the numeric panel and escape nothing wrongly.
    let svg = marginal_svg(&a);
    roxmltree::Document::parse(&svg).unwrap();
    assert!(svg.contains("panel numeric"));
}

#[test]
fn a_planted_pair_is_the_top_motif() {
    let mut rng = Rng::new(11);
    let items: Vec<(u64, String, Vec<usize>, f64)> = (0..400)
        .map(|i| {
            let c: Vec<usize> = (0..5).map(|_| rng.below(4)).collect();
            let y = if c[0] == 1 && c[2] == 3 { 10.0 } else { 0.0 } + rng.uniform();
            (i as u64, format!("{c:?}"), c, y)
        })
        .collect();
    let obs =
        Observations::from_choices(&decisions(5, 4), Objective::maximize("acc"), items).unwrap();
    let a = analyze(&obs, &AnalysisConfig::default()).unwrap();
    let m = a.motifs.as_ref().unwrap();
    assert_eq!(m.top_trials, 40);
    let top = &m.combinations[0];
    let items: Vec<(&str, &str)> = top
        .items
        .iter()
        .map(|i| (i.dimension.as_str(), i.option.as_str()))
        .collect();
    assert_eq!(items, [("d0", "op1"), ("d2", "op3")]);
    assert!(top.p_value < 1e-10 && top.q_value < 1e-8, "{top:?}");
    assert!(top.lift > 5.0);
    assert!(top.cooccurrence_lift.unwrap() >= 1.0);
    // Pairs and triples of independent options are not significant after correction.
    assert!(
        m.combinations
            .iter()
            .filter(|c| !c
                .items
                .iter()
                .any(|i| i.dimension == "d0" || i.dimension == "d2"))
            .all(|c| c.q_value > 0.05)
    );
}

fn nb201_analysis(name: &str) -> Analysis {
    let space = Nb201Space::new();
    let mut rng = Rng::new(3);
    let items = (0..60).map(|i| {
        let a = space.sample(&mut rng);
        let c = space.to_decisions(&a);
        let y = c.iter().map(|&o| (o == 3) as u8 as f64).sum::<f64>() + rng.uniform();
        (i, space.format(&a), c, y)
    });
    let mut decisions = space.decisions().to_vec();
    decisions[0].name = name.into();
    let obs = Observations::from_choices(&decisions, Objective::maximize("acc<b>"), items).unwrap();
    analyze(&obs, &AnalysisConfig::default()).unwrap()
}

#[test]
fn json_carries_the_schema_version_and_round_trips() {
    let a = nb201_analysis("edge 1<-0");
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["schema_version"], SCHEMA_VERSION);
    assert_eq!(v["importance"].as_array().unwrap().len(), 6);
    assert_eq!(v["marginals"][0]["choices"].as_array().unwrap().len(), 5);
    let back: Analysis = serde_json::from_value(v).unwrap();
    assert_eq!(back.importance, a.importance);
}

#[test]
fn charts_and_fragment_escape_every_name() {
    let a = nb201_analysis("<script>alert(1)</script>");
    for svg in [importance_svg(&a), marginal_svg(&a)] {
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        assert!(!svg.contains("<script>"));
        assert!(
            doc.descendants()
                .any(|n| n.text() == Some("<script>alert(1)</script>"))
        );
    }
    let html = fragment(&a);
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
    assert!(html.contains("acc&lt;b&gt;"));
    // Error bars: one whisker per decision.
    let svg = importance_svg(&a);
    assert_eq!(svg.matches("class=\"error-bar\"").count(), 6);
    assert_eq!(svg.matches("class=\"importance-bar\"").count(), 6);
}

#[test]
fn stability_compares_top_k_and_conclusions() {
    let a = nb201_analysis("edge 1<-0");
    let s1 = StudyTrials {
        name: "seed-1".into(),
        trials: (0..20).map(|i| (format!("a{i}"), i as f64)).collect(),
    };
    let s2 = StudyTrials {
        name: "seed-2".into(),
        trials: (0..20).map(|i| (format!("a{i}"), i as f64 + 0.5)).collect(),
    };
    let s3 = StudyTrials {
        name: "seed-3".into(),
        trials: (0..20).map(|i| (format!("b{i}"), i as f64)).collect(),
    };
    let st = stability(
        &[s1, s2, s3],
        &Objective::maximize("acc"),
        5,
        Some(&[a.clone(), a.clone(), a]),
    );
    assert_eq!(st.pairs.len(), 3);
    assert_eq!(st.pairs[0].top_k_overlap, 1.0);
    assert_eq!(st.pairs[0].shared_spearman, Some(1.0));
    assert_eq!(st.pairs[1].top_k_overlap, 0.0);
    assert_eq!(st.pairs[1].shared, 0);
    assert_eq!(st.pairs[0].importance_spearman, Some(1.0));
    assert!((st.mean_top_k_overlap - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(st.consensus[0].arch, "a19");
    assert_eq!(st.consensus[0].studies, 2);
    let html = stability_fragment(&st);
    assert!(html.contains("seed-3"));
}

#[test]
fn too_few_trials_is_an_error_that_says_how_many() {
    let items = (0..3).map(|i| (i as u64, format!("{i}"), vec![i % 2], i as f64));
    let obs =
        Observations::from_choices(&decisions(1, 2), Objective::maximize("acc"), items).unwrap();
    let e = analyze(&obs, &AnalysisConfig::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 8") && e.contains("has 3"), "{e}");
}

#[test]
fn the_report_of_a_stored_study_has_a_what_matters_section() {
    use nascent_core::storage::StudyRecord;
    use nascent_report::Report;
    let space = Nb201Space::new();
    let mut rng = Rng::new(9);
    let study = StudyRecord {
        id: StudyId(1),
        name: "<b>study</b>".into(),
        space: "nb201".into(),
        objectives: vec![Objective::maximize("val_accuracy")],
        constraints: Vec::new(),
        config: serde_json::json!({}),
        seed: 0,
        created: 0.0,
        elapsed_seconds: 0.0,
    };
    let records: Vec<TrialRecord> = (0..40)
        .map(|i| {
            let a = space.sample(&mut rng);
            let c = space.to_decisions(&a);
            let y = 60.0 + 5.0 * (c[3] == 3) as u8 as f64 + rng.uniform();
            record(i, &space.format(&a), serde_json::json!({}), y)
        })
        .collect();
    let html = Report::from_records(&study, &records).to_html();
    assert!(html.contains("<section id=\"analysis\"><h2>What matters</h2>"));
    assert!(html.contains("href=\"#analysis\""));
    assert!(html.contains("class=\"nascent-chart importance-chart\""));
    assert!(html.contains("class=\"nascent-chart marginal-chart\""));
    // Too few trials: no section, and the page still renders.
    let html = Report::from_records(&study, &records[..3]).to_html();
    assert!(!html.contains("id=\"analysis\""));
}
