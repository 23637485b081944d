//! What the decisions of a cell mean together: whether the cell connects its input to its
//! output at all, and whether some connecting path goes through a convolution.
//!
//! A search rarely visits broken cells, so a surrogate fitted to its trials has little data on
//! them; but over the uniform space they are common (an eighth of NAS-Bench-201's cells have no
//! path with a convolution), and they are what makes an operation valuable on average: a
//! convolution on the edge from the input to the output can never leave the cell without one.
//! These two features, known for every cell without training, let the surrogate carry what it
//! learnt from the few broken cells it saw to every other (`bench/results/analysis_nb201.json`).
//!
//! The features apply to a study whose decisions include the edges of one cell, named
//! `edge T<-S` (target and source nodes, as [`crate::ArchView`] names NAS-Bench-201's), with a
//! single input node (a source that is never a target) and the last node as output. Operations
//! named `none` or `zero` cut their edge; those whose name contains `conv` are convolutions.

use super::data::{Dimension, DimensionKind};
use nascent_core::Rng;

/// Points drawn to average the features over the space when it is too large to enumerate.
const SAMPLES: usize = 8192;
/// Spaces of the cell's edges up to this many combinations are enumerated.
const ENUMERATE_UP_TO: usize = 1 << 16;

/// The cell's graph over the study's dimensions, and the features' averages over the uniform
/// space.
#[derive(Clone, Debug, PartialEq)]
pub struct Structure {
    /// The dimension of each edge.
    edge_dims: Vec<usize>,
    /// Per edge, per option: whether it cuts the edge.
    cuts: Vec<Vec<bool>>,
    /// Per edge, per option: whether it is a convolution.
    convs: Vec<Vec<bool>>,
    /// Every path from the input to the output, as indices into the edges.
    paths: Vec<Vec<usize>>,
    /// Names of the features kept (those that vary over the space).
    pub names: Vec<&'static str>,
    /// Which of [`Structure::ALL`] are kept.
    kept: Vec<usize>,
    /// Mean of each kept feature over the uniform space.
    pub mean: Vec<f64>,
    /// Covariance of the kept features over the uniform space (row-major).
    pub covariance: Vec<f64>,
    /// Per dimension, per option (categorical) or per slot: the mean of each kept feature with
    /// that dimension held there (equal to [`Structure::mean`] off the cell's edges).
    pub conditional: Vec<Vec<Vec<f64>>>,
}

