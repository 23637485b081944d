//! The chain-structured (macro) space: a network is a sequence of layers, each choosing its
//! operation, kernel, width and stride, and the depth itself is a choice.
//!
//! The canonical string lists the layers, comma separated, each as `op_KxK-width-sS`:
//! `conv_3x3-32-s1,sep_conv_5x5-64-s2,res_block_3x3-64-s1`.
//!
//! Decisions: `depth` (from `min_depth` to `max_depth`), then per layer slot `op`, `kernel`,
//! `width`, `stride`. Slots past the depth are inactive: [`SearchSpace::to_decisions`]
//! writes option 0 there and [`SearchSpace::from_decisions`] ignores them, and mutation,
//! crossover and neighbours only touch the active layers and the depth, so every move makes a
//! different network.

use nascent_core::{Decision, Error, Result, Rng, SearchSpace};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// The operation of one chain layer (in a study file, its name: `conv`, `sep_conv`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainOp {
    /// Conv KxK, BN, ReLU.
    Conv,
    /// Depthwise conv KxK, BN, ReLU, pointwise conv 1x1, BN, ReLU (MobileNet's block).
    SepConv,
    /// Conv KxK with dilation 2, BN, ReLU.
    DilConv,
    /// ResNet basic block: two KxK conv-BN with a shortcut (1x1 conv-BN when the shape
    /// changes), ReLU after the sum.
    ResBlock,
    /// Conv KxK, BN, ReLU, then a multi-head self-attention block over positions (with a
    /// residual).
    Attention,
}

impl ChainOp {
    /// Every operation.
    pub const ALL: [ChainOp; 5] = [
        ChainOp::Conv,
        ChainOp::SepConv,
        ChainOp::DilConv,
        ChainOp::ResBlock,
        ChainOp::Attention,
    ];

    /// Its name in the canonical string.
    pub fn name(self) -> &'static str {
        match self {
            ChainOp::Conv => "conv",
            ChainOp::SepConv => "sep_conv",
            ChainOp::DilConv => "dil_conv",
            ChainOp::ResBlock => "res_block",
            ChainOp::Attention => "attention",
        }
    }

    /// The op a name denotes.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|o| o.name() == s)
    }
}

impl fmt::Display for ChainOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One layer of a chain network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainLayer {
    /// Operation.
    pub op: ChainOp,
    /// Kernel side (odd).
    pub kernel: usize,
    /// Output channels.
    pub width: usize,
    /// Stride (1 or 2).
    pub stride: usize,
}

impl fmt::Display for ChainLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{k}x{k}-{}-s{}",
            self.op,
            self.width,
            self.stride,
            k = self.kernel
        )
    }
}

const WHAT: &str = "chain architecture";

impl FromStr for ChainLayer {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let parts: Vec<&str> = t.split('-').collect();
        if parts.len() != 3 {
            return Err(Error::parse(
                WHAT,
                s,
                "a layer is `op_KxK-width-sS`, e.g. `conv_3x3-32-s1`",
            ));
        }
        let (op, k) = parts[0]
            .rsplit_once('_')
            .ok_or_else(|| Error::parse(WHAT, s, format!("`{}` is not `op_KxK`", parts[0])))?;
        let op = ChainOp::parse(op).ok_or_else(|| {
            let known: Vec<&str> = ChainOp::ALL.iter().map(|o| o.name()).collect();
            Error::parse(
                WHAT,
                s,
                format!("unknown operation `{op}` (known: {})", known.join(", ")),
            )
        })?;
        let kernel = match k.split_once('x') {
            Some((a, b)) if a == b => a.parse::<usize>().ok(),
            _ => None,
        }
        .filter(|k| *k > 0)
        .ok_or_else(|| Error::parse(WHAT, s, format!("kernel `{k}` is not a square `KxK`")))?;
        let width = parts[1]
            .parse::<usize>()
            .ok()
            .filter(|w| *w > 0)
            .ok_or_else(|| {
                Error::parse(
                    WHAT,
                    s,
                    format!("width `{}` is not a positive integer", parts[1]),
                )
            })?;
        let stride = parts[2]
            .strip_prefix('s')
            .and_then(|x| x.parse::<usize>().ok())
            .filter(|x| *x > 0)
            .ok_or_else(|| Error::parse(WHAT, s, format!("stride `{}` is not `sN`", parts[2])))?;
        Ok(ChainLayer {
            op,
            kernel,
            width,
            stride,
        })
    }
}

