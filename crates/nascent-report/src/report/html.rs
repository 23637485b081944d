//! Rendering of the report page.

use super::stats::{best_so_far, format_duration, format_time, op_shares};
use super::{ArchDiagram, Report, TrialRow, direction_arrow};
use crate::cell::EdgeStyle;
use crate::plot::{
    BarChart, BarGroup, LineChart, Orientation, ParetoFront, PointGroup, ScatterChart,
    ScatterPoint, Series, escape, format_value,
};
use nascent_core::{Objective, TrialState};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

/// Most learning curves drawn in one chart.
const MAX_CURVES: usize = 300;

const CSS: &str = r#"
:root{--fg:#1d2329;--muted:#5b6670;--line:#dfe3e8;--bg:#f6f7f9;--card:#fff;--accent:#0072B2}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
header{background:#1d2329;color:#fff;padding:22px 32px 18px}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header .meta{margin:0;color:#c9d1d9;font-size:13px}
header .meta span+span:before{content:"·";margin:0 8px;color:#8b949e}
nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);padding:8px 32px;font-size:13px}
nav a{color:var(--accent);text-decoration:none;margin-right:18px}
nav a:hover{text-decoration:underline}
main{max-width:1180px;margin:0 auto;padding:8px 24px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:18px 22px;margin:18px 0}
h2{font-size:17px;margin:0 0 12px;font-weight:600}
h3{font-size:14px;margin:14px 0 6px;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin-bottom:14px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 12px;background:#fbfcfd}
.card .k{color:var(--muted);font-size:12px}
.card .v{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}
code,.arch{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12px}
.arch{word-break:break-all}
.figs{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;max-width:100%}
figure svg{max-width:100%;height:auto;display:block;border:1px solid #eef0f2;border-radius:4px}
figcaption{color:var(--muted);font-size:12px;margin-top:4px;max-width:720px}
table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
td.num,th.num{text-align:right}
thead th{background:#f0f2f5;position:sticky;top:0;white-space:nowrap}
.table-wrap{overflow:auto;max-height:760px;border:1px solid var(--line);border-radius:6px;margin-top:10px}
.table-wrap.narrow{display:inline-block;max-width:100%}
td.arch{min-width:32em}
table.kv th{background:none;font-weight:normal;color:var(--muted);position:static}
tr.best td{background:#eaf4fb}
.state{display:inline-block;padding:0 6px;border-radius:3px;font-size:11px;font-weight:600;color:#fff}
.state.COMPLETE{background:#009E73}.state.PRUNED{background:#B59F00}.state.FAIL{background:#D55E00}.state.RUNNING{background:#56B4E9}
.reason{color:var(--muted);max-width:320px}
.note{color:var(--muted);font-size:12.5px}
html.js table.sortable th{cursor:pointer;user-select:none}
html.js table.sortable th:after{content:" ↕";color:#aab2bb;font-size:11px}
html.js table.sortable th[aria-sort=ascending]:after{content:" ▲";color:var(--accent)}
html.js table.sortable th[aria-sort=descending]:after{content:" ▼";color:var(--accent)}
footer{color:var(--muted);font-size:12px;text-align:center;padding:0 0 30px}
a{color:var(--accent)}
"#;

const JS: &str = r#"
(function(){
  document.documentElement.classList.add('js');
  var tables=document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables,function(t){
    var heads=t.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads,function(th,i){
      th.tabIndex=0;
      th.setAttribute('aria-sort','none');
      function key(row){var c=row.cells[i];var v=c.getAttribute('data-v');return v===null?c.textContent:v;}
      function go(){
        var asc=th.getAttribute('aria-sort')!=='ascending';
        Array.prototype.forEach.call(heads,function(h){h.setAttribute('aria-sort','none');});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var num=th.classList.contains('num');
        var body=t.tBodies[0];
        var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=key(a),y=key(b),r;
          if(num){x=parseFloat(x);y=parseFloat(y);
            if(isNaN(x)&&isNaN(y))r=0;else if(isNaN(x))return 1;else if(isNaN(y))return -1;else r=x-y;}
          else r=x.localeCompare(y);
          return asc?r:-r;
        });
        rows.forEach(function(r){body.appendChild(r);});
      }
      th.addEventListener('click',go);
      th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();go();}});
    });
    t.classList.add('sort-ready');
  });
})();
"#;

/// The whole page. `base` is the folder the page is written to, for links to exported files.
pub(super) fn render(r: &Report, base: Option<&Path>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"generator\" content=\"nascent\"><title>nascent · {}</title><style>{CSS}</style></head><body>",
        escape(&r.study)
    );
    header(&mut out, r);
    let ranked = r.ranked();
    let sections = Sections::of(r, &ranked);
    nav(&mut out, &sections);
    out.push_str("<main>");
    summary(&mut out, r, &ranked);
    if let Some(fr) = &r.final_result {
        final_result(&mut out, fr, &r.references, base);
    }
    progress(&mut out, r, &ranked);
    if sections.pareto {
        pareto(&mut out, r);
    }
    if sections.curves {
        curves(&mut out, r);
    }
    if sections.cells {
        cells(&mut out, r, &ranked);
    }
    if sections.ops {
        ops(&mut out, r, &ranked);
    }
    if let Some(a) = &r.analysis {
        let fragment = crate::analysis::fragment(a);
        let _ = write!(
            out,
            "<section id=\"analysis\"><h2>What matters</h2>{fragment}</section>"
        );
    }
    trials_table(&mut out, r, &ranked);
    out.push_str("</main><footer>Made by nascent");
    if let Some(t) = r.generated {
        let _ = write!(out, " on {}", escape(&format_time(t)));
    }
    let _ = writeln!(
        out,
        ". This page works offline.</footer><script>{JS}</script></body></html>"
    );
    out
}