impl Structure {
    /// Every feature, in order.
    pub const ALL: [&'static str; 2] = ["connected", "conv_path"];

    /// The structure of the cell among `dims`, if they hold one (see the module's notes) and a
    /// feature varies over it.
    pub fn detect(dims: &[Dimension], slots: impl Fn(usize) -> usize) -> Option<Structure> {
        let mut edges = Vec::new();
        for (d, dim) in dims.iter().enumerate() {
            let (Some(rest), DimensionKind::Categorical { options }) =
                (dim.name.strip_prefix("edge "), &dim.kind)
            else {
                continue;
            };
            let (t, s) = rest.split_once("<-")?;
            let (t, s): (usize, usize) = (t.trim().parse().ok()?, s.trim().parse().ok()?);
            if s >= t {
                return None;
            }
            edges.push((d, s, t, options));
        }
        if edges.is_empty() {
            return None;
        }
        let targets: Vec<usize> = edges.iter().map(|e| e.2).collect();
        let mut inputs: Vec<usize> = edges
            .iter()
            .map(|e| e.1)
            .filter(|s| !targets.contains(s))
            .collect();
        inputs.sort_unstable();
        inputs.dedup();
        let [input] = inputs[..] else { return None };
        let output = *targets.iter().max()?;
        let mut paths = Vec::new();
        let mut stack = vec![(input, Vec::new())];
        while let Some((node, path)) = stack.pop() {
            if node == output {
                paths.push(path);
                continue;
            }
            for (i, e) in edges.iter().enumerate().filter(|(_, e)| e.1 == node) {
                let mut p: Vec<usize> = path.clone();
                p.push(i);
                stack.push((e.2, p));
            }
        }
        if paths.is_empty() {
            return None;
        }
        let cuts = edges
            .iter()
            .map(|e| {
                e.3.iter()
                    .map(|o| matches!(o.as_str(), "none" | "zero"))
                    .collect()
            })
            .collect();
        let convs = edges
            .iter()
            .map(|e| e.3.iter().map(|o| o.contains("conv")).collect())
            .collect();
        let mut s = Structure {
            edge_dims: edges.iter().map(|e| e.0).collect(),
            cuts,
            convs,
            paths,
            names: Vec::new(),
            kept: (0..Self::ALL.len()).collect(),
            mean: Vec::new(),
            covariance: Vec::new(),
            conditional: Vec::new(),
        };
        s.average(dims, &slots);
        let kept: Vec<usize> = (0..Self::ALL.len())
            .filter(|&k| s.covariance[k * Self::ALL.len() + k] > 1e-12)
            .collect();
        if kept.is_empty() {
            return None;
        }
        if kept.len() < Self::ALL.len() {
            // Keep the averages of the kept features (no second pass over the space).
            let n = Self::ALL.len();
            s.mean = kept.iter().map(|&a| s.mean[a]).collect();
            s.covariance = kept
                .iter()
                .flat_map(|&a| kept.iter().map(move |&b| a * n + b))
                .map(|ab| s.covariance[ab])
                .collect();
            for slot in s.conditional.iter_mut().flatten() {
                *slot = kept.iter().map(|&a| slot[a]).collect();
            }
        }
        s.kept = kept;
        s.names = s.kept.iter().map(|&k| Self::ALL[k]).collect();
        Some(s)
    }

    /// Whether dimension `d` is one of the cell's edges.
    pub fn is_edge(&self, d: usize) -> bool {
        self.edge_dims.contains(&d)
    }

    /// The kept features of a point (one option index per dimension, as in
    /// [`super::Observation::x`]; other dimensions are ignored).
    pub fn features(&self, x: &[f64]) -> Vec<f64> {
        let op = |i: usize| x[self.edge_dims[i]] as usize;
        let open = |p: &&Vec<usize>| {
            p.iter()
                .all(|&i| !self.cuts[i].get(op(i)).copied().unwrap_or(false))
        };
        let conv = |p: &&Vec<usize>| {
            p.iter()
                .any(|&i| self.convs[i].get(op(i)).copied().unwrap_or(false))
        };
        let all = [
            self.paths.iter().any(|p| open(&p)),
            self.paths.iter().filter(open).any(|p| conv(&p)),
        ];
        self.kept
            .iter()
            .map(|&k| f64::from(u8::from(all[k])))
            .collect()
    }

    /// Fills the features' mean, covariance and conditional means over the uniform space of the
    /// cell's edges: exactly by enumeration when it is small, else from [`SAMPLES`] points.
    fn average(&mut self, dims: &[Dimension], slots: &impl Fn(usize) -> usize) {
        let k = self.kept.len();
        let sizes: Vec<usize> = self.edge_dims.iter().map(|&d| slots(d)).collect();
        let total = sizes
            .iter()
            .try_fold(1usize, |acc, &s| acc.checked_mul(s))
            .filter(|&n| n <= ENUMERATE_UP_TO);
        let mut x = vec![0.0; dims.len()];
        let mut sum = vec![0.0; k];
        let mut cross = vec![0.0; k * k];
        let mut cond: Vec<Vec<Vec<f64>>> = sizes.iter().map(|&s| vec![vec![0.0; k]; s]).collect();
        let mut counts: Vec<Vec<usize>> = sizes.iter().map(|&s| vec![0; s]).collect();
        let mut rng = Rng::new(0x5_7C7);
        let n = total.unwrap_or(SAMPLES);
        for i in 0..n {
            let mut rest = i;
            for (e, &d) in self.edge_dims.iter().enumerate() {
                let o = match total {
                    Some(_) => {
                        let o = rest % sizes[e];
                        rest /= sizes[e];
                        o
                    }
                    None => rng.below(sizes[e]),
                };
                x[d] = o as f64;
            }
            let f = self.features(&x);
            for a in 0..k {
                sum[a] += f[a];
                for b in 0..k {
                    cross[a * k + b] += f[a] * f[b];
                }
            }
            for (e, &d) in self.edge_dims.iter().enumerate() {
                let o = x[d] as usize;
                counts[e][o] += 1;
                for a in 0..k {
                    cond[e][o][a] += f[a];
                }
            }
        }
        let n = n as f64;
        self.mean = sum.iter().map(|s| s / n).collect();
        self.covariance = (0..k * k)
            .map(|ab| cross[ab] / n - self.mean[ab / k] * self.mean[ab % k])
            .collect();
        self.conditional = dims
            .iter()
            .enumerate()
            .map(|(d, _)| match self.edge_dims.iter().position(|&e| e == d) {
                Some(e) => cond[e]
                    .iter()
                    .zip(&counts[e])
                    .map(|(f, &c)| {
                        f.iter()
                            .zip(&self.mean)
                            .map(|(v, m)| if c > 0 { v / c as f64 } else { *m })
                            .collect()
                    })
                    .collect(),
                None => vec![self.mean.clone(); slots(d)],
            })
            .collect();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// NAS-Bench-201's six edges, each with its five operations.
    pub(crate) fn nb201() -> Vec<Dimension> {
        let ops: Vec<String> = [
            "none",
            "skip_connect",
            "nor_conv_1x1",
            "nor_conv_3x3",
            "avg_pool_3x3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
            .iter()
            .map(|e| Dimension::categorical(format!("edge {e}"), ops.clone()))
            .collect()
    }

    #[test]
    fn nb201_cells_have_both_features_with_their_exact_averages() {
        let dims = nb201();
        let s = Structure::detect(&dims, |_| 5).unwrap();
        assert_eq!(s.names, ["connected", "conv_path"]);
        assert_eq!(s.paths.len(), 4);
        // All skips: connected, no convolution; one 3x3 on 3<-0 alone: both.
        assert_eq!(s.features(&[1.0; 6]), [1.0, 0.0]);
        assert_eq!(s.features(&[0.0, 0.0, 0.0, 3.0, 0.0, 0.0]), [1.0, 1.0]);
        assert_eq!(s.features(&[0.0; 6]), [0.0, 0.0]);
        // A convolution on a path cut further on does not count.
        assert_eq!(s.features(&[3.0, 0.0, 0.0, 1.0, 0.0, 0.0]), [1.0, 0.0]);
        // Counted by brute force over the 15,625 cells.
        let mut n = [0usize; 2];
        let mut with_conv_on_30 = 0usize;
        for i in 0..15_625usize {
            let x: Vec<f64> = (0..6).map(|e| ((i / 5usize.pow(e)) % 5) as f64).collect();
            let f = s.features(&x);
            n[0] += f[0] as usize;
            n[1] += f[1] as usize;
            if x[3] == 3.0 {
                with_conv_on_30 += f[1] as usize;
            }
        }
        assert!((s.mean[0] - n[0] as f64 / 15_625.0).abs() < 1e-12);
        assert!((s.mean[1] - n[1] as f64 / 15_625.0).abs() < 1e-12);
        assert_eq!(with_conv_on_30, 3125);
        assert_eq!(s.conditional[3][3][1], 1.0);
        assert!(s.conditional[3][0][1] < s.mean[1]);
        let v = s.mean[1] * (1.0 - s.mean[1]);
        assert!((s.covariance[3] - v).abs() < 1e-12);
    }

    #[test]
    fn spaces_without_a_single_input_cell_have_no_structure() {
        let ops = vec!["conv".to_string(), "none".to_string()];
        let two_inputs = vec![
            Dimension::categorical("edge 2<-0", ops.clone()),
            Dimension::categorical("edge 2<-1", ops.clone()),
        ];
        assert!(Structure::detect(&two_inputs, |_| 2).is_none());
        let hyper = vec![Dimension::numeric("lr", 0.01, 0.1, true)];
        assert!(Structure::detect(&hyper, |_| 4).is_none());
        // Options that never cut and are never convolutions: nothing varies.
        let flat = vec![Dimension::categorical(
            "edge 1<-0",
            vec!["skip".to_string(), "pool".to_string()],
        )];
        assert!(Structure::detect(&flat, |_| 2).is_none());
        // Without convolutions only `connected` varies; its averages are kept alone.
        let cut_or_skip: Vec<Dimension> = ["1<-0", "2<-0", "2<-1"]
            .iter()
            .map(|e| {
                Dimension::categorical(format!("edge {e}"), vec!["none".into(), "skip".into()])
            })
            .collect();
        let s = Structure::detect(&cut_or_skip, |_| 2).unwrap();
        assert_eq!(s.names, ["connected"]);
        // Connected unless 2<-0 is cut and so is 1<-0 or 2<-1: 5 of 8.
        assert_eq!(s.mean, [5.0 / 8.0]);
        assert_eq!(s.covariance, [5.0 / 8.0 * 3.0 / 8.0]);
        assert_eq!(s.conditional[1][1], [1.0]);
        assert_eq!(s.conditional[1][0], [0.25]);
    }
}
