//! Functional ANOVA (Hutter, Hoos and Leyton-Brown, 2014): the variance of a function over the
//! uniform distribution on its space, split into the main effect of each dimension.
//!
//! For a tree the decomposition is exact: every leaf is a box (a subset of options on each
//! categorical dimension, an interval on each numeric one), so the mean of the tree with one
//! dimension held fixed is a sum over leaves of leaf value times the box's measure on the other
//! dimensions. Averaging over uniformly distributed inputs is what removes the bias of a
//! search's samples: the forest is fitted where the search looked, the decomposition weighs the
//! whole space equally.
//!
//! A member's structure features ([`super::Structure`]) enter through their averages over the
//! space: their mean and main effects are exact; of their interactions, the variance counts
//! in the total but not the covariance with the tree's (the importance shares of the ensemble
//! take their total variance from points, which counts everything).
//!
//! [`exact_main_effects`] computes the same decomposition from a full factorial table (every
//! combination of options once): the truth the estimate is checked against.

use super::data::{Dimension, DimensionKind, Observations};
use super::forest::{Additive, Member, NUMERIC_BINS, Node, Rule, Tree};
use nascent_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Points at which the main effect of a numeric dimension is evaluated.
pub const NUMERIC_GRID: usize = 16;

/// The decomposition of one function (a tree, or a table).
#[derive(Clone, Debug, PartialEq)]
pub struct Decomposition {
    /// Mean over the uniform distribution.
    pub mean: f64,
    /// Total variance over the uniform distribution.
    pub variance: f64,
    /// Variance of each dimension's main effect.
    pub main_variance: Vec<f64>,
    /// The function averaged over all other dimensions, with this dimension held at each
    /// option (categorical) or at each of [`NUMERIC_GRID`] evenly spaced points of its unit
    /// scale (numeric).
    pub marginals: Vec<Vec<f64>>,
}

