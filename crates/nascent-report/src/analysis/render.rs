//! Drawing an [`Analysis`]: the importance chart (bars with interval whiskers), the marginal
//! effects (one panel per decision, the best option marked) and the HTML fragment that the
//! report and the dashboard embed. All text is escaped.

use super::{Analysis, Marginal, Stability};
use crate::plot::{
    Scale, close_svg, escape, f, format_value, linear_ticks, open_svg, shorten, text_width,
};
use nascent_core::Direction;
use std::fmt::Write;

const BAR: &str = "#0072B2";
const BEST: &str = "#D55E00";
const MUTED: &str = "#5b6670";
/// Most decision panels drawn in the marginal chart (the most important ones).
pub const MAX_PANELS: usize = 24;

/// The importance of each decision as horizontal bars (% of variance of the mean prediction), most
/// important first, each with a whisker over the interval across trees.
pub fn importance_svg(a: &Analysis) -> String {
    let rows = a.ranked_importance();
    let names: Vec<String> = rows.iter().map(|i| shorten(&i.dimension, 28)).collect();
    let left = names
        .iter()
        .map(|n| text_width(n, 12.0))
        .fold(60.0, f64::max)
        + 20.0;
    let width = 720.0f64.max(left + 420.0);
    let row_h = 26.0;
    let (top, bottom) = (44.0, 52.0);
    let height = top + bottom + rows.len().max(1) as f64 * row_h + 8.0;
    let hi = rows
        .iter()
        .map(|i| i.high.max(i.mean) * 100.0)
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let ticks = linear_ticks(0.0, hi, 6, true);
    let (x0, x1) = (left, width - 70.0);
    let xs = Scale {
        lo: ticks.lo,
        hi: ticks.hi,
        log: false,
        px0: x0,
        px1: x1,
    };
    let (y0, y1) = (height - bottom, top);
    let mut out = String::new();
    let title = format!("Importance of each decision for {}", a.objective.metric);
    open_svg(&mut out, width, height, &title, "importance-chart");
    let _ = write!(
        out,
        "<text class=\"chart-title\" x=\"{}\" y=\"24\" font-size=\"15\" font-weight=\"600\" fill=\"#222\">{}</text>",
        f(x0),
        escape(&title)
    );
    out.push_str("<g class=\"grid\" stroke=\"#e6e6e6\">");
    for (v, _) in &ticks.ticks {
        let _ = write!(
            out,
            "<line x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\"/>",
            f(y1),
            f(y0),
            p = f(xs.map(*v))
        );
    }
    out.push_str("</g><g class=\"ticks\" fill=\"#444\" font-size=\"11\">");
    for (v, label) in &ticks.ticks {
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            f(xs.map(*v)),
            f(y0 + 18.0),
            escape(label)
        );
    }
    let _ = write!(
        out,
        "</g><g class=\"axis\" stroke=\"#555\"><line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\"/><line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\"/></g>",
        x0 = f(x0),
        x1 = f(x1),
        y0 = f(y0),
        y1 = f(y1)
    );
    for (k, (imp, name)) in rows.iter().zip(&names).enumerate() {
        let cy = top + 4.0 + k as f64 * row_h + row_h / 2.0;
        let m = imp.mean * 100.0;
        let (lo, hi) = (imp.low * 100.0, imp.high * 100.0);
        let _ = write!(
            out,
            "<g class=\"importance\" data-dimension=\"{}\"><title>{}: {} % of the variance (interval {} to {} %, ±{} std over trees)</title>",
            escape(&imp.dimension),
            escape(&imp.dimension),
            format_value(m),
            format_value(lo),
            format_value(hi),
            format_value(imp.std * 100.0)
        );
        let _ = write!(
            out,
            "<text class=\"category\" x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\" fill=\"#222\">{}</text>",
            f(x0 - 8.0),
            f(cy + 4.0),
            escape(name)
        );
        if m.is_finite() {
            let _ = write!(
                out,
                "<rect class=\"importance-bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{BAR}\" fill-opacity=\"0.85\"/>",
                f(x0),
                f(cy - 8.0),
                f((xs.map(m) - x0).max(0.0)),
                f(16.0)
            );
        }
        if lo.is_finite() && hi.is_finite() {
            let (a, b) = (xs.map(lo), xs.map(hi));
            let _ = write!(
                out,
                "<g class=\"error-bar\" stroke=\"#222\" stroke-width=\"1.4\"><line x1=\"{a}\" y1=\"{c}\" x2=\"{b}\" y2=\"{c}\"/><line x1=\"{a}\" y1=\"{t}\" x2=\"{a}\" y2=\"{u}\"/><line x1=\"{b}\" y1=\"{t}\" x2=\"{b}\" y2=\"{u}\"/></g>",
                a = f(a),
                b = f(b),
                c = f(cy),
                t = f(cy - 5.0),
                u = f(cy + 5.0)
            );
            let _ = write!(
                out,
                "<text class=\"bar-value\" x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#333\">{:.1} %</text>",
                f(b.max(xs.map(m)) + 6.0),
                f(cy + 4.0),
                m
            );
        }
        out.push_str("</g>");
    }
    let _ = write!(
        out,
        "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#222\" font-size=\"12\">share of the objective's variance over the space explained by the decision alone (%)</text>",
        f((x0 + x1) / 2.0),
        f(height - 12.0)
    );
    close_svg(out)
}

