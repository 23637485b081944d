//! How stable the top architectures (and the analysis) are across several studies of one
//! space, such as the same search run with different seeds.

use super::{Analysis, SCHEMA_VERSION};
use nascent_core::Objective;
use nascent_core::stats::spearman;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One study's completed trials as (architecture, objective value).
#[derive(Clone, Debug, PartialEq)]
pub struct StudyTrials {
    /// The study's name.
    pub name: String,
    /// Its trials.
    pub trials: Vec<(String, f64)>,
}

/// The comparison of two studies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StabilityPair {
    /// First study.
    pub a: String,
    /// Second study.
    pub b: String,
    /// Architectures in both top-k lists, as a share of k (or of the shorter list).
    pub top_k_overlap: f64,
    /// Jaccard index of the two top-k sets.
    pub top_k_jaccard: f64,
    /// Architectures evaluated in both studies.
    pub shared: usize,
    /// Spearman correlation of the shared architectures' values in the two studies (at least
    /// three shared; a measure of evaluation noise across seeds).
    pub shared_spearman: Option<f64>,
    /// Spearman correlation of the two studies' importances of the decisions.
    pub importance_spearman: Option<f64>,
    /// Spearman correlation of the two studies' marginal effects of every option.
    pub marginal_spearman: Option<f64>,
}

/// An architecture in the top k of several studies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsensusArch {
    /// The architecture.
    pub arch: String,
    /// In how many studies' top k it is.
    pub studies: usize,
    /// Its mean rank (1 = best) in the studies whose top k holds it.
    pub mean_rank: f64,
}

/// Stability across studies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stability {
    /// Version of this JSON layout.
    pub schema_version: u32,
    /// The objective compared.
    pub objective: Objective,
    /// The k of the top-k lists.
    pub k: usize,
    /// The studies, in the order given.
    pub studies: Vec<String>,
    /// Every pair of studies.
    pub pairs: Vec<StabilityPair>,
    /// Mean top-k overlap over the pairs.
    pub mean_top_k_overlap: f64,
    /// Mean importance Spearman over the pairs that have one.
    pub mean_importance_spearman: Option<f64>,
    /// Architectures in the top k of at least two studies, most shared first.
    pub consensus: Vec<ConsensusArch>,
}

/// The analyses of several studies and their stability: what `nascent analyze --compare`
/// prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Version of this JSON layout.
    pub schema_version: u32,
    /// One analysis per study, in the order given.
    pub analyses: Vec<Analysis>,
    /// How stable the top architectures and the analyses are across them.
    pub stability: Stability,
}