/// Which optional sections the page has.
struct Sections {
    pareto: bool,
    curves: bool,
    cells: bool,
    ops: bool,
    analysis: bool,
}

impl Sections {
    fn of(r: &Report, ranked: &[&TrialRow]) -> Self {
        let can_draw = r.view.is_some() || !r.diagrams.is_empty();
        Sections {
            pareto: r.objectives.len() >= 2,
            curves: r.trials.iter().any(|t| !t.intermediate.is_empty()) || !r.retraining.is_empty(),
            cells: can_draw
                && ranked
                    .iter()
                    .take(r.diagram_count.max(1))
                    .any(|t| !r.diagrams_of(&t.arch).is_empty()),
            ops: can_draw && !ranked.is_empty(),
            analysis: r.analysis.is_some(),
        }
    }
}

fn header(out: &mut String, r: &Report) {
    let _ = write!(
        out,
        "<header><h1>Study {}</h1><p class=\"meta\">",
        escape(&r.study)
    );
    if !r.space.is_empty() {
        let _ = write!(out, "<span>space <b>{}</b></span>", escape(&r.space));
    }
    if !r.strategy.is_empty() {
        let _ = write!(out, "<span>strategy <b>{}</b></span>", escape(&r.strategy));
    }
    if !r.objectives.is_empty() {
        let objs: Vec<String> = r
            .objectives
            .iter()
            .map(|o| format!("{} {}", escape(&o.metric), direction_arrow(o.direction)))
            .collect();
        let _ = write!(out, "<span>objectives <b>{}</b></span>", objs.join(", "));
    }
    if let Some(t) = r.generated {
        let _ = write!(out, "<span>{}</span>", escape(&format_time(t)));
    }
    out.push_str("</p></header>");
}

fn nav(out: &mut String, s: &Sections) {
    out.push_str("<nav><a href=\"#summary\">Summary</a><a href=\"#progress\">Progress</a>");
    if s.pareto {
        out.push_str("<a href=\"#pareto\">Pareto front</a>");
    }
    if s.curves {
        out.push_str("<a href=\"#curves\">Learning curves</a>");
    }
    if s.cells {
        out.push_str("<a href=\"#cells\">Best cells</a>");
    }
    if s.ops {
        out.push_str("<a href=\"#ops\">Operations</a>");
    }
    if s.analysis {
        out.push_str("<a href=\"#analysis\">What matters</a>");
    }
    out.push_str("<a href=\"#trials\">Trials</a></nav>");
}

/// The study's start: the given one, else the earliest trial start (or end).
fn t0(r: &Report) -> Option<f64> {
    r.started.filter(|t| t.is_finite()).or_else(|| {
        r.trials
            .iter()
            .filter_map(|t| t.started.or(t.finished))
            .filter(|t| t.is_finite())
            .min_by(f64::total_cmp)
    })
}