/// Panel geometry of the marginal chart.
const PANEL_W: f64 = 330.0;
const PANEL_GAP: f64 = 14.0;
const ROW_H: f64 = 21.0;

/// The marginal effect of every decision, one panel each: the objective expected with each
/// option (dot) and its interval over trees (whisker), the best option in vermillion and
/// labelled "best", the options the trials cannot tell apart from it ([`Marginal::best_set`])
/// hollow in vermillion and labelled "tied", a dashed line at the space's mean. Categorical panels share one value
/// axis so that effects compare across decisions.
pub fn marginal_svg(a: &Analysis) -> String {
    marginal_chart(a, None)
}

/// [`marginal_svg`] with a known truth drawn over the estimate: each option's true effect as a
/// black diamond, the truth's best option of each decision filled and starred
/// (validation against a tabular benchmark, where the truth is the exact decomposition of the
/// whole table). Decisions are matched by name, options by label.
pub fn marginal_svg_with_truth(a: &Analysis, truth: &Analysis) -> String {
    marginal_chart(a, Some(truth))
}

fn marginal_chart(a: &Analysis, truth: Option<&Analysis>) -> String {
    // The most important decisions, in the order of the space.
    let mut shown: Vec<usize> = (0..a.marginals.len()).collect();
    if shown.len() > MAX_PANELS {
        shown.sort_by_key(|&i| a.importance.get(i).map_or(usize::MAX, |m| m.rank));
        shown.truncate(MAX_PANELS);
        shown.sort_unstable();
    }
    let cols = shown.len().clamp(1, 3);
    let label_w = shown
        .iter()
        .flat_map(|&i| a.marginals[i].choices.iter())
        .map(|c| text_width(&shorten(&c.label, 18), 11.0))
        .fold(40.0, f64::max)
        + 12.0
        + if truth.is_some() { 14.0 } else { 0.0 };
    // Shared value range over the categorical panels.
    let values = shown
        .iter()
        .map(|&i| &a.marginals[i])
        .filter(|m| !m.numeric)
        .flat_map(|m| m.choices.iter().flat_map(|c| [c.low, c.high, c.mean]))
        .chain(
            truth
                .into_iter()
                .flat_map(|t| t.marginals.iter())
                .filter(|m| !m.numeric)
                .flat_map(|m| m.choices.iter().map(|c| c.mean)),
        )
        .filter(|v| v.is_finite());
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    } else if lo == hi {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    let ticks = linear_ticks(lo, hi, 4, true);
    let panel_h = |m: &Marginal| -> f64 {
        if m.numeric {
            180.0
        } else {
            58.0 + m.choices.len() as f64 * ROW_H
        }
    };
    let rows: Vec<&[usize]> = shown.chunks(cols).collect();
    let row_heights: Vec<f64> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|&i| panel_h(&a.marginals[i]))
                .fold(0.0, f64::max)
        })
        .collect();
    let top = if truth.is_some() { 70.0 } else { 56.0 };
    let width = cols as f64 * PANEL_W + (cols + 1) as f64 * PANEL_GAP;
    let height = top + row_heights.iter().sum::<f64>() + rows.len() as f64 * PANEL_GAP + 30.0;
    let mut out = String::new();
    let title = format!("Marginal effect of each option on {}", a.objective.metric);
    open_svg(&mut out, width, height, &title, "marginal-chart");
    let _ = write!(
        out,
        "<text class=\"chart-title\" x=\"{}\" y=\"24\" font-size=\"15\" font-weight=\"600\" fill=\"#222\">{}</text><text x=\"{}\" y=\"42\" font-size=\"11.5\" fill=\"{MUTED}\">{}</text>",
        f(PANEL_GAP),
        escape(&title),
        f(PANEL_GAP),
        escape(&format!(
            "expected {} with the option, other decisions averaged over the space; whiskers: {} interval over trees; dashed: space mean",
            a.objective.metric,
            interval_name(a),
        ))
    );
    if truth.is_some() {
        let _ = write!(
            out,
            "<text class=\"truth-legend\" x=\"{}\" y=\"57\" font-size=\"11.5\" fill=\"{MUTED}\">black diamonds: the truth's effect of each option; filled and ★: the truth's best option</text>",
            f(PANEL_GAP)
        );
    }
    let mut y = top;
    for (r, row) in rows.iter().enumerate() {
        for (c, &i) in row.iter().enumerate() {
            let x = PANEL_GAP + c as f64 * (PANEL_W + PANEL_GAP);
            let m = &a.marginals[i];
            if m.numeric {
                numeric_panel(&mut out, a, i, x, y, panel_h(m));
            } else {
                let t = truth.and_then(|t| t.marginals.iter().find(|t| t.dimension == m.dimension));
                categorical_panel(&mut out, a, i, x, y, label_w, &ticks, t);
            }
        }
        y += row_heights[r] + PANEL_GAP;
    }
    if shown.len() < a.marginals.len() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"11.5\" fill=\"{MUTED}\">{} less important decisions not drawn</text>",
            f(PANEL_GAP),
            f(height - 10.0),
            a.marginals.len() - shown.len()
        );
    }
    close_svg(out)
}

