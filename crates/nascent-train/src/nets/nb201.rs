//! The NAS-Bench-201 network (`TinyNetwork` with `InferCell`s in the benchmark's code).
//!
//! Stem (conv 3x3 to `C` channels, BN); three stages of `N` cells at `C`, `2C`, `4C` channels,
//! joined by ResNet basic blocks with stride 2 (ReLU-Conv3x3-BN with stride 2, ReLU-Conv3x3-BN,
//! shortcut AvgPool2d(2) + Conv1x1); BN + ReLU; global average pooling; linear. In a cell,
//! node `j` is the sum over `i < j` of `op(i->j)(node i)` and the cell's output is node 3.
//! Weights carry the benchmark's names (`stem.0.weight`, `cells.0.layers.3.op.1.weight`,
//! `cells.5.conv_a.op.1.weight`, `cells.5.downsample.1.weight`, `lastact.0.weight`,
//! `classifier.weight`), so its parameter count is the benchmark's for every cell
//! ([`nascent_space::Nb201Shape::params`]).
//!
//! Defaults: `C = 16`, `N = 5`. `none` edges add nothing to their node's sum; a node whose
//! edges are all `none` is zeros, as in the benchmark. On an odd side, the shortcut's
//! average pooling rounds up (the benchmark's network supports even sides only).

use super::GraphNet;
use crate::error::{TrainError, TrainResult};
use crate::graph::{BnConfig, BuildResult, Graph, GraphBuilder, Value};
use crate::model::{Builder, NetSpec, Network};
use crate::ops::{Op, OpConfig};
use nascent_space::nb201::{NB201_EDGES, Nb201Arch, Nb201Op};
use tch::nn;

/// Default first-stage width.
pub const NB201_CHANNELS: i64 = 16;
/// Default cells per stage.
pub const NB201_CELLS: i64 = 5;

/// Builds NAS-Bench-201 networks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nb201Builder;

impl Builder<Nb201Arch> for Nb201Builder {
    fn build(
        &self,
        arch: &Nb201Arch,
        spec: &NetSpec,
        root: &nn::Path,
    ) -> TrainResult<Box<dyn Network>> {
        let graph = nb201_graph(arch, spec, root).map_err(|reason| TrainError::Build {
            arch: arch.to_string(),
            reason,
        })?;
        Ok(Box::new(GraphNet::new(graph)))
    }
}

/// The NB201 network of `arch` for `spec`, as a graph.
pub fn nb201_graph(arch: &Nb201Arch, spec: &NetSpec, root: &nn::Path) -> BuildResult<Graph> {
    let c = spec.channels.unwrap_or(NB201_CHANNELS);
    let n = spec.cells.unwrap_or(NB201_CELLS);
    if c < 1 {
        return Err(format!("channels must be at least 1, got {c}"));
    }
    if n < 0 {
        return Err(format!("cells per stage must be at least 0, got {n}"));
    }
    if spec.classes < 1 {
        return Err(format!("classes must be at least 1, got {}", spec.classes));
    }
    let (mut g, x) = GraphBuilder::new(root, [spec.in_channels, spec.resolution, spec.resolution])?;
    let bn = BnConfig::default();
    let mut h = g.scoped("stem", |g| -> BuildResult<Value> {
        let s = g.scoped(0, |g| g.conv_k(x, c, 3, 1, 1, 1))?;
        g.scoped(1, |g| g.bn(s, bn))
    })?;
    let mut index = 0;
    let mut width = c;
    for stage in 0..3 {
        if stage > 0 {
            let out = width * 2;
            h = g.scoped("cells", |g| {
                g.scoped(index, |g| resnet_reduction(g, h, out, BnConfig::default()))
            })?;
            width = out;
            index += 1;
        }
        for _ in 0..n {
            h = g.scoped("cells", |g| g.scoped(index, |g| cell(g, arch, h)))?;
            index += 1;
        }
    }
    let y = g.scoped("lastact", |g| g.scoped(0, |g| g.bn(h, bn)))?;
    let y = g.relu(y);
    let y = g.global_avg_pool(y)?;
    let logits = g.scoped("classifier", |g| g.linear(y, spec.classes))?;
    Ok(g.finish(logits, None))
}