fn card(out: &mut String, key: &str, value: &str) {
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div></div>",
        escape(key),
        escape(value)
    );
}

fn summary(out: &mut String, r: &Report, ranked: &[&TrialRow]) {
    out.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    let count = |s: TrialState| r.trials.iter().filter(|t| t.state == s).count();
    card(out, "trials", &r.trials.len().to_string());
    card(out, "complete", &count(TrialState::Complete).to_string());
    card(out, "pruned", &count(TrialState::Pruned).to_string());
    card(out, "failed", &count(TrialState::Fail).to_string());
    let running = count(TrialState::Running);
    if running > 0 {
        card(out, "running or queued", &running.to_string());
    }
    let end = r
        .trials
        .iter()
        .filter_map(|t| t.finished)
        .filter(|t| t.is_finite())
        .max_by(f64::total_cmp);
    if let (Some(a), Some(b)) = (t0(r), end) {
        card(out, "wall time", &format_duration(b - a));
    }
    let compute: f64 = r
        .trials
        .iter()
        .map(|t| t.cost_seconds)
        .filter(|c| c.is_finite())
        .sum();
    card(out, "evaluation time", &format_duration(compute));
    if let (Some(best), Some(obj)) = (ranked.first(), r.objectives.first())
        && let Some(v) = best.value(obj)
    {
        card(out, &format!("best {}", obj.metric), &format_value(v));
    }
    out.push_str("</div>");
    out.push_str("<table class=\"kv\"><tbody>");
    let mut kv = |k: &str, v: String| {
        let _ = write!(out, "<tr><th>{}</th><td>{v}</td></tr>", escape(k));
    };
    kv("study", escape(&r.study));
    kv("space", escape(&r.space));
    if !r.strategy.is_empty() {
        kv("strategy", escape(&r.strategy));
    }
    let objs: Vec<String> = r
        .objectives
        .iter()
        .map(|o| {
            format!(
                "{} ({}imise)",
                escape(&o.metric),
                if o.direction == nascent_core::Direction::Maximize {
                    "max"
                } else {
                    "min"
                }
            )
        })
        .collect();
    kv("objectives", objs.join(", "));
    if let Some(t) = t0(r) {
        kv("started", escape(&format_time(t)));
    }
    // A value written as a JSON object reads as one row per setting, not as raw JSON.
    for (k, v) in &r.settings {
        match serde_json::from_str::<serde_json::Value>(v) {
            Ok(j @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                for (kk, vv) in super::settings_rows(k, &j) {
                    kv(&kk, escape(&vv));
                }
            }
            _ => kv(k, escape(v)),
        }
    }
    if let Some(best) = ranked.first() {
        let metrics: Vec<String> = best
            .metrics
            .iter()
            .map(|(k, v)| format!("{} = {}", escape(k), format_value(*v)))
            .collect();
        kv(
            "best trial",
            format!(
                "#{} <span class=\"arch\">{}</span><br><span class=\"note\">{}</span>",
                best.number,
                escape(&best.arch),
                metrics.join(", ")
            ),
        );
    }
    out.push_str("</tbody></table></section>");
}

/// A link target for an exported file: relative to the report's folder where possible.
fn href(path: &Path, base: Option<&Path>) -> String {
    let shown = if path.is_absolute() {
        match base.and_then(|b| path.strip_prefix(b).ok()) {
            Some(rel) => rel.to_string_lossy().into_owned(),
            None => format!("file://{}", percent(&path.to_string_lossy())),
        }
    } else {
        path.to_string_lossy().into_owned()
    };
    if shown.starts_with("file://") {
        shown
    } else {
        percent(&shown)
    }
}