fn interval_name(a: &Analysis) -> String {
    format!("{} %", format_value(a.interval * 100.0))
}

fn panel_title(out: &mut String, a: &Analysis, i: usize, x: f64, y: f64) {
    let m = &a.marginals[i];
    let imp = a
        .importance
        .get(i)
        .map(|p| format!(" · {:.1} % of variance", p.mean * 100.0))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<rect class=\"panel-frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#e3e6ea\" rx=\"4\"/><text class=\"panel-title\" x=\"{}\" y=\"{}\" font-size=\"12.5\" font-weight=\"600\" fill=\"#222\">{}<tspan font-weight=\"400\" fill=\"{MUTED}\">{}</tspan></text>",
        f(x),
        f(y),
        f(PANEL_W),
        f(panel_h_of(m)),
        f(x + 8.0),
        f(y + 17.0),
        escape(&shorten(&m.dimension, 30)),
        escape(&imp)
    );
}

fn panel_h_of(m: &Marginal) -> f64 {
    if m.numeric {
        180.0
    } else {
        58.0 + m.choices.len() as f64 * ROW_H
    }
}

#[allow(clippy::too_many_arguments)]
fn categorical_panel(
    out: &mut String,
    a: &Analysis,
    i: usize,
    x: f64,
    y: f64,
    label_w: f64,
    ticks: &crate::plot::Ticks,
    truth: Option<&Marginal>,
) {
    let m = &a.marginals[i];
    let _ = write!(
        out,
        "<g class=\"panel\" data-dimension=\"{}\" data-best=\"{}\">",
        escape(&m.dimension),
        escape(&m.best)
    );
    panel_title(out, a, i, x, y);
    let (px0, px1) = (x + label_w + 8.0, x + PANEL_W - 40.0);
    let xs = Scale {
        lo: ticks.lo,
        hi: ticks.hi,
        log: false,
        px0,
        px1,
    };
    let body_top = y + 28.0;
    let body_bottom = body_top + m.choices.len() as f64 * ROW_H + 4.0;
    out.push_str("<g class=\"grid\" stroke=\"#eef0f2\">");
    for (v, _) in &ticks.ticks {
        let _ = write!(
            out,
            "<line x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\"/>",
            f(body_top),
            f(body_bottom),
            p = f(xs.map(*v))
        );
    }
    out.push_str("</g><g class=\"ticks\" fill=\"#555\" font-size=\"10\">");
    for (v, label) in &ticks.ticks {
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            f(xs.map(*v)),
            f(body_bottom + 13.0),
            escape(label)
        );
    }
    out.push_str("</g>");
    let mean = a.space_mean.mean;
    if mean.is_finite() && mean >= ticks.lo && mean <= ticks.hi {
        let _ = write!(
            out,
            "<line class=\"space-mean\" x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
            f(body_top),
            f(body_bottom),
            p = f(xs.map(mean))
        );
    }
    for (k, c) in m.choices.iter().enumerate() {
        let cy = body_top + k as f64 * ROW_H + ROW_H / 2.0;
        let best = c.label == m.best;
        // Not told apart from the best by the trials: drawn in the best's colour, hollow.
        let tied = !best && m.best_set.contains(&c.label);
        let colour = if best || tied { BEST } else { BAR };
        let _ = write!(
            out,
            "<g class=\"choice{}\" data-option=\"{}\" data-mean=\"{}\"><title>{} = {}: expected {} {} (interval {} to {}); best in {:.0} % of the trees{}; {} trial(s) took it{}</title>",
            if best {
                " best"
            } else if tied {
                " tied"
            } else {
                ""
            },
            escape(&c.label),
            c.mean,
            escape(&m.dimension),
            escape(&c.label),
            escape(&a.objective.metric),
            format_value(c.mean),
            format_value(c.low),
            format_value(c.high),
            100.0 * c.p_best,
            if tied {
                format!(
                    ", gap to the best {} to {}: not told apart from it",
                    format_value(c.gap_to_best.0),
                    format_value(c.gap_to_best.1)
                )
            } else {
                String::new()
            },
            c.trials,
            c.observed_mean
                .map(|v| format!(", their plain mean {}", format_value(v)))
                .unwrap_or_default()
        );
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\" fill=\"{}\"{}>{}</text>",
            f(px0 - 8.0),
            f(cy + 4.0),
            if best || tied { BEST } else { "#222" },
            if best { " font-weight=\"700\"" } else { "" },
            escape(&shorten(&c.label, 18))
        );
        if c.low.is_finite() && c.high.is_finite() {
            let _ = write!(
                out,
                "<line class=\"interval\" x1=\"{}\" y1=\"{c}\" x2=\"{}\" y2=\"{c}\" stroke=\"{colour}\" stroke-width=\"2\" stroke-opacity=\"0.55\"/>",
                f(xs.map(c.low)),
                f(xs.map(c.high)),
                c = f(cy)
            );
        }
        if c.mean.is_finite() {
            let r = if best { 5.5 } else { 4.0 };
            let _ = write!(
                out,
                "<circle class=\"marginal-point\" cx=\"{}\" cy=\"{}\" r=\"{r}\" fill=\"{}\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
                f(xs.map(c.mean)),
                f(cy),
                if best { BEST } else { "#ffffff" }
            );
            if best || tied {
                let _ = write!(
                    out,
                    "<text class=\"best-label\" x=\"{}\" y=\"{}\" font-size=\"10.5\"{} fill=\"{BEST}\">{}</text>",
                    f((xs.map(c.high.max(c.mean)) + 4.0)
                        .max(xs.map(c.mean) + 9.0)
                        .min(x + PANEL_W - 28.0)),
                    f(cy + 4.0),
                    if best { " font-weight=\"700\"" } else { "" },
                    if best { "best" } else { "tied" }
                );
            }
        }
        if let Some(tc) = truth.and_then(|t| t.choices.iter().find(|t| t.label == c.label))
            && tc.mean.is_finite()
        {
            let true_best = truth.is_some_and(|t| t.best == c.label);
            let (tx, d) = (xs.map(tc.mean), 4.5);
            let _ = write!(
                out,
                "<path class=\"truth{}\" data-option=\"{}\" d=\"M{} {}L{} {}L{} {}L{} {}Z\" fill=\"{}\" stroke=\"#111\" stroke-width=\"1.2\"><title>truth: {} = {}: {}{}</title></path>",
                if true_best { " truth-best" } else { "" },
                escape(&c.label),
                f(tx),
                f(cy - d),
                f(tx + d),
                f(cy),
                f(tx),
                f(cy + d),
                f(tx - d),
                f(cy),
                if true_best { "#111" } else { "#ffffff" },
                escape(&m.dimension),
                escape(&c.label),
                format_value(tc.mean),
                if true_best { " (the true best)" } else { "" }
            );
            if true_best {
                let _ = write!(
                    out,
                    "<text class=\"truth-best-label\" x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#111\">★<title>the truth's best option</title></text>",
                    f(x + 5.0),
                    f(cy + 4.0)
                );
            }
        }
        out.push_str("</g>");
    }
    out.push_str("</g>");
}

