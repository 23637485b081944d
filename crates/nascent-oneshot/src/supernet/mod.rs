//! Supernets: every edge of a cell a mixed operation over the candidate set, with weights
//! shared by all the architectures of the space.
//!
//! A supernet is run with a [`Selection`] that says how each edge combines its candidates:
//! all of them weighted (DARTS, PC-DARTS), one sampled op scaled by a straight-through gate
//! (GDAS), or one op per edge with no weight at all (SPOS, ENAS, and evaluating a derived
//! architecture on the shared weights). Candidate operations come from the operation library
//! of `nascent-train` ([`nascent_train::Op`]), each edge op built as its own small
//! [`Graph`]; the mixing, the partial channels and the edge normalisation are done here.
//!
//! Architecture parameters are not part of a supernet: the search methods own them (a
//! `[edges, ops]` tensor of logits `alpha`) and hand the supernet their weights.

pub mod darts;
pub mod nb201;

pub use darts::{DartsSupernet, DartsSupernetConfig};
pub use nb201::{Nb201Supernet, Nb201SupernetConfig};

use nascent_core::{Error, Result, SearchSpace};
use nascent_train::graph::{BnConfig, Graph, GraphBuilder};
use nascent_train::{Op, OpConfig};
use std::collections::BTreeMap;
use tch::{Kind, Tensor, nn};

/// How the edges of a supernet combine their candidate operations in one forward pass.
#[derive(Debug)]
pub enum Selection<'a> {
    /// Every candidate, weighted: `weights` is `[edges, ops]` (a softmax of alpha, each row
    /// summing to one). `edge_weights` (`[edges]`), when given, scales each edge's output
    /// before a node sums its edges (PC-DARTS edge normalisation).
    Mixed {
        /// Op weights per edge.
        weights: &'a Tensor,
        /// Edge weights (already normalised over each node's incoming edges).
        edge_weights: Option<&'a Tensor>,
    },
    /// One op per edge (`index`), its output multiplied by `gates[edge, op]`: a hard one-hot
    /// whose gradient flows to the soft probabilities (GDAS).
    Gated {
        /// The op of each edge.
        index: &'a [usize],
        /// `[edges, ops]` straight-through gates.
        gates: &'a Tensor,
    },
    /// One op per edge, unweighted (a single path through the supernet).
    Path(&'a [usize]),
}

/// A candidate operation of every edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The name the space writes (`nor_conv_3x3`, `sep_conv_5x5`).
    pub name: String,
    /// The operation.
    pub op: Op,
}

impl Candidate {
    /// A candidate from an op.
    pub fn new(name: &str, op: Op) -> Self {
        Candidate {
            name: name.to_string(),
            op,
        }
    }

    /// Whether it has no weights (zero, identity, pooling): the ops DARTS collapses onto.
    pub fn is_parameter_free(&self) -> bool {
        !self.op.is_parametric()
    }

    /// Whether it is the identity (`skip_connect`).
    pub fn is_skip(&self) -> bool {
        self.op == Op::Identity
    }

    /// Whether it is the zero op (`none`).
    pub fn is_zero(&self) -> bool {
        self.op == Op::Zero
    }
}

/// A one-shot model of a space: the supernet, its candidates per edge, and the rules that
/// turn architecture weights into an architecture of the space.
pub trait Supernet: Send {
    /// The space whose architectures it contains.
    type Space: SearchSpace + Clone;

    /// The space.
    fn space(&self) -> &Self::Space;

    /// The candidate operations (the same on every edge), in alpha's column order.
    fn candidates(&self) -> &[Candidate];

    /// The names of the edges, in alpha's row order (`edge 1<-0`, `normal 2<-0`).
    fn edge_names(&self) -> Vec<String>;

    /// For each intermediate node, the edges (rows) that lead into it.
    fn node_edges(&self) -> Vec<Vec<usize>>;

    /// Number of edges (rows of alpha).
    fn num_edges(&self) -> usize {
        self.edge_names().len()
    }

    /// The variables of the shared weights (trainable weights and BN statistics).
    fn var_store(&self) -> &nn::VarStore;

