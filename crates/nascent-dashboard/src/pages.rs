//! The HTML pages. Every text that comes from storage (study names, architecture strings,
//! metric names, settings, failure reasons) goes through [`escape`]; links carry names
//! percent-encoded. The pages hold no inline script: what the script needs is in `data-`
//! attributes, and the content security policy allows scripts from the server only.

use crate::data;
use crate::files;
use crate::state::StudyCache;
use axum::response::Html;
use nascent_core::storage::{StudyRecord, TrialRecord};
use nascent_report::escape;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::path::Path;

/// Characters percent-encoded in one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `s` as one URL path segment.
pub fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The page's URL of a study.
pub fn study_url(name: &str) -> String {
    format!("/studies/{}", seg(name))
}

/// A whole page: `<head>`, navigation, and `body` (already escaped HTML).
pub fn html_response(title: &str, page: &str, data_attrs: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · nascent</title>\
         <link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/static/uPlot.min.css\">\
         <link rel=\"stylesheet\" href=\"/static/app.css\">\
         <script src=\"/static/uPlot.iife.min.js\" defer></script>\
         <script src=\"/static/app.js\" defer></script></head>\
         <body data-page=\"{}\"{data_attrs}><nav><a href=\"/\" class=\"brand\">nascent</a> \
         <span class=\"live\" id=\"live\" title=\"live updates\"></span></nav><main>{body}</main></body></html>\n",
        escape(title),
        escape(page),
    ))
}

/// ` data-NAME="VALUE"` with the value escaped.
fn attr(name: &str, value: &str) -> String {
    format!(" data-{name}=\"{}\"", escape(value))
}

/// The list of studies.
pub fn studies(rows: &[Value]) -> Html<String> {
    let mut b = String::from("<h1>Studies</h1>");
    if rows.is_empty() {
        b.push_str("<p>This storage has no study yet.</p>");
    }
    b.push_str(
        "<table class=\"grid\" id=\"studies\"><thead><tr><th>study</th><th>space</th>\
         <th>strategy</th><th>objectives</th><th>trials</th><th>running</th><th>complete</th>\
         <th>best</th></tr></thead><tbody>",
    );
    for r in rows {
        let name = r["name"].as_str().unwrap_or("");
        let objectives: Vec<String> = r["objectives"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                format!(
                    "{} {}",
                    o["metric"].as_str().unwrap_or(""),
                    if o["direction"] == "maximize" {
                        "↑"
                    } else {
                        "↓"
                    }
                )
            })
            .collect();
        let best = match (&r["best"]["number"], &r["best"]["value"]) {
            (Value::Number(n), Value::Number(v)) => format!(
                "<a href=\"{}/trials/{n}\">#{n}</a> {}",
                study_url(name),
                fmt_num(v.as_f64().unwrap_or(f64::NAN))
            ),
            _ => "–".into(),
        };
        b.push_str(&format!(
            "<tr data-name=\"{}\"><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{best}</td></tr>",
            escape(name),
            study_url(name),
            escape(name),
            escape(r["space"].as_str().unwrap_or("")),
            escape(r["strategy"].as_str().unwrap_or("")),
            escape(&objectives.join(", ")),
            r["counts"]["total"],
            r["counts"]["running"],
            r["counts"]["complete"],
        ));
    }
    b.push_str("</tbody></table>");
    html_response("Studies", "studies", "", &b)
}

/// A number as shown: up to four significant decimals.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v.abs() >= 1e6 || (v != 0.0 && v.abs() < 1e-3) {
        return format!("{v:.3e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn study_header(record: &StudyRecord) -> String {
    let objectives: Vec<String> = record
        .objectives
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                escape(&o.metric),
                match o.direction {
                    nascent_core::Direction::Maximize => "↑",
                    nascent_core::Direction::Minimize => "↓",
                }
            )
        })
        .collect();
    let strategy = data::strategy_of(record);
    format!(
        "<header><h1><a href=\"{}\">{}</a></h1><p class=\"meta\">space <b>{}</b>{} · objectives {} · seed {}</p></header>",
        study_url(&record.name),
        escape(&record.name),
        escape(&record.space),
        if strategy.is_empty() {
            String::new()
        } else {
            format!(" · strategy <b>{}</b>", escape(&strategy))
        },
        objectives.join(", "),
        record.seed
    )
}

