//! What the API answers, computed from a study's cached trials: the summary with its charts'
//! series, one page of the trials table, and learning curves.

use crate::error::DashError;
use crate::state::StudyCache;
use nascent_core::pareto::pareto_front;
use nascent_core::storage::{StudyRecord, TrialRecord};
use nascent_core::{Direction, Objective, TrialState};
use serde::Deserialize;
use serde_json::{Value, json};
use std::cmp::Ordering;

/// Largest page of the trials table.
pub const MAX_PER_PAGE: usize = 500;
/// Most trials whose learning curves one request returns.
pub const MAX_CURVES: usize = 20;

/// A study as the studies list shows it.
pub fn study_row(record: &StudyRecord, cache: &StudyCache) -> Value {
    let counts = count(&cache.trials);
    let best = best_trial(&cache.trials, &record.objectives);
    json!({
        "name": record.name,
        "space": record.space,
        "strategy": strategy_of(record),
        "objectives": objectives_json(&record.objectives),
        "created": record.created,
        "elapsed_seconds": record.elapsed_seconds,
        "counts": counts,
        "best": best.map(|t| json!({"number": t.number, "value": t.values.first(), "arch": t.arch})),
        "version": cache.version.to_string(),
    })
}

/// The strategy named in a study's stored configuration, if any.
pub fn strategy_of(record: &StudyRecord) -> String {
    let s = &record.config["strategy"];
    s.as_str()
        .or_else(|| s["kind"].as_str())
        .or_else(|| s["name"].as_str())
        .unwrap_or("")
        .to_string()
}

fn objectives_json(objectives: &[Objective]) -> Value {
    objectives
        .iter()
        .map(|o| {
            json!({"metric": o.metric, "direction": match o.direction {
                Direction::Maximize => "maximize",
                Direction::Minimize => "minimize",
            }})
        })
        .collect()
}

/// Trials by state as shown: running, queued, complete, pruned, failed, total.
fn count(trials: &[TrialRecord]) -> Value {
    let mut c = [0u64; 5];
    for t in trials {
        let i = match t.state_label() {
            "RUNNING" => 0,
            "QUEUED" => 1,
            "COMPLETE" => 2,
            "PRUNED" => 3,
            _ => 4,
        };
        c[i] += 1;
    }
    json!({"total": trials.len(), "running": c[0], "queued": c[1], "complete": c[2],
           "pruned": c[3], "failed": c[4]})
}

/// The value of the first objective of a trial, when complete and finite.
fn first_value(t: &TrialRecord) -> Option<f64> {
    (t.state == TrialState::Complete)
        .then(|| t.values.first().copied())
        .flatten()
        .filter(|v| v.is_finite())
}

/// The best complete trial on the first objective (the earliest among ties).
pub fn best_trial<'a>(
    trials: &'a [TrialRecord],
    objectives: &[Objective],
) -> Option<&'a TrialRecord> {
    let obj = objectives.first()?;
    let mut best: Option<(&TrialRecord, f64)> = None;
    for t in trials {
        if let Some(v) = first_value(t)
            && best.is_none_or(|(_, b)| obj.better(v, b))
        {
            best = Some((t, v));
        }
    }
    best.map(|(t, _)| t)
}

/// A metric of a trial: an objective's value, a recorded metric, or one of `cost_seconds`,
/// `epochs`, `number`.
fn metric_of(t: &TrialRecord, objectives: &[Objective], name: &str) -> Option<f64> {
    if let Some(i) = objectives.iter().position(|o| o.metric == name) {
        return t.values.get(i).copied().filter(|v| v.is_finite());
    }
    match name {
        "cost_seconds" => Some(t.cost_seconds),
        "epochs" => Some(t.epochs as f64),
        "number" => Some(t.number as f64),
        _ => t.metrics.get(name).copied().filter(|v| v.is_finite()),
    }
}

