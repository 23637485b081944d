//! What the analysis reads: the decisions of a study (categorical or numeric dimensions) and one
//! observation per completed trial.

use nascent_core::storage::TrialRecord;
use nascent_core::{Decision, Error, Objective, Result, SearchSpace, TrialState};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Most options a categorical dimension may have (a tree split keeps them in a 64-bit set).
pub const MAX_OPTIONS: usize = 64;

/// One decision of a study: an architecture decision (an edge's operation, a width) or a
/// hyperparameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dimension {
    /// Its name (`edge 1<-0`, `lr`).
    pub name: String,
    /// Where it comes from and what values it takes.
    pub kind: DimensionKind,
}

/// The values of a [`Dimension`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum DimensionKind {
    /// One of a few named options; an observation holds the option's index.
    Categorical {
        /// The options, by name.
        options: Vec<String>,
    },
    /// A number in `[low, high]`; analysed on a log scale when `log`.
    Numeric {
        /// Smallest value.
        low: f64,
        /// Largest value.
        high: f64,
        /// Whether the dimension is spread on a log scale (all values positive, wide range).
        log: bool,
    },
}

impl Dimension {
    /// A categorical dimension.
    pub fn categorical(name: impl Into<String>, options: Vec<String>) -> Self {
        Dimension {
            name: name.into(),
            kind: DimensionKind::Categorical { options },
        }
    }

    /// A numeric dimension over `[low, high]`.
    pub fn numeric(name: impl Into<String>, low: f64, high: f64, log: bool) -> Self {
        Dimension {
            name: name.into(),
            kind: DimensionKind::Numeric { low, high, log },
        }
    }

    /// The options of a categorical dimension; `None` for a numeric one.
    pub fn options(&self) -> Option<&[String]> {
        match &self.kind {
            DimensionKind::Categorical { options } => Some(options),
            DimensionKind::Numeric { .. } => None,
        }
    }

    /// A value mapped to `[0, 1]` (numeric dimensions, log-scaled where `log`); categorical
    /// values are returned as they are.
    pub fn unit(&self, v: f64) -> f64 {
        match &self.kind {
            DimensionKind::Categorical { .. } => v,
            DimensionKind::Numeric { low, high, log } => {
                let (a, b, x) = if *log {
                    (low.ln(), high.ln(), v.max(f64::MIN_POSITIVE).ln())
                } else {
                    (*low, *high, v)
                };
                if b > a {
                    ((x - a) / (b - a)).clamp(0.0, 1.0)
                } else {
                    0.5
                }
            }
        }
    }

    /// The value at `u` in `[0, 1]` of a numeric dimension (the inverse of [`Dimension::unit`]).
    pub fn from_unit(&self, u: f64) -> f64 {
        match &self.kind {
            DimensionKind::Categorical { .. } => u,
            DimensionKind::Numeric { low, high, log } => {
                if *log {
                    (low.ln() + u * (high.ln() - low.ln())).exp()
                } else {
                    low + u * (high - low)
                }
            }
        }
    }
}

/// One completed trial as the analysis sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The trial's number in its study.
    pub number: u64,
    /// Its canonical architecture string.
    pub arch: String,
    /// One value per dimension: the option index of a categorical one, the number of a numeric
    /// one.
    pub x: Vec<f64>,
    /// The objective's value.
    pub y: f64,
}

/// The dimensions of a study and its completed trials.
#[derive(Clone, Debug, PartialEq)]
pub struct Observations {
    /// The decisions, architecture first, then hyperparameters.
    pub dimensions: Vec<Dimension>,
    /// One per completed trial with a finite objective value.
    pub rows: Vec<Observation>,
    /// The objective analysed.
    pub objective: Objective,
    /// Trials of the study in all (of any state).
    pub trials_total: usize,
    /// What was left out and why (trials, dimensions).
    pub notes: Vec<String>,
}

