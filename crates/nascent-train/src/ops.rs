//! The operation library every space draws on.
//!
//! An [`Op`] is parsed once from its name (`"sep_conv_3x3"`, `"nor_conv_1x1"`, ...) and then
//! built by matching on the enum: [`Op::emit`] adds its layers to a [`GraphBuilder`]. The
//! forms are the reference implementations' (DARTS `operations.py`, NAS-Bench-201
//! `cell_operations.py`), with weights named as PyTorch names them there:
//!
//! | op | layers |
//! |---|---|
//! | `none` | zeros (subsampled by the stride) |
//! | `skip_connect` | identity; a factorized reduce when the stride is 2 or the width changes |
//! | `nor_conv_KxK` (`K` = 1, 3, 5) | ReLU, conv KxK, BN |
//! | `sep_conv_KxK` (`K` = 3, 5, 7) | twice: ReLU, depthwise KxK, pointwise 1x1, BN (the first with the stride) |
//! | `dil_conv_KxK` (`K` = 3, 5) | ReLU, depthwise KxK with dilation 2, pointwise 1x1, BN |
//! | `max_pool_3x3`, `avg_pool_3x3` | 3x3 pooling, padding 1 (average: padding not counted) |
//! | `factorized_reduce` | ReLU, two 1x1 stride-2 convs (the second shifted by one pixel), concat, BN |
//! | `conv_7x1_1x7` | ReLU, conv 1x7, conv 7x1, BN |
//! | `self_attention` | BN, 1x1 query/key/value convs, multi-head attention over positions, 1x1 projection, plus the input (residual) |
//!
//! Pooling has no weights, so the DARTS *supernet* follows every pooling op with a BN without
//! affine parameters (`MixedOp` in DARTS `model_search.py`); [`OpConfig::pool_bn`] turns that
//! on. The evaluation networks (and NAS-Bench-201's) have no BN after pooling. When pooling
//! must change the width (NAS-Bench-201's `POOLING` with `C_in != C_out`) it is preceded by a
//! ReLU-Conv1x1-BN.

use crate::graph::{BnConfig, BuildResult, GraphBuilder, Value};
use nascent_core::Error;
use std::fmt;
use std::str::FromStr;

/// An operation of a cell edge or a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Zeros: the edge is absent (`none`).
    Zero,
    /// Identity (`skip_connect`); a factorized reduce when it must change size or width.
    Identity,
    /// ReLU-Conv-BN with a square kernel (`nor_conv_KxK`).
    ReluConvBn {
        /// Kernel side: 1, 3 or 5.
        kernel: i64,
    },
    /// The DARTS separable convolution: two ReLU-depthwise-pointwise-BN stacks.
    SepConv {
        /// Kernel side: 3, 5 or 7.
        kernel: i64,
    },
    /// The DARTS dilated convolution: ReLU, depthwise with dilation 2, pointwise, BN.
    DilConv {
        /// Kernel side: 3 or 5.
        kernel: i64,
    },
    /// 3x3 max pooling.
    MaxPool3x3,
    /// 3x3 average pooling (padding not counted).
    AvgPool3x3,
    /// ReLU, two shifted 1x1 stride-2 convolutions concatenated, BN (halves the side).
    FactorizedReduce,
    /// ReLU, 1x7 then 7x1 convolutions, BN.
    Conv7x1_1x7,
    /// Multi-head self-attention over spatial positions with a residual connection.
    SelfAttention {
        /// Number of heads.
        heads: i64,
    },
}

/// Names accepted by [`Op::from_str`].
pub const OP_NAMES: [&str; 16] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "nor_conv_5x5",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "dil_conv_3x3",
    "dil_conv_5x5",
    "max_pool_3x3",
    "avg_pool_3x3",
    "factorized_reduce",
    "conv_7x1_1x7",
    "self_attention",
    "self_attention_hN",
];

/// Heads of `self_attention` when the name does not say (`self_attention_h8` says 8).
pub const DEFAULT_HEADS: i64 = 4;

