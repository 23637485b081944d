//! A regression random forest over mixed categorical and numeric dimensions: the surrogate the
//! functional ANOVA reads.
//!
//! Each member of the forest is fitted to its own bootstrap resample in two steps: an additive
//! model (ridge regression on one indicator per option, or per bin of a numeric dimension;
//! [`Additive`]) and then a tree grown on the additive model's residuals. The additive part
//! extrapolates main effects to regions the search rarely visited more steadily than a tree,
//! whose prediction there copies whichever leaf the region falls into; the trees add the
//! interactions where the data show them. Each member draws its additive penalty from a range
//! ([`ForestConfig::additive_ridge_max`]), so the members disagree, and the intervals widen,
//! where an effect rests on extrapolation rather than on trials. With `additive_ridge: None`
//! the members are plain trees (a classic random forest).
//!
//! Trees are grown by squared-error (variance) reduction. A
//! categorical split sends a subset of options left: the options seen at the node are sorted
//! by their mean response and the best prefix is taken (optimal for squared error, Breiman
//! 1984); options not seen at the node go to a random side, so that the trees disagree where the
//! data say nothing. Numeric dimensions are split at midpoints on their unit scale
//! ([`super::Dimension::unit`]), so every threshold lies in `[0, 1]`.

use super::data::{Dimension, DimensionKind};
use super::structure::Structure;
use nascent_core::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Settings of the forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForestConfig {
    /// Number of trees.
    pub trees: usize,
    /// Fewest samples in a leaf.
    pub min_samples_leaf: usize,
    /// Fewest samples a node needs to be split.
    pub min_samples_split: usize,
    /// Share of the dimensions tried at each split, in `(0, 1]` (at least one is tried).
    pub max_features: f64,
    /// Deepest a tree grows.
    pub max_depth: usize,
    /// Most samples drawn for one member's resample (all of them, with replacement, up to this
    /// many): bounds the cost on large studies.
    pub max_samples: usize,
    /// Seed of the bootstrap resamples and the feature draws.
    pub seed: u64,
    /// Ridge penalty of the additive model fitted before each tree (on indicators of the
    /// options, so the penalty is in squared objective units per option); `None` grows plain
    /// trees on the objective.
    pub additive_ridge: Option<f64>,
    /// When set (above `additive_ridge`), each member draws its options' penalty log-uniformly
    /// from `additive_ridge` to this: a hyperprior on how far the options' effects stand from
    /// zero, instead of one guessed value. Where the trials pin an effect down, every penalty
    /// gives about the same; where the search left a region to extrapolation (an option tried
    /// only in a few cells far from where the search settled), the members disagree and the
    /// intervals say so.
    pub additive_ridge_max: Option<f64>,
    /// Ridge penalty of the cell's structure features ([`Structure`]: whether the cell
    /// connects, whether a connecting path has a convolution), fitted with the additive model
    /// where the study's decisions form a cell; `None` leaves them out. Lighter than the
    /// options' penalty: a handful of broken cells is all a search shows of them.
    pub structure_ridge: Option<f64>,
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            trees: 128,
            min_samples_leaf: 1,
            min_samples_split: 3,
            max_features: 1.0,
            max_depth: 48,
            max_samples: 1000,
            seed: 0,
            additive_ridge: Some(0.01),
            additive_ridge_max: Some(10000.0),
            structure_ridge: Some(0.1),
        }
    }
}

/// How a split sends a sample left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// Categorical: the options (bit `o` for option `o`) that go left.
    Options(u64),
    /// Numeric: values whose unit-scale position is below the threshold go left.
    Below(f64),
}

/// A node of a tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A leaf predicting the mean of its samples.
    Leaf {
        /// The prediction.
        value: f64,
        /// Samples (with bootstrap repeats) that reached it.
        samples: usize,
    },
    /// An inner node.
    Split {
        /// The dimension split on.
        dim: usize,
        /// Which samples go left.
        rule: Rule,
        /// Index of the left child.
        left: usize,
        /// Index of the right child.
        right: usize,
    },
}