fn kv_table(rows: &[(String, String)], class: &str) -> String {
    let mut s = format!("<table class=\"kv {class}\"><tbody>");
    for (k, v) in rows {
        s.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        ));
    }
    s.push_str("</tbody></table>");
    s
}

/// A study's page: live counts, charts and the trials table (filled by the script from the
/// API), the analysis (when the dashboard has one), and its settings.
pub fn study(cache: &StudyCache, analysis: bool) -> Html<String> {
    let record = &cache.record;
    let settings = nascent_report::settings_rows("", &record.config);
    let objective_heads: String = record
        .objectives
        .iter()
        .map(|o| {
            format!(
                "<option value=\"{}\">{}</option>",
                escape(&o.metric),
                escape(&o.metric)
            )
        })
        .collect();
    let body = format!(
        "{header}\
         <section class=\"cards\" id=\"counts\"></section>\
         <section class=\"best\" id=\"best\"></section>\
         <section class=\"charts\">\
           <figure><figcaption>Best so far, by trial</figcaption><div id=\"chart-best-trials\" class=\"chart\"></div></figure>\
           <figure><figcaption>Best so far, by time (s)</figcaption><div id=\"chart-best-time\" class=\"chart\"></div></figure>\
           <figure><figcaption>Objective scatter against <select id=\"x-metric\" aria-label=\"x axis\"></select> \
             (Pareto front in red)</figcaption><div id=\"chart-scatter\" class=\"chart\"></div>\
             <div id=\"scatter-hover\" class=\"hover\">hover a point</div></figure>\
           <figure><figcaption>Learning curves of the selected trials</figcaption><div id=\"chart-curves\" class=\"chart\"></div></figure>\
         </section>\
         <section><h2>Trials</h2>\
           <form class=\"controls\" id=\"controls\">\
             <label>state <select id=\"f-state\"><option value=\"\">all</option><option>COMPLETE</option>\
               <option>RUNNING</option><option>QUEUED</option><option>PRUNED</option><option>FAIL</option></select></label>\
             <label>architecture contains <input id=\"f-q\" type=\"search\" size=\"24\"></label>\
             <label>per page <select id=\"f-per-page\"><option>25</option><option selected>50</option><option>100</option><option>500</option></select></label>\
             <button type=\"button\" id=\"compare\" disabled>compare 2 selected</button>\
             <span id=\"matched\"></span>\
             <span class=\"hidden\" id=\"objective-names\">{objective_heads}</span>\
           </form>\
           <table class=\"grid\" id=\"trials\"><thead></thead><tbody></tbody></table>\
           <div class=\"pager\" id=\"pager\"></div>\
         </section>\
         {analysis}\
         <section><h2>Settings</h2>{settings}</section>",
        header = study_header(record),
        analysis = if analysis {
            "<section id=\"analysis\"><h2>What matters</h2><div id=\"analysis-body\">\
             <p class=\"empty\">computing the analysis…</p></div></section>"
        } else {
            ""
        },
        settings = if settings.is_empty() {
            "<p>No settings were stored with this study.</p>".to_string()
        } else {
            kv_table(&settings, "settings")
        },
    );
    let base = study_url(&record.name);
    let attrs = format!(
        "{}{}",
        attr("base", &base),
        attr("api", &format!("/api{base}"))
    );
    html_response(&record.name, "study", &attrs, &body)
}

fn diagrams(space: &str, arch: &str) -> String {
    let Some(view) = nascent_report::report::view_for_space(space) else {
        return String::new();
    };
    view.diagrams(arch)
        .iter()
        .map(|d| format!("<div class=\"diagram\">{}</div>", d.to_svg()))
        .collect()
}

