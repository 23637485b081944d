//! Motifs of the best trials: options and sub-cells (pairs and triples of options on different
//! decisions) that the top trials hold more often than the trials overall.
//!
//! For a motif held by `k` of the `n` top trials and by `K` of all `N` trials, the lift is
//! `(k/n) / (K/N)` and the p-value is the hypergeometric tail `P(X >= k)`: the chance that `n`
//! trials drawn at random from the study hold it at least `k` times (Fisher's exact test, one
//! sided). Q-values correct for the many motifs tested (Benjamini-Hochberg). The co-occurrence
//! lift of a pair or triple compares its count among the top with the count its options would
//! have there if they were independent: above 1, the options come together more than chance.

use super::data::{DimensionKind, Observations};
use serde::{Deserialize, Serialize};

/// One option of one decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MotifItem {
    /// The decision.
    pub dimension: String,
    /// The option taken.
    pub option: String,
}

/// An option or a combination of options and how much the top trials favour it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Motif {
    /// The options (on different decisions).
    pub items: Vec<MotifItem>,
    /// Top trials holding it.
    pub top_count: usize,
    /// Trials holding it.
    pub all_count: usize,
    /// Its share among the top trials.
    pub top_share: f64,
    /// Its share among all trials.
    pub all_share: f64,
    /// `top_share / all_share`.
    pub lift: f64,
    /// Count among the top over the count expected if its options were independent there
    /// (`None` for a single option).
    pub cooccurrence_lift: Option<f64>,
    /// One-sided hypergeometric p-value of holding it `top_count` times or more.
    pub p_value: f64,
    /// Benjamini-Hochberg q-value over every motif tested.
    pub q_value: f64,
}

/// The motifs of a study's top trials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Motifs {
    /// The share of trials counted as top (0.1: the top decile).
    pub top_fraction: f64,
    /// Top trials.
    pub top_trials: usize,
    /// Trials compared against.
    pub trials: usize,
    /// Fewest top trials a motif had to be held by to be tested.
    pub min_support: usize,
    /// Motifs tested (options, pairs and triples).
    pub tested: usize,
    /// The single options the top favours most, by p-value.
    pub options: Vec<Motif>,
    /// Pairs and triples, by p-value.
    pub combinations: Vec<Motif>,
}

/// Settings of the motif search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MotifConfig {
    /// The share of trials counted as top.
    pub top_fraction: f64,
    /// Fewest top trials a motif must be held by, as a share of the top (at least 2 trials).
    pub min_support: f64,
    /// Largest combination (1 to 3).
    pub max_size: usize,
    /// Single options and combinations kept in the output, each.
    pub keep: usize,
}

impl Default for MotifConfig {
    fn default() -> Self {
        MotifConfig {
            top_fraction: 0.1,
            min_support: 0.2,
            max_size: 3,
            keep: 20,
        }
    }
}

/// Most candidate combinations of one size examined (the most frequent first).
const MAX_CANDIDATES: usize = 5000;