fn numeric_panel(out: &mut String, a: &Analysis, i: usize, x: f64, y: f64, h: f64) {
    let m = &a.marginals[i];
    let _ = write!(
        out,
        "<g class=\"panel numeric\" data-dimension=\"{}\" data-best=\"{}\">",
        escape(&m.dimension),
        escape(&m.best)
    );
    panel_title(out, a, i, x, y);
    let (px0, px1) = (x + 52.0, x + PANEL_W - 14.0);
    let (py0, py1) = (y + h - 30.0, y + 30.0);
    let vals = m
        .choices
        .iter()
        .flat_map(|c| [c.low, c.high])
        .filter(|v| v.is_finite());
    let (mut lo, mut hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    } else if lo == hi {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    let yt = linear_ticks(lo, hi, 4, true);
    let ys = Scale {
        lo: yt.lo,
        hi: yt.hi,
        log: false,
        px0: py0,
        px1: py1,
    };
    let n = m.choices.len().max(1);
    let px = |k: usize| px0 + (k as f64 + 0.5) / n as f64 * (px1 - px0);
    out.push_str("<g class=\"ticks\" fill=\"#555\" font-size=\"10\">");
    for (v, label) in &yt.ticks {
        let _ = write!(
            out,
            "<line x1=\"{}\" y1=\"{p}\" x2=\"{}\" y2=\"{p}\" stroke=\"#eef0f2\"/><text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            f(px0),
            f(px1),
            f(px0 - 5.0),
            f(ys.map(*v) + 3.5),
            escape(label),
            p = f(ys.map(*v))
        );
    }
    for k in [0, n / 2, n - 1] {
        if let Some(c) = m.choices.get(k) {
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                f(px(k)),
                f(py0 + 14.0),
                escape(&c.label)
            );
        }
    }
    out.push_str("</g>");
    let mut band = String::new();
    for (k, c) in m.choices.iter().enumerate() {
        let _ = write!(
            band,
            "{}{} {}",
            if k == 0 { "M" } else { "L" },
            f(px(k)),
            f(ys.map(c.high))
        );
    }
    for (k, c) in m.choices.iter().enumerate().rev() {
        let _ = write!(band, "L{} {}", f(px(k)), f(ys.map(c.low)));
    }
    let line: Vec<String> = m
        .choices
        .iter()
        .enumerate()
        .map(|(k, c)| format!("{} {}", f(px(k)), f(ys.map(c.mean))))
        .collect();
    let _ = write!(
        out,
        "<path class=\"band\" d=\"{band}Z\" fill=\"{BAR}\" fill-opacity=\"0.15\"/><path class=\"series\" d=\"M{}\" fill=\"none\" stroke=\"{BAR}\" stroke-width=\"2\"/>",
        line.join("L")
    );
    if let Some((k, c)) = m
        .choices
        .iter()
        .enumerate()
        .find(|(_, c)| c.label == m.best)
    {
        let _ = write!(
            out,
            "<g class=\"choice best\" data-option=\"{}\"><title>best: {} = {} (expected {})</title><circle class=\"marginal-point\" cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{BEST}\"/></g>",
            escape(&c.label),
            escape(&m.dimension),
            escape(&c.label),
            format_value(c.mean),
            f(px(k)),
            f(ys.map(c.mean))
        );
    }
    out.push_str("</g>");
}

