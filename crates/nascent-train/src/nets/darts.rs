//! The DARTS evaluation network (`NetworkCIFAR` in DARTS `model.py`).
//!
//! Stem: conv 3x3 to `3C` channels, BN. Then `layers` cells; the cells at `layers/3` and
//! `2*layers/3` are reduction cells (double the width, halve the side). Each cell
//! preprocesses its two inputs (the outputs of the two previous cells) to `C` channels
//! (ReLU-Conv1x1-BN, or a factorized reduce when the previous cell reduced), computes its
//! intermediate nodes (each the sum of two ops on earlier nodes; in a reduction cell the ops
//! on the two inputs have stride 2) and concatenates the nodes of its `concat` list. Global
//! average pooling and a linear classifier follow. With the auxiliary head, the output of the
//! cell at `2*layers/3` also feeds ReLU, AvgPool 5x5/3, Conv1x1 to 128, BN, ReLU, Conv to
//! 768 (2x2 on CIFAR; the kernel covers the pooled map), BN, ReLU, linear; it is computed in
//! training only. Drop-path applies, in training, to every op output that is not an identity.
//!
//! Weights carry DARTS' names (`stem.0.weight`, `cells.3.preprocess0.op.1.weight`,
//! `cells.3._ops.0.op.1.weight`, `auxiliary_head.features.2.weight`, `classifier.weight`).
//! Defaults: `C = 36`, 20 cells, as DARTS evaluates on CIFAR-10.

use super::GraphNet;
use crate::error::{TrainError, TrainResult};
use crate::graph::{BnConfig, BuildResult, Graph, GraphBuilder, Value};
use crate::model::{Builder, NetSpec, Network};
use crate::ops::{Op, OpConfig, factorized_reduce};
use nascent_space::darts::{DartsCell, DartsGenotype, DartsOp};
use tch::nn;

/// Default initial width `C`.
pub const DARTS_CHANNELS: i64 = 36;
/// Default number of cells.
pub const DARTS_CELLS: i64 = 20;
/// Stem width as a multiple of `C`.
pub const STEM_MULTIPLIER: i64 = 3;

/// Builds DARTS evaluation networks.
#[derive(Clone, Copy, Debug, Default)]
pub struct DartsBuilder {
    /// Add the auxiliary head (DARTS trains with it, weight 0.4, when `--auxiliary`).
    pub auxiliary: bool,
}

impl DartsBuilder {
    /// A builder with or without the auxiliary head.
    pub fn new(auxiliary: bool) -> Self {
        DartsBuilder { auxiliary }
    }
}

impl Builder<DartsGenotype> for DartsBuilder {
    fn build(
        &self,
        arch: &DartsGenotype,
        spec: &NetSpec,
        root: &nn::Path,
    ) -> TrainResult<Box<dyn Network>> {
        let graph =
            darts_graph(arch, spec, self.auxiliary, root).map_err(|reason| TrainError::Build {
                arch: arch.to_string(),
                reason,
            })?;
        Ok(Box::new(GraphNet::new(graph)))
    }
}

/// The op of a DARTS genotype edge.
pub fn darts_op(op: DartsOp) -> Op {
    match op {
        DartsOp::None => Op::Zero,
        DartsOp::MaxPool3x3 => Op::MaxPool3x3,
        DartsOp::AvgPool3x3 => Op::AvgPool3x3,
        DartsOp::SkipConnect => Op::Identity,
        DartsOp::SepConv3x3 => Op::SepConv { kernel: 3 },
        DartsOp::SepConv5x5 => Op::SepConv { kernel: 5 },
        DartsOp::SepConv7x7 => Op::SepConv { kernel: 7 },
        DartsOp::DilConv3x3 => Op::DilConv { kernel: 3 },
        DartsOp::DilConv5x5 => Op::DilConv { kernel: 5 },
        DartsOp::Conv7x1_1x7 => Op::Conv7x1_1x7,
    }
}

/// The DARTS network of `arch` for `spec`, as a graph.
pub fn darts_graph(
    arch: &DartsGenotype,
    spec: &NetSpec,
    auxiliary: bool,
    root: &nn::Path,
) -> BuildResult<Graph> {
    arch.check().map_err(|e| e.to_string())?;
    let c = spec.channels.unwrap_or(DARTS_CHANNELS);
    let layers = spec.cells.unwrap_or(DARTS_CELLS);
    if c < 1 {
        return Err(format!("channels must be at least 1, got {c}"));
    }
    if layers < 1 {
        return Err(format!("cells must be at least 1, got {layers}"));
    }
    if spec.classes < 1 {
        return Err(format!("classes must be at least 1, got {}", spec.classes));
    }
    let (mut g, x) = GraphBuilder::new(root, [spec.in_channels, spec.resolution, spec.resolution])?;
    let bn = BnConfig::default();
    let stem = g.scoped("stem", |g| -> BuildResult<Value> {
        let s = g.scoped(0, |g| g.conv_k(x, STEM_MULTIPLIER * c, 3, 1, 1, 1))?;
        g.scoped(1, |g| g.bn(s, bn))
    })?;
    let (mut s0, mut s1) = (stem, stem);
    let mut c_curr = c;
    let mut reduction_prev = false;
    let mut aux_logits = None;
    for i in 0..layers {
        let reduction = i == layers / 3 || i == 2 * layers / 3;
        if reduction {
            c_curr *= 2;
        }
        let out = g
            .scoped("cells", |g| {
                g.scoped(i, |g| {
                    cell(
                        g,
                        if reduction {
                            &arch.reduce
                        } else {
                            &arch.normal
                        },
                        s0,
                        s1,
                        c_curr,
                        reduction,
                        reduction_prev,
                    )
                })
            })
            .map_err(|e| format!("cell {i}: {e}"))?;
        s0 = s1;
        s1 = out;
        reduction_prev = reduction;
        if auxiliary && i == 2 * layers / 3 {
            aux_logits = Some(
                g.scoped("auxiliary_head", |g| aux_head(g, s1, spec.classes))
                    .map_err(|e| format!("auxiliary head: {e}"))?,
            );
        }
    }
    let y = g.global_avg_pool(s1)?;
    let logits = g.scoped("classifier", |g| g.linear(y, spec.classes))?;
    Ok(g.finish(logits, aux_logits))
}

