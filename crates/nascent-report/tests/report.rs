//! The HTML report: its sections, escaping, the SVGs it inlines, links, and what it says about
//! a search replayed on the real NAS-Bench-201 table.

mod common;

use nascent_core::{Objective, TrialState};
use nascent_report::ArchView;
use nascent_report::report::{Nb201View, Report, TrialRow, op_shares};

/// Every inline `<svg>...</svg>` of a page.
fn svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<svg") {
        let end = rest[i..].find("</svg>").expect("closed svg") + i + "</svg>".len();
        out.push(&rest[i..end]);
        rest = &rest[end..];
    }
    out
}

/// Parses every inline SVG as XML and returns them.
fn checked_svgs(html: &str) -> Vec<&str> {
    let all = svgs(html);
    for s in &all {
        roxmltree::Document::parse(s).unwrap_or_else(|e| panic!("invalid SVG: {e}\n{s}"));
    }
    all
}

fn section<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let start = html.find(&format!("<section id=\"{id}\""))?;
    let end = html[start..].find("</section>")? + start;
    Some(&html[start..end])
}

#[test]
fn handmade_report_has_every_section_and_escapes_user_text() {
    let r = common::handmade_report();
    let html = r.to_html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Offline: nothing fetched from anywhere.
    for needle in [
        "http://", "https://", "<link", "src=\"", "@import", "url(http",
    ] {
        let hits: Vec<_> = html
            .match_indices(needle)
            .map(|(i, _)| &html[i.saturating_sub(40)..(i + 60).min(html.len())])
            .filter(|ctx| !ctx.contains("http://www.w3.org/2000/svg"))
            .collect();
        assert!(hits.is_empty(), "{needle}: {hits:?}");
    }
    // User text is escaped everywhere.
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<b>&</b>"));
    assert!(html.contains("study &lt;b&gt;&amp;&lt;/b&gt; &quot;quoted&quot;"));
    assert!(html.contains("reason with &lt;tags&gt; &amp; &quot;quotes&quot;"));
    // Only our own script tag.
    assert_eq!(html.matches("<script>").count(), 1);
    for id in [
        "summary", "progress", "pareto", "curves", "cells", "ops", "trials",
    ] {
        assert!(section(&html, id).is_some(), "section {id} missing");
    }
    assert!(section(&html, "final").is_none());
    // Trials table: one row per trial, the best (92%) highlighted.
    let trials = section(&html, "trials").unwrap();
    assert_eq!(trials.matches("<tr").count(), 1 + 6);
    assert_eq!(trials.matches("<tr class=\"best\">").count(), 1);
    let best_row = &trials[trials.find("<tr class=\"best\">").unwrap()..];
    assert!(best_row.starts_with("<tr class=\"best\"><td class=\"num\" data-v=\"3\">3</td>"));
    // Pareto: 4 of 5 completed trials are optimal (trial 4 is dominated by trial 2).
    let pareto = section(&html, "pareto").unwrap();
    assert!(pareto.contains("4 of 5 completed trials are Pareto-optimal"));
    let pareto_svgs = checked_svgs(pareto);
    assert_eq!(pareto_svgs.len(), 1);
    assert_eq!(pareto_svgs[0].matches("class=\"front-point\"").count(), 4);
    assert_eq!(pareto_svgs[0].matches("class=\"point\"").count(), 5);
    // Cell diagrams of the best 3.
    let cells = section(&html, "cells").unwrap();
    assert_eq!(checked_svgs(cells).len(), 3);
    assert_eq!(cells.matches("class=\"nascent-cell\"").count(), 3);
    // Learning curves: one line per trial with intermediate values.
    let curves = section(&html, "curves").unwrap();
    assert_eq!(curves.matches("class=\"series\"").count(), 5);
    // All SVGs are well-formed and clip ids are unique across the page.
    let all = checked_svgs(&html);
    assert!(all.len() >= 8, "{}", all.len());
    let ids: Vec<&str> = html
        .match_indices("<clipPath id=\"")
        .map(|(i, _)| &html[i + 15..i + 15 + 21])
        .collect();
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "{ids:?}");
}