/// The summary of a study: its counts, the best trial, best-so-far of the first objective
/// against trials and against time, and the scatter of the first objective against `x` (by
/// default the second objective, else `cost_seconds`) with its Pareto front.
pub fn summary(cache: &StudyCache, x: Option<&str>) -> Result<Value, DashError> {
    let record = &cache.record;
    let objectives = &record.objectives;
    let trials = &cache.trials;
    let mut metric_names: std::collections::BTreeSet<String> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .flat_map(|t| t.metrics.keys().cloned())
        .collect();
    metric_names.extend(["cost_seconds".to_string(), "number".to_string()]);
    let default_x = objectives
        .get(1)
        .map(|o| o.metric.clone())
        .unwrap_or_else(|| "cost_seconds".to_string());
    let x = x.map(str::to_string).unwrap_or(default_x);
    if !metric_names.contains(&x) && !objectives.iter().any(|o| o.metric == x) {
        return Err(DashError::BadRequest(format!(
            "no trial has the metric `{x}` (known: {})",
            metric_names.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let best = best_trial(trials, objectives);
    let (by_trial, by_time) = match objectives.first() {
        Some(obj) => best_so_far(trials, obj, record.created),
        None => (Vec::new(), Vec::new()),
    };
    let scatter = match objectives.first() {
        Some(obj) => scatter(trials, objectives, obj, &x),
        None => json!({"points": [], "front": []}),
    };
    Ok(json!({
        "name": record.name,
        "space": record.space,
        "strategy": strategy_of(record),
        "seed": record.seed,
        "objectives": objectives_json(objectives),
        "created": record.created,
        "elapsed_seconds": record.elapsed_seconds,
        "counts": count(trials),
        "best": best.map(trial_row),
        "best_so_far": {"trials": by_trial, "time": by_time},
        "x_metric": x,
        "metrics": metric_names,
        "scatter": scatter,
        "version": cache.version.to_string(),
    }))
}

/// Best-so-far of `obj` at each trial number and each finish time (seconds since the study's
/// creation), kept only where it changes (and at the end), so a long study stays small.
fn best_so_far(
    trials: &[TrialRecord],
    obj: &Objective,
    start: f64,
) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
    let step = |pts: Vec<(f64, f64)>| -> Vec<[f64; 2]> {
        let mut out: Vec<[f64; 2]> = Vec::new();
        let mut best: Option<f64> = None;
        let last_x = pts.last().map(|p| p.0);
        for (x, v) in pts {
            if best.is_none_or(|b| obj.better(v, b)) {
                best = Some(v);
                out.push([x, v]);
            }
        }
        if let (Some(b), Some(x)) = (best, last_x)
            && out.last().is_some_and(|l| l[0] < x)
        {
            out.push([x, b]);
        }
        out
    };
    let by_trial = step(
        trials
            .iter()
            .filter_map(|t| first_value(t).map(|v| (t.number as f64, v)))
            .collect(),
    );
    let mut timed: Vec<(f64, f64)> = trials
        .iter()
        .filter_map(|t| Some(((t.finished? - start).max(0.0), first_value(t)?)))
        .collect();
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    (by_trial, step(timed))
}

fn scatter(trials: &[TrialRecord], objectives: &[Objective], obj: &Objective, x: &str) -> Value {
    let x_obj = objectives
        .iter()
        .find(|o| o.metric == x)
        .cloned()
        // Costs (seconds, parameters, FLOPs, latency) are minimised.
        .unwrap_or_else(|| Objective::minimize(x));
    let mut pts: Vec<(f64, f64, u64)> = Vec::new();
    for t in trials {
        if let (Some(y), Some(xv)) = (first_value(t), metric_of(t, objectives, x)) {
            pts.push((xv, y, t.number));
        }
    }
    let losses: Vec<Vec<f64>> = pts
        .iter()
        .map(|&(xv, y, _)| vec![x_obj.loss(xv), obj.loss(y)])
        .collect();
    let mut front: Vec<(f64, f64, u64)> = if x == "number" {
        Vec::new()
    } else {
        pareto_front(&losses).into_iter().map(|i| pts[i]).collect()
    };
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Six significant digits are plenty for a chart and halve what a large study sends.
    let point = |p: &(f64, f64, u64)| json!([significant(p.0), significant(p.1), p.2]);
    json!({
        "x": x,
        "y": obj.metric,
        "points": pts.iter().map(point).collect::<Vec<_>>(),
        "front": front.iter().map(point).collect::<Vec<_>>(),
    })
}

/// One row of the trials table.
pub fn trial_row(t: &TrialRecord) -> Value {
    json!({
        "number": t.number,
        "state": t.state_label(),
        "arch": t.arch,
        "values": t.values,
        "epochs": t.epochs,
        "cost_seconds": t.cost_seconds,
        "started": t.started,
        "finished": t.finished,
        "reason": t.reason,
    })
}

/// A trial in full: its row plus metrics, parameters, budget, intermediate values, seed,
/// worker and attempts.
pub fn trial_full(t: &TrialRecord) -> Value {
    let mut v = trial_row(t);
    let extra = json!({
        "metrics": t.metrics,
        "params": t.params,
        "budget": t.budget,
        "intermediate": t.intermediate,
        "seed": t.seed,
        "worker": t.worker,
        "attempts": t.attempts,
        "created": t.created,
        "heartbeat": t.heartbeat,
    });
    if let (Some(a), Some(b)) = (v.as_object_mut(), extra.as_object()) {
        a.extend(b.clone());
    }
    v
}

/// A request for one page of the trials table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TrialQuery {
    /// 1-based page (default 1).
    pub page: Option<usize>,
    /// Rows per page (default 50, at most [`MAX_PER_PAGE`]).
    pub per_page: Option<usize>,
    /// `number` (default), `state`, `value` (the first objective), `cost`, `epochs`,
    /// `finished`, `arch`, or the name of a metric.
    pub sort: Option<String>,
    /// Descending when `true` (`1`, `true`).
    pub desc: Option<String>,
    /// Only trials in this state (`COMPLETE`, `PRUNED`, `FAIL`, `RUNNING`, `QUEUED`).
    pub state: Option<String>,
    /// Only trials whose architecture contains this text (case-insensitive).
    pub q: Option<String>,
}

/// One page of the trials table: `{total, matched, page, per_page, pages, rows}`.
pub fn trials_page(cache: &StudyCache, query: &TrialQuery) -> Result<Value, DashError> {
    let objectives = &cache.record.objectives;
    let per_page = query.per_page.unwrap_or(50);
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(DashError::BadRequest(format!(
            "per_page must be 1 to {MAX_PER_PAGE}, not {per_page}"
        )));
    }
    let page = query.page.unwrap_or(1).max(1);
    let state = match query
        .state
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => {
            let up = s.to_ascii_uppercase();
            if !["COMPLETE", "PRUNED", "FAIL", "RUNNING", "QUEUED"].contains(&up.as_str()) {
                return Err(DashError::BadRequest(format!(
                    "unknown state `{s}` (use COMPLETE, PRUNED, FAIL, RUNNING or QUEUED)"
                )));
            }
            Some(up)
        }
    };
    let needle = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let desc = matches!(query.desc.as_deref(), Some("1" | "true" | "yes"));
    let sort = query.sort.as_deref().unwrap_or("number");
    let mut rows: Vec<&TrialRecord> = cache
        .trials
        .iter()
        .filter(|t| state.as_deref().is_none_or(|s| t.state_label() == s))
        .filter(|t| {
            needle
                .as_deref()
                .is_none_or(|n| t.arch.to_lowercase().contains(n))
        })
        .collect();
    let matched = rows.len();
    let numeric = |t: &TrialRecord| -> Option<f64> {
        match sort {
            "value" => t.values.first().copied().filter(|v| v.is_finite()),
            "cost" => Some(t.cost_seconds),
            "epochs" => Some(t.epochs as f64),
            "finished" => t.finished,
            other => metric_of(t, objectives, other),
        }
    };
    match sort {
        "number" => {
            if desc {
                rows.reverse();
            }
        }
        "state" | "arch" => {
            let key = |t: &TrialRecord| -> String {
                if sort == "state" {
                    t.state_label().to_string()
                } else {
                    t.arch.clone()
                }
            };
            rows.sort_by(|a, b| {
                let o = key(a).cmp(&key(b));
                (if desc { o.reverse() } else { o }).then(a.number.cmp(&b.number))
            });
        }
        other => {
            if !other
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            {
                return Err(DashError::BadRequest(format!("cannot sort by `{other}`")));
            }
            let mut keyed: Vec<(Option<f64>, &TrialRecord)> =
                rows.into_iter().map(|t| (numeric(t), t)).collect();
            // Missing values last, whichever the direction.
            keyed.sort_by(|a, b| {
                let o = match (a.0, b.0) {
                    (Some(x), Some(y)) => {
                        let o = x.total_cmp(&y);
                        if desc { o.reverse() } else { o }
                    }
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                o.then(a.1.number.cmp(&b.1.number))
            });
            rows = keyed.into_iter().map(|(_, t)| t).collect();
        }
    }
    let pages = matched.div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page).min(matched);
    let end = (start + per_page).min(matched);
    Ok(json!({
        "total": cache.trials.len(),
        "matched": matched,
        "page": page,
        "per_page": per_page,
        "pages": pages,
        "objectives": objectives_json(objectives),
        "created": cache.record.created,
        "rows": rows[start..end].iter().map(|t| trial_row(t)).collect::<Vec<_>>(),
        "version": cache.version.to_string(),
    }))
}

