//! The DARTS supernet (`Network` in DARTS `model_search.py`, with PC-DARTS's partial
//! channels as an option).
//!
//! Stem: conv 3x3 to `3C`, BN. Then `layers` cells, the ones at `layers/3` and
//! `2*layers/3` reduction cells (twice the width, half the side). A cell preprocesses its
//! two inputs to `C` channels (ReLU-Conv1x1-BN, or a factorized reduce after a reduction
//! cell), then each of its `steps` intermediate nodes sums a mixed operation on every
//! earlier node (2 + 3 + 4 + 5 = 14 edges for 4 steps; in a reduction cell the edges from
//! the two inputs have stride 2), and the cell outputs the concatenation of its last
//! `multiplier` nodes. Global average pooling and a linear classifier follow. Batch norm is
//! never affine inside cells, and pooling is followed by a BN (DARTS' `MixedOp`).
//!
//! Alpha has `2 * 14` rows: the normal cells' edges, then the reduction cells'.

use super::{
    Candidate, EdgeOp, Selection, Supernet, cell_op_config, mixed_edge, node_sum, split_weights,
};
use nascent_core::{Error, Result};
use nascent_space::darts::{DARTS_PRIMITIVES, DartsCell, DartsGenotype, DartsOp, DartsSpace};
use nascent_train::Op;
use nascent_train::graph::{BnConfig, Graph, GraphBuilder};
use nascent_train::nets::darts::darts_op;
use nascent_train::ops::factorized_reduce;
use tch::{Device, Kind, Tensor, nn};

/// The shape of a DARTS supernet.
#[derive(Clone, Debug, PartialEq)]
pub struct DartsSupernetConfig {
    /// Initial width `C` (16 in DARTS' search).
    pub channels: i64,
    /// Cells (8 in DARTS' search).
    pub layers: i64,
    /// Intermediate nodes per cell (4).
    pub steps: usize,
    /// Nodes concatenated into a cell's output (4).
    pub multiplier: usize,
    /// Stem width as a multiple of `C` (3).
    pub stem_multiplier: i64,
    /// Input channels.
    pub in_channels: i64,
    /// Input side.
    pub resolution: i64,
    /// Classes.
    pub classes: i64,
    /// Batch norm keeps running statistics (DARTS does).
    pub running_stats: bool,
    /// PC-DARTS: only `1/partial_channels` of the channels go through the mixed ops.
    pub partial_channels: i64,
}

impl Default for DartsSupernetConfig {
    fn default() -> Self {
        DartsSupernetConfig {
            channels: 16,
            layers: 8,
            steps: 4,
            multiplier: 4,
            stem_multiplier: 3,
            in_channels: 3,
            resolution: 32,
            classes: 10,
            running_stats: true,
            partial_channels: 1,
        }
    }
}

impl DartsSupernetConfig {
    /// Validates the shape; errors name the field.
    pub fn check(&self) -> Result<()> {
        if self.channels < 1 || self.layers < 1 || self.stem_multiplier < 1 {
            return Err(Error::config(
                "supernet",
                "channels, layers and the stem multiplier must be at least 1",
            ));
        }
        if self.steps < 1 || self.multiplier < 1 || self.multiplier > self.steps + 2 {
            return Err(Error::config(
                "supernet.multiplier",
                format!(
                    "must be between 1 and steps + 2 = {} (steps {}), got {}",
                    self.steps + 2,
                    self.steps,
                    self.multiplier
                ),
            ));
        }
        if self.resolution < 8 {
            return Err(Error::config(
                "supernet.resolution",
                format!("must be at least 8, got {}", self.resolution),
            ));
        }
        if self.partial_channels < 1 || self.channels % (2 * self.partial_channels) != 0 {
            return Err(Error::config(
                "supernet.partial_channels",
                format!(
                    "twice it must divide the width {} (got {})",
                    self.channels, self.partial_channels
                ),
            ));
        }
        Ok(())
    }

    /// Edges per cell: `2 + 3 + ... + (steps + 1)`.
    pub fn edges_per_cell(&self) -> usize {
        (0..self.steps).map(|i| i + 2).sum()
    }
}

struct Cell {
    reduction: bool,
    pre0: Graph,
    pre1: Graph,
    /// Per edge (in DARTS order), per candidate.
    edges: Vec<Vec<EdgeOp>>,
    /// Width and side of the nodes.
    c: i64,
    side: i64,
}

/// The DARTS supernet; see the [module docs](self).
pub struct DartsSupernet {
    vs: nn::VarStore,
    cfg: DartsSupernetConfig,
    space: DartsSpace,
    candidates: Vec<Candidate>,
    stem: Graph,
    cells: Vec<Cell>,
    head: Graph,
}