/// The analysis as an HTML fragment (a `div.nascent-analysis`, no page around it): a summary,
/// the two charts, the best option of each decision and the motifs of the top decile.
pub fn fragment(a: &Analysis) -> String {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<div class=\"nascent-analysis\"><style>.nascent-analysis table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}.nascent-analysis th,.nascent-analysis td{padding:3px 9px;border-bottom:1px solid #dfe3e8;text-align:left}.nascent-analysis td.num,.nascent-analysis th.num{text-align:right}.nascent-analysis .best-opt{color:#D55E00;font-weight:600}.nascent-analysis figure{margin:8px 0}.nascent-analysis figure svg{max-width:100%;height:auto}.nascent-analysis .note{color:#5b6670;font-size:12.5px}</style>");
    let fit = match (a.surrogate.oob_r2, a.surrogate.oob_spearman) {
        (Some(r2), Some(rho)) => format!(
            " Out of bag it predicts the trials with R² {:.2} and Spearman {:.2}.",
            r2, rho
        ),
        _ => String::new(),
    };
    let _ = write!(
        out,
        "<p class=\"note\">An ensemble of {} members (each an additive model plus a regression tree, fitted to its own bootstrap resample) fitted to the {} completed trials (of {}) with a value of <code>{}</code>, decomposed by functional ANOVA over the whole space taken uniformly, so that where the search sampled most does not weigh more.{} The decisions' main effects explain {} % of the variance together (the rest are interactions). Intervals span the middle {} of the single members.</p>",
        a.surrogate.config.trees,
        a.trials_used,
        a.trials_total,
        escape(&a.objective.metric),
        escape(&fit),
        format_value(a.main_effects_share.mean * 100.0),
        interval_name(a)
    );
    let _ = write!(
        out,
        "<figure class=\"importance\">{}<figcaption class=\"note\">Share of the variance of {} over the space that each decision explains alone (bar: the ensemble's mean prediction; whisker: {} interval over single members).</figcaption></figure>",
        importance_svg(a),
        escape(&a.objective.metric),
        interval_name(a)
    );
    let _ = write!(
        out,
        "<figure class=\"marginals\">{}<figcaption class=\"note\">Per decision, the {} expected with each option when every other decision is averaged over the space; the best option of each is in vermillion, and the options the trials cannot tell apart from it (the interval of their gap to the best, tree by tree, reaches zero) are hollow in vermillion and marked tied.</figcaption></figure>",
        marginal_svg(a),
        escape(&a.objective.metric)
    );
    best_table(&mut out, a);
    motif_tables(&mut out, a);
    if !a.notes.is_empty() {
        out.push_str("<ul class=\"note\">");
        for n in &a.notes {
            let _ = write!(out, "<li>{}</li>", escape(n));
        }
        out.push_str("</ul>");
    }
    out.push_str("</div>");
    out
}