#[test]
fn report_without_objectives_or_trials_still_renders() {
    let r = Report::new("empty", "nb201", "random", Vec::new());
    let html = r.to_html();
    assert!(html.contains("No trials yet."));
    assert!(html.contains("The study names no objective."));
    let mut r = Report::new(
        "running",
        "nb201",
        "random",
        vec![Objective::maximize("acc")],
    );
    r.trials.push(TrialRow::new(0, "x", TrialState::Running));
    let html = r.to_html();
    assert!(html.contains("No trial has completed yet."));
    assert!(section(&html, "ops").is_none());
    checked_svgs(&html);
}

#[test]
fn op_shares_count_every_edge() {
    let v = Nb201View;
    let a = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    let b = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
    assert_eq!(v.ops(a).len(), 6);
    let shares = op_shares(&|s: &str| v.ops(s), &[a], &[a, b]);
    let conv = shares.iter().find(|s| s.op == "nor_conv_3x3").unwrap();
    assert_eq!((conv.top_count, conv.all_count), (3, 3));
    assert!((conv.top - 50.0).abs() < 1e-9 && (conv.all - 25.0).abs() < 1e-9);
    let none = shares.iter().find(|s| s.op == "none").unwrap();
    assert_eq!((none.top, none.all), (0.0, 50.0));
    // Most favoured by the top first.
    assert_eq!(shares[0].op, "nor_conv_3x3");
    // Unparseable architectures contribute nothing.
    assert!(v.ops("not an arch").is_empty());
}