impl Observations {
    /// Checks that every row has a value in range for every dimension.
    pub fn check(&self) -> Result<()> {
        for d in &self.dimensions {
            if let DimensionKind::Categorical { options } = &d.kind {
                if options.len() > MAX_OPTIONS {
                    return Err(Error::config(
                        &d.name,
                        format!(
                            "{} options; the analysis handles at most {MAX_OPTIONS}",
                            options.len()
                        ),
                    ));
                }
                if options.is_empty() {
                    return Err(Error::config(
                        &d.name,
                        "a categorical dimension needs options",
                    ));
                }
            }
            if let DimensionKind::Numeric { low, high, log } = &d.kind
                && (!low.is_finite() || !high.is_finite() || low > high || (*log && *low <= 0.0))
            {
                return Err(Error::config(
                    &d.name,
                    format!("bad numeric range [{low}, {high}] (log: {log})"),
                ));
            }
        }
        for r in &self.rows {
            if r.x.len() != self.dimensions.len() {
                return Err(Error::config(
                    format!("trial {}", r.number),
                    format!(
                        "{} values for {} dimensions",
                        r.x.len(),
                        self.dimensions.len()
                    ),
                ));
            }
            if !r.y.is_finite() {
                return Err(Error::config(
                    format!("trial {}", r.number),
                    format!("objective value {} is not finite", r.y),
                ));
            }
            for (d, &v) in self.dimensions.iter().zip(&r.x) {
                let ok = match &d.kind {
                    DimensionKind::Categorical { options } => {
                        v >= 0.0 && v.fract() == 0.0 && (v as usize) < options.len()
                    }
                    DimensionKind::Numeric { .. } => v.is_finite(),
                };
                if !ok {
                    return Err(Error::config(
                        format!("trial {}", r.number),
                        format!("value {v} out of range at `{}`", d.name),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The observations of architectures given as decision indices: `items` yields (number,
    /// arch string, choices, objective value).
    pub fn from_choices(
        decisions: &[Decision],
        objective: Objective,
        items: impl IntoIterator<Item = (u64, String, Vec<usize>, f64)>,
    ) -> Result<Self> {
        let dimensions = decisions
            .iter()
            .map(|d| Dimension::categorical(d.name.clone(), d.options.clone()))
            .collect();
        let rows: Vec<Observation> = items
            .into_iter()
            .map(|(number, arch, c, y)| Observation {
                number,
                arch,
                x: c.into_iter().map(|v| v as f64).collect(),
                y,
            })
            .collect();
        let obs = Observations {
            dimensions,
            trials_total: rows.len(),
            rows,
            objective,
            notes: Vec::new(),
        };
        obs.check()?;
        Ok(obs)
    }

    /// The observations of stored trials of a study in `space`: every `COMPLETE` trial with a
    /// finite value of the objective at `objective_index` (of `objectives`), its architecture
    /// parsed into the space's decisions and its hyperparameters (`params`, flattened with
    /// dotted keys) added as dimensions. Trials whose architecture does not parse are left out
    /// and named in [`Observations::notes`].
    pub fn from_records<S: SearchSpace + ?Sized>(
        space: &S,
        objectives: &[Objective],
        objective_index: usize,
        records: &[TrialRecord],
    ) -> Result<Self> {
        let objective = objectives.get(objective_index).cloned().ok_or_else(|| {
            Error::config(
                "objective",
                format!(
                    "objective {objective_index} asked for; the study has {}",
                    objectives.len()
                ),
            )
        })?;
        let decode = |arch: &str| -> Result<Vec<usize>> {
            let a = space.parse(arch)?;
            Ok(space.to_decisions(&a))
        };
        Self::from_records_with(
            space.decisions(),
            &decode,
            objective,
            objective_index,
            records,
        )
    }

    /// Like [`Observations::from_records`], with the architecture decoded by `decode` into
    /// indices over `decisions` (for spaces known only by name).
    pub fn from_records_with(
        decisions: &[Decision],
        decode: &dyn Fn(&str) -> Result<Vec<usize>>,
        objective: Objective,
        objective_index: usize,
        records: &[TrialRecord],
    ) -> Result<Self> {
        let mut notes = Vec::new();
        let mut kept: Vec<(&TrialRecord, Vec<usize>, f64)> = Vec::new();
        let mut bad_arch = Vec::new();
        let mut not_complete = 0usize;
        let mut no_value = 0usize;
        for r in records {
            if r.state != TrialState::Complete {
                not_complete += 1;
                continue;
            }
            let y = r
                .values
                .get(objective_index)
                .copied()
                .filter(|v| v.is_finite())
                .or_else(|| {
                    r.metrics
                        .get(&objective.metric)
                        .copied()
                        .filter(|v| v.is_finite())
                });
            let Some(y) = y else {
                no_value += 1;
                continue;
            };
            match decode(&r.arch) {
                Ok(c) if c.len() == decisions.len() => kept.push((r, c, y)),
                Ok(c) => bad_arch.push(format!(
                    "trial {} ({} decisions, the space has {})",
                    r.number,
                    c.len(),
                    decisions.len()
                )),
                Err(e) => bad_arch.push(format!("trial {} ({e})", r.number)),
            }
        }
        if not_complete > 0 {
            notes.push(format!(
                "{not_complete} trial(s) not complete (running, pruned or failed) left out"
            ));
        }
        if no_value > 0 {
            notes.push(format!(
                "{no_value} complete trial(s) without a finite `{}` left out",
                objective.metric
            ));
        }
        if !bad_arch.is_empty() {
            let shown: Vec<&str> = bad_arch.iter().take(5).map(String::as_str).collect();
            notes.push(format!(
                "{} trial(s) whose architecture the space cannot read left out: {}{}",
                bad_arch.len(),
                shown.join("; "),
                if bad_arch.len() > 5 { "; …" } else { "" }
            ));
        }
        let mut dimensions: Vec<Dimension> = decisions
            .iter()
            .map(|d| Dimension::categorical(d.name.clone(), d.options.clone()))
            .collect();
        let params: Vec<BTreeMap<String, serde_json::Value>> =
            kept.iter().map(|(r, _, _)| flatten(&r.params)).collect();
        let (param_dims, param_values) = param_dimensions(&params, &mut notes);
        dimensions.extend(param_dims);
        let rows = kept
            .iter()
            .enumerate()
            .map(|(i, (r, c, y))| {
                let mut x: Vec<f64> = c.iter().map(|&v| v as f64).collect();
                x.extend(param_values.iter().map(|col| col[i]));
                Observation {
                    number: r.number,
                    arch: r.arch.clone(),
                    x,
                    y: *y,
                }
            })
            .collect();
        let obs = Observations {
            dimensions,
            rows,
            objective,
            trials_total: records.len(),
            notes,
        };
        obs.check()?;
        Ok(obs)
    }

    /// The rows' objective values turned so that larger is better.
    pub fn utilities(&self) -> Vec<f64> {
        self.rows
            .iter()
            .map(|r| self.objective.utility(r.y))
            .collect()
    }
}

/// A JSON object flattened to dotted keys (`optimizer.lr`); other values are one entry `value`.
fn flatten(v: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, serde_json::Value>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Null => {}
            other => {
                let key = if prefix.is_empty() { "value" } else { prefix };
                out.insert(key.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", v, &mut out);
    out
}

/// The dimensions of the trials' hyperparameters and one column of values per dimension.
/// Numbers make numeric dimensions (log-scaled when positive over more than a factor of 20;
/// a trial without the value gets the median); anything else makes a categorical dimension
/// (a trial without the value gets the option `(unset)`). Constant values are left out.
fn param_dimensions(
    params: &[BTreeMap<String, serde_json::Value>],
    notes: &mut Vec<String>,
) -> (Vec<Dimension>, Vec<Vec<f64>>) {
    let keys: BTreeSet<&String> = params.iter().flat_map(|p| p.keys()).collect();
    let mut dims = Vec::new();
    let mut cols = Vec::new();
    for key in keys {
        let values: Vec<Option<&serde_json::Value>> = params.iter().map(|p| p.get(key)).collect();
        let numbers: Vec<Option<f64>> = values
            .iter()
            .map(|v| v.and_then(|v| v.as_f64()).filter(|x| x.is_finite()))
            .collect();
        let all_numeric = values
            .iter()
            .zip(&numbers)
            .all(|(v, n)| v.is_none() || n.is_some());
        if all_numeric {
            let present: Vec<f64> = numbers.iter().flatten().copied().collect();
            let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if present.is_empty() || lo == hi {
                notes.push(format!("hyperparameter `{key}` is constant: left out"));
                continue;
            }
            let missing = numbers.iter().filter(|n| n.is_none()).count();
            let mut sorted = present.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted[sorted.len() / 2];
            if missing > 0 {
                notes.push(format!(
                    "hyperparameter `{key}` missing in {missing} trial(s): taken as its median {median}"
                ));
            }
            let log = lo > 0.0 && hi / lo > 20.0;
            dims.push(Dimension::numeric(key.clone(), lo, hi, log));
            cols.push(numbers.iter().map(|n| n.unwrap_or(median)).collect());
        } else {
            let labels: Vec<String> = values
                .iter()
                .map(|v| match v {
                    None => "(unset)".to_string(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                })
                .collect();
            let options: Vec<String> = labels
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if options.len() < 2 {
                notes.push(format!("hyperparameter `{key}` is constant: left out"));
                continue;
            }
            if options.len() > MAX_OPTIONS {
                notes.push(format!(
                    "hyperparameter `{key}` has {} distinct values (at most {MAX_OPTIONS} analysed): left out",
                    options.len()
                ));
                continue;
            }
            let col = labels
                .iter()
                .map(|l| options.iter().position(|o| o == l).unwrap_or(0) as f64)
                .collect();
            dims.push(Dimension::categorical(key.clone(), options));
            cols.push(col);
        }
    }
    (dims, cols)
}