impl FromStr for Op {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "none" | "zero" => Op::Zero,
            "skip_connect" | "identity" => Op::Identity,
            "nor_conv_1x1" | "conv_1x1" => Op::ReluConvBn { kernel: 1 },
            "nor_conv_3x3" | "conv_3x3" => Op::ReluConvBn { kernel: 3 },
            "nor_conv_5x5" | "conv_5x5" => Op::ReluConvBn { kernel: 5 },
            "sep_conv_3x3" => Op::SepConv { kernel: 3 },
            "sep_conv_5x5" => Op::SepConv { kernel: 5 },
            "sep_conv_7x7" => Op::SepConv { kernel: 7 },
            "dil_conv_3x3" => Op::DilConv { kernel: 3 },
            "dil_conv_5x5" => Op::DilConv { kernel: 5 },
            "max_pool_3x3" => Op::MaxPool3x3,
            "avg_pool_3x3" => Op::AvgPool3x3,
            "factorized_reduce" => Op::FactorizedReduce,
            "conv_7x1_1x7" => Op::Conv7x1_1x7,
            "self_attention" => Op::SelfAttention {
                heads: DEFAULT_HEADS,
            },
            _ => {
                if let Some(h) = s.strip_prefix("self_attention_h")
                    && let Ok(heads) = h.parse::<i64>()
                    && heads > 0
                {
                    return Ok(Op::SelfAttention { heads });
                }
                return Err(Error::unknown("operation", s, &OP_NAMES));
            }
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Zero => write!(f, "none"),
            Op::Identity => write!(f, "skip_connect"),
            Op::ReluConvBn { kernel: k } => write!(f, "nor_conv_{k}x{k}"),
            Op::SepConv { kernel: k } => write!(f, "sep_conv_{k}x{k}"),
            Op::DilConv { kernel: k } => write!(f, "dil_conv_{k}x{k}"),
            Op::MaxPool3x3 => write!(f, "max_pool_3x3"),
            Op::AvgPool3x3 => write!(f, "avg_pool_3x3"),
            Op::FactorizedReduce => write!(f, "factorized_reduce"),
            Op::Conv7x1_1x7 => write!(f, "conv_7x1_1x7"),
            Op::SelfAttention { heads } if *heads == DEFAULT_HEADS => write!(f, "self_attention"),
            Op::SelfAttention { heads } => write!(f, "self_attention_h{heads}"),
        }
    }
}

impl From<nascent_space::Nb201Op> for Op {
    fn from(op: nascent_space::Nb201Op) -> Self {
        use nascent_space::Nb201Op as N;
        match op {
            N::None => Op::Zero,
            N::Skip => Op::Identity,
            N::Conv1x1 => Op::ReluConvBn { kernel: 1 },
            N::Conv3x3 => Op::ReluConvBn { kernel: 3 },
            N::AvgPool3x3 => Op::AvgPool3x3,
        }
    }
}

/// How the operations are built: evaluation networks (the default: affine BN with running
/// statistics, no BN after pooling) or supernets.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct OpConfig {
    /// Batch-norm options of every op.
    pub bn: BnConfig,
    /// Follow pooling with a non-affine BN (the DARTS supernet's `MixedOp`).
    pub pool_bn: bool,
}

impl OpConfig {
    /// The DARTS supernet's ops: BN without affine parameters, BN after pooling.
    pub fn darts_supernet() -> Self {
        OpConfig {
            bn: BnConfig {
                affine: false,
                ..BnConfig::default()
            },
            pool_bn: true,
        }
    }

    /// NAS-Bench-201's supernet ops: BN without affine parameters or running statistics.
    pub fn nb201_supernet() -> Self {
        OpConfig {
            bn: BnConfig {
                affine: false,
                track_running_stats: false,
                ..BnConfig::default()
            },
            pool_bn: false,
        }
    }
}

impl Op {
    /// Whether the op has weights when it keeps size and width.
    pub fn is_parametric(self) -> bool {
        !matches!(
            self,
            Op::Zero | Op::Identity | Op::MaxPool3x3 | Op::AvgPool3x3
        )
    }

    /// Whether the op is the identity for this stride and width change (no layers at all).
    pub fn is_identity(self, stride: i64, c_in: i64, c_out: i64) -> bool {
        self == Op::Identity && stride == 1 && c_in == c_out
    }