fn metric_rows(t: &TrialRecord, record: &StudyRecord) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = record
        .objectives
        .iter()
        .zip(&t.values)
        .map(|(o, v)| (format!("{} (objective)", o.metric), fmt_num(*v)))
        .collect();
    rows.extend(
        t.metrics
            .iter()
            .filter(|(k, _)| !record.objectives.iter().any(|o| &o.metric == *k))
            .map(|(k, v)| (k.clone(), fmt_num(*v))),
    );
    rows
}

fn trial_facts(t: &TrialRecord, start: f64) -> Vec<(String, String)> {
    let mut rows = vec![
        ("state".to_string(), t.state_label().to_string()),
        ("epochs".into(), t.epochs.to_string()),
        ("cost".into(), format!("{:.1} s", t.cost_seconds)),
        ("seed".into(), t.seed.to_string()),
        ("attempts".into(), t.attempts.to_string()),
    ];
    if let Some(s) = t.started {
        rows.push((
            "started".into(),
            format!("{:.1} s after the study began", s - start),
        ));
    }
    if let Some(f) = t.finished {
        rows.push((
            "finished".into(),
            format!("{:.1} s after the study began", f - start),
        ));
    }
    if let Some(w) = &t.worker {
        rows.push(("worker".into(), w.clone()));
    }
    if let Some(r) = &t.reason {
        rows.push(("reason".into(), r.clone()));
    }
    let budget = serde_json::to_value(&t.budget).unwrap_or_default();
    rows.extend(
        nascent_report::settings_rows("budget", &budget)
            .into_iter()
            .filter(|(_, v)| v != "–"),
    );
    rows.extend(nascent_report::settings_rows("params", &t.params));
    rows.retain(|(k, _)| !k.is_empty());
    rows
}

/// The links to the files recorded for trial `number` that lie in the artefact folder.
fn trial_files(cache: &StudyCache, root: Option<&Path>, number: u64) -> String {
    let base = study_url(&cache.record.name);
    let mut items = String::new();
    for a in cache.artefacts.iter().filter(|a| a.trial == Some(number)) {
        let name = a
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match root.and_then(|r| files::relative_link(r, &a.path)) {
            Some(rel) => {
                let href: Vec<String> = rel.split('/').map(seg).collect();
                items.push_str(&format!(
                    "<li>{} <a href=\"{base}/files/{}\">{}</a></li>",
                    escape(a.kind.as_str()),
                    href.join("/"),
                    escape(&name)
                ));
            }
            None => items.push_str(&format!(
                "<li>{} {} (outside the study's folder, not served)</li>",
                escape(a.kind.as_str()),
                escape(&name)
            )),
        }
    }
    if items.is_empty() {
        "<p>No files were recorded for this trial.</p>".into()
    } else {
        format!("<ul class=\"files\">{items}</ul>")
    }
}

/// One trial's page: its cell diagram, every metric, its facts, its learning curve and files.
pub fn trial(cache: &StudyCache, t: &TrialRecord, root: Option<&Path>) -> Html<String> {
    let record = &cache.record;
    let base = study_url(&record.name);
    let body = format!(
        "{header}<h2>Trial #{n} <span class=\"state {state}\">{state}</span></h2>\
         <p class=\"arch\"><code>{arch}</code></p>\
         <div class=\"diagrams\">{diagrams}</div>\
         <div class=\"columns\"><section><h3>Metrics</h3>{metrics}</section>\
         <section><h3>Trial</h3>{facts}</section></div>\
         <figure><figcaption>Learning curve</figcaption><div id=\"chart-curves\" class=\"chart\"></div></figure>\
         <section><h3>Files</h3>{files}</section>\
         <form class=\"controls\" method=\"get\" action=\"{base}/compare\"><input type=\"hidden\" name=\"a\" value=\"{n}\">\
         <label>compare with trial # <input name=\"b\" type=\"number\" min=\"0\" required></label> <button>compare</button></form>",
        header = study_header(record),
        n = t.number,
        state = t.state_label(),
        arch = escape(&t.arch),
        diagrams = diagrams(&record.space, &t.arch),
        metrics = kv_table(&metric_rows(t, record), "metrics"),
        facts = kv_table(&trial_facts(t, record.created), "facts"),
        files = trial_files(cache, root, t.number),
    );
    let attrs = format!(
        "{}{}{}",
        attr("base", &base),
        attr("api", &format!("/api{base}")),
        attr("trials", &t.number.to_string())
    );
    html_response(
        &format!("{} · trial {}", record.name, t.number),
        "trial",
        &attrs,
        &body,
    )
}