/// Percent-encodes a path for a URL, keeping `/` and unreserved characters.
fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn final_result(
    out: &mut String,
    fr: &super::FinalResult,
    references: &[(String, f64)],
    base: Option<&Path>,
) {
    out.push_str("<section id=\"final\"><h2>Final model</h2><div class=\"cards\">");
    if let Some(v) = fr.test_accuracy {
        card(out, "test accuracy (%)", &format_value(v));
    }
    for (what, v) in references {
        card(
            out,
            &format!("{what}: test accuracy (%)"),
            &format_value(*v),
        );
    }
    if let Some(v) = fr.params {
        card(out, "parameters", &format_value(v));
    }
    if let Some(v) = fr.flops {
        card(out, "FLOPs", &format_value(v));
    }
    if let Some(v) = fr.latency_ms {
        card(out, "latency (ms)", &format_value(v));
    }
    out.push_str("</div><table class=\"kv\"><tbody>");
    let _ = write!(
        out,
        "<tr><th>architecture</th><td class=\"arch\">{}</td></tr>",
        escape(&fr.arch)
    );
    if !fr.notes.is_empty() {
        let _ = write!(
            out,
            "<tr><th>training</th><td>{}</td></tr>",
            escape(&fr.notes)
        );
    }
    for (k, v) in &fr.metrics {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            format_value(*v)
        );
    }
    for e in &fr.exports {
        let _ = write!(
            out,
            "<tr><th>{}</th><td><a class=\"export\" href=\"{}\">{}</a></td></tr>",
            escape(&e.label),
            escape(&href(&e.path, base)),
            escape(&e.path.to_string_lossy())
        );
    }
    out.push_str("</tbody></table></section>");
}

fn figure(out: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        out,
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        escape(caption)
    );
}

fn progress(out: &mut String, r: &Report, ranked: &[&TrialRow]) {
    out.push_str("<section id=\"progress\"><h2>Progress</h2>");
    let Some(obj) = r.objectives.first() else {
        out.push_str("<p class=\"note\">The study names no objective.</p></section>");
        return;
    };
    let complete: Vec<&TrialRow> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.value(obj).is_some())
        .collect();
    if complete.is_empty() {
        out.push_str("<p class=\"note\">No trial has completed yet.</p></section>");
        return;
    }
    out.push_str("<div class=\"figs\">");
    // Against time.
    if let Some(start) = t0(r) {
        let timed: Vec<(f64, f64)> = complete
            .iter()
            .filter_map(|t| Some((t.finished? - start, t.value(obj)?)))
            .collect();
        if !timed.is_empty() {
            let span = timed.iter().map(|p| p.0).fold(0.0, f64::max);
            let (scale, unit) = if span > 3.0 * 3600.0 {
                (3600.0, "hours")
            } else if span > 300.0 {
                (60.0, "minutes")
            } else {
                (1.0, "seconds")
            };
            let pts: Vec<(f64, f64)> = timed.iter().map(|&(x, v)| (x / scale, v)).collect();
            let chart = LineChart {
                title: format!("Best {} so far against time", obj.metric),
                x_label: format!("{unit} since the study started"),
                y_label: objective_label(obj),
                series: vec![Series::new("best so far", best_so_far(&pts, obj.direction))],
                y_range: None,
                log_x: false,
            };
            figure(
                out,
                &chart.to_svg(),
                "The best value among completed trials, at the time each trial finished.",
            );
        }
    }
    // Against trial number, with every trial's value.
    let numbered: Vec<(f64, f64)> = complete
        .iter()
        .filter_map(|t| Some((t.number as f64, t.value(obj)?)))
        .collect();
    let chart = LineChart {
        title: format!("Best {} so far against trials", obj.metric),
        x_label: "trial number".into(),
        y_label: objective_label(obj),
        series: vec![Series::new(
            "best so far",
            best_so_far(&numbered, obj.direction),
        )],
        y_range: None,
        log_x: false,
    };
    figure(
        out,
        &chart.to_svg(),
        "The best value among completed trials, by trial number.",
    );
    // A study of thousands of trials (a proxy ranking the whole space) would draw a point, with
    // its tooltip, for each: the chart keeps the best and an even sample of the rest.
    let shown = scatter_sample(r, obj, ranked);
    let mut groups = Vec::new();
    for (state, name) in [
        (TrialState::Complete, "complete"),
        (TrialState::Pruned, "pruned (value when stopped)"),
    ] {
        let points: Vec<ScatterPoint> = r
            .trials
            .iter()
            .filter(|t| t.state == state)
            .filter(|t| shown.as_ref().is_none_or(|s| s.contains(&t.number)))
            .filter_map(|t| {
                Some(ScatterPoint::labelled(
                    t.number as f64,
                    t.value(obj)?,
                    format!("trial {}: {}", t.number, t.arch),
                ))
            })
            .collect();
        if !points.is_empty() {
            groups.push(PointGroup {
                name: name.into(),
                points,
            });
        }
    }
    let chart = ScatterChart {
        title: format!("{} of every trial", obj.metric),
        x_label: "trial number".into(),
        y_label: objective_label(obj),
        groups,
        front: None,
        log_x: false,
        log_y: false,
    };
    let caption = match &shown {
        None => "Each point is one trial; hover a point for its architecture.".to_string(),
        Some(s) => format!(
            "{} of the {} trials (the best {SCATTER_BEST} and an even sample of the rest); \
             hover a point for its architecture.",
            s.len(),
            r.trials.len()
        ),
    };
    figure(out, &chart.to_svg(), &caption);
    out.push_str("</div></section>");
}