    /// Adds the op to `g`, reading `x` and producing `c_out` channels with `stride`, weights
    /// named under the builder's current scope as in the reference implementations.
    pub fn emit(
        self,
        g: &mut GraphBuilder<'_>,
        x: Value,
        c_out: i64,
        stride: i64,
        cfg: &OpConfig,
    ) -> BuildResult<Value> {
        let c_in = g.channels(x);
        if stride != 1 && stride != 2 {
            return Err(format!("{self}: stride {stride} (1 or 2 allowed)"));
        }
        let bn = cfg.bn;
        match self {
            Op::Zero => {
                if c_in != c_out {
                    return Err(format!(
                        "none: cannot change width {c_in} -> {c_out} (zeros keep the width)"
                    ));
                }
                g.zero(x, stride)
            }
            Op::Identity => {
                if self.is_identity(stride, c_in, c_out) {
                    Ok(x)
                } else {
                    factorized_reduce(g, x, c_out, stride, bn)
                }
            }
            Op::FactorizedReduce => factorized_reduce(g, x, c_out, stride, bn),
            Op::ReluConvBn { kernel } => g.scoped("op", |g| {
                let r = g.relu(x);
                let c = g.scoped(1, |g| g.conv_k(r, c_out, kernel, stride, 1, 1))?;
                g.scoped(2, |g| g.bn(c, bn))
            }),
            Op::SepConv { kernel } => g.scoped("op", |g| {
                let r = g.relu(x);
                let d = g.scoped(1, |g| g.conv_k(r, c_in, kernel, stride, 1, c_in))?;
                let p = g.scoped(2, |g| g.conv_k(d, c_in, 1, 1, 1, 1))?;
                let b = g.scoped(3, |g| g.bn(p, bn))?;
                let r = g.relu(b);
                let d = g.scoped(5, |g| g.conv_k(r, c_in, kernel, 1, 1, c_in))?;
                let p = g.scoped(6, |g| g.conv_k(d, c_out, 1, 1, 1, 1))?;
                g.scoped(7, |g| g.bn(p, bn))
            }),
            Op::DilConv { kernel } => g.scoped("op", |g| {
                let r = g.relu(x);
                let d = g.scoped(1, |g| g.conv_k(r, c_in, kernel, stride, 2, c_in))?;
                let p = g.scoped(2, |g| g.conv_k(d, c_out, 1, 1, 1, 1))?;
                g.scoped(3, |g| g.bn(p, bn))
            }),
            Op::Conv7x1_1x7 => g.scoped("op", |g| {
                let r = g.relu(x);
                let a = g.scoped(1, |g| {
                    g.conv(r, c_out, [1, 7], [1, stride], [0, 3], [1, 1], 1, false)
                })?;
                let b = g.scoped(2, |g| {
                    g.conv(a, c_out, [7, 1], [stride, 1], [3, 0], [1, 1], 1, false)
                })?;
                g.scoped(3, |g| g.bn(b, bn))
            }),
            Op::MaxPool3x3 | Op::AvgPool3x3 => {
                let x = if c_in != c_out {
                    g.scoped("preprocess", |g| {
                        Op::ReluConvBn { kernel: 1 }.emit(g, x, c_out, 1, cfg)
                    })?
                } else {
                    x
                };
                let y = if self == Op::MaxPool3x3 {
                    g.max_pool(x, 3, stride, 1)?
                } else {
                    g.avg_pool(x, 3, stride, 1, false, false)?
                };
                if cfg.pool_bn {
                    g.scoped(1, |g| {
                        g.bn(
                            y,
                            BnConfig {
                                affine: false,
                                ..bn
                            },
                        )
                    })
                } else {
                    Ok(y)
                }
            }
            Op::SelfAttention { heads } => {
                let x = if stride != 1 || c_in != c_out {
                    g.scoped("reduce", |g| factorized_reduce(g, x, c_out, stride, bn))?
                } else {
                    x
                };
                self_attention(g, x, heads, bn)
            }
        }
    }
}

/// DARTS' factorized reduce (`conv_1`, `conv_2`, `bn`): ReLU, then two 1x1 stride-2
/// convolutions of `c_out / 2` channels, the second on the input shifted by one pixel,
/// concatenated and batch-normalised. On an odd side the shifted input is padded by one
/// (as NAS-Bench-201's version does) so both halves have the same size. With stride 1 it is a
/// ReLU-Conv1x1-BN (a width change only).
pub fn factorized_reduce(
    g: &mut GraphBuilder<'_>,
    x: Value,
    c_out: i64,
    stride: i64,
    bn: BnConfig,
) -> BuildResult<Value> {
    if stride == 1 {
        return Op::ReluConvBn { kernel: 1 }.emit(g, x, c_out, 1, &OpConfig { bn, pool_bn: false });
    }
    if c_out % 2 != 0 {
        return Err(format!(
            "factorized reduce needs an even output width, got {c_out}"
        ));
    }
    let [h, w] = g.side(x);
    if h < 2 || w < 2 {
        return Err(format!(
            "factorized reduce needs a side of at least 2, got {h}x{w}"
        ));
    }
    let r = g.relu(x);
    let a = g.scoped("conv_1", |g| g.conv_k(r, c_out / 2, 1, 2, 1, 1))?;
    let shifted = g.crop(r, 1, 1)?;
    let shifted = g.pad(shifted, h % 2, w % 2)?;
    let b = g.scoped("conv_2", |g| g.conv_k(shifted, c_out / 2, 1, 2, 1, 1))?;
    let cat = g.concat(&[a, b])?;
    g.scoped("bn", |g| g.bn(cat, bn))
}