    /// Class logits of a batch under `selection`; `train` selects batch statistics in BN.
    fn forward(&self, xs: &Tensor, selection: &Selection<'_>, train: bool) -> Tensor;

    /// The discrete architecture that `probs` (`[edges][ops]`, the softmax of alpha)
    /// stands for, by the space's rule (NB201: the argmax per edge; DARTS: the two strongest
    /// incoming edges per node, each with its strongest op other than `none`).
    fn derive(&self, probs: &[Vec<f64>]) -> Result<<Self::Space as SearchSpace>::Arch>;

    /// The single path (an op index per edge; `none` on the edges it does not use) that
    /// runs `arch` on the shared weights; an error when `arch` uses an op that is not a
    /// candidate.
    fn path_of(&self, arch: &<Self::Space as SearchSpace>::Arch) -> Result<Vec<usize>>;

    /// Whether `none` on an edge is a choice of the architecture (NB201) rather than an edge
    /// the architecture does not use (DARTS, where each node keeps two edges).
    fn none_is_an_op(&self) -> bool {
        true
    }

    /// The momentum of the batch-norm layers that keep running statistics.
    fn bn_momentum(&self) -> f64 {
        BnConfig::default().momentum
    }
}

/// An edge's candidate, built.
#[derive(Debug)]
pub(crate) enum EdgeOp {
    /// Zeros: contributes nothing, never computed.
    Zero,
    /// The input itself.
    Identity,
    /// A small graph (input `[C, H, W]` to the op's output).
    Net(Graph),
}

impl EdgeOp {
    /// Builds `op` for inputs `[c_in, side, side]` and `c_out` outputs at `stride`, its
    /// weights under `root`.
    pub(crate) fn build(
        op: Op,
        root: &nn::Path,
        input: [i64; 3],
        c_out: i64,
        stride: i64,
        cfg: &OpConfig,
    ) -> Result<EdgeOp> {
        if op == Op::Zero {
            return Ok(EdgeOp::Zero);
        }
        if op.is_identity(stride, input[0], c_out) {
            return Ok(EdgeOp::Identity);
        }
        let (mut g, x) = GraphBuilder::new(root, input).map_err(Error::Other)?;
        let y = op
            .emit(&mut g, x, c_out, stride, cfg)
            .map_err(|e| Error::Other(format!("{op}: {e}")))?;
        Ok(EdgeOp::Net(g.finish(y, None)))
    }