/// One `InferCell`: nodes 1..3, each the sum of its edges' ops on earlier nodes.
fn cell(g: &mut GraphBuilder<'_>, arch: &Nb201Arch, x: Value) -> BuildResult<Value> {
    let c = g.channels(x);
    let cfg = OpConfig::default();
    let mut nodes = vec![x];
    for to in 1..4 {
        let mut terms = Vec::new();
        for (k, &(t, from)) in NB201_EDGES.iter().enumerate() {
            if t != to || arch.0[k] == Nb201Op::None {
                continue;
            }
            let op = Op::from(arch.0[k]);
            let src = nodes[from];
            terms.push(g.scoped("layers", |g| g.scoped(k, |g| op.emit(g, src, c, 1, &cfg)))?);
        }
        let node = if terms.is_empty() {
            g.zero(x, 1)?
        } else {
            g.add(&terms)?
        };
        nodes.push(node);
    }
    Ok(nodes[3])
}

/// `ResNetBasicblock(C, 2C, stride 2)`: `conv_b(conv_a(x)) + downsample(x)`, its batch norms
/// as `bn` says (the supernets of `nascent-oneshot` build the same block).
pub fn resnet_reduction(
    g: &mut GraphBuilder<'_>,
    x: Value,
    out: i64,
    bn: BnConfig,
) -> BuildResult<Value> {
    let cfg = OpConfig {
        bn,
        ..OpConfig::default()
    };
    let conv = Op::ReluConvBn { kernel: 3 };
    let a = g.scoped("conv_a", |g| conv.emit(g, x, out, 2, &cfg))?;
    let b = g.scoped("conv_b", |g| conv.emit(g, a, out, 1, &cfg))?;
    let [h, w] = g.side(x);
    let odd = h % 2 == 1 || w % 2 == 1;
    let r = g.scoped("downsample", |g| -> BuildResult<Value> {
        let p = g.avg_pool(x, 2, 2, 0, odd, false)?;
        g.scoped(1, |g| g.conv_k(p, out, 1, 1, 1, 1))
    })?;
    g.add(&[b, r])
}

#[cfg(test)]
mod tests {
    use super::*;
    use nascent_space::Nb201Shape;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn all_conv3x3_has_the_benchmark_size_and_names() {
        let vs = nn::VarStore::new(Device::Cpu);
        let arch = Nb201Arch::uniform(Nb201Op::Conv3x3);
        let g = nb201_graph(&arch, &NetSpec::cifar(10), &vs.root()).unwrap();
        assert_eq!(g.param_count(), 1_531_546);
        assert_eq!(g.macs(), Nb201Shape::default().macs(&arch));
        let vars = vs.variables();
        for name in [
            "stem.0.weight",
            "stem.1.running_var",
            "cells.0.layers.5.op.1.weight",
            "cells.5.conv_a.op.1.weight",
            "cells.5.conv_b.op.2.bias",
            "cells.5.downsample.1.weight",
            "cells.16.layers.0.op.2.weight",
            "lastact.0.weight",
            "classifier.bias",
        ] {
            assert!(vars.contains_key(name), "missing {name}");
        }
        assert_eq!(vars["cells.11.downsample.1.weight"].size(), [64, 32, 1, 1]);
    }

    #[test]
    fn small_network_runs_on_mnist_shapes_and_odd_sides() {
        for res in [28, 30] {
            let vs = nn::VarStore::new(Device::Cpu);
            let arch: Nb201Arch =
                "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
                    .parse()
                    .unwrap();
            let spec = NetSpec {
                in_channels: 1,
                resolution: res,
                classes: 10,
                channels: Some(8),
                cells: Some(1),
            };
            let g = nb201_graph(&arch, &spec, &vs.root()).unwrap();
            let shape = Nb201Shape {
                channels: 8,
                cells: 1,
                in_channels: 1,
                resolution: res as usize,
                classes: 10,
            };
            assert_eq!(g.param_count(), shape.params(&arch));
            let x = Tensor::randn([3, 1, res, res], (Kind::Float, Device::Cpu));
            let (y, aux) = g.forward(&x, true);
            assert_eq!(y.size(), [3, 10]);
            assert!(aux.is_none());
            assert_eq!(g.forward(&x, false).0.size(), [3, 10]);
        }
    }

    #[test]
    fn bad_specs_are_build_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let arch = Nb201Arch::uniform(Nb201Op::Conv3x3);
        let mut spec = NetSpec::cifar(10);
        spec.channels = Some(0);
        let e = Nb201Builder
            .build(&arch, &spec, &vs.root())
            .unwrap_err()
            .to_string();
        assert!(e.contains("channels must be at least 1"), "{e}");
        let mut spec = NetSpec::cifar(10);
        spec.resolution = 1;
        let e = Nb201Builder
            .build(&arch, &spec, &vs.root())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot build `|nor_conv_3x3~0|"), "{e}");
    }
}