/// A self-attention block over spatial positions, with weights `norm`, `q`, `k`, `v`, `proj`:
/// `x + proj(attention(q(n), k(n), v(n)))` with `n = BN(x)` and 1x1 convolutions (with
/// bias) for the projections.
pub fn self_attention(
    g: &mut GraphBuilder<'_>,
    x: Value,
    heads: i64,
    bn: BnConfig,
) -> BuildResult<Value> {
    let c = g.channels(x);
    if heads <= 0 || c % heads != 0 {
        return Err(format!(
            "self_attention: {c} channels cannot be split into {heads} heads"
        ));
    }
    let n = g.scoped("norm", |g| g.bn(x, bn))?;
    let one = |g: &mut GraphBuilder<'_>, name: &str| {
        g.scoped(name, |g| {
            g.conv(n, c, [1, 1], [1, 1], [0, 0], [1, 1], 1, true)
        })
    };
    let q = one(g, "q")?;
    let k = one(g, "k")?;
    let v = one(g, "v")?;
    let a = g.attention(q, k, v, heads)?;
    let p = g.scoped("proj", |g| {
        g.conv(a, c, [1, 1], [1, 1], [0, 0], [1, 1], 1, true)
    })?;
    g.add(&[x, p])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor, nn};

    #[test]
    fn names_round_trip() {
        for name in OP_NAMES.iter().filter(|n| !n.ends_with("_hN")) {
            let op: Op = name.parse().unwrap();
            assert_eq!(op.to_string(), *name);
        }
        assert_eq!(
            "self_attention_h8".parse::<Op>().unwrap(),
            Op::SelfAttention { heads: 8 }
        );
        let e = "sep_conv_9x9".parse::<Op>().unwrap_err().to_string();
        assert!(e.contains("unknown operation `sep_conv_9x9`"), "{e}");
    }

    fn build(op: Op, c_in: i64, c_out: i64, stride: i64, side: i64) -> (u64, Vec<i64>) {
        let vs = nn::VarStore::new(Device::Cpu);
        let (mut g, x) = GraphBuilder::new(&vs.root(), [c_in, side, side]).unwrap();
        let y = op
            .emit(&mut g, x, c_out, stride, &OpConfig::default())
            .unwrap();
        let shape = g.shape(y).to_vec();
        let p = g.global_avg_pool(y).unwrap();
        let graph = g.finish(p, None);
        let out = graph
            .forward(
                &Tensor::randn([2, c_in, side, side], (Kind::Float, Device::Cpu)),
                true,
            )
            .0;
        assert_eq!(out.size(), [2, shape[0]]);
        (graph.param_count(), shape)
    }

    #[test]
    fn parameter_counts_are_the_reference_ones() {
        let c = 16;
        // ReLU-Conv3x3-BN: 9 C^2 + 2C.
        assert_eq!(
            build(Op::ReluConvBn { kernel: 3 }, c, c, 1, 8).0,
            9 * 256 + 32
        );
        // SepConv 3x3: 2 * (9C + C^2 + 2C).
        assert_eq!(
            build(Op::SepConv { kernel: 3 }, c, c, 1, 8).0,
            2 * (9 * 16 + 256 + 32)
        );
        // DilConv 5x5: 25C + C^2 + 2C.
        assert_eq!(
            build(Op::DilConv { kernel: 5 }, c, c, 1, 8).0,
            25 * 16 + 256 + 32
        );
        // Factorized reduce: 2 * C * C/2 + 2C.
        let (p, s) = build(Op::Identity, c, c, 2, 7);
        assert_eq!(p, 256 + 32);
        assert_eq!(s, [16, 4, 4]);
        assert_eq!(build(Op::MaxPool3x3, c, c, 2, 8), (0, vec![16, 4, 4]));
        assert_eq!(build(Op::Zero, c, c, 2, 7), (0, vec![16, 4, 4]));
        // Attention: BN + four 1x1 convs with bias.
        assert_eq!(
            build(Op::SelfAttention { heads: 4 }, c, c, 1, 4).0,
            32 + 4 * (256 + 16)
        );
        assert_eq!(
            build(Op::Conv7x1_1x7, c, c, 2, 8),
            (2 * 7 * 256 + 32, vec![16, 4, 4])
        );
    }

    #[test]
    fn supernet_pooling_gets_a_plain_bn() {
        let vs = nn::VarStore::new(Device::Cpu);
        let (mut g, x) = GraphBuilder::new(&vs.root(), [8, 8, 8]).unwrap();
        let y = Op::AvgPool3x3
            .emit(&mut g, x, 8, 1, &OpConfig::darts_supernet())
            .unwrap();
        let graph = g.finish(y, None);
        assert_eq!(graph.param_count(), 0);
        let names: Vec<&str> = graph.params().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["1.running_mean", "1.running_var"]);
    }
}