/// One regression tree; node 0 is the root.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    /// The nodes.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The prediction for a point given on the unit scale (categorical values as indices).
    pub fn predict_unit(&self, u: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            match &self.nodes[i] {
                Node::Leaf { value, .. } => return *value,
                Node::Split {
                    dim,
                    rule,
                    left,
                    right,
                } => {
                    i = if goes_left(*rule, u[*dim]) {
                        *left
                    } else {
                        *right
                    }
                }
            }
        }
    }
}

fn goes_left(rule: Rule, v: f64) -> bool {
    match rule {
        Rule::Options(mask) => {
            let o = v as u32;
            o < 64 && mask & (1u64 << o) != 0
        }
        Rule::Below(t) => v < t,
    }
}

/// Bins of a numeric dimension in the additive model (equal widths on its unit scale).
pub const NUMERIC_BINS: usize = 8;

/// An additive model: an intercept plus one value per option (or numeric bin) of each
/// dimension, fitted by ridge regression.
#[derive(Clone, Debug, PartialEq)]
pub struct Additive {
    /// The intercept.
    pub intercept: f64,
    /// Per dimension, the value of each option (categorical) or of each of [`NUMERIC_BINS`]
    /// bins (numeric).
    pub effects: Vec<Vec<f64>>,
    /// The cell's structure features and their coefficients (`None`: not fitted).
    pub structure: Option<(Arc<Structure>, Vec<f64>)>,
}

impl Additive {
    /// The slot (option or bin) of a unit-scale value of dimension `d`.
    pub fn slot(dims: &[Dimension], d: usize, u: f64) -> usize {
        match dims[d].options() {
            Some(_) => u as usize,
            None => ((u * NUMERIC_BINS as f64) as usize).min(NUMERIC_BINS - 1),
        }
    }

    /// The prediction at a unit-scale point.
    pub fn predict_unit(&self, dims: &[Dimension], u: &[f64]) -> f64 {
        self.intercept
            + self
                .effects
                .iter()
                .enumerate()
                .map(|(d, e)| e.get(Self::slot(dims, d, u[d])).copied().unwrap_or(0.0))
                .sum::<f64>()
            + self.structure.as_ref().map_or(0.0, |(s, c)| {
                s.features(u).iter().zip(c).map(|(f, c)| f * c).sum()
            })
    }

    /// Slots of dimension `d`: its options, or [`NUMERIC_BINS`].
    pub fn slots(dims: &[Dimension], d: usize) -> usize {
        dims[d].options().map_or(NUMERIC_BINS, |o| o.len())
    }

    /// Ridge regression of `y` on the indicators of the samples `idx` (repeats count), and on
    /// the structure features with their own penalty when `structure` is given.
    fn fit(
        dims: &[Dimension],
        u: &[Vec<f64>],
        y: &[f64],
        idx: &[usize],
        lambda: f64,
        structure: Option<(&Arc<Structure>, f64)>,
    ) -> Self {
        let sizes: Vec<usize> = dims
            .iter()
            .map(|d| d.options().map_or(NUMERIC_BINS, |o| o.len()))
            .collect();
        let offsets: Vec<usize> = sizes
            .iter()
            .scan(0, |acc, s| {
                let o = *acc;
                *acc += s;
                Some(o)
            })
            .collect();
        let q: usize = sizes.iter().sum();
        let k = structure.map_or(0, |(s, _)| s.names.len());
        let p = q + k;
        let n = idx.len().max(1) as f64;
        let mean = idx.iter().map(|&i| y[i]).sum::<f64>() / n;
        let mut a = vec![0.0; p * p];
        let mut b = vec![0.0; p];
        // (column, value) of each sample's non-zero features.
        let mut active: Vec<(usize, f64)> = Vec::with_capacity(dims.len() + k);
        for &i in idx {
            active.clear();
            active.extend(
                (0..dims.len()).map(|d| (offsets[d] + Additive::slot(dims, d, u[i][d]), 1.0)),
            );
            if let Some((s, _)) = structure {
                active.extend(
                    s.features(&u[i])
                        .into_iter()
                        .enumerate()
                        .map(|(f, v)| (q + f, v)),
                );
            }
            for &(j, vj) in &active {
                b[j] += vj * (y[i] - mean);
                for &(l, vl) in &active {
                    a[j * p + l] += vj * vl;
                }
            }
        }
        for j in 0..p {
            let penalty = if j < q {
                lambda
            } else {
                structure.map_or(lambda, |(_, l)| l)
            };
            a[j * p + j] += penalty.max(1e-9);
        }
        let beta = solve_spd(&mut a, p, b).unwrap_or_else(|| vec![0.0; p]);
        Additive {
            intercept: mean,
            effects: sizes
                .iter()
                .zip(&offsets)
                .map(|(&s, &o)| beta[o..o + s].to_vec())
                .collect(),
            structure: structure.map(|(s, _)| (Arc::clone(s), beta[q..].to_vec())),
        }
    }
}