/// Most trials the report draws one by one (chart points) or lists (table rows).
const SCATTER_MAX: usize = 2000;
/// Of those, the best by the first objective, always drawn.
const SCATTER_BEST: usize = 200;
/// Most rows of the report's trials table: the best by the first objective, then the rest.
const TABLE_MAX: usize = 1000;

/// The trial numbers the scatter of every trial draws when there are more than
/// [`SCATTER_MAX`]: the best [`SCATTER_BEST`] of `ranked` and an even stride (by trial number)
/// through the other trials with a value; `None` draws them all.
fn scatter_sample(r: &Report, obj: &Objective, ranked: &[&TrialRow]) -> Option<BTreeSet<u64>> {
    if r.trials.len() <= SCATTER_MAX {
        return None;
    }
    let mut keep: BTreeSet<u64> = ranked.iter().take(SCATTER_BEST).map(|t| t.number).collect();
    let rest: Vec<u64> = r
        .trials
        .iter()
        .filter(|t| !keep.contains(&t.number) && t.value(obj).is_some())
        .map(|t| t.number)
        .collect();
    let room = SCATTER_MAX - keep.len();
    let stride = rest.len().div_ceil(room.max(1)).max(1);
    keep.extend(rest.into_iter().step_by(stride));
    Some(keep)
}

fn objective_label(o: &Objective) -> String {
    format!("{} {}", o.metric, direction_arrow(o.direction))
}

/// Whether values deserve a log axis: all positive and spanning more than two decades.
fn wants_log(values: &[f64]) -> bool {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    lo > 0.0 && hi / lo > 100.0
}