/// A chain network: its layers in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainArch {
    /// The layers.
    pub layers: Vec<ChainLayer>,
}

impl fmt::Display for ChainArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.layers.iter().map(|l| l.to_string()).collect();
        f.write_str(&items.join(","))
    }
}

impl FromStr for ChainArch {
    type Err = Error;

    /// Parses `layer,layer,...`; the error names the layer that is wrong.
    fn from_str(s: &str) -> Result<Self> {
        if s.trim().is_empty() {
            return Err(Error::parse(WHAT, s, "no layers"));
        }
        let layers = s
            .split(',')
            .enumerate()
            .map(|(i, l)| {
                l.parse::<ChainLayer>().map_err(|e| match e {
                    Error::Parse { reason, .. } => {
                        Error::parse(WHAT, s, format!("layer {i} (`{}`): {reason}", l.trim()))
                    }
                    e => e,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ChainArch { layers })
    }
}

/// The options of a chain space (a study's `[space.chain]`). [`ChainConfig::check`]
/// validates them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// Fewest layers.
    pub min_depth: usize,
    /// Most layers.
    pub max_depth: usize,
    /// Operations to choose from.
    pub ops: Vec<ChainOp>,
    /// Kernel sides (odd).
    pub kernels: Vec<usize>,
    /// Widths.
    pub widths: Vec<usize>,
    /// Strides (1, 2).
    pub strides: Vec<usize>,
    /// Most layers with stride 2 (each halves the side).
    pub max_reductions: usize,
}

impl Default for ChainConfig {
    /// 1 to 8 layers of conv, sep_conv, dil_conv or res_block (attention is left out: it is
    /// quadratic in the number of positions; add it explicitly), kernels 3/5/7, widths
    /// 16/32/64/128, strides 1/2, at most 3 reductions.
    fn default() -> Self {
        ChainConfig {
            min_depth: 1,
            max_depth: 8,
            ops: vec![
                ChainOp::Conv,
                ChainOp::SepConv,
                ChainOp::DilConv,
                ChainOp::ResBlock,
            ],
            kernels: vec![3, 5, 7],
            widths: vec![16, 32, 64, 128],
            strides: vec![1, 2],
            max_reductions: 3,
        }
    }
}

impl ChainConfig {
    /// Checks the options: depths ordered and positive, every list non-empty without
    /// repeats, odd kernels, positive widths, strides 1 or 2; errors name the field as
    /// `chain.<field>`.
    pub fn check(&self) -> Result<()> {
        self.check_at("chain.")
    }

    /// [`ChainConfig::check`], naming the fields `<prefix><field>` (a study file's
    /// `space.chain.`).
    pub fn check_at(&self, prefix: &str) -> Result<()> {
        let f = |name: &str| format!("{prefix}{name}");
        if self.min_depth == 0 || self.min_depth > self.max_depth {
            return Err(Error::config(
                f("min_depth"),
                format!(
                    "need 1 <= min_depth <= max_depth, got {} and {}",
                    self.min_depth, self.max_depth
                ),
            ));
        }
        fn distinct<T: Eq + std::hash::Hash + Copy>(field: String, xs: &[T]) -> Result<()> {
            if xs.is_empty() {
                return Err(Error::config(field, "must not be empty"));
            }
            if xs.iter().collect::<HashSet<_>>().len() != xs.len() {
                return Err(Error::config(field, "has repeated values"));
            }
            Ok(())
        }
        distinct(f("ops"), &self.ops)?;
        distinct(f("kernels"), &self.kernels)?;
        distinct(f("widths"), &self.widths)?;
        distinct(f("strides"), &self.strides)?;
        if let Some(k) = self.kernels.iter().find(|k| **k % 2 == 0) {
            return Err(Error::config(f("kernels"), format!("{k} is not odd")));
        }
        if self.widths.contains(&0) {
            return Err(Error::config(f("widths"), "0 is not a width"));
        }
        if let Some(s) = self.strides.iter().find(|s| !matches!(**s, 1 | 2)) {
            return Err(Error::config(f("strides"), format!("{s} is not 1 or 2")));
        }
        Ok(())
    }
}

/// The chain space.
#[derive(Clone, Debug)]
pub struct ChainSpace {
    cfg: ChainConfig,
    decisions: Vec<Decision>,
}

impl Default for ChainSpace {
    fn default() -> Self {
        Self::new(ChainConfig::default()).expect("the default chain space is valid")
    }
}

const FIELDS: usize = 4;

impl ChainSpace {
    /// The space of `cfg` (checked).
    pub fn new(cfg: ChainConfig) -> Result<Self> {
        cfg.check()?;
        let depth: Vec<String> = (cfg.min_depth..=cfg.max_depth)
            .map(|d| d.to_string())
            .collect();
        let depth: Vec<&str> = depth.iter().map(|s| s.as_str()).collect();
        let mut decisions = vec![Decision::new("depth", &depth)];
        let ops: Vec<&str> = cfg.ops.iter().map(|o| o.name()).collect();
        let kernels: Vec<String> = cfg.kernels.iter().map(|k| format!("{k}x{k}")).collect();
        let widths: Vec<String> = cfg.widths.iter().map(|w| w.to_string()).collect();
        let strides: Vec<String> = cfg.strides.iter().map(|s| format!("s{s}")).collect();
        fn as_str(v: &[String]) -> Vec<&str> {
            v.iter().map(|s| s.as_str()).collect()
        }
        for i in 0..cfg.max_depth {
            decisions.push(Decision::new(format!("layer {i} op"), &ops));
            decisions.push(Decision::new(
                format!("layer {i} kernel"),
                &as_str(&kernels),
            ));
            decisions.push(Decision::new(format!("layer {i} width"), &as_str(&widths)));
            decisions.push(Decision::new(
                format!("layer {i} stride"),
                &as_str(&strides),
            ));
        }
        Ok(ChainSpace { cfg, decisions })
    }

    /// The options.
    pub fn config(&self) -> &ChainConfig {
        &self.cfg
    }

    fn layer_from(&self, c: &[usize]) -> ChainLayer {
        ChainLayer {
            op: self.cfg.ops[c[0]],
            kernel: self.cfg.kernels[c[1]],
            width: self.cfg.widths[c[2]],
            stride: self.cfg.strides[c[3]],
        }
    }

    fn random_layer(&self, rng: &mut Rng) -> ChainLayer {
        let c = [
            rng.below(self.cfg.ops.len()),
            rng.below(self.cfg.kernels.len()),
            rng.below(self.cfg.widths.len()),
            rng.below(self.cfg.strides.len()),
        ];
        self.layer_from(&c)
    }

    fn reductions(layers: &[ChainLayer]) -> usize {
        layers.iter().filter(|l| l.stride > 1).count()
    }

    /// Number of decisions that matter for `arch`: the depth and four per layer.
    fn active(&self, arch: &ChainArch) -> usize {
        1 + FIELDS * arch.layers.len()
    }
}

impl SearchSpace for ChainSpace {
    type Arch = ChainArch;

    fn name(&self) -> &str {
        "chain"
    }

    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    fn to_decisions(&self, arch: &ChainArch) -> Vec<usize> {
        let mut out = vec![0; self.decisions.len()];
        out[0] = arch.layers.len().saturating_sub(self.cfg.min_depth);
        for (i, l) in arch.layers.iter().enumerate().take(self.cfg.max_depth) {
            let pos = |xs: &[usize], v: usize| xs.iter().position(|x| *x == v).unwrap_or(0);
            let b = 1 + FIELDS * i;
            out[b] = self.cfg.ops.iter().position(|o| *o == l.op).unwrap_or(0);
            out[b + 1] = pos(&self.cfg.kernels, l.kernel);
            out[b + 2] = pos(&self.cfg.widths, l.width);
            out[b + 3] = pos(&self.cfg.strides, l.stride);
        }
        out
    }

    fn from_decisions(&self, choices: &[usize]) -> Result<ChainArch> {
        nascent_core::space::check_choices(&self.decisions, choices)?;
        let depth = self.cfg.min_depth + choices[0];
        let layers = (0..depth)
            .map(|i| self.layer_from(&choices[1 + FIELDS * i..1 + FIELDS * (i + 1)]))
            .collect();
        let arch = ChainArch { layers };
        self.validate(&arch)?;
        Ok(arch)
    }

    fn validate(&self, arch: &ChainArch) -> Result<()> {
        let d = arch.layers.len();
        if d < self.cfg.min_depth || d > self.cfg.max_depth {
            return Err(Error::InvalidArch(format!(
                "{d} layers; this space has {} to {}",
                self.cfg.min_depth, self.cfg.max_depth
            )));
        }
        for (i, l) in arch.layers.iter().enumerate() {
            let bad = |what: &str, v: String, opts: String| {
                Err(Error::InvalidArch(format!(
                    "layer {i}: {what} {v} is not one of this space's ({opts})"
                )))
            };
            let join = |xs: &[usize]| {
                xs.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !self.cfg.ops.contains(&l.op) {
                let names: Vec<&str> = self.cfg.ops.iter().map(|o| o.name()).collect();
                return bad("operation", l.op.to_string(), names.join(", "));
            }
            if !self.cfg.kernels.contains(&l.kernel) {
                return bad("kernel", l.kernel.to_string(), join(&self.cfg.kernels));
            }
            if !self.cfg.widths.contains(&l.width) {
                return bad("width", l.width.to_string(), join(&self.cfg.widths));
            }
            if !self.cfg.strides.contains(&l.stride) {
                return bad("stride", l.stride.to_string(), join(&self.cfg.strides));
            }
        }
        let r = Self::reductions(&arch.layers);
        if r > self.cfg.max_reductions {
            return Err(Error::InvalidArch(format!(
                "{r} layers have stride 2; this space allows at most {}",
                self.cfg.max_reductions
            )));
        }
        Ok(())
    }

    fn format(&self, arch: &ChainArch) -> String {
        arch.to_string()
    }

    fn parse(&self, s: &str) -> Result<ChainArch> {
        let a: ChainArch = s.parse()?;
        self.validate(&a)
            .map_err(|e| Error::parse(WHAT, s, e.to_string()))?;
        Ok(a)
    }

    /// A uniform depth, then uniform layers (redrawn until the reductions fit).
    fn sample(&self, rng: &mut Rng) -> ChainArch {
        let depth = self.cfg.min_depth + rng.below(self.cfg.max_depth - self.cfg.min_depth + 1);
        loop {
            let layers: Vec<ChainLayer> = (0..depth).map(|_| self.random_layer(rng)).collect();
            if Self::reductions(&layers) <= self.cfg.max_reductions {
                return ChainArch { layers };
            }
        }
    }

    /// Changes one active decision: the depth (removing a random layer, or inserting a random
    /// one at a random place) or one field of one layer.
    fn mutate(&self, arch: &ChainArch, rng: &mut Rng) -> ChainArch {
        for _ in 0..64 {
            let pick = rng.below(self.active(arch));
            let mut layers = arch.layers.clone();
            if pick == 0 {
                let can_grow = layers.len() < self.cfg.max_depth;
                let can_shrink = layers.len() > self.cfg.min_depth;
                let grow = match (can_grow, can_shrink) {
                    (true, true) => rng.bernoulli(0.5),
                    (g, _) => g,
                };
                if !(can_grow || can_shrink) {
                    continue;
                }
                if grow {
                    let at = rng.below(layers.len() + 1);
                    layers.insert(at, self.random_layer(rng));
                } else {
                    layers.remove(rng.below(layers.len()));
                }
            } else {
                let i = (pick - 1) / FIELDS;
                let field = (pick - 1) % FIELDS;
                let l = &mut layers[i];
                let n = [
                    self.cfg.ops.len(),
                    self.cfg.kernels.len(),
                    self.cfg.widths.len(),
                    self.cfg.strides.len(),
                ][field];
                if n < 2 {
                    continue;
                }
                let cur = self.to_decisions(arch)[pick];
                let o = rng.below(n - 1);
                let o = if o >= cur { o + 1 } else { o };
                match field {
                    0 => l.op = self.cfg.ops[o],
                    1 => l.kernel = self.cfg.kernels[o],
                    2 => l.width = self.cfg.widths[o],
                    _ => l.stride = self.cfg.strides[o],
                }
            }
            let child = ChainArch { layers };
            if child != *arch && self.validate(&child).is_ok() {
                return child;
            }
        }
        arch.clone()
    }

    /// The depth of one parent; each layer taken whole from a parent that has it.
    fn crossover(&self, a: &ChainArch, b: &ChainArch, rng: &mut Rng) -> ChainArch {
        for _ in 0..16 {
            let depth = if rng.bernoulli(0.5) {
                a.layers.len()
            } else {
                b.layers.len()
            };
            let layers: Vec<ChainLayer> = (0..depth)
                .map(|i| match (a.layers.get(i), b.layers.get(i)) {
                    (Some(x), Some(y)) => {
                        if rng.bernoulli(0.5) {
                            *x
                        } else {
                            *y
                        }
                    }
                    (Some(x), None) | (None, Some(x)) => *x,
                    (None, None) => unreachable!("depth is one parent's"),
                })
                .collect();
            let child = ChainArch { layers };
            if self.validate(&child).is_ok() {
                return child;
            }
        }
        a.clone()
    }

    /// Every valid architecture one active decision away: one field of one layer changed,
    /// the last layer removed, or a copy of the last layer (stride 1 where allowed) appended.
    fn neighbours(&self, arch: &ChainArch) -> Vec<ChainArch> {
        let base = self.to_decisions(arch);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut push = |a: ChainArch, out: &mut Vec<ChainArch>| {
            if a != *arch && self.validate(&a).is_ok() && seen.insert(a.clone()) {
                out.push(a);
            }
        };
        for (k, d) in self
            .decisions
            .iter()
            .enumerate()
            .take(self.active(arch))
            .skip(1)
        {
            for o in 0..d.options.len() {
                if o != base[k] {
                    let mut c = base.clone();
                    c[k] = o;
                    if let Ok(a) = self.from_decisions(&c) {
                        push(a, &mut out);
                    }
                }
            }
        }
        if arch.layers.len() > self.cfg.min_depth {
            let mut layers = arch.layers.clone();
            layers.pop();
            push(ChainArch { layers }, &mut out);
        }
        if arch.layers.len() < self.cfg.max_depth
            && let Some(last) = arch.layers.last()
        {
            let mut next = *last;
            if self.cfg.strides.contains(&1) {
                next.stride = 1;
            }
            let mut layers = arch.layers.clone();
            layers.push(next);
            push(ChainArch { layers }, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_errors_name_the_layer() {
        let s = "conv_3x3-32-s1,sep_conv_5x5-64-s2,res_block_3x3-64-s1";
        let a: ChainArch = s.parse().unwrap();
        assert_eq!(a.to_string(), s);
        assert_eq!(a.layers[1].op, ChainOp::SepConv);
        let e = "conv_3x3-32-s1,sep_conv_4x5-64-s2"
            .parse::<ChainArch>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("layer 1 (`sep_conv_4x5-64-s2`)"), "{e}");
        let e = "mlp_3x3-32-s1"
            .parse::<ChainArch>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown operation `mlp`"), "{e}");
        let e = ChainSpace::default()
            .parse("conv_3x3-32-s2,conv_3x3-32-s2,conv_3x3-32-s2,conv_3x3-32-s2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 3"), "{e}");
        let e = ChainSpace::default()
            .parse("conv_3x3-48-s1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("width 48"), "{e}");
    }

    #[test]
    fn config_is_checked() {
        let c = ChainConfig {
            kernels: vec![3, 4],
            ..ChainConfig::default()
        };
        assert!(
            ChainSpace::new(c)
                .unwrap_err()
                .to_string()
                .contains("chain.kernels")
        );
        let c = ChainConfig {
            min_depth: 5,
            max_depth: 2,
            ..ChainConfig::default()
        };
        assert!(ChainSpace::new(c).is_err());
    }
}