/// Solves `a x = b` for a symmetric positive definite `a` (row-major, `n` by `n`) by Cholesky;
/// `None` if `a` is not positive definite.
fn solve_spd(a: &mut [f64], n: usize, mut b: Vec<f64>) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * n + k] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[k * n + i] * b[k];
        }
        b[i] = s / a[i * n + i];
    }
    Some(b)
}

/// One member of the forest: an optional additive model and a tree on its residuals.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The additive part (`None` for a plain tree).
    pub additive: Option<Additive>,
    /// The tree.
    pub tree: Tree,
}

impl Member {
    /// The prediction at a unit-scale point.
    pub fn predict_unit(&self, dims: &[Dimension], u: &[f64]) -> f64 {
        self.tree.predict_unit(u)
            + self
                .additive
                .as_ref()
                .map_or(0.0, |a| a.predict_unit(dims, u))
    }
}

/// A fitted forest.
#[derive(Clone, Debug)]
pub struct Forest {
    /// The dimensions it was fitted over.
    pub dimensions: Vec<Dimension>,
    /// The members, one per bootstrap resample.
    pub members: Vec<Member>,
    /// Out-of-bag prediction of each training sample (`NaN` where every member saw it).
    pub oob: Vec<f64>,
}

impl Forest {
    /// Fits a forest to points `x` (one value per dimension, as in
    /// [`super::Observation::x`]) and responses `y`.
    pub fn fit(dimensions: &[Dimension], x: &[Vec<f64>], y: &[f64], cfg: &ForestConfig) -> Self {
        let n = x.len();
        let u: Vec<Vec<f64>> = x.iter().map(|row| to_unit(dimensions, row)).collect();
        let cols: Vec<Vec<f64>> = (0..dimensions.len())
            .map(|d| u.iter().map(|r| r[d]).collect())
            .collect();
        let draws = n.min(cfg.max_samples.max(1));
        let structure = match (cfg.additive_ridge, cfg.structure_ridge) {
            (Some(_), Some(l)) => Structure::detect(dimensions, |d| Additive::slots(dimensions, d))
                .map(|s| (Arc::new(s), l)),
            _ => None,
        };
        let mut rng = Rng::new(cfg.seed);
        let mut members = Vec::with_capacity(cfg.trees);
        let mut oob_sum = vec![0.0; n];
        let mut oob_n = vec![0usize; n];
        for _ in 0..cfg.trees {
            let mut trng = rng.fork();
            let mut idx: Vec<usize> = if n == 0 {
                Vec::new()
            } else {
                (0..draws).map(|_| trng.below(n)).collect()
            };
            let mut in_bag = vec![false; n];
            for &i in &idx {
                in_bag[i] = true;
            }
            let additive = cfg.additive_ridge.map(|lo| {
                let lambda = match cfg.additive_ridge_max {
                    Some(hi) if hi > lo && lo > 0.0 => {
                        (lo.ln() + trng.uniform() * (hi.ln() - lo.ln())).exp()
                    }
                    _ => lo,
                };
                let s = structure.as_ref().map(|(s, l)| (s, *l));
                Additive::fit(dimensions, &u, y, &idx, lambda, s)
            });
            let target: Vec<f64> = match &additive {
                Some(a) => y
                    .iter()
                    .zip(&u)
                    .map(|(v, p)| v - a.predict_unit(dimensions, p))
                    .collect(),
                None => y.to_vec(),
            };
            let mut grower = Grower {
                dims: dimensions,
                cols: &cols,
                y: &target,
                cfg,
                rng: trng,
                nodes: Vec::new(),
            };
            grower.grow(&mut idx, 0);
            let member = Member {
                additive,
                tree: Tree {
                    nodes: grower.nodes,
                },
            };
            for i in 0..n {
                if !in_bag[i] {
                    oob_sum[i] += member.predict_unit(dimensions, &u[i]);
                    oob_n[i] += 1;
                }
            }
            members.push(member);
        }
        let oob = oob_sum
            .iter()
            .zip(&oob_n)
            .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
            .collect();
        Forest {
            dimensions: dimensions.to_vec(),
            members,
            oob,
        }
    }