/// Two trials side by side: diagrams, a table of every metric with the difference, and both
/// learning curves on one chart.
pub fn compare(cache: &StudyCache, a: &TrialRecord, b: &TrialRecord) -> Html<String> {
    let record = &cache.record;
    let base = study_url(&record.name);
    let ra = metric_rows(a, record);
    let rb = metric_rows(b, record);
    let mut keys: Vec<String> = ra.iter().map(|r| r.0.clone()).collect();
    for (k, _) in &rb {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let value = |rows: &[(String, String)], k: &str| {
        rows.iter()
            .find(|r| r.0 == k)
            .map(|r| r.1.clone())
            .unwrap_or_else(|| "–".into())
    };
    let num = |t: &TrialRecord, k: &str| -> Option<f64> {
        match k.strip_suffix(" (objective)") {
            Some(m) => record
                .objectives
                .iter()
                .position(|o| o.metric == m)
                .and_then(|i| t.values.get(i).copied()),
            None => t.metrics.get(k).copied(),
        }
        .filter(|v| v.is_finite())
    };
    let mut table = String::from("<table class=\"grid compare\"><thead><tr><th>metric</th>");
    for t in [a, b] {
        table.push_str(&format!(
            "<th><a href=\"{base}/trials/{n}\">#{n}</a></th>",
            n = t.number
        ));
    }
    table.push_str("<th>B − A</th></tr></thead><tbody>");
    for (label, get_a, get_b) in [
        (
            "state",
            a.state_label().to_string(),
            b.state_label().to_string(),
        ),
        ("epochs", a.epochs.to_string(), b.epochs.to_string()),
        (
            "cost (s)",
            format!("{:.1}", a.cost_seconds),
            format!("{:.1}", b.cost_seconds),
        ),
    ] {
        table.push_str(&format!(
            "<tr><th>{label}</th><td>{}</td><td>{}</td><td></td></tr>",
            escape(&get_a),
            escape(&get_b)
        ));
    }
    for k in &keys {
        let diff = match (num(a, k), num(b, k)) {
            (Some(x), Some(y)) => fmt_num(y - x),
            _ => String::new(),
        };
        table.push_str(&format!(
            "<tr><th>{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(k),
            escape(&value(&ra, k)),
            escape(&value(&rb, k)),
            escape(&diff)
        ));
    }
    table.push_str("</tbody></table>");
    let side = |t: &TrialRecord| {
        format!(
            "<section><h2><a href=\"{base}/trials/{n}\">Trial #{n}</a> <span class=\"state {s}\">{s}</span></h2>\
             <p class=\"arch\"><code>{arch}</code></p><div class=\"diagrams\">{d}</div></section>",
            n = t.number,
            s = t.state_label(),
            arch = escape(&t.arch),
            d = diagrams(&record.space, &t.arch)
        )
    };
    let body = format!(
        "{header}<h2>Trial #{na} and trial #{nb}</h2><div class=\"columns\">{sa}{sb}</div>{table}\
         <figure><figcaption>Learning curves</figcaption><div id=\"chart-curves\" class=\"chart\"></div></figure>",
        header = study_header(record),
        na = a.number,
        nb = b.number,
        sa = side(a),
        sb = side(b),
    );
    let attrs = format!(
        "{}{}{}",
        attr("base", &base),
        attr("api", &format!("/api{base}")),
        attr("trials", &format!("{},{}", a.number, b.number))
    );
    html_response(
        &format!("{} · trials {} and {}", record.name, a.number, b.number),
        "compare",
        &attrs,
        &body,
    )
}
