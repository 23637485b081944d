//! The NAS-Bench-201 supernet (`TinyNetworkDarts` / `TinyNetworkGDAS` in the benchmark's
//! code): the NB201 macro network (stem, three stages of `N` cells joined by ResNet blocks
//! with stride 2, BN-ReLU, global pooling, linear) whose cells have a mixed operation over
//! the five NB201 ops on each of their six edges. Every cell has its own weights; the
//! architecture weights (`[6, 5]`) are shared by all cells.

use super::{
    Candidate, EdgeOp, Selection, Supernet, cell_op_config, mixed_edge, node_sum, split_weights,
};
use nascent_core::{Error, Result};
use nascent_space::nb201::{NB201_EDGES, NB201_OPS, Nb201Arch, Nb201Op, Nb201Space};
use nascent_train::Op;
use nascent_train::graph::{BnConfig, BuildResult, Graph, GraphBuilder, Value};
use nascent_train::nets::nb201::resnet_reduction;
use tch::{Device, Tensor, nn};

/// The shape of an NB201 supernet.
#[derive(Clone, Debug, PartialEq)]
pub struct Nb201SupernetConfig {
    /// Width of the first stage (16 in the benchmark).
    pub channels: i64,
    /// Cells per stage (5 in the benchmark).
    pub cells: i64,
    /// Input channels.
    pub in_channels: i64,
    /// Input side.
    pub resolution: i64,
    /// Classes.
    pub classes: i64,
    /// Batch norm keeps running statistics (for evaluation after recalibration, SPOS);
    /// without them batch statistics are used in both modes.
    pub running_stats: bool,
    /// PC-DARTS: only `1/partial_channels` of the channels go through the mixed ops (1: all).
    pub partial_channels: i64,
}

impl Default for Nb201SupernetConfig {
    fn default() -> Self {
        Nb201SupernetConfig {
            channels: 16,
            cells: 5,
            in_channels: 3,
            resolution: 32,
            classes: 10,
            running_stats: false,
            partial_channels: 1,
        }
    }
}

impl Nb201SupernetConfig {
    /// Validates the shape; errors name the field.
    pub fn check(&self) -> Result<()> {
        if self.channels < 1 {
            return Err(Error::config("supernet.channels", "must be at least 1"));
        }
        if self.cells < 1 {
            return Err(Error::config("supernet.cells", "must be at least 1"));
        }
        if self.in_channels < 1 || self.classes < 1 {
            return Err(Error::config(
                "supernet",
                "input channels and classes must be at least 1",
            ));
        }
        if self.resolution < 4 {
            return Err(Error::config(
                "supernet.resolution",
                format!("must be at least 4, got {}", self.resolution),
            ));
        }
        if self.partial_channels < 1 || self.channels % self.partial_channels != 0 {
            return Err(Error::config(
                "supernet.partial_channels",
                format!(
                    "must divide the width {} (got {})",
                    self.channels, self.partial_channels
                ),
            ));
        }
        Ok(())
    }
}

enum Block {
    /// A searchable cell: per edge, per candidate.
    Cell(Vec<Vec<EdgeOp>>),
    /// A ResNet block with stride 2.
    Reduction(Graph),
}

/// The NB201 supernet; see the [module docs](self).
pub struct Nb201Supernet {
    vs: nn::VarStore,
    cfg: Nb201SupernetConfig,
    space: Nb201Space,
    candidates: Vec<Candidate>,
    stem: Graph,
    blocks: Vec<Block>,
    head: Graph,
}