impl Decomposition {
    /// The share of the variance each dimension explains alone (0 when there is no variance).
    pub fn fractions(&self) -> Vec<f64> {
        self.main_variance
            .iter()
            .map(|v| {
                if self.variance > 0.0 {
                    v / self.variance
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// The unit-scale points at which a numeric marginal is evaluated.
pub fn grid_points() -> Vec<f64> {
    (0..NUMERIC_GRID)
        .map(|g| (g as f64 + 0.5) / NUMERIC_GRID as f64)
        .collect()
}

/// A leaf box on one dimension.
#[derive(Clone, Copy, Debug)]
enum Span {
    Options(u64),
    Interval(f64, f64),
}

impl Span {
    fn measure(self, options: usize) -> f64 {
        match self {
            Span::Options(m) => m.count_ones() as f64 / options as f64,
            Span::Interval(a, b) => (b - a).max(0.0),
        }
    }

    fn contains(self, v: f64) -> bool {
        match self {
            Span::Options(m) => (v as u32) < 64 && m & (1u64 << v as u32) != 0,
            Span::Interval(a, b) => v >= a && v < b,
        }
    }
}

/// The exact decomposition of one tree over the uniform distribution on `dims`.
pub fn decompose_tree(tree: &Tree, dims: &[Dimension]) -> Decomposition {
    decompose(tree, None, dims, TreeEffects::All)
}

/// The exact decomposition of one forest member (its additive part plus its tree).
///
/// The additive part `A` adds its centred component to each dimension's main effect, and the
/// total variance is `Var(A) + Var(T) + 2 Cov(A, T)`, where the covariance of an additive
/// function with the tree reduces to one term per dimension: its component times the tree's
/// main effect there.
pub fn decompose_member(member: &Member, dims: &[Dimension]) -> Decomposition {
    decompose_member_with(member, dims, TreeEffects::All)
}

/// What a member's tree contributes to the decomposition when the member has an additive part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeEffects {
    /// Its exact decomposition on every dimension: main effects and interactions
    /// ([`decompose_member`]).
    All,
    /// On the edges of a cell that the member's structure features describe
    /// ([`super::Structure`]), the tree adds interactions only: an edge's main effect is the
    /// additive part's (its options, and what they do to the cell's connectivity and its path
    /// through a convolution), and all the rest of the tree's variance counts as interaction.
    /// The tree's leaves carry what an option did in the cells the search visited (good cells,
    /// whose other edges hold the convolutions) to every cell with that option; the structure
    /// features say what it does across the whole space. Other dimensions (hyperparameters,
    /// decisions outside a cell) keep the tree's main effects. Validated on NAS-Bench-201
    /// (`bench/results/analysis_nb201.json`, `bench/results/analysis_tries/`): with the trees'
    /// main effects on the edges, the table's best operation fell outside the marked best set
    /// on some edge in 23 of 45 evolution runs on CIFAR-10; without, in 2.
    ExceptCellEdges,
}

/// The decomposition of one forest member with its tree's part as `trees` says (a member
/// without an additive part always decomposes in full).
pub fn decompose_member_with(
    member: &Member,
    dims: &[Dimension],
    trees: TreeEffects,
) -> Decomposition {
    decompose(&member.tree, member.additive.as_ref(), dims, trees)
}

fn decompose(
    tree: &Tree,
    additive: Option<&Additive>,
    dims: &[Dimension],
    trees: TreeEffects,
) -> Decomposition {
    // The dimensions whose main effects leave the tree's out.
    let additive_only: Vec<bool> = match (trees, additive.and_then(|a| a.structure.as_ref())) {
        (TreeEffects::ExceptCellEdges, Some((st, _))) => {
            (0..dims.len()).map(|d| st.is_edge(d)).collect()
        }
        _ => vec![false; dims.len()],
    };
    let sizes: Vec<usize> = dims
        .iter()
        .map(|d| d.options().map_or(1, |o| o.len()))
        .collect();
    let root: Vec<Span> = dims
        .iter()
        .map(|d| match &d.kind {
            DimensionKind::Categorical { options } => Span::Options(full_mask(options.len())),
            DimensionKind::Numeric { .. } => Span::Interval(0.0, 1.0),
        })
        .collect();
    // Leaves as (value, box); thresholds of each numeric dimension for its atoms.
    let mut leaves: Vec<(f64, Vec<Span>)> = Vec::new();
    let mut stack = vec![(0usize, root)];
    while let Some((i, bx)) = stack.pop() {
        match &tree.nodes[i] {
            Node::Leaf { value, .. } => leaves.push((*value, bx)),
            Node::Split {
                dim,
                rule,
                left,
                right,
            } => {
                let (mut l, mut r) = (bx.clone(), bx);
                match (*rule, l[*dim]) {
                    (Rule::Options(m), Span::Options(cur)) => {
                        l[*dim] = Span::Options(cur & m);
                        r[*dim] = Span::Options(cur & !m);
                    }
                    (Rule::Below(t), Span::Interval(a, b)) => {
                        l[*dim] = Span::Interval(a, t.min(b));
                        r[*dim] = Span::Interval(t.max(a), b);
                    }
                    _ => {}
                }
                stack.push((*left, l));
                stack.push((*right, r));
            }
        }
    }
    let weights: Vec<Vec<f64>> = leaves
        .iter()
        .map(|(_, bx)| bx.iter().zip(&sizes).map(|(s, &n)| s.measure(n)).collect())
        .collect();
    let mut mean = 0.0;
    let mut second = 0.0;
    for ((v, _), w) in leaves.iter().zip(&weights) {
        let p: f64 = w.iter().product();
        mean += v * p;
        second += v * v * p;
    }
    let tree_variance = (second - mean * mean).max(0.0);
    // The additive part: its mean over the space and each dimension's centred component.
    let (add_mean, centred): (f64, Vec<Vec<f64>>) = match additive {
        Some(a) => {
            let means: Vec<f64> = a
                .effects
                .iter()
                .map(|e| e.iter().sum::<f64>() / e.len().max(1) as f64)
                .collect();
            (
                a.intercept + means.iter().sum::<f64>(),
                a.effects
                    .iter()
                    .zip(&means)
                    .map(|(e, m)| e.iter().map(|v| v - m).collect())
                    .collect(),
            )
        }
        None => (0.0, vec![Vec::new(); dims.len()]),
    };
    // The structure features' part: linear in the features, so its mean and its main effects
    // come from the features' averages over the space; what it varies beyond its main effects
    // (the features are not additive) adds to the total variance.
    let mut centred = centred;
    let mut add_mean = add_mean;
    let mut structure_interactions = 0.0;
    if let Some((st, coef)) = additive.and_then(|a| a.structure.as_ref()) {
        let dot = |f: &[f64]| f.iter().zip(coef).map(|(f, c)| f * c).sum::<f64>();
        let g_mean = dot(&st.mean);
        add_mean += g_mean;
        let k = coef.len();
        let mut g_var = 0.0;
        for a in 0..k {
            for b in 0..k {
                g_var += coef[a] * coef[b] * st.covariance[a * k + b];
            }
        }
        let mut g_main = 0.0;
        for (e, slots) in centred.iter_mut().enumerate() {
            let cond = &st.conditional[e];
            if slots.len() < cond.len() {
                slots.resize(cond.len(), 0.0);
            }
            for (slot, f) in slots.iter_mut().zip(cond) {
                let c = dot(f) - g_mean;
                *slot += c;
                g_main += c * c / cond.len() as f64;
            }
        }
        structure_interactions = (g_var - g_main).max(0.0);
    }
    let component = |e: usize, u: f64| -> f64 {
        centred[e]
            .get(Additive::slot(dims, e, u))
            .copied()
            .unwrap_or(0.0)
    };
    let mut variance = tree_variance + structure_interactions;
    let grid = grid_points();
    let mut main_variance = Vec::with_capacity(dims.len());
    let mut marginals = Vec::with_capacity(dims.len());
    for (e, d) in dims.iter().enumerate() {
        // The atoms of dimension e: each option, or the intervals between thresholds.
        let (atoms, atom_weights): (Vec<f64>, Vec<f64>) = match &d.kind {
            DimensionKind::Categorical { options } => (
                (0..options.len()).map(|o| o as f64).collect(),
                vec![1.0 / options.len() as f64; options.len()],
            ),
            DimensionKind::Numeric { .. } => {
                let mut cuts: Vec<f64> = vec![0.0, 1.0];
                if additive.is_some() {
                    cuts.extend((1..NUMERIC_BINS).map(|b| b as f64 / NUMERIC_BINS as f64));
                }
                for (_, bx) in &leaves {
                    if let Span::Interval(a, b) = bx[e] {
                        cuts.push(a.clamp(0.0, 1.0));
                        cuts.push(b.clamp(0.0, 1.0));
                    }
                }
                cuts.sort_by(f64::total_cmp);
                cuts.dedup();
                let mids = cuts.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
                let ws = cuts.windows(2).map(|w| w[1] - w[0]).collect();
                (mids, ws)
            }
        };
        let f_at = |v: f64| -> f64 {
            let mut s = 0.0;
            for ((val, bx), w) in leaves.iter().zip(&weights) {
                if bx[e].contains(v) {
                    let rest: f64 = w
                        .iter()
                        .enumerate()
                        .filter(|(d, _)| *d != e)
                        .map(|(_, x)| x)
                        .product();
                    s += val * rest;
                }
            }
            s
        };
        // Without the tree's main effects, its part of the marginal is its mean everywhere.
        let f_at = |v: f64| if additive_only[e] { mean } else { f_at(v) };
        let values: Vec<f64> = atoms.iter().map(|&a| f_at(a)).collect();
        let (mut v, mut var_a, mut cov) = (0.0, 0.0, 0.0);
        for ((f, w), &at) in values.iter().zip(&atom_weights).zip(&atoms) {
            let c = component(e, at);
            v += w * (c + f - mean).powi(2);
            var_a += w * c * c;
            cov += w * c * (f - mean);
        }
        variance += var_a + 2.0 * cov;
        main_variance.push(v);
        let total = |u: f64, f: f64| add_mean + component(e, u) + f;
        marginals.push(match &d.kind {
            DimensionKind::Categorical { .. } => values
                .iter()
                .zip(&atoms)
                .map(|(f, &o)| total(o, *f))
                .collect(),
            DimensionKind::Numeric { .. } => grid.iter().map(|&g| total(g, f_at(g))).collect(),
        });
    }
    Decomposition {
        mean: mean + add_mean,
        variance: variance.max(0.0),
        main_variance,
        marginals,
    }
}

fn full_mask(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// The exact decomposition of a full factorial table over categorical dimensions: `obs` must
/// hold every combination of options exactly once (NAS-Bench-201: 5^6 = 15,625 cells).
pub fn exact_main_effects(obs: &Observations) -> Result<Decomposition> {
    let mut sizes = Vec::new();
    for d in &obs.dimensions {
        match d.options() {
            Some(o) => sizes.push(o.len()),
            None => {
                return Err(Error::config(
                    &d.name,
                    "the exact decomposition needs categorical dimensions",
                ));
            }
        }
    }
    let cells: usize = sizes.iter().product();
    if obs.rows.len() != cells {
        return Err(Error::config(
            "observations",
            format!(
                "a full factorial table of these dimensions has {cells} rows, got {}",
                obs.rows.len()
            ),
        ));
    }
    let mut seen = vec![false; cells];
    for r in &obs.rows {
        let mut k = 0usize;
        for (v, n) in r.x.iter().zip(&sizes) {
            k = k * n + *v as usize;
        }
        if std::mem::replace(&mut seen[k], true) {
            return Err(Error::config(
                format!("trial {}", r.number),
                "a combination of options appears twice in the table",
            ));
        }
    }
    let n = cells as f64;
    let mean = obs.rows.iter().map(|r| r.y).sum::<f64>() / n;
    let variance = obs.rows.iter().map(|r| (r.y - mean).powi(2)).sum::<f64>() / n;
    let mut main_variance = Vec::new();
    let mut marginals = Vec::new();
    for (e, &k) in sizes.iter().enumerate() {
        let mut sums = vec![0.0; k];
        for r in &obs.rows {
            sums[r.x[e] as usize] += r.y;
        }
        let m: Vec<f64> = sums.iter().map(|s| s / (n / k as f64)).collect();
        main_variance.push(m.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / k as f64);
        marginals.push(m);
    }
    Ok(Decomposition {
        mean,
        variance,
        main_variance,
        marginals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::forest::{Forest, ForestConfig};

    /// The per-tree decomposition equals brute force over every point of a small grid.
    #[test]
    fn tree_decomposition_matches_brute_force() {
        let dims = vec![
            Dimension::categorical("a", vec!["0".into(), "1".into(), "2".into()]),
            Dimension::categorical("b", vec!["0".into(), "1".into()]),
            Dimension::categorical("c", vec!["0".into(), "1".into(), "2".into(), "3".into()]),
        ];
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut rng = nascent_core::Rng::new(3);
        for _ in 0..60 {
            let p = vec![
                rng.below(3) as f64,
                rng.below(2) as f64,
                rng.below(4) as f64,
            ];
            y.push(p[0] * 2.0 + p[1] * p[2] + rng.normal() * 0.3);
            x.push(p);
        }
        let forest = Forest::fit(
            &dims,
            &x,
            &y,
            &ForestConfig {
                trees: 4,
                additive_ridge: None,
                ..ForestConfig::default()
            },
        );
        for tree in forest.members.iter().map(|m| &m.tree) {
            let d = decompose_tree(tree, &dims);
            let mut all = Vec::new();
            for a in 0..3 {
                for b in 0..2 {
                    for c in 0..4 {
                        all.push(([a as f64, b as f64, c as f64], 0.0));
                    }
                }
            }
            for p in &mut all {
                p.1 = tree.predict_unit(&p.0);
            }
            let n = all.len() as f64;
            let mean = all.iter().map(|p| p.1).sum::<f64>() / n;
            let var = all.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / n;
            assert!((d.mean - mean).abs() < 1e-9);
            assert!((d.variance - var).abs() < 1e-9);
            for (e, &k) in [3usize, 2, 4].iter().enumerate() {
                let mut m = vec![0.0; k];
                for p in &all {
                    m[p.0[e] as usize] += p.1 / (n / k as f64);
                }
                for (got, want) in d.marginals[e].iter().zip(&m) {
                    assert!((got - want).abs() < 1e-9);
                }
                let v = m.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / k as f64;
                assert!((d.main_variance[e] - v).abs() < 1e-9);
            }
        }
    }

    /// A member (additive part plus tree) decomposes like brute force over the grid too.
    #[test]
    fn member_decomposition_matches_brute_force() {
        let dims = vec![
            Dimension::categorical("a", vec!["0".into(), "1".into(), "2".into()]),
            Dimension::numeric("lr", 0.0, 1.0, false),
        ];
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut rng = nascent_core::Rng::new(5);
        for _ in 0..80 {
            let p = vec![rng.below(3) as f64, rng.uniform()];
            y.push(p[0] * 1.5 + if p[1] > 0.3 { p[0] } else { -1.0 } + rng.normal() * 0.2);
            x.push(p);
        }
        let forest = Forest::fit(
            &dims,
            &x,
            &y,
            &ForestConfig {
                trees: 3,
                ..ForestConfig::default()
            },
        );
        // A fine grid on the numeric dimension: 1,024 cells, exact up to cut positions.
        let fine = 1024;
        for m in &forest.members {
            let d = decompose_member(m, &dims);
            let mut vals = vec![vec![0.0; fine]; 3];
            for (a, row) in vals.iter_mut().enumerate() {
                for (k, v) in row.iter_mut().enumerate() {
                    *v = m.predict_unit(&dims, &[a as f64, (k as f64 + 0.5) / fine as f64]);
                }
            }
            let n = (3 * fine) as f64;
            let mean = vals.iter().flatten().sum::<f64>() / n;
            let var = vals
                .iter()
                .flatten()
                .map(|v| (v - mean).powi(2))
                .sum::<f64>()
                / n;
            assert!((d.mean - mean).abs() < 1e-2, "{} {}", d.mean, mean);
            assert!(
                (d.variance - var).abs() < 2e-2 * var.max(1.0),
                "{} {var}",
                d.variance
            );
            let ma: Vec<f64> = vals
                .iter()
                .map(|r| r.iter().sum::<f64>() / fine as f64)
                .collect();
            for (got, want) in d.marginals[0].iter().zip(&ma) {
                assert!((got - want).abs() < 1e-2);
            }
            let va = ma.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
            assert!((d.main_variance[0] - va).abs() < 2e-2 * va.max(1.0));
        }
    }

    /// A member with a cell's structure features (NAS-Bench-201's 6 edges, 15,625 cells, and
    /// a width that is no edge): its mean and marginal effects are those of brute force over
    /// every cell, and its total variance is at least its main effects' (the interactions of
    /// the features count in it).
    #[test]
    fn a_member_with_structure_features_decomposes_like_brute_force() {
        let mut dims = super::super::structure::tests::nb201();
        dims.push(Dimension::categorical(
            "width",
            vec!["8".into(), "16".into()],
        ));
        let st =
            super::super::Structure::detect(&dims, |d| dims[d].options().unwrap().len()).unwrap();
        let mut rng = nascent_core::Rng::new(3);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..150 {
            let p: Vec<f64> = (0..7)
                .map(|d| rng.below(if d < 6 { 5 } else { 2 }) as f64)
                .collect();
            let f = st.features(&p);
            y.push(40.0 * f[0] + 20.0 * f[1] + 3.0 * p[6] + p[3] + rng.normal());
            x.push(p);
        }
        let forest = Forest::fit(
            &dims,
            &x,
            &y,
            &ForestConfig {
                trees: 3,
                ..ForestConfig::default()
            },
        );
        for m in &forest.members {
            let (_, coef) = m.additive.as_ref().unwrap().structure.as_ref().unwrap();
            assert!(coef[1] > 5.0, "{coef:?}");
            let d = decompose_member(m, &dims);
            let n = 15_625 * 2;
            let mut marg = vec![vec![0.0; 5]; 7];
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                let p: Vec<f64> = (0..7)
                    .map(|e| ((i / 5usize.pow(e.min(6) as u32)) % if e < 6 { 5 } else { 2 }) as f64)
                    .collect();
                let v = m.predict_unit(&dims, &p);
                for (e, row) in marg.iter_mut().enumerate() {
                    row[p[e] as usize] += v;
                }
                vals.push(v);
            }
            let mean = vals.iter().sum::<f64>() / n as f64;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            assert!((d.mean - mean).abs() < 1e-9, "{} {mean}", d.mean);
            for (e, row) in marg.iter().enumerate() {
                let k = if e < 6 { 5 } else { 2 };
                for (o, total) in row.iter().take(k).enumerate() {
                    let want = total / (n / k) as f64;
                    assert!((d.marginals[e][o] - want).abs() < 1e-9, "{e} {o}");
                }
            }
            let main: f64 = d.main_variance.iter().sum();
            assert!(d.variance >= main - 1e-9 && d.variance > 0.0);
            assert!(
                (d.variance - var).abs() < 0.25 * var,
                "{} {var}",
                d.variance
            );
            // Without the tree's main effects on the cell's edges: there, the member decomposes
            // as its additive part plus the tree's mean; the width keeps the tree's effect.
            let ex = decompose_member_with(m, &dims, TreeEffects::ExceptCellEdges);
            let flat = Member {
                additive: m.additive.clone(),
                tree: Tree {
                    nodes: vec![Node::Leaf {
                        value: decompose_tree(&m.tree, &dims).mean,
                        samples: 1,
                    }],
                },
            };
            let f = decompose_member(&flat, &dims);
            for e in 0..7 {
                let want = if e < 6 { &f } else { &d };
                for o in 0..if e < 6 { 5 } else { 2 } {
                    assert!(
                        (ex.marginals[e][o] - want.marginals[e][o]).abs() < 1e-9,
                        "{e} {o}"
                    );
                }
                assert!(
                    (ex.main_variance[e] - want.main_variance[e]).abs() < 1e-9,
                    "{e}"
                );
            }
            assert!((ex.mean - d.mean).abs() < 1e-9);
        }
    }

    #[test]
    fn a_numeric_main_effect_is_integrated_over_its_intervals() {
        // y = 1 above 0.25 on the unit scale: mean 0.75, variance 0.1875, all of it main.
        let dims = vec![Dimension::numeric("lr", 0.0, 1.0, false)];
        let tree = Tree {
            nodes: vec![
                Node::Split {
                    dim: 0,
                    rule: Rule::Below(0.25),
                    left: 1,
                    right: 2,
                },
                Node::Leaf {
                    value: 0.0,
                    samples: 1,
                },
                Node::Leaf {
                    value: 1.0,
                    samples: 1,
                },
            ],
        };
        let d = decompose_tree(&tree, &dims);
        assert!((d.mean - 0.75).abs() < 1e-12);
        assert!((d.variance - 0.1875).abs() < 1e-12);
        assert!((d.main_variance[0] - 0.1875).abs() < 1e-12);
        assert_eq!(d.marginals[0].len(), NUMERIC_GRID);
        assert_eq!(d.marginals[0][0], 0.0);
        assert_eq!(d.marginals[0][NUMERIC_GRID - 1], 1.0);
    }
}
