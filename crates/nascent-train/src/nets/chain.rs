//! Chain-structured networks: the layers of a [`ChainArch`] in sequence, then global average
//! pooling and a linear classifier.
//!
//! Layers (weights under `layers.{i}`), with "same" padding so only the stride changes the
//! side:
//!
//! - `conv`: conv KxK (stride), BN, ReLU;
//! - `sep_conv`: depthwise conv KxK (stride), BN, ReLU, pointwise 1x1 to the width, BN, ReLU;
//! - `dil_conv`: conv KxK with dilation 2 (stride), BN, ReLU;
//! - `res_block`: conv KxK (stride), BN, ReLU, conv KxK, BN, plus the input (through a 1x1
//!   conv with the stride and BN when the shape changes), ReLU;
//! - `attention`: conv KxK (stride), BN, ReLU, then the self-attention block of
//!   [`crate::ops::self_attention`] with 4 heads (1 when the width is not a multiple of 4).
//!
//! The architecture fixes every width and the depth, so `NetSpec::channels` and
//! `NetSpec::cells` must be left unset.

use super::GraphNet;
use crate::error::{TrainError, TrainResult};
use crate::graph::{BnConfig, BuildResult, Graph, GraphBuilder, Value};
use crate::model::{Builder, NetSpec, Network};
use crate::ops::{DEFAULT_HEADS, self_attention};
use nascent_space::chain::{ChainArch, ChainLayer, ChainOp};
use tch::nn;

/// Builds chain networks.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChainBuilder;

impl Builder<ChainArch> for ChainBuilder {
    fn build(
        &self,
        arch: &ChainArch,
        spec: &NetSpec,
        root: &nn::Path,
    ) -> TrainResult<Box<dyn Network>> {
        let graph = chain_graph(arch, spec, root).map_err(|reason| TrainError::Build {
            arch: arch.to_string(),
            reason,
        })?;
        Ok(Box::new(GraphNet::new(graph)))
    }
}

/// The chain network of `arch` for `spec`, as a graph.
pub fn chain_graph(arch: &ChainArch, spec: &NetSpec, root: &nn::Path) -> BuildResult<Graph> {
    if spec.channels.is_some() || spec.cells.is_some() {
        return Err(
            "a chain architecture sets its own widths and depth; leave channels and cells unset"
                .to_string(),
        );
    }
    if arch.layers.is_empty() {
        return Err("a chain network needs at least one layer".to_string());
    }
    if spec.classes < 1 {
        return Err(format!("classes must be at least 1, got {}", spec.classes));
    }
    let (mut g, mut x) =
        GraphBuilder::new(root, [spec.in_channels, spec.resolution, spec.resolution])?;
    for (i, layer) in arch.layers.iter().enumerate() {
        x = g
            .scoped("layers", |g| g.scoped(i, |g| chain_layer(g, x, layer)))
            .map_err(|e| format!("layer {i} (`{layer}`): {e}"))?;
    }
    let y = g.global_avg_pool(x)?;
    let logits = g.scoped("classifier", |g| g.linear(y, spec.classes))?;
    Ok(g.finish(logits, None))
}

#[allow(clippy::too_many_arguments)]
fn conv_bn_relu(
    g: &mut GraphBuilder<'_>,
    x: Value,
    names: (&str, &str),
    width: i64,
    k: i64,
    stride: i64,
    dilation: i64,
    groups: i64,
) -> BuildResult<Value> {
    let c = g.scoped(names.0, |g| g.conv_k(x, width, k, stride, dilation, groups))?;
    let b = g.scoped(names.1, |g| g.bn(c, BnConfig::default()))?;
    Ok(g.relu(b))
}

/// Adds one chain layer.
pub fn chain_layer(g: &mut GraphBuilder<'_>, x: Value, l: &ChainLayer) -> BuildResult<Value> {
    let (k, w, s) = (l.kernel as i64, l.width as i64, l.stride as i64);
    if k % 2 == 0 || !(1..=2).contains(&s) || w < 1 {
        return Err("kernel must be odd, stride 1 or 2, width positive".to_string());
    }
    let bn = BnConfig::default();
    match l.op {
        ChainOp::Conv => conv_bn_relu(g, x, ("conv", "bn"), w, k, s, 1, 1),
        ChainOp::DilConv => conv_bn_relu(g, x, ("conv", "bn"), w, k, s, 2, 1),
        ChainOp::SepConv => {
            let c_in = g.channels(x);
            let d = conv_bn_relu(g, x, ("dw", "bn1"), c_in, k, s, 1, c_in)?;
            conv_bn_relu(g, d, ("pw", "bn2"), w, 1, 1, 1, 1)
        }
        ChainOp::ResBlock => {
            let c_in = g.channels(x);
            let a = conv_bn_relu(g, x, ("conv1", "bn1"), w, k, s, 1, 1)?;
            let b = g.scoped("conv2", |g| g.conv_k(a, w, k, 1, 1, 1))?;
            let b = g.scoped("bn2", |g| g.bn(b, bn))?;
            let short = if s != 1 || c_in != w {
                g.scoped("shortcut", |g| -> BuildResult<Value> {
                    let c = g.scoped(0, |g| g.conv_k(x, w, 1, s, 1, 1))?;
                    g.scoped(1, |g| g.bn(c, bn))
                })?
            } else {
                x
            };
            let sum = g.add(&[b, short])?;
            Ok(g.relu(sum))
        }
        ChainOp::Attention => {
            let c = conv_bn_relu(g, x, ("conv", "bn"), w, k, s, 1, 1)?;
            let heads = if w % DEFAULT_HEADS == 0 {
                DEFAULT_HEADS
            } else {
                1
            };
            g.scoped("attn", |g| self_attention(g, c, heads, bn))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn every_op_builds_runs_and_counts() {
        let arch: ChainArch =
            "conv_3x3-16-s1,sep_conv_5x5-32-s2,dil_conv_3x3-32-s1,res_block_3x3-64-s2,res_block_3x3-64-s1,attention_3x3-64-s2"
                .parse()
                .unwrap();
        let vs = nn::VarStore::new(Device::Cpu);
        let spec = NetSpec::cifar(10);
        let g = chain_graph(&arch, &spec, &vs.root()).unwrap();
        let x = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
        assert_eq!(g.forward(&x, true).0.size(), [2, 10]);
        let bn = |c: u64| 2 * c;
        let expect = (3 * 16 * 9 + bn(16))
            + (16 * 25 + bn(16) + 16 * 32 + bn(32))
            + (32 * 32 * 9 + bn(32))
            + (32 * 64 * 9 + bn(64) + 64 * 64 * 9 + bn(64) + 32 * 64 + bn(64))
            + (2 * (64 * 64 * 9 + bn(64)))
            + (64 * 64 * 9 + bn(64) + bn(64) + 4 * (64 * 64 + 64))
            + (64 * 10 + 10);
        assert_eq!(g.param_count(), expect);
        assert!(g.attention_macs() > 0);
        let mut spec = NetSpec::cifar(10);
        spec.channels = Some(8);
        assert!(chain_graph(&arch, &spec, &vs.root()).is_err());
    }
}