fn best_table(out: &mut String, a: &Analysis) {
    out.push_str("<h3>Best and worst option of each decision</h3><table class=\"sortable analysis-best\"><thead><tr><th>decision</th><th class=\"num\">importance %</th><th>best</th><th class=\"num\">expected</th><th class=\"num\">interval</th><th>tied with the best</th><th>worst</th><th class=\"num\">expected</th></tr></thead><tbody>");
    let better = |x: f64, y: f64| match a.objective.direction {
        Direction::Maximize => x > y,
        Direction::Minimize => x < y,
    };
    for r in a.ranked_importance() {
        let Some(m) = a.marginals.iter().find(|m| m.dimension == r.dimension) else {
            continue;
        };
        let best = m.choices.iter().find(|c| c.label == m.best);
        let worst = m.choices.iter().filter(|c| c.mean.is_finite()).fold(
            None::<&super::ChoiceEffect>,
            |w, c| match w {
                Some(w) if !better(w.mean, c.mean) => Some(w),
                _ => Some(c),
            },
        );
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\" data-v=\"{}\">{} ± {}</td>",
            escape(&m.dimension),
            r.mean,
            format_value(r.mean * 100.0),
            format_value(r.std * 100.0)
        );
        match best {
            Some(b) => {
                let _ = write!(
                    out,
                    "<td class=\"best-opt\"><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{} – {}</td>",
                    escape(&b.label),
                    format_value(b.mean),
                    format_value(b.low),
                    format_value(b.high)
                );
            }
            None => out.push_str("<td></td><td></td><td></td>"),
        }
        let tied: Vec<String> = m
            .best_set
            .iter()
            .skip(1)
            .map(|l| format!("<code>{}</code>", escape(l)))
            .collect();
        let _ = write!(out, "<td>{}</td>", tied.join(" "));
        match worst {
            Some(w) => {
                let _ = write!(
                    out,
                    "<td><code>{}</code></td><td class=\"num\">{}</td></tr>",
                    escape(&w.label),
                    format_value(w.mean)
                );
            }
            None => out.push_str("<td></td><td></td></tr>"),
        }
    }
    out.push_str("</tbody></table>");
}