/// Compares the top `k` architectures of `studies` (and, where `analyses` are given, one per
/// study in the same order, their importances and marginal effects).
pub fn stability(
    studies: &[StudyTrials],
    objective: &Objective,
    k: usize,
    analyses: Option<&[Analysis]>,
) -> Stability {
    let k = k.max(1);
    // Per study: mean value per architecture, and the ranked top k.
    let values: Vec<HashMap<&str, f64>> = studies
        .iter()
        .map(|s| {
            let mut acc: HashMap<&str, (f64, usize)> = HashMap::new();
            for (a, v) in s.trials.iter().filter(|(_, v)| v.is_finite()) {
                let e = acc.entry(a.as_str()).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
            acc.into_iter()
                .map(|(a, (s, n))| (a, s / n as f64))
                .collect()
        })
        .collect();
    let tops: Vec<Vec<&str>> = values
        .iter()
        .map(|m| {
            let mut v: Vec<(&str, f64)> = m.iter().map(|(a, x)| (*a, *x)).collect();
            v.sort_by(|x, y| {
                objective
                    .utility(y.1)
                    .total_cmp(&objective.utility(x.1))
                    .then(x.0.cmp(y.0))
            });
            v.into_iter().take(k).map(|(a, _)| a).collect()
        })
        .collect();
    let mut pairs = Vec::new();
    for i in 0..studies.len() {
        for j in i + 1..studies.len() {
            let (ta, tb): (HashSet<&str>, HashSet<&str>) = (
                tops[i].iter().copied().collect(),
                tops[j].iter().copied().collect(),
            );
            let inter = ta.intersection(&tb).count();
            let union = ta.union(&tb).count();
            let denom = k.min(ta.len()).min(tb.len()).max(1);
            let mut shared: Vec<(&str, f64, f64)> = values[i]
                .iter()
                .filter_map(|(a, x)| values[j].get(a).map(|y| (*a, *x, *y)))
                .collect();
            shared.sort_by(|a, b| a.0.cmp(b.0));
            let xs: Vec<f64> = shared.iter().map(|s| s.1).collect();
            let ys: Vec<f64> = shared.iter().map(|s| s.2).collect();
            let (imp, marg) = match analyses {
                Some(an) if an.len() == studies.len() => (
                    importance_spearman(&an[i], &an[j]),
                    marginal_spearman(&an[i], &an[j]),
                ),
                _ => (None, None),
            };
            pairs.push(StabilityPair {
                a: studies[i].name.clone(),
                b: studies[j].name.clone(),
                top_k_overlap: inter as f64 / denom as f64,
                top_k_jaccard: if union > 0 {
                    inter as f64 / union as f64
                } else {
                    0.0
                },
                shared: shared.len(),
                shared_spearman: if shared.len() >= 3 {
                    spearman(&xs, &ys)
                } else {
                    None
                },
                importance_spearman: imp,
                marginal_spearman: marg,
            });
        }
    }
    let mean_top_k_overlap = if pairs.is_empty() {
        1.0
    } else {
        pairs.iter().map(|p| p.top_k_overlap).sum::<f64>() / pairs.len() as f64
    };
    let imps: Vec<f64> = pairs.iter().filter_map(|p| p.importance_spearman).collect();
    let mut seen: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for top in &tops {
        for (r, a) in top.iter().enumerate() {
            seen.entry(a).or_default().push(r + 1);
        }
    }
    let mut consensus: Vec<ConsensusArch> = seen
        .into_iter()
        .filter(|(_, r)| r.len() >= 2)
        .map(|(a, r)| ConsensusArch {
            arch: a.to_string(),
            studies: r.len(),
            mean_rank: r.iter().sum::<usize>() as f64 / r.len() as f64,
        })
        .collect();
    consensus.sort_by(|a, b| {
        b.studies
            .cmp(&a.studies)
            .then(a.mean_rank.total_cmp(&b.mean_rank))
            .then(a.arch.cmp(&b.arch))
    });
    consensus.truncate(20);
    Stability {
        schema_version: SCHEMA_VERSION,
        objective: objective.clone(),
        k,
        studies: studies.iter().map(|s| s.name.clone()).collect(),
        pairs,
        mean_top_k_overlap,
        mean_importance_spearman: (!imps.is_empty())
            .then(|| imps.iter().sum::<f64>() / imps.len() as f64),
        consensus,
    }
}

/// Spearman correlation of two analyses' importances over the decisions both have.
pub fn importance_spearman(a: &Analysis, b: &Analysis) -> Option<f64> {
    let mb: HashMap<&str, f64> = b
        .importance
        .iter()
        .map(|i| (i.dimension.as_str(), i.mean))
        .collect();
    let (x, y): (Vec<f64>, Vec<f64>) = a
        .importance
        .iter()
        .filter_map(|i| mb.get(i.dimension.as_str()).map(|v| (i.mean, *v)))
        .unzip();
    spearman(&x, &y)
}

/// Spearman correlation of two analyses' marginal effects over the (decision, option) pairs
/// both have.
pub fn marginal_spearman(a: &Analysis, b: &Analysis) -> Option<f64> {
    let key = |d: &str, c: &str| format!("{d}\u{1f}{c}");
    let mb: HashMap<String, f64> = b
        .marginals
        .iter()
        .flat_map(|m| {
            m.choices
                .iter()
                .map(|c| (key(&m.dimension, &c.label), c.mean))
        })
        .collect();
    let (x, y): (Vec<f64>, Vec<f64>) = a
        .marginals
        .iter()
        .flat_map(|m| {
            m.choices
                .iter()
                .filter_map(|c| mb.get(&key(&m.dimension, &c.label)).map(|v| (c.mean, *v)))
                .collect::<Vec<_>>()
        })
        .unzip();
    spearman(&x, &y)
}