/// The learning curves (intermediate values) of the trials numbered in `numbers`
/// (comma-separated, at most [`MAX_CURVES`]); without numbers, the best five complete trials.
pub fn curves(cache: &StudyCache, numbers: Option<&str>) -> Result<Value, DashError> {
    let chosen: Vec<&TrialRecord> = match numbers.map(str::trim).filter(|s| !s.is_empty()) {
        Some(list) => {
            let mut out = Vec::new();
            for part in list.split(',') {
                let n: u64 = part.trim().parse().map_err(|_| {
                    DashError::BadRequest(format!("`{part}` in `trials` is not a trial number"))
                })?;
                let t = cache.trials.get(n as usize).ok_or_else(|| {
                    DashError::NotFound(format!("study `{}` has no trial {n}", cache.record.name))
                })?;
                out.push(t);
            }
            if out.len() > MAX_CURVES {
                return Err(DashError::BadRequest(format!(
                    "at most {MAX_CURVES} trials at once, not {}",
                    out.len()
                )));
            }
            out
        }
        None => top(cache, 5),
    };
    Ok(json!({
        "metric": cache.record.objectives.first().map(|o| o.metric.clone()),
        "curves": chosen.iter().map(|t| json!({
            "number": t.number,
            "state": t.state_label(),
            "arch": t.arch,
            "points": t.intermediate,
        })).collect::<Vec<_>>(),
        "version": cache.version.to_string(),
    }))
}

/// The `k` best complete trials on the first objective.
pub fn top(cache: &StudyCache, k: usize) -> Vec<&TrialRecord> {
    let Some(obj) = cache.record.objectives.first() else {
        return Vec::new();
    };
    let mut v: Vec<(&TrialRecord, f64)> = cache
        .trials
        .iter()
        .filter_map(|t| first_value(t).map(|v| (t, obj.utility(v))))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.number.cmp(&b.0.number)));
    v.into_iter().take(k).map(|(t, _)| t).collect()
}

/// `v` rounded to six significant digits.
fn significant(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let m = 10f64.powi(5 - v.abs().log10().floor() as i32);
    let r = (v * m).round() / m;
    if r.is_finite() { r } else { v }
}