impl std::fmt::Debug for DartsSupernet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DartsSupernet")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

fn graph(
    root: &nn::Path,
    input: [i64; 3],
    f: impl FnOnce(
        &mut GraphBuilder<'_>,
        nascent_train::graph::Value,
    ) -> Result<nascent_train::graph::Value, String>,
) -> Result<Graph> {
    let (mut g, x) = GraphBuilder::new(root, input).map_err(Error::Other)?;
    let y = f(&mut g, x).map_err(Error::Other)?;
    Ok(g.finish(y, None))
}

impl DartsSupernet {
    /// Builds the supernet on `device`, weights initialised from torch's generator.
    pub fn new(cfg: DartsSupernetConfig, device: Device) -> Result<Self> {
        cfg.check()?;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let stem_bn = BnConfig {
            track_running_stats: cfg.running_stats,
            ..BnConfig::default()
        };
        let op_cfg = cell_op_config(cfg.running_stats, true);
        let bn = op_cfg.bn;
        let candidates: Vec<Candidate> = DARTS_PRIMITIVES
            .iter()
            .map(|n| {
                let op = DartsOp::parse(n).expect("a DARTS primitive");
                Candidate::new(n, darts_op(op))
            })
            .collect();
        let c = cfg.channels;
        let mut side = cfg.resolution;
        let c_stem = cfg.stem_multiplier * c;
        let stem = graph(&root.sub("stem"), [cfg.in_channels, side, side], |g, x| {
            let s = g.scoped(0, |g| g.conv_k(x, c_stem, 3, 1, 1, 1))?;
            g.scoped(1, |g| g.bn(s, stem_bn))
        })?;
        let (mut c_pp, mut c_p, mut c_cur) = (c_stem, c_stem, c);
        let (mut side_pp, mut side_p) = (side, side);
        let mut reduction_prev = false;
        let mut cells = Vec::new();
        for i in 0..cfg.layers {
            let reduction = i == cfg.layers / 3 || i == 2 * cfg.layers / 3;
            if reduction {
                c_cur *= 2;
            }
            let path = root.sub("cells").sub(i);
            let pre0 = graph(
                &path.sub("preprocess0"),
                [c_pp, side_pp, side_pp],
                |g, x| {
                    if reduction_prev {
                        factorized_reduce(g, x, c_cur, 2, bn)
                    } else {
                        Op::ReluConvBn { kernel: 1 }.emit(g, x, c_cur, 1, &op_cfg)
                    }
                },
            )?;
            let pre1 = graph(&path.sub("preprocess1"), [c_p, side_p, side_p], |g, x| {
                Op::ReluConvBn { kernel: 1 }.emit(g, x, c_cur, 1, &op_cfg)
            })?;
            side = side_p;
            let out_side = if reduction { (side + 1) / 2 } else { side };
            let c_op = c_cur / cfg.partial_channels;
            let mut edges = Vec::new();
            for step in 0..cfg.steps {
                for j in 0..step + 2 {
                    let stride = if reduction && j < 2 { 2 } else { 1 };
                    let in_side = if j < 2 { side } else { out_side };
                    let k = edges.len();
                    let mut ops = Vec::with_capacity(candidates.len());
                    for (o, cand) in candidates.iter().enumerate() {
                        let p = path.sub("_ops").sub(k).sub(o);
                        ops.push(EdgeOp::build(
                            cand.op,
                            &p,
                            [c_op, in_side, in_side],
                            c_op,
                            stride,
                            &op_cfg,
                        )?);
                    }
                    edges.push(ops);
                }
            }
            cells.push(Cell {
                reduction,
                pre0,
                pre1,
                edges,
                c: c_cur,
                side: out_side,
            });
            c_pp = c_p;
            side_pp = side_p;
            c_p = cfg.multiplier as i64 * c_cur;
            side_p = out_side;
            reduction_prev = reduction;
        }
        let head = graph(&root.sub("classifier"), [c_p, side_p, side_p], |g, x| {
            let p = g.global_avg_pool(x)?;
            g.linear(p, cfg.classes)
        })?;
        Ok(DartsSupernet {
            vs,
            space: DartsSpace::with(cfg.steps, &DartsOp::SEARCH)?,
            cfg,
            candidates,
            stem,
            cells,
            head,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DartsSupernetConfig {
        &self.cfg
    }

    #[allow(clippy::too_many_arguments)]
    fn cell_forward(
        &self,
        cell: &Cell,
        s0: &Tensor,
        s1: &Tensor,
        selection: &Selection<'_>,
        weights: Option<&[Vec<Tensor>]>,
        edge_w: Option<&[Tensor]>,
        train: bool,
    ) -> Tensor {
        let per_cell = self.cfg.edges_per_cell();
        let offset = if cell.reduction { per_cell } else { 0 };
        let mut states = vec![
            cell.pre0.forward(s0, train).0,
            cell.pre1.forward(s1, train).0,
        ];
        let n = s1.size()[0];
        let mut k = 0;
        for _ in 0..self.cfg.steps {
            let mut terms = Vec::new();
            for (j, state) in states.iter().enumerate() {
                let stride = if cell.reduction && j < 2 { 2 } else { 1 };
                let e = offset + k;
                if let Some(y) = mixed_edge(
                    &cell.edges[k],
                    e,
                    state,
                    selection,
                    weights,
                    self.cfg.partial_channels,
                    stride,
                    train,
                ) {
                    terms.push(match edge_w {
                        Some(w) => y * &w[e],
                        None => y,
                    });
                }
                k += 1;
            }
            let s = node_sum(terms, || {
                Tensor::zeros(
                    [n, cell.c, cell.side, cell.side],
                    (Kind::Float, s1.device()),
                )
            });
            states.push(s);
        }
        let outs: Vec<&Tensor> = states[states.len() - self.cfg.multiplier..]
            .iter()
            .collect();
        Tensor::cat(&outs, 1)
    }

    fn parse_cell(&self, probs: &[Vec<f64>]) -> DartsCell {
        let none = self
            .candidates
            .iter()
            .position(Candidate::is_zero)
            .unwrap_or(usize::MAX);
        let strongest = |w: &[f64]| -> (usize, f64) {
            let mut best: Option<(usize, f64)> = None;
            for (o, &x) in w.iter().enumerate() {
                if o != none && best.is_none_or(|(_, b)| x > b) {
                    best = Some((o, x));
                }
            }
            best.unwrap_or((0, f64::NEG_INFINITY))
        };
        let mut edges = Vec::new();
        let mut start = 0;
        for step in 0..self.cfg.steps {
            let n = step + 2;
            let rows = &probs[start..start + n];
            let mut order: Vec<usize> = (0..n).collect();
            // Stable: ties keep the earlier input first, as Python's sorted does.
            order.sort_by(|&a, &b| strongest(&rows[b]).1.total_cmp(&strongest(&rows[a]).1));
            for &j in order.iter().take(2) {
                let o = strongest(&rows[j]).0;
                let op = DartsOp::parse(&self.candidates[o].name).unwrap_or(DartsOp::SkipConnect);
                edges.push((op, j));
            }
            start += n;
        }
        DartsCell {
            edges,
            concat: (self.cfg.steps + 2 - self.cfg.multiplier..self.cfg.steps + 2).collect(),
        }
    }

    fn cell_path(&self, cell: &DartsCell, out: &mut Vec<usize>) -> Result<()> {
        let none = self
            .candidates
            .iter()
            .position(Candidate::is_zero)
            .unwrap_or(0);
        for step in 0..self.cfg.steps {
            let pair = &cell.edges[2 * step..2 * step + 2];
            for j in 0..step + 2 {
                let mut o = none;
                for &(op, input) in pair {
                    if input == j {
                        o = self
                            .candidates
                            .iter()
                            .position(|c| c.name == op.name())
                            .ok_or_else(|| {
                                Error::InvalidArch(format!(
                                    "`{op}` is not a candidate of the DARTS supernet"
                                ))
                            })?;
                    }
                }
                out.push(o);
            }
        }
        Ok(())
    }
}

impl Supernet for DartsSupernet {
    type Space = DartsSpace;

    fn space(&self) -> &DartsSpace {
        &self.space
    }

    fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    fn edge_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for cell in ["normal", "reduce"] {
            for step in 0..self.cfg.steps {
                for j in 0..step + 2 {
                    out.push(format!("{cell} {}<-{j}", step + 2));
                }
            }
        }
        out
    }

    fn node_edges(&self) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        let mut k = 0;
        for _ in 0..2 {
            for step in 0..self.cfg.steps {
                out.push((k..k + step + 2).collect());
                k += step + 2;
            }
        }
        out
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn none_is_an_op(&self) -> bool {
        false
    }

    fn forward(&self, xs: &Tensor, selection: &Selection<'_>, train: bool) -> Tensor {
        let weights = match selection {
            Selection::Mixed { weights, .. } => Some(split_weights(weights)),
            _ => None,
        };
        let edge_w: Option<Vec<Tensor>> = match selection {
            Selection::Mixed {
                edge_weights: Some(w),
                ..
            } => Some(w.unbind(0)),
            _ => None,
        };
        let stem = self.stem.forward(xs, train).0;
        let (mut s0, mut s1) = (stem.shallow_clone(), stem);
        for cell in &self.cells {
            let out = self.cell_forward(
                cell,
                &s0,
                &s1,
                selection,
                weights.as_deref(),
                edge_w.as_deref(),
                train,
            );
            s0 = s1;
            s1 = out;
        }
        self.head.forward(&s1, train).0
    }

    /// DARTS' rule: per node, the two incoming edges whose strongest op other than `none` is
    /// strongest, each with that op (strongest edge first).
    fn derive(&self, probs: &[Vec<f64>]) -> Result<DartsGenotype> {
        let per = self.cfg.edges_per_cell();
        if probs.len() != 2 * per || probs.iter().any(|p| p.len() != self.candidates.len()) {
            return Err(Error::InvalidArch(format!(
                "the DARTS supernet needs {} edges of {} op weights, got {} edges",
                2 * per,
                self.candidates.len(),
                probs.len()
            )));
        }
        let g = DartsGenotype {
            normal: self.parse_cell(&probs[..per]),
            reduce: self.parse_cell(&probs[per..]),
        };
        g.check()?;
        Ok(g)
    }

    fn path_of(&self, arch: &DartsGenotype) -> Result<Vec<usize>> {
        if arch.normal.steps() != self.cfg.steps || arch.reduce.steps() != self.cfg.steps {
            return Err(Error::InvalidArch(format!(
                "the genotype's cells have {} and {} steps; the supernet has {}",
                arch.normal.steps(),
                arch.reduce.steps(),
                self.cfg.steps
            )));
        }
        let mut out = Vec::with_capacity(2 * self.cfg.edges_per_cell());
        self.cell_path(&arch.normal, &mut out)?;
        self.cell_path(&arch.reduce, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nascent_core::{Rng, SearchSpace};

    fn small(partial: i64) -> DartsSupernet {
        tch::manual_seed(1);
        DartsSupernet::new(
            DartsSupernetConfig {
                channels: 8,
                layers: 3,
                resolution: 8,
                partial_channels: partial,
                ..DartsSupernetConfig::default()
            },
            Device::Cpu,
        )
        .unwrap()
    }

    #[test]
    fn runs_every_selection() {
        for partial in [1, 2] {
            let net = small(partial);
            assert_eq!(net.num_edges(), 28);
            assert_eq!(net.node_edges().len(), 8);
            let x = Tensor::randn([2, 3, 8, 8], (Kind::Float, Device::Cpu));
            let w = Tensor::ones([28, 8], (Kind::Float, Device::Cpu)) / 8.0;
            let y = net.forward(
                &x,
                &Selection::Mixed {
                    weights: &w,
                    edge_weights: None,
                },
                true,
            );
            assert_eq!(y.size(), [2, 10]);
            let g = net.space().sample(&mut Rng::new(3));
            let path = net.path_of(&g).unwrap();
            assert_eq!(path.iter().filter(|&&o| o != 0).count(), 16);
            let y = net.forward(&x, &Selection::Path(&path), false);
            assert_eq!(y.size(), [2, 10]);
        }
    }

    #[test]
    fn derive_keeps_the_two_strongest_edges_without_none() {
        let net = small(1);
        // Every edge prefers `none`; sep_conv_3x3 (4) next on edges from node 1, else
        // max_pool (1) weakly.
        let mut probs = Vec::new();
        for cell in 0..2 {
            for step in 0..4 {
                for j in 0..step + 2 {
                    let mut p = vec![0.05; 8];
                    p[0] = 0.5;
                    if j == 1 {
                        p[4] = 0.3;
                    } else if j == step + 1 && cell == 0 {
                        p[6] = 0.2;
                    } else {
                        p[1] = 0.1;
                    }
                    probs.push(p);
                }
            }
        }
        let g = net.derive(&probs).unwrap();
        assert_eq!(g.normal.edges[0], (DartsOp::SepConv3x3, 1));
        assert_eq!(g.normal.edges[1], (DartsOp::MaxPool3x3, 0));
        assert_eq!(g.normal.edges[2], (DartsOp::SepConv3x3, 1));
        assert_eq!(g.normal.edges[3], (DartsOp::DilConv3x3, 2));
        assert_eq!(g.reduce.edges[3], (DartsOp::MaxPool3x3, 0));
        net.space().validate(&g).unwrap();
        // The derived genotype's path runs on the supernet.
        let path = net.path_of(&g).unwrap();
        assert_eq!(path[1], 4);
        let e = net
            .path_of(
                &"Genotype(normal=[('sep_conv_7x7', 0), ('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1)], reduce=[('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1)])"
                    .parse()
                    .unwrap(),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("sep_conv_7x7"), "{e}");
    }
}