fn motif_tables(out: &mut String, a: &Analysis) {
    let Some(m) = &a.motifs else {
        out.push_str("<p class=\"note\">Too few trials for motifs of the top decile.</p>");
        return;
    };
    let _ = write!(
        out,
        "<h3>Motifs of the top {} trials</h3><p class=\"note\">Options and combinations of options held by at least {} of the best {} trials (top {} %), against all {} trials: lift is how much more often the top holds them, co-occurrence how much more often the options come together among the top than if they were independent; p-values are one-sided hypergeometric, q-values Benjamini-Hochberg over the {} motifs tested.</p>",
        m.top_trials,
        m.min_support,
        m.top_trials,
        format_value(m.top_fraction * 100.0),
        m.trials,
        m.tested
    );
    for (title, list) in [
        ("Sub-cells (pairs and triples)", &m.combinations),
        ("Single options", &m.options),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<table class=\"sortable analysis-motifs\"><caption class=\"note\" style=\"text-align:left\">{title}</caption><thead><tr><th>motif</th><th class=\"num\">top</th><th class=\"num\">all</th><th class=\"num\">lift</th><th class=\"num\">co-occurrence</th><th class=\"num\">p</th><th class=\"num\">q</th></tr></thead><tbody>"
        );
        for x in list.iter().take(12) {
            let items: Vec<String> = x
                .items
                .iter()
                .map(|i| {
                    format!(
                        "{} = <code>{}</code>",
                        escape(&i.dimension),
                        escape(&i.option)
                    )
                })
                .collect();
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}/{}</td><td class=\"num\">{}/{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\" data-v=\"{}\">{}</td><td class=\"num\" data-v=\"{}\">{}</td></tr>",
                items.join(" + "),
                x.top_count,
                m.top_trials,
                x.all_count,
                m.trials,
                format_value(x.lift),
                x.cooccurrence_lift
                    .map(format_value)
                    .unwrap_or_else(|| "–".into()),
                x.p_value,
                format_p(x.p_value),
                x.q_value,
                format_p(x.q_value)
            );
        }
        out.push_str("</tbody></table>");
    }
}

fn format_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// The stability of several studies as an HTML fragment (a `div.nascent-stability`).
pub fn stability_fragment(s: &Stability) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"nascent-stability\"><p class=\"note\">{} studies compared on their top {} by <code>{}</code>: mean top-{} overlap {} %{}.</p>",
        s.studies.len(),
        s.k,
        escape(&s.objective.metric),
        s.k,
        format_value(s.mean_top_k_overlap * 100.0),
        s.mean_importance_spearman
            .map(|r| format!(", mean Spearman of the importances {r:.2}"))
            .unwrap_or_default()
    );
    out.push_str("<table class=\"sortable\"><thead><tr><th>study</th><th>study</th><th class=\"num\">top-k overlap</th><th class=\"num\">Jaccard</th><th class=\"num\">shared trials</th><th class=\"num\">Spearman (shared)</th><th class=\"num\">Spearman (importance)</th><th class=\"num\">Spearman (marginals)</th></tr></thead><tbody>");
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "–".into());
    for p in &s.pairs {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&p.a),
            escape(&p.b),
            p.top_k_overlap,
            p.top_k_jaccard,
            p.shared,
            opt(p.shared_spearman),
            opt(p.importance_spearman),
            opt(p.marginal_spearman)
        );
    }
    out.push_str("</tbody></table>");
    if !s.consensus.is_empty() {
        out.push_str("<h3>Architectures in the top k of several studies</h3><table><thead><tr><th>architecture</th><th class=\"num\">studies</th><th class=\"num\">mean rank</th></tr></thead><tbody>");
        for c in &s.consensus {
            let _ = write!(
                out,
                "<tr><td><code class=\"arch\">{}</code></td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td></tr>",
                escape(&c.arch),
                c.studies,
                c.mean_rank
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</div>");
    out
}