fn pareto(out: &mut String, r: &Report) {
    out.push_str("<section id=\"pareto\"><h2>Pareto front</h2>");
    let rows: Vec<(&TrialRow, Vec<f64>)> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| {
            let v: Option<Vec<f64>> = r.objectives.iter().map(|o| t.value(o)).collect();
            Some((t, v?))
        })
        .collect();
    if rows.is_empty() {
        out.push_str(
            "<p class=\"note\">No completed trial has a value for every objective.</p></section>",
        );
        return;
    }
    let losses: Vec<Vec<f64>> = rows
        .iter()
        .map(|(_, v)| {
            r.objectives
                .iter()
                .zip(v)
                .map(|(o, &x)| o.loss(x))
                .collect()
        })
        .collect();
    let front: BTreeSet<usize> = nascent_core::pareto::pareto_front(&losses)
        .into_iter()
        .collect();
    let _ = write!(
        out,
        "<p class=\"note\">{} of {} completed trials are Pareto-optimal over all {} objectives.</p><div class=\"figs\">",
        front.len(),
        rows.len(),
        r.objectives.len()
    );
    let y = &r.objectives[0];
    for (j, x) in r.objectives.iter().enumerate().skip(1) {
        let pts: Vec<(f64, f64)> = rows.iter().map(|(_, v)| (v[j], v[0])).collect();
        let label = |i: usize| {
            let (t, v) = &rows[i];
            format!(
                "trial {}: {}\n{} = {}, {} = {}",
                t.number,
                t.arch,
                y.metric,
                format_value(v[0]),
                x.metric,
                format_value(v[j])
            )
        };
        let mut groups = vec![PointGroup {
            name: "trials".into(),
            points: (0..rows.len())
                .filter(|i| r.objectives.len() == 2 || !front.contains(i))
                .map(|i| ScatterPoint::labelled(pts[i].0, pts[i].1, label(i)))
                .collect(),
        }];
        if r.objectives.len() > 2 {
            groups.push(PointGroup {
                name: "Pareto-optimal (all objectives)".into(),
                points: front
                    .iter()
                    .map(|&i| ScatterPoint::labelled(pts[i].0, pts[i].1, label(i)))
                    .collect(),
            });
        }
        let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
        let chart = ScatterChart {
            title: format!("{} against {}", y.metric, x.metric),
            x_label: objective_label(x),
            y_label: objective_label(y),
            groups,
            front: Some(ParetoFront::of(
                "Pareto front",
                &pts,
                x.direction,
                y.direction,
            )),
            log_x: wants_log(&xs),
            log_y: false,
        };
        figure(
            out,
            &chart.to_svg(),
            &format!(
                "The staircase joins the trials that no other beats on both {} and {}.",
                y.metric, x.metric
            ),
        );
    }
    out.push_str("</div><h3>Pareto-optimal trials</h3><div class=\"table-wrap\"><table class=\"sortable\"><thead><tr><th class=\"num\">#</th><th>architecture</th>");
    for o in &r.objectives {
        let _ = write!(
            out,
            "<th class=\"num\">{}</th>",
            escape(&objective_label(o))
        );
    }
    out.push_str("</tr></thead><tbody>");
    let mut front_rows: Vec<usize> = front.into_iter().collect();
    front_rows.sort_by(|&a, &b| {
        r.objectives[0]
            .utility(rows[b].1[0])
            .total_cmp(&r.objectives[0].utility(rows[a].1[0]))
    });
    for i in front_rows {
        let (t, v) = &rows[i];
        let _ = write!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"arch\">{}</td>",
            t.number,
            escape(&t.arch)
        );
        for x in v {
            let _ = write!(
                out,
                "<td class=\"num\" data-v=\"{x}\">{}</td>",
                format_value(*x)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>");
}

fn curves(out: &mut String, r: &Report) {
    out.push_str("<section id=\"curves\"><h2>Learning curves</h2>");
    search_curves(out, r);
    retraining_curves(out, r);
    out.push_str("</section>");
}

/// The trials' intermediate values; trials that reported once (one epoch) show as points.
fn search_curves(out: &mut String, r: &Report) {
    let with: Vec<&TrialRow> = r
        .trials
        .iter()
        .filter(|t| !t.intermediate.is_empty())
        .collect();
    if with.is_empty() {
        return;
    }
    let shown = &with[..with.len().min(MAX_CURVES)];
    let series: Vec<Series> = shown
        .iter()
        .map(|t| {
            let mut pts: Vec<(f64, f64)> =
                t.intermediate.iter().map(|&(s, v)| (s as f64, v)).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series::new(
                format!("trial {} ({})", t.number, t.state.as_str().to_lowercase()),
                pts,
            )
        })
        .collect();
    let label = if r.intermediate_label.is_empty() {
        "intermediate value".to_string()
    } else {
        r.intermediate_label.clone()
    };
    let single = shown.iter().all(|t| t.intermediate.len() == 1);
    let chart = LineChart {
        title: format!("{label} during training"),
        x_label: "step (epoch)".into(),
        y_label: label,
        series,
        y_range: None,
        log_x: false,
    };
    let mut caption = if with.len() > shown.len() {
        format!(
            "One line per trial; the first {} of {} trials with intermediate values are drawn.",
            shown.len(),
            with.len()
        )
    } else {
        format!(
            "One line per trial ({} trials); hover a line for its trial.",
            with.len()
        )
    };
    if single {
        caption = format!(
            "Each trial reported one value (one epoch), so each is one point ({} trials); \
             hover a point for its trial.",
            shown.len()
        );
    }
    figure(out, &chart.to_svg(), &caption);
}

/// The final retraining, epoch by epoch: accuracies in one chart, the loss in another.
fn retraining_curves(out: &mut String, r: &Report) {
    if r.retraining.is_empty() {
        return;
    }
    let pick = |f: fn(&super::EpochRow) -> Option<f64>| -> Vec<(f64, f64)> {
        r.retraining
            .iter()
            .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
            .collect()
    };
    let accuracy: Vec<Series> = [
        ("train accuracy", pick(|e| e.train_accuracy)),
        ("validation accuracy", pick(|e| e.val_accuracy)),
    ]
    .into_iter()
    .filter(|(_, p)| !p.is_empty())
    .map(|(n, p)| Series::new(n, p))
    .collect();
    let loss = pick(|e| e.loss);
    let _ = write!(
        out,
        "<h3>Final retraining ({} epochs)</h3>",
        r.retraining.len()
    );
    if !accuracy.is_empty() {
        let chart = LineChart {
            title: "Final retraining: accuracy per epoch".into(),
            x_label: "epoch".into(),
            y_label: "accuracy (%)".into(),
            series: accuracy,
            y_range: None,
            log_x: false,
        };
        figure(
            out,
            &chart.to_svg(),
            "Training accuracy (on the augmented batches, as trained) and validation accuracy after each epoch.",
        );
    }
    if !loss.is_empty() {
        let chart = LineChart {
            title: "Final retraining: training loss per epoch".into(),
            x_label: "epoch".into(),
            y_label: "mean training loss".into(),
            series: vec![Series::new("training loss", loss)],
            y_range: None,
            log_x: false,
        };
        figure(out, &chart.to_svg(), "Mean training loss of each epoch.");
    }
}

fn cells(out: &mut String, r: &Report, ranked: &[&TrialRow]) {
    out.push_str("<section id=\"cells\"><h2>Best architectures</h2>");
    let obj = &r.objectives[0];
    for (rank, t) in ranked.iter().take(r.diagram_count.max(1)).enumerate() {
        let diagrams = r.diagrams_of(&t.arch);
        if diagrams.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<h3>#{} · trial {} · {} = {}</h3><p class=\"arch\">{}</p><div class=\"figs\">",
            rank + 1,
            t.number,
            escape(&obj.metric),
            t.value(obj).map(format_value).unwrap_or_default(),
            escape(&t.arch)
        );
        for d in &diagrams {
            let caption = match d {
                ArchDiagram::Cell(g) if !g.title.is_empty() && g.title != t.arch => g.title.clone(),
                ArchDiagram::Cell(g) => {
                    let faint = g.edges.iter().any(|e| e.style == EdgeStyle::Faint);
                    if faint {
                        "Dashed grey edges carry no operation (none).".to_string()
                    } else {
                        String::new()
                    }
                }
                _ => String::new(),
            };
            figure(out, &d.to_svg(), &caption);
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
}

fn ops(out: &mut String, r: &Report, ranked: &[&TrialRow]) {
    out.push_str("<section id=\"ops\"><h2>Which operations the best architectures favour</h2>");
    let k = r.top_k.max(1).min(ranked.len());
    let top: Vec<&str> = ranked.iter().take(k).map(|t| t.arch.as_str()).collect();
    let all: Vec<&str> = r.trials.iter().map(|t| t.arch.as_str()).collect();
    let ops_of = |arch: &str| -> Vec<String> {
        match &r.view {
            Some(v) => v.ops(arch),
            None => r
                .diagrams_of(arch)
                .iter()
                .flat_map(|d| match d {
                    ArchDiagram::Cell(g) => g
                        .edges
                        .iter()
                        .filter(|e| e.style != EdgeStyle::Plain)
                        .map(|e| e.op.clone())
                        .collect(),
                    _ => Vec::new(),
                })
                .collect(),
        }
    };
    let shares = op_shares(&ops_of, &top, &all);
    if shares.is_empty() {
        out.push_str("<p class=\"note\">The architectures name no operations.</p></section>");
        return;
    }
    let chart = BarChart {
        title: format!("Operations of the top {k} against all {} trials", all.len()),
        value_label: "share of operation uses (%)".into(),
        categories: shares.iter().map(|s| s.op.clone()).collect(),
        groups: vec![
            BarGroup {
                name: format!("top {k}"),
                values: shares.iter().map(|s| round1(s.top)).collect(),
            },
            BarGroup {
                name: "all trials".into(),
                values: shares.iter().map(|s| round1(s.all)).collect(),
            },
        ],
        orientation: Orientation::Horizontal,
    };
    figure(
        out,
        &chart.to_svg(),
        &format!(
            "How often each operation appears among the {k} best completed trials (by {}) and among every trial the search ran. An operation the top uses more than the search sampled is one good architectures favour.",
            r.objectives[0].metric
        ),
    );
    out.push_str("<div class=\"table-wrap narrow\"><table class=\"sortable\"><thead><tr><th>operation</th><th class=\"num\">top uses</th><th class=\"num\">top %</th><th class=\"num\">all uses</th><th class=\"num\">all %</th></tr></thead><tbody>");
    for s in &shares {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\" data-v=\"{}\">{:.1}</td><td class=\"num\">{}</td><td class=\"num\" data-v=\"{}\">{:.1}</td></tr>",
            escape(&s.op),
            s.top_count,
            s.top,
            s.top,
            s.all_count,
            s.all,
            s.all
        );
    }
    out.push_str("</tbody></table></div></section>");
}

/// A percentage rounded to one decimal, for bar labels.
fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn trials_table(out: &mut String, r: &Report, ranked: &[&TrialRow]) {
    out.push_str("<section id=\"trials\"><h2>Trials</h2>");
    if r.trials.is_empty() {
        out.push_str("<p class=\"note\">No trials yet.</p></section>");
        return;
    }
    // Thousands of rows make a page of megabytes: the best trials first, then the others, up
    // to TABLE_MAX; the storage (or `nascent trials`, or the dashboard) holds them all.
    let rows: Vec<&TrialRow> = if r.trials.len() <= TABLE_MAX {
        r.trials.iter().collect()
    } else {
        let mut rows: Vec<&TrialRow> = ranked.iter().copied().take(TABLE_MAX).collect();
        let listed: BTreeSet<u64> = rows.iter().map(|t| t.number).collect();
        let room = TABLE_MAX.saturating_sub(rows.len());
        rows.extend(
            r.trials
                .iter()
                .filter(|t| !listed.contains(&t.number))
                .take(room),
        );
        rows.sort_by_key(|t| t.number);
        rows
    };
    if rows.len() < r.trials.len() {
        let _ = write!(
            out,
            "<p class=\"note\">{} trials; the table lists {}, the best by {} (then others \
             when fewer completed); <code>nascent trials</code> or <code>nascent dashboard</code> \
             show them all. Click a column header to sort.</p>",
            r.trials.len(),
            rows.len(),
            escape(r.objectives.first().map_or("rank", |o| o.metric.as_str()))
        );
    } else {
        let _ = write!(
            out,
            "<p class=\"note\">{} trials; click a column header to sort.</p>",
            r.trials.len()
        );
    }
    let objective_names: BTreeSet<&str> = r.objectives.iter().map(|o| o.metric.as_str()).collect();
    let other: BTreeSet<&str> = r
        .trials
        .iter()
        .flat_map(|t| t.metrics.keys().map(String::as_str))
        .filter(|k| !objective_names.contains(k))
        .collect();
    let start = t0(r);
    let best = ranked.first().map(|t| t.number);
    out.push_str("<div class=\"table-wrap\"><table id=\"trials-table\" class=\"sortable\"><thead><tr><th class=\"num\">#</th><th>state</th><th>architecture</th>");
    for o in &r.objectives {
        let _ = write!(
            out,
            "<th class=\"num\">{}</th>",
            escape(&objective_label(o))
        );
    }
    for k in &other {
        let _ = write!(out, "<th class=\"num\">{}</th>", escape(k));
    }
    out.push_str("<th class=\"num\">steps</th><th class=\"num\">cost (s)</th><th class=\"num\">started (s)</th><th class=\"num\">finished (s)</th><th>reason</th></tr></thead><tbody>");
    let num_cell = |out: &mut String, v: Option<f64>| match v.filter(|x| x.is_finite()) {
        Some(x) => {
            let _ = write!(
                out,
                "<td class=\"num\" data-v=\"{x}\">{}</td>",
                format_value(x)
            );
        }
        None => out.push_str("<td class=\"num\" data-v=\"\"></td>"),
    };
    for t in rows {
        let class = if Some(t.number) == best {
            " class=\"best\""
        } else {
            ""
        };
        let state = t.state.as_str();
        let _ = write!(
            out,
            "<tr{class}><td class=\"num\" data-v=\"{n}\">{n}</td><td data-v=\"{state}\"><span class=\"state {state}\">{state}</span></td><td class=\"arch\">{}</td>",
            escape(&t.arch),
            n = t.number
        );
        for o in &r.objectives {
            num_cell(out, t.metrics.get(&o.metric).copied());
        }
        for k in &other {
            num_cell(out, t.metrics.get(*k).copied());
        }
        num_cell(out, Some(t.intermediate.len() as f64));
        num_cell(out, Some(t.cost_seconds));
        num_cell(out, t.started.zip(start).map(|(a, b)| a - b));
        num_cell(out, t.finished.zip(start).map(|(a, b)| a - b));
        let _ = write!(
            out,
            "<td class=\"reason\">{}</td></tr>",
            escape(t.fail_reason.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</tbody></table></div></section>");
}