    /// The op's output, `None` for the zero op.
    pub(crate) fn forward(&self, x: &Tensor, train: bool) -> Option<Tensor> {
        match self {
            EdgeOp::Zero => None,
            EdgeOp::Identity => Some(x.shallow_clone()),
            EdgeOp::Net(g) => Some(g.forward(x, train).0),
        }
    }
}

/// `weights[e][o]` as scalar tensors (one `get` per forward pass, not per use).
pub(crate) fn split_weights(w: &Tensor) -> Vec<Vec<Tensor>> {
    let rows = w.size()[0];
    (0..rows).map(|e| w.get(e).unbind(0)).collect()
}

/// PC-DARTS channel shuffle: `[N, C, H, W]` viewed as `groups` groups, interleaved.
pub(crate) fn channel_shuffle(x: &Tensor, groups: i64) -> Tensor {
    let s = x.size();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    x.view([n, groups, c / groups, h, w])
        .transpose(1, 2)
        .contiguous()
        .view([n, c, h, w])
}

/// The output of one mixed edge under `selection` (`None`: all zero). With partial channels
/// (`k > 1`), only the first `C/k` channels go through the ops (which were built for `C/k`
/// channels); the rest bypass them, and the two parts are concatenated and shuffled. A
/// stride-2 edge subsamples its bypass channels by max pooling (PC-DARTS).
#[allow(clippy::too_many_arguments)]
pub(crate) fn mixed_edge(
    ops: &[EdgeOp],
    e: usize,
    x: &Tensor,
    selection: &Selection<'_>,
    weights: Option<&[Vec<Tensor>]>,
    partial: i64,
    stride: i64,
    train: bool,
) -> Option<Tensor> {
    let c = x.size()[1];
    let (xa, xb) = if partial > 1 {
        let ca = c / partial;
        (x.narrow(1, 0, ca), Some(x.narrow(1, ca, c - ca)))
    } else {
        (x.shallow_clone(), None)
    };
    let out = match selection {
        Selection::Mixed { .. } => {
            let w = &weights.expect("mixed selections come with split weights")[e];
            let mut acc: Option<Tensor> = None;
            for (o, op) in ops.iter().enumerate() {
                if let Some(y) = op.forward(&xa, train) {
                    let y = y * &w[o];
                    acc = Some(match acc {
                        None => y,
                        Some(a) => a + y,
                    });
                }
            }
            acc
        }
        Selection::Gated { index, gates } => {
            let o = index[e];
            let row = gates.get(e as i64);
            let chosen = row.get(o as i64);
            // As GDAS: the other gates are added too; their value is zero, their gradient
            // reaches the soft sample of every op.
            let others = row.sum(Kind::Float) - &chosen;
            let y = match ops[o].forward(&xa, train) {
                Some(y) => y * chosen,
                None => {
                    let s = xa.size();
                    Tensor::zeros(
                        [
                            s[0],
                            s[1],
                            (s[2] + stride - 1) / stride,
                            (s[3] + stride - 1) / stride,
                        ],
                        (xa.kind(), xa.device()),
                    )
                }
            };
            Some(y + others)
        }
        Selection::Path(path) => ops[path[e]].forward(&xa, train),
    };
    match xb {
        None => out,
        Some(xb) => {
            let xb = if stride == 2 {
                xb.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
            } else {
                xb
            };
            let out = match out {
                Some(o) => o,
                None => {
                    let s = xb.size();
                    Tensor::zeros([s[0], c / partial, s[2], s[3]], (xb.kind(), xb.device()))
                }
            };
            Some(channel_shuffle(&Tensor::cat(&[out, xb], 1), partial))
        }
    }
}

/// Sums a node's incoming edge outputs; `zeros()` when every edge is zero.
pub(crate) fn node_sum(terms: Vec<Tensor>, zeros: impl FnOnce() -> Tensor) -> Tensor {
    let mut it = terms.into_iter();
    match it.next() {
        None => zeros(),
        Some(first) => it.fold(first, |a, t| a + t),
    }
}

/// The running statistics of every batch-norm layer that keeps them, by layer name:
/// `(running_mean, running_var)`.
pub fn bn_statistics(vs: &nn::VarStore) -> BTreeMap<String, (Tensor, Tensor)> {
    let vars = vs.variables();
    let mut out = BTreeMap::new();
    for (name, mean) in &vars {
        if let Some(layer) = name.strip_suffix(".running_mean")
            && let Some(var) = vars.get(&format!("{layer}.running_var"))
        {
            out.insert(
                layer.to_string(),
                (mean.shallow_clone(), var.shallow_clone()),
            );
        }
    }
    out
}

/// Recalibrates the running statistics of every batch-norm layer to the exact average of
/// the batch statistics over the batches `forward` is run on (SPOS: the statistics of the
/// shared weights belong to no single path, so each candidate gets its own).
///
/// The layers update their statistics as exponential moving averages with `momentum`;
/// after each batch the batch's own statistics are recovered from the update and folded
/// into a running mean, so the result does not depend on the momentum or the old values.
pub fn recalibrate_bn(
    vs: &nn::VarStore,
    momentum: f64,
    batches: usize,
    mut forward: impl FnMut(usize),
) {
    let stats = bn_statistics(vs);
    tch::no_grad(|| {
        for (mean, var) in stats.values() {
            let _ = mean.shallow_clone().zero_();
            let _ = var.shallow_clone().fill_(1.0);
        }
        for k in 0..batches {
            let before: Vec<(Tensor, Tensor)> =
                stats.values().map(|(m, v)| (m.copy(), v.copy())).collect();
            forward(k);
            let kf = (k + 1) as f64;
            for ((m, v), (m0, v0)) in stats.values().zip(&before) {
                for (cur, old) in [(m, m0), (v, v0)] {
                    let batch = (cur - old * (1.0 - momentum)) / momentum;
                    let avg = old + (batch - old) / kf;
                    cur.shallow_clone().copy_(&avg);
                }
            }
        }
    });
}

/// The softmax of `alpha` rows as plain numbers.
pub fn probabilities(alpha: &Tensor) -> Vec<Vec<f64>> {
    let p = alpha
        .detach()
        .softmax(-1, Kind::Float)
        .to_device(tch::Device::Cpu);
    let rows = p.size()[0];
    (0..rows)
        .map(|e| Vec::<f64>::try_from(p.get(e).to_kind(Kind::Double)).unwrap_or_default())
        .collect()
}

/// The index of the largest value (the first among ties).
pub fn argmax(xs: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

/// BN options of a supernet: never affine inside cells (as DARTS and NAS-Bench-201 search),
/// running statistics only when asked for (SPOS recalibrates them per candidate).
pub(crate) fn cell_op_config(running_stats: bool, pool_bn: bool) -> OpConfig {
    OpConfig {
        bn: BnConfig {
            affine: false,
            track_running_stats: running_stats,
            ..BnConfig::default()
        },
        pool_bn,
    }
}