impl std::fmt::Debug for Nb201Supernet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nb201Supernet")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Nb201Supernet {
    /// Builds the supernet on `device`, weights initialised from torch's generator.
    pub fn new(cfg: Nb201SupernetConfig, device: Device) -> Result<Self> {
        cfg.check()?;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let bn = BnConfig {
            track_running_stats: cfg.running_stats,
            ..BnConfig::default()
        };
        let op_cfg = cell_op_config(cfg.running_stats, false);
        let candidates: Vec<Candidate> = Nb201Op::ALL
            .iter()
            .map(|&o| Candidate::new(o.name(), Op::from(o)))
            .collect();
        let c = cfg.channels;
        let side = cfg.resolution;
        let stem = {
            let (mut g, x) = GraphBuilder::new(&root.sub("stem"), [cfg.in_channels, side, side])
                .map_err(Error::Other)?;
            let s = g
                .scoped(0, |g| g.conv_k(x, c, 3, 1, 1, 1))
                .and_then(|s| g.scoped(1, |g| g.bn(s, bn)))
                .map_err(Error::Other)?;
            g.finish(s, None)
        };
        let mut blocks = Vec::new();
        let (mut width, mut side) = (c, side);
        let mut index = 0;
        for stage in 0..3 {
            if stage > 0 {
                let path = root.sub("cells").sub(index);
                let out = width * 2;
                let (mut g, x) =
                    GraphBuilder::new(&path, [width, side, side]).map_err(Error::Other)?;
                let y = resnet_reduction(&mut g, x, out, bn).map_err(Error::Other)?;
                let new_side = g.side(y)[0];
                blocks.push(Block::Reduction(g.finish(y, None)));
                width = out;
                side = new_side;
                index += 1;
            }
            for _ in 0..cfg.cells {
                let path = root.sub("cells").sub(index);
                let c_op = width / cfg.partial_channels;
                let mut edges = Vec::with_capacity(NB201_EDGES.len());
                for e in 0..NB201_EDGES.len() {
                    let mut ops = Vec::with_capacity(candidates.len());
                    for (o, cand) in candidates.iter().enumerate() {
                        let p = path.sub("edges").sub(e).sub(o);
                        ops.push(EdgeOp::build(
                            cand.op,
                            &p,
                            [c_op, side, side],
                            c_op,
                            1,
                            &op_cfg,
                        )?);
                    }
                    edges.push(ops);
                }
                blocks.push(Block::Cell(edges));
                index += 1;
            }
        }
        let head = {
            let (mut g, x) =
                GraphBuilder::new(&root.sub("head"), [width, side, side]).map_err(Error::Other)?;
            let y = (|| -> BuildResult<Value> {
                let b = g.scoped("lastact", |g| g.bn(x, bn))?;
                let r = g.relu(b);
                let p = g.global_avg_pool(r)?;
                g.scoped("classifier", |g| g.linear(p, cfg.classes))
            })()
            .map_err(Error::Other)?;
            g.finish(y, None)
        };
        Ok(Nb201Supernet {
            vs,
            cfg,
            space: Nb201Space::new(),
            candidates,
            stem,
            blocks,
            head,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Nb201SupernetConfig {
        &self.cfg
    }

    fn cell(
        &self,
        edges: &[Vec<EdgeOp>],
        x: &Tensor,
        selection: &Selection<'_>,
        weights: Option<&[Vec<Tensor>]>,
        train: bool,
    ) -> Tensor {
        let edge_w: Option<Vec<Tensor>> = match selection {
            Selection::Mixed {
                edge_weights: Some(w),
                ..
            } => Some(w.unbind(0)),
            _ => None,
        };
        let mut nodes = vec![x.shallow_clone()];
        for to in 1..4 {
            let mut terms = Vec::new();
            for (e, &(t, from)) in NB201_EDGES.iter().enumerate() {
                if t != to {
                    continue;
                }
                if let Some(y) = mixed_edge(
                    &edges[e],
                    e,
                    &nodes[from],
                    selection,
                    weights,
                    self.cfg.partial_channels,
                    1,
                    train,
                ) {
                    terms.push(match &edge_w {
                        Some(w) => y * &w[e],
                        None => y,
                    });
                }
            }
            nodes.push(node_sum(terms, || x.zeros_like()));
        }
        nodes.pop().expect("four nodes")
    }
}

impl Supernet for Nb201Supernet {
    type Space = Nb201Space;

    fn space(&self) -> &Nb201Space {
        &self.space
    }

    fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    fn edge_names(&self) -> Vec<String> {
        NB201_EDGES
            .iter()
            .map(|(to, from)| format!("{to}<-{from}"))
            .collect()
    }

    fn node_edges(&self) -> Vec<Vec<usize>> {
        (1..4)
            .map(|to| {
                NB201_EDGES
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.0 == to)
                    .map(|(k, _)| k)
                    .collect()
            })
            .collect()
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn forward(&self, xs: &Tensor, selection: &Selection<'_>, train: bool) -> Tensor {
        let weights = match selection {
            Selection::Mixed { weights, .. } => Some(split_weights(weights)),
            _ => None,
        };
        let mut x = self.stem.forward(xs, train).0;
        for block in &self.blocks {
            x = match block {
                Block::Cell(edges) => self.cell(edges, &x, selection, weights.as_deref(), train),
                Block::Reduction(g) => g.forward(&x, train).0,
            };
        }
        self.head.forward(&x, train).0
    }

    /// The argmax per edge over all five ops, `none` included (the benchmark's rule).
    fn derive(&self, probs: &[Vec<f64>]) -> Result<Nb201Arch> {
        if probs.len() != NB201_EDGES.len() || probs.iter().any(|p| p.len() != NB201_OPS.len()) {
            return Err(Error::InvalidArch(format!(
                "NB201 needs 6 edges of 5 op weights, got {} edges",
                probs.len()
            )));
        }
        let mut ops = [Nb201Op::None; 6];
        for (k, p) in probs.iter().enumerate() {
            ops[k] = Nb201Op::ALL[super::argmax(p)];
        }
        Ok(Nb201Arch(ops))
    }

    fn path_of(&self, arch: &Nb201Arch) -> Result<Vec<usize>> {
        Ok(arch.0.iter().map(|o| *o as usize).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn small(running_stats: bool, partial: i64) -> Nb201Supernet {
        tch::manual_seed(0);
        Nb201Supernet::new(
            Nb201SupernetConfig {
                channels: 8,
                cells: 1,
                resolution: 8,
                running_stats,
                partial_channels: partial,
                ..Nb201SupernetConfig::default()
            },
            Device::Cpu,
        )
        .unwrap()
    }

    #[test]
    fn a_path_equals_the_mixture_with_one_hot_weights() {
        let net = small(false, 1);
        let x = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu));
        let arch: Nb201Arch =
            "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"
                .parse()
                .unwrap();
        let path = net.path_of(&arch).unwrap();
        let one_hot = Tensor::zeros([6, 5], (Kind::Float, Device::Cpu));
        for (e, &o) in path.iter().enumerate() {
            let _ = one_hot.get(e as i64).get(o as i64).fill_(1.0);
        }
        let a = net.forward(&x, &Selection::Path(&path), true);
        let b = net.forward(
            &x,
            &Selection::Mixed {
                weights: &one_hot,
                edge_weights: None,
            },
            true,
        );
        assert_eq!(a.size(), [4, 10]);
        let diff = (a - b).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn partial_channels_and_bad_shapes() {
        let net = small(true, 4);
        let x = Tensor::randn([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        let w = Tensor::ones([6, 5], (Kind::Float, Device::Cpu)) / 5.0;
        let y = net.forward(
            &x,
            &Selection::Mixed {
                weights: &w,
                edge_weights: Some(&Tensor::ones([6], (Kind::Float, Device::Cpu))),
            },
            true,
        );
        assert_eq!(y.size(), [2, 10]);
        assert!(super::super::bn_statistics(net.var_store()).len() > 10);
        let e = Nb201Supernet::new(
            Nb201SupernetConfig {
                channels: 6,
                partial_channels: 4,
                ..Nb201SupernetConfig::default()
            },
            Device::Cpu,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("partial_channels"), "{e}");
    }

    #[test]
    fn derive_takes_the_argmax_per_edge() {
        let net = small(false, 1);
        let mut probs = vec![vec![0.1, 0.2, 0.3, 0.35, 0.05]; 6];
        probs[2] = vec![0.9, 0.05, 0.05, 0.0, 0.0];
        probs[5] = vec![0.1, 0.6, 0.1, 0.1, 0.1];
        assert_eq!(
            net.derive(&probs).unwrap().to_string(),
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_3x3~0|nor_conv_3x3~1|skip_connect~2|"
        );
        assert!(net.derive(&probs[..3]).is_err());
    }
}