    /// The mean prediction of the members at `x`.
    pub fn predict(&self, x: &[f64]) -> f64 {
        let u = to_unit(&self.dimensions, x);
        self.members
            .iter()
            .map(|m| m.predict_unit(&self.dimensions, &u))
            .sum::<f64>()
            / self.members.len().max(1) as f64
    }
}

/// A point on the unit scale of its dimensions.
pub(crate) fn to_unit(dims: &[Dimension], x: &[f64]) -> Vec<f64> {
    dims.iter().zip(x).map(|(d, &v)| d.unit(v)).collect()
}

struct Grower<'a> {
    dims: &'a [Dimension],
    /// The points column by column (dimension-major), on the unit scale.
    cols: &'a [Vec<f64>],
    y: &'a [f64],
    cfg: &'a ForestConfig,
    rng: Rng,
    nodes: Vec<Node>,
}

/// The best split found at a node.
struct Best {
    gain: f64,
    dim: usize,
    rule: Rule,
}

impl Grower<'_> {
    /// Grows the subtree of the samples `idx` and returns its node index.
    fn grow(&mut self, idx: &mut [usize], depth: usize) -> usize {
        let n = idx.len();
        let sum: f64 = idx.iter().map(|&i| self.y[i]).sum();
        let mean = if n > 0 { sum / n as f64 } else { 0.0 };
        let at = self.nodes.len();
        self.nodes.push(Node::Leaf {
            value: mean,
            samples: n,
        });
        if n < self.cfg.min_samples_split.max(2)
            || n < 2 * self.cfg.min_samples_leaf.max(1)
            || depth >= self.cfg.max_depth
        {
            return at;
        }
        let sse: f64 = idx.iter().map(|&i| (self.y[i] - mean).powi(2)).sum();
        if sse <= 1e-12 * (1.0 + mean * mean) * n as f64 {
            return at;
        }
        let Some(best) = self.best_split(idx, sum) else {
            return at;
        };
        // Partition idx: left samples first.
        let mut k = 0;
        for j in 0..n {
            if goes_left(best.rule, self.cols[best.dim][idx[j]]) {
                idx.swap(j, k);
                k += 1;
            }
        }
        if k == 0 || k == n {
            return at;
        }
        let (l, r) = idx.split_at_mut(k);
        let left = self.grow(l, depth + 1);
        let right = self.grow(r, depth + 1);
        self.nodes[at] = Node::Split {
            dim: best.dim,
            rule: best.rule,
            left,
            right,
        };
        at
    }

    fn best_split(&mut self, idx: &[usize], sum: f64) -> Option<Best> {
        let p = self.dims.len();
        let tries = ((p as f64 * self.cfg.max_features).ceil() as usize).clamp(1, p.max(1));
        let candidates = self.rng.sample_indices(p, tries);
        let n = idx.len() as f64;
        let base = sum * sum / n;
        let min_leaf = self.cfg.min_samples_leaf.max(1);
        let mut best: Option<Best> = None;
        for dim in candidates {
            let found = match &self.dims[dim].kind {
                DimensionKind::Categorical { options } => {
                    self.categorical_split(idx, dim, options.len(), min_leaf)
                }
                DimensionKind::Numeric { .. } => self.numeric_split(idx, dim, min_leaf),
            };
            if let Some((score, rule)) = found {
                let gain = score - base;
                if gain > 1e-12 && best.as_ref().is_none_or(|b| gain > b.gain) {
                    best = Some(Best { gain, dim, rule });
                }
            }
        }
        best
    }

    /// The best subset split on a categorical dimension: (sL²/nL + sR²/nR, rule).
    fn categorical_split(
        &mut self,
        idx: &[usize],
        dim: usize,
        options: usize,
        min_leaf: usize,
    ) -> Option<(f64, Rule)> {
        let mut sums = vec![0.0; options];
        let mut counts = vec![0usize; options];
        for &i in idx {
            let o = self.cols[dim][i] as usize;
            if o < options {
                sums[o] += self.y[i];
                counts[o] += 1;
            }
        }
        let mut present: Vec<usize> = (0..options).filter(|&o| counts[o] > 0).collect();
        if present.len() < 2 {
            return None;
        }
        present.sort_by(|&a, &b| {
            (sums[a] / counts[a] as f64)
                .total_cmp(&(sums[b] / counts[b] as f64))
                .then(a.cmp(&b))
        });
        let total_n: usize = counts.iter().sum();
        let total_s: f64 = sums.iter().sum();
        let (mut ls, mut ln) = (0.0, 0usize);
        let mut best: Option<(f64, usize)> = None;
        for (k, &o) in present.iter().enumerate().take(present.len() - 1) {
            ls += sums[o];
            ln += counts[o];
            let rn = total_n - ln;
            if ln < min_leaf || rn < min_leaf {
                continue;
            }
            let rs = total_s - ls;
            let score = ls * ls / ln as f64 + rs * rs / rn as f64;
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, k));
            }
        }
        let (score, k) = best?;
        let mut mask = 0u64;
        for &o in &present[..=k] {
            mask |= 1u64 << o;
        }
        for (o, &c) in counts.iter().enumerate() {
            if c == 0 && self.rng.bernoulli(0.5) {
                mask |= 1u64 << o;
            }
        }
        Some((score, Rule::Options(mask)))
    }

    /// The best threshold on a numeric dimension (unit scale): (sL²/nL + sR²/nR, rule).
    fn numeric_split(&self, idx: &[usize], dim: usize, min_leaf: usize) -> Option<(f64, Rule)> {
        let mut pts: Vec<(f64, f64)> = idx
            .iter()
            .map(|&i| (self.cols[dim][i], self.y[i]))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = pts.len();
        let total: f64 = pts.iter().map(|p| p.1).sum();
        let mut ls = 0.0;
        let mut best: Option<(f64, f64)> = None;
        for k in 0..n - 1 {
            ls += pts[k].1;
            let ln = k + 1;
            if pts[k].0 == pts[k + 1].0 || ln < min_leaf || n - ln < min_leaf {
                continue;
            }
            let rs = total - ls;
            let score = ls * ls / ln as f64 + rs * rs / (n - ln) as f64;
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, (pts[k].0 + pts[k + 1].0) / 2.0));
            }
        }
        best.map(|(s, t)| (s, Rule::Below(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_learns_a_categorical_and_a_numeric_step() {
        let dims = vec![
            Dimension::categorical("op", vec!["a".into(), "b".into(), "c".into()]),
            Dimension::numeric("lr", 0.0, 1.0, false),
        ];
        let mut x = Vec::new();
        let mut y = Vec::new();
        for o in 0..3 {
            for k in 0..20 {
                let v = k as f64 / 19.0;
                x.push(vec![o as f64, v]);
                y.push(if o == 1 { 5.0 } else { 0.0 } + if v > 0.5 { 1.0 } else { 0.0 });
            }
        }
        for additive_ridge in [None, Some(10.0)] {
            let cfg = ForestConfig {
                additive_ridge,
                ..ForestConfig::default()
            };
            let f = Forest::fit(&dims, &x, &y, &cfg);
            assert!(
                (f.predict(&[1.0, 0.9]) - 6.0).abs() < 0.3,
                "{additive_ridge:?}"
            );
            assert!(
                (f.predict(&[2.0, 0.1]) - 0.0).abs() < 0.3,
                "{additive_ridge:?}"
            );
        }
        let f = Forest::fit(&dims, &x, &y, &ForestConfig::default());
        let r2 = {
            let m = y.iter().sum::<f64>() / y.len() as f64;
            let ss: f64 = y.iter().map(|v| (v - m).powi(2)).sum();
            let res: f64 = f.oob.iter().zip(&y).map(|(p, v)| (p - v).powi(2)).sum();
            1.0 - res / ss
        };
        assert!(r2 > 0.9, "out-of-bag R² {r2}");
    }
}