#[test]
fn nb201_random_search_report_on_real_data() {
    let Some(mut r) = common::nb201_report(150, 3) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("nascent-report-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    r.final_result = Some(common::final_result(&r, &dir));
    let path = r.write(dir.join("report.html")).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    checked_svgs(&html);
    // Links to exports are relative to the report's folder and percent-encoded.
    let fin = section(&html, "final").unwrap();
    assert!(fin.contains("href=\"export/best%20model.onnx\""), "{fin}");
    assert!(fin.contains("href=\"export/best.genotype.txt\""));
    for rel in ["export/best model.onnx", "export/best.genotype.txt"] {
        assert!(dir.join(rel).exists());
    }
    // What the page shows agrees with the table: the best trial is the one with the highest
    // 12-epoch validation accuracy among completed trials.
    let best = r.best().unwrap();
    let max = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .map(|t| t.metrics["val_accuracy"])
        .fold(f64::MIN, f64::max);
    assert_eq!(best.metrics["val_accuracy"], max);
    let summary = section(&html, "summary").unwrap();
    assert!(summary.contains(&nascent_report::escape(&best.arch)));
    // On NAS-Bench-201 good cells favour 3x3 convolutions and avoid `none` (a known property
    // of the benchmark). Over five replayed searches of 400 cells each, the top 40 by 12-epoch
    // validation accuracy use nor_conv_3x3 more, and none less, than all sampled cells.
    let view = Nb201View;
    for seed in 1..=5 {
        let big = common::nb201_report(400, seed).unwrap();
        let top: Vec<&str> = big
            .ranked()
            .iter()
            .take(40)
            .map(|t| t.arch.as_str())
            .collect();
        let all: Vec<&str> = big.trials.iter().map(|t| t.arch.as_str()).collect();
        let shares = op_shares(&|s: &str| view.ops(s), &top, &all);
        let get = |op: &str| shares.iter().find(|s| s.op == op).unwrap();
        assert!(
            get("nor_conv_3x3").top > get("nor_conv_3x3").all,
            "seed {seed}: {shares:?}"
        );
        assert!(get("none").top < get("none").all, "seed {seed}: {shares:?}");
    }
    let ops = section(&html, "ops").unwrap();
    assert_eq!(checked_svgs(ops).len(), 1);
    assert_eq!(ops.matches("class=\"bar\"").count(), 10);
    // Two objectives: a Pareto section with one staircase.
    if r.objectives.len() == 2 {
        let p = section(&html, "pareto").unwrap();
        assert_eq!(p.matches("class=\"front\"").count(), 1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn write_names_the_path_it_cannot_write() {
    let r = common::handmade_report();
    let file = std::env::temp_dir().join(format!("nascent-report-file-{}", std::process::id()));
    std::fs::write(&file, "not a folder").unwrap();
    let err = r.write(file.join("report.html")).unwrap_err().to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn decision_view_reads_any_space() {
    use nascent_report::report::DecisionView;
    let view = DecisionView::new(nascent_space::Nb201Space::new());
    let a = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    assert_eq!(view.ops(a), Nb201View.ops(a));
    let d = view.diagrams(a);
    assert_eq!(d.len(), 1);
    let svg = d[0].to_svg();
    roxmltree::Document::parse(&svg).unwrap();
    // Six decisions between the input and output boxes.
    assert_eq!(svg.matches("class=\"node ").count(), 8);
    assert!(view.ops("|bogus~0|").is_empty());
    assert!(view.diagrams("|bogus~0|").is_empty());
}

#[test]
fn report_from_stored_records() {
    use nascent_core::Budget;
    use nascent_core::storage::{StudyId, StudyRecord, TrialRecord};
    let study = StudyRecord {
        id: StudyId(1),
        name: "stored".into(),
        space: "nb201".into(),
        objectives: vec![Objective::maximize("val_accuracy")],
        constraints: Vec::new(),
        config: serde_json::Value::Null,
        seed: 42,
        created: 1000.0,
        elapsed_seconds: 30.0,
    };
    let arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    let trial = TrialRecord {
        study: StudyId(1),
        number: 0,
        arch: arch.into(),
        params: serde_json::Value::Null,
        state: TrialState::Complete,
        reason: None,
        budget: Budget::epochs(3),
        metrics: [("val_accuracy".to_string(), 88.5)].into_iter().collect(),
        values: vec![88.5],
        intermediate: vec![(1, 80.0), (2, 86.0), (3, 88.5)],
        seed: 7,
        worker: None,
        created: 1001.0,
        started: Some(1001.0),
        finished: Some(1020.0),
        heartbeat: Some(1019.0),
        cost_seconds: 19.0,
        attempts: 1,
        epochs: 3,
        sequence: Some(0),
    };
    let r = Report::from_records(&study, &[trial]);
    assert_eq!(r.trials.len(), 1);
    assert_eq!(r.trials[0].intermediate.len(), 3);
    assert!(r.view.is_some(), "nb201 gets its view");
    assert_eq!(r.settings, vec![("seed".to_string(), "42".to_string())]);
    let html = r.to_html();
    // The trial finished 20 s after the study was created.
    assert!(html.contains("<td class=\"num\" data-v=\"20\">20</td>"));
    assert!(section(&html, "cells").is_some());
    assert!(nascent_report::report::view_for_space("unknown").is_none());
}

#[test]
fn darts_report_draws_both_cells_and_counts_their_ops() {
    use nascent_report::report::DartsView;
    use nascent_space::DartsGenotype;
    let g = DartsGenotype::darts_v2();
    let mut r = Report::new(
        "darts",
        "darts",
        "darts",
        vec![Objective::maximize("val_accuracy")],
    );
    r.view = nascent_report::report::view_for_space("darts");
    let mut t = TrialRow::new(0, g.to_string(), TrialState::Complete);
    t.metrics.insert("val_accuracy".into(), 97.0);
    r.trials.push(t);
    let html = r.to_html();
    let cells = section(&html, "cells").unwrap();
    assert_eq!(checked_svgs(cells).len(), 2);
    assert!(cells.contains("normal cell") && cells.contains("reduction cell"));
    let ops = DartsView.ops(&g.to_string());
    assert_eq!(ops.len(), 16);
    assert_eq!(ops.iter().filter(|o| *o == "sep_conv_3x3").count(), 5);
    assert_eq!(ops.iter().filter(|o| *o == "max_pool_3x3").count(), 5);
}

/// Issue 12: trials that ran one epoch (one intermediate value each) showed an empty chart on
/// an x axis from 0.95 to 1.05; each is now a visible point on an axis a unit either side.
#[test]
fn issue12_one_epoch_trials_show_as_points() {
    let mut r = Report::new(
        "one",
        "nb201",
        "random",
        vec![Objective::maximize("val_accuracy")],
    );
    for i in 0..41u64 {
        let mut t = TrialRow::new(i, format!("arch{i}"), TrialState::Complete);
        t.metrics.insert("val_accuracy".into(), 50.0 + i as f64);
        t.intermediate = vec![(1, 50.0 + i as f64)];
        r.trials.push(t);
    }
    let html = r.to_html();
    let curves = section(&html, "curves").expect("a learning-curves section");
    let svg = checked_svgs(curves)[0];
    let doc = roxmltree::Document::parse(svg).unwrap();
    let points = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && n.attribute("class") == Some("point"))
        .count();
    assert_eq!(points, 41);
    assert!(!svg.contains(">0.95<") && !svg.contains(">1.05<"), "{svg}");
    assert!(svg.contains(">0<") && svg.contains(">2.0<"), "x axis 0..2");
    assert!(curves.contains("one point"));
}

/// Issue 12: the final retraining's curve (loss, train and validation accuracy per epoch).
#[test]
fn issue12_final_retraining_curves() {
    use nascent_report::EpochRow;
    let mut r = Report::new(
        "re",
        "nb201",
        "random",
        vec![Objective::maximize("val_accuracy")],
    );
    r.retraining = (1..=5)
        .map(|e| EpochRow {
            epoch: e,
            loss: Some(2.0 / e as f64),
            train_accuracy: Some(50.0 + 8.0 * e as f64),
            val_accuracy: Some(45.0 + 7.0 * e as f64),
        })
        .collect();
    let html = r.to_html();
    let curves = section(&html, "curves").expect("the section exists with no search curves");
    assert!(curves.contains("Final retraining (5 epochs)"));
    let svgs = checked_svgs(curves);
    assert_eq!(svgs.len(), 2);
    assert!(svgs[0].contains("train accuracy") && svgs[0].contains("validation accuracy"));
    assert_eq!(svgs[0].matches("class=\"series\"").count(), 2);
    assert!(svgs[1].contains("training loss"));
    // Without it, no such charts.
    r.retraining.clear();
    assert!(section(&r.to_html(), "curves").is_none());
}

/// Issue 12: settings given as JSON read as key/value rows.
#[test]
fn issue12_settings_are_rows_not_json() {
    let mut r = Report::new(
        "s",
        "nb201",
        "evolution",
        vec![Objective::maximize("val_accuracy")],
    );
    r.settings.push((
        "strategy".into(),
        r#"{"kind":"evolution","population":30,"tags":["a","b"]}"#.into(),
    ));
    r.settings.push(("seed".into(), "7".into()));
    let html = r.to_html();
    assert!(
        html.contains("<tr><th>strategy.kind</th><td>evolution</td></tr>"),
        "{html}"
    );
    assert!(html.contains("<tr><th>strategy.population</th><td>30</td></tr>"));
    assert!(html.contains("<tr><th>strategy.tags</th><td>a, b</td></tr>"));
    assert!(html.contains("<tr><th>seed</th><td>7</td></tr>"));
    assert!(!html.contains("{&quot;kind&quot;"));
}

/// Issue 10: the default study ranks all 15,625 NB201 cells by a proxy; its report drew a
/// point and listed a row for each (11 MB). The scatter keeps the best 200 and an even sample
/// (2,000 points), the table the best 1,000, and both say so.
#[test]
fn a_study_of_thousands_of_trials_draws_a_sample_and_lists_the_best() {
    let mut r = Report::new(
        "proxy",
        "nb201",
        "random",
        vec![Objective::maximize("synflow")],
    );
    let n = 15_625u64;
    for i in 0..n {
        let mut t = TrialRow::new(i, format!("arch{i}"), TrialState::Complete);
        // Scattered values; trial 7777 is the best.
        let v = if i == 7777 {
            1e9
        } else {
            ((i * 7919) % n) as f64
        };
        t.metrics.insert("synflow".into(), v);
        r.trials.push(t);
    }
    let html = r.to_html();
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
    let progress = section(&html, "progress").unwrap();
    let scatter = checked_svgs(progress)
        .into_iter()
        .find(|s| s.contains("of every trial"))
        .unwrap();
    let doc = roxmltree::Document::parse(scatter).unwrap();
    let points = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("class") == Some("point"))
        .count();
    assert!((1900..=2000).contains(&points), "{points} points");
    assert!(
        scatter.contains("trial 7777: arch7777"),
        "the best is drawn"
    );
    assert!(progress.contains("of the 15625 trials (the best 200"));
    let trials = section(&html, "trials").unwrap();
    let rows = trials.matches("<tr").count() - 1;
    assert_eq!(rows, 1000);
    assert!(trials.contains(">arch7777<"));
    assert!(trials.contains("15625 trials; the table lists 1000, the best by synflow"));
    // The worst trial (value 0: trial 0) is not listed.
    assert!(!trials.contains(">arch0<"));
}