fn cell(
    g: &mut GraphBuilder<'_>,
    genes: &DartsCell,
    s0: Value,
    s1: Value,
    c: i64,
    reduction: bool,
    reduction_prev: bool,
) -> BuildResult<Value> {
    let bn = BnConfig::default();
    let cfg = OpConfig::default();
    let p0 = g.scoped("preprocess0", |g| {
        if reduction_prev {
            factorized_reduce(g, s0, c, 2, bn)
        } else {
            Op::ReluConvBn { kernel: 1 }.emit(g, s0, c, 1, &cfg)
        }
    })?;
    let p1 = g.scoped("preprocess1", |g| {
        Op::ReluConvBn { kernel: 1 }.emit(g, s1, c, 1, &cfg)
    })?;
    if g.side(p0) != g.side(p1) {
        return Err(format!(
            "the two cell inputs have sides {:?} and {:?}",
            g.side(p0),
            g.side(p1)
        ));
    }
    let mut states = vec![p0, p1];
    for (step, pair) in genes.edges.chunks(2).enumerate() {
        let mut terms = Vec::with_capacity(2);
        for (j, &(gene, index)) in pair.iter().enumerate() {
            let k = 2 * step + j;
            let stride = if reduction && index < 2 { 2 } else { 1 };
            let op = darts_op(gene);
            let input = states[index];
            let h = g.scoped("_ops", |g| {
                g.scoped(k, |g| op.emit(g, input, c, stride, &cfg))
            })?;
            let h = if op.is_identity(stride, c, c) {
                h
            } else {
                g.drop_path(h)
            };
            terms.push(h);
        }
        states.push(g.add(&terms)?);
    }
    let outs: Vec<Value> = genes.concat.iter().map(|&i| states[i]).collect();
    g.concat(&outs)
}

fn aux_head(g: &mut GraphBuilder<'_>, x: Value, classes: i64) -> BuildResult<Value> {
    let bn = BnConfig::default();
    let [h, w] = g.side(x);
    if h < 5 || w < 5 {
        return Err(format!(
            "needs at least 5x5 features at two thirds of the depth, got {h}x{w}"
        ));
    }
    let f = g.scoped("features", |g| -> BuildResult<Value> {
        let r = g.relu(x);
        let p = g.avg_pool(r, 5, 3, 0, false, false)?;
        let [ph, pw] = g.side(p);
        let a = g.scoped(2, |g| {
            g.conv(p, 128, [1, 1], [1, 1], [0, 0], [1, 1], 1, false)
        })?;
        let a = g.scoped(3, |g| g.bn(a, bn))?;
        let a = g.relu(a);
        let b = g.scoped(5, |g| {
            g.conv(a, 768, [ph, pw], [1, 1], [0, 0], [1, 1], 1, false)
        })?;
        let b = g.scoped(6, |g| g.bn(b, bn))?;
        let b = g.relu(b);
        g.flatten(b)
    })?;
    g.scoped("classifier", |g| g.linear(f, classes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    fn small() -> NetSpec {
        NetSpec {
            in_channels: 3,
            resolution: 32,
            classes: 10,
            channels: Some(8),
            cells: Some(5),
        }
    }

    #[test]
    fn small_darts_network_runs_with_aux_and_drop_path() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = DartsBuilder::new(true)
            .build(&DartsGenotype::darts_v2(), &small(), &vs.root())
            .unwrap();
        let mut net = net;
        net.set_drop_path_prob(0.2);
        let x = Tensor::randn([4, 3, 32, 32], (Kind::Float, Device::Cpu));
        let out = net.forward(&x, true);
        assert_eq!(out.logits.size(), [4, 10]);
        assert_eq!(out.aux_logits.unwrap().size(), [4, 10]);
        let out = net.forward(&x, false);
        assert!(out.aux_logits.is_none());
        let vars = vs.variables();
        for name in [
            "stem.0.weight",
            "cells.0.preprocess0.op.1.weight",
            "cells.2.preprocess0.conv_1.weight",
            "cells.4._ops.3.op.5.weight",
            "cells.0._ops.7.op.2.weight",
            "auxiliary_head.features.5.weight",
            "auxiliary_head.classifier.weight",
            "classifier.weight",
        ] {
            assert!(vars.contains_key(name), "missing {name}");
        }
    }

    #[test]
    fn mnist_sized_inputs_build() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mut spec = small();
        spec.in_channels = 1;
        spec.resolution = 28;
        let net = DartsBuilder::new(true)
            .build(&DartsGenotype::darts_v2(), &spec, &vs.root())
            .unwrap();
        let x = Tensor::randn([2, 1, 28, 28], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward(&x, true).aux_logits.unwrap().size(), [2, 10]);
    }
}