/// The motifs of `obs`'s top trials (by utility: larger is better); `None` with fewer than two
/// top trials or no categorical decision.
pub fn motifs(obs: &Observations, cfg: &MotifConfig) -> Option<Motifs> {
    let n_all = obs.rows.len();
    let n_top = ((n_all as f64 * cfg.top_fraction).ceil() as usize).min(n_all);
    if n_top < 2 {
        return None;
    }
    let util = obs.utilities();
    let mut order: Vec<usize> = (0..n_all).collect();
    order.sort_by(|&a, &b| util[b].total_cmp(&util[a]).then(a.cmp(&b)));
    let mut is_top = vec![false; n_all];
    for &i in &order[..n_top] {
        is_top[i] = true;
    }
    // One bitset over all rows per (dimension, option).
    let words = n_all.div_ceil(64);
    let mut top_mask = vec![0u64; words];
    for (i, _) in is_top.iter().enumerate().filter(|(_, t)| **t) {
        top_mask[i / 64] |= 1 << (i % 64);
    }
    let mut items: Vec<(usize, usize, Vec<u64>)> = Vec::new();
    for (d, dim) in obs.dimensions.iter().enumerate() {
        if let DimensionKind::Categorical { options } = &dim.kind {
            for o in 0..options.len() {
                let mut bits = vec![0u64; words];
                for (i, r) in obs.rows.iter().enumerate() {
                    if r.x[d] as usize == o {
                        bits[i / 64] |= 1 << (i % 64);
                    }
                }
                items.push((d, o, bits));
            }
        }
    }
    if items.is_empty() {
        return None;
    }
    let min_support = ((n_top as f64 * cfg.min_support).ceil() as usize).max(2);
    let count = |bits: &[u64]| -> usize { bits.iter().map(|w| w.count_ones() as usize).sum() };
    let and = |a: &[u64], b: &[u64]| -> Vec<u64> { a.iter().zip(b).map(|(x, y)| x & y).collect() };
    let top_count = |bits: &[u64]| count(&and(bits, &top_mask));
    let item_top: Vec<usize> = items.iter().map(|(_, _, b)| top_count(b)).collect();
    let lnf = ln_factorials(n_all);

    struct Candidate {
        members: Vec<usize>,
        bits: Vec<u64>,
        top: usize,
    }
    let mut level: Vec<Candidate> = (0..items.len())
        .filter(|&i| item_top[i] >= min_support)
        .map(|i| Candidate {
            members: vec![i],
            bits: items[i].2.clone(),
            top: item_top[i],
        })
        .collect();
    let frequent_items: Vec<usize> = level.iter().map(|c| c.members[0]).collect();
    let mut found: Vec<(Vec<usize>, usize, usize)> = Vec::new();
    for size in 1..=cfg.max_size.clamp(1, 3) {
        for c in &level {
            found.push((c.members.clone(), c.top, count(&c.bits)));
        }
        if size == cfg.max_size.clamp(1, 3) {
            break;
        }
        let mut next = Vec::new();
        for c in &level {
            let last = *c.members.last().unwrap_or(&0);
            for &j in frequent_items.iter().filter(|&&j| j > last) {
                if c.members.iter().any(|&m| items[m].0 == items[j].0) {
                    continue;
                }
                let bits = and(&c.bits, &items[j].2);
                let top = top_count(&bits);
                if top >= min_support {
                    let mut members = c.members.clone();
                    members.push(j);
                    next.push(Candidate { members, bits, top });
                }
            }
        }
        next.sort_by_key(|c| std::cmp::Reverse(c.top));
        next.truncate(MAX_CANDIDATES);
        level = next;
        if level.is_empty() {
            break;
        }
    }
    let tested = found.len();
    let mut all: Vec<Motif> = found
        .iter()
        .map(|(members, k, big_k)| {
            let top_share = *k as f64 / n_top as f64;
            let all_share = *big_k as f64 / n_all as f64;
            let cooccurrence_lift = (members.len() > 1).then(|| {
                let expected: f64 = members
                    .iter()
                    .map(|&m| item_top[m] as f64 / n_top as f64)
                    .product::<f64>()
                    * n_top as f64;
                *k as f64 / expected
            });
            Motif {
                items: members
                    .iter()
                    .map(|&m| {
                        let (d, o, _) = &items[m];
                        let dim = &obs.dimensions[*d];
                        MotifItem {
                            dimension: dim.name.clone(),
                            option: dim.options().map(|x| x[*o].clone()).unwrap_or_default(),
                        }
                    })
                    .collect(),
                top_count: *k,
                all_count: *big_k,
                top_share,
                all_share,
                lift: if all_share > 0.0 {
                    top_share / all_share
                } else {
                    f64::NAN
                },
                cooccurrence_lift,
                p_value: hypergeometric_tail(&lnf, n_all, *big_k, n_top, *k),
                q_value: f64::NAN,
            }
        })
        .collect();
    benjamini_hochberg(&mut all);
    all.sort_by(|a, b| {
        a.p_value
            .total_cmp(&b.p_value)
            .then(b.lift.total_cmp(&a.lift))
            .then(a.items.len().cmp(&b.items.len()))
    });
    let (mut options, mut combinations): (Vec<Motif>, Vec<Motif>) =
        all.into_iter().partition(|m| m.items.len() == 1);
    options.truncate(cfg.keep);
    combinations.truncate(cfg.keep);
    Some(Motifs {
        top_fraction: cfg.top_fraction,
        top_trials: n_top,
        trials: n_all,
        min_support,
        tested,
        options,
        combinations,
    })
}

/// `ln k!` for `k` in `0..=n`.
fn ln_factorials(n: usize) -> Vec<f64> {
    let mut v = vec![0.0; n + 1];
    for k in 1..=n {
        v[k] = v[k - 1] + (k as f64).ln();
    }
    v
}

/// `P(X >= k)` for `X` hypergeometric: `n` draws without replacement from `big_n` items of
/// which `big_k` are marked.
pub fn hypergeometric_tail_exact(big_n: usize, big_k: usize, n: usize, k: usize) -> f64 {
    hypergeometric_tail(&ln_factorials(big_n), big_n, big_k, n, k)
}

fn hypergeometric_tail(lnf: &[f64], big_n: usize, big_k: usize, n: usize, k: usize) -> f64 {
    let ln_choose = |a: usize, b: usize| lnf[a] - lnf[b] - lnf[a - b];
    let lo = k.max(n.saturating_sub(big_n - big_k));
    let hi = big_k.min(n);
    if lo > hi {
        return 0.0;
    }
    let denom = ln_choose(big_n, n);
    let p: f64 = (lo..=hi)
        .map(|j| (ln_choose(big_k, j) + ln_choose(big_n - big_k, n - j) - denom).exp())
        .sum();
    p.min(1.0)
}

/// Fills the Benjamini-Hochberg q-values of `motifs` from their p-values.
fn benjamini_hochberg(motifs: &mut [Motif]) {
    let m = motifs.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| motifs[b].p_value.total_cmp(&motifs[a].p_value));
    let mut running = 1.0f64;
    for (pos, &i) in order.iter().enumerate() {
        let rank = m - pos;
        running = running.min(motifs[i].p_value * m as f64 / rank as f64);
        motifs[i].q_value = running.min(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypergeometric_tail_matches_hand_computed_values() {
        // 2 marked of 4, draw 2: P(X>=2) = 1/6, P(X>=1) = 5/6.
        assert!((hypergeometric_tail_exact(4, 2, 2, 2) - 1.0 / 6.0).abs() < 1e-12);
        assert!((hypergeometric_tail_exact(4, 2, 2, 1) - 5.0 / 6.0).abs() < 1e-12);
        assert!((hypergeometric_tail_exact(10, 3, 4, 0) - 1.0).abs() < 1e-12);
        assert_eq!(hypergeometric_tail_exact(10, 3, 4, 4), 0.0);
    }
}
