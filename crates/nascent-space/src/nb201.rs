//! The NAS-Bench-201 cell space.
//!
//! A cell is a DAG of 4 nodes; each of its 6 edges (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2) carries
//! one of 5 operations, so the space holds 5^6 = 15,625 cells. Arch strings are printed and
//! parsed exactly as the benchmark writes them, and the canonical index is the benchmark's own
//! order (its generator's lexicographic order shuffled by CPython's `random.seed(88)`).

use crate::mt19937::Mt19937;
use nascent_core::{Decision, Encoding, Error, Result, SearchSpace};
use std::sync::OnceLock;

/// The operations of an NB201 edge, in the benchmark's order.
pub const NB201_OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];

/// The edges as (to, from), in arch-string order.
pub const NB201_EDGES: [(usize, usize); 6] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// Number of cells in the space.
pub const NB201_SIZE: usize = 15_625;

/// An NB201 operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Nb201Op {
    /// Zero: the edge is absent.
    None = 0,
    /// Identity.
    Skip = 1,
    /// ReLU-Conv1x1-BN.
    Conv1x1 = 2,
    /// ReLU-Conv3x3-BN.
    Conv3x3 = 3,
    /// 3x3 average pooling, stride 1.
    AvgPool3x3 = 4,
}

impl Nb201Op {
    /// All operations in the benchmark's order.
    pub const ALL: [Nb201Op; 5] = [
        Nb201Op::None,
        Nb201Op::Skip,
        Nb201Op::Conv1x1,
        Nb201Op::Conv3x3,
        Nb201Op::AvgPool3x3,
    ];

    /// The op from its index in [`NB201_OPS`].
    pub fn from_index(i: usize) -> Option<Self> {
        Self::ALL.get(i).copied()
    }

    /// The name the benchmark writes.
    pub fn name(self) -> &'static str {
        NB201_OPS[self as usize]
    }

    /// The op a name denotes.
    pub fn parse(s: &str) -> Option<Self> {
        NB201_OPS
            .iter()
            .position(|n| *n == s)
            .and_then(Self::from_index)
    }

    /// Whether the op has weights.
    pub fn is_parametric(self) -> bool {
        matches!(self, Nb201Op::Conv1x1 | Nb201Op::Conv3x3)
    }
}

/// One NB201 cell: the op of each edge, in [`NB201_EDGES`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nb201Arch(pub [Nb201Op; 6]);

impl Nb201Arch {
    /// The cell with every edge `op`.
    pub fn uniform(op: Nb201Op) -> Self {
        Nb201Arch([op; 6])
    }

    /// The op on the edge into node `to` from node `from`.
    pub fn op(&self, to: usize, from: usize) -> Option<Nb201Op> {
        NB201_EDGES
            .iter()
            .position(|&e| e == (to, from))
            .map(|i| self.0[i])
    }

    /// Index in the generator's lexicographic order (edge 1<-0 most significant).
    fn lex(&self) -> usize {
        self.0.iter().fold(0, |acc, op| acc * 5 + *op as usize)
    }

    fn from_lex(mut g: usize) -> Self {
        let mut ops = [Nb201Op::None; 6];
        for k in (0..6).rev() {
            ops[k] = Nb201Op::ALL[g % 5];
            g /= 5;
        }
        Nb201Arch(ops)
    }

    /// Whether some path from the input to the output avoids `none` (otherwise the cell
    /// outputs zeros).
    pub fn is_connected(&self) -> bool {
        let mut reach = [true, false, false, false];
        for (k, &(to, from)) in NB201_EDGES.iter().enumerate() {
            if reach[from] && self.0[k] != Nb201Op::None {
                reach[to] = true;
            }
        }
        reach[3]
    }
}

impl std::fmt::Display for Nb201Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = |k: usize| self.0[k].name();
        write!(
            f,
            "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|",
            o(0),
            o(1),
            o(2),
            o(3),
            o(4),
            o(5)
        )
    }
}

impl std::str::FromStr for Nb201Arch {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let what = "NAS-Bench-201 arch string";
        let t = s.trim();
        let nodes: Vec<&str> = t.split('+').collect();
        if nodes.len() != 3 {
            return Err(Error::parse(
                what,
                s,
                format!(
                    "expected 3 node groups joined by '+', found {}",
                    nodes.len()
                ),
            ));
        }
        let mut ops = [Nb201Op::None; 6];
        let mut k = 0;
        for (n, group) in nodes.iter().enumerate() {
            let node = n + 1;
            let inner = group
                .strip_prefix('|')
                .and_then(|g| g.strip_suffix('|'))
                .ok_or_else(|| {
                    Error::parse(
                        what,
                        s,
                        format!("node {node} group `{group}` must start and end with '|'"),
                    )
                })?;
            let entries: Vec<&str> = inner.split('|').collect();
            if entries.len() != node {
                return Err(Error::parse(
                    what,
                    s,
                    format!(
                        "node {node} needs {node} inputs, found {} in `{group}`",
                        entries.len()
                    ),
                ));
            }
            for (j, e) in entries.iter().enumerate() {
                let (op, input) = e.split_once('~').ok_or_else(|| {
                    Error::parse(what, s, format!("entry `{e}` is not of the form op~input"))
                })?;
                let op = Nb201Op::parse(op).ok_or_else(|| {
                    Error::parse(
                        what,
                        s,
                        format!("unknown op `{op}` (known: {})", NB201_OPS.join(", ")),
                    )
                })?;
                if input != j.to_string() {
                    return Err(Error::parse(
                        what,
                        s,
                        format!("entry `{e}` of node {node} must take input {j}"),
                    ));
                }
                ops[k] = op;
                k += 1;
            }
        }
        Ok(Nb201Arch(ops))
    }
}

struct IndexTables {
    /// benchmark index -> lexicographic index
    to_lex: Vec<u16>,
    /// lexicographic index -> benchmark index
    from_lex: Vec<u16>,
}

fn tables() -> &'static IndexTables {
    static T: OnceLock<IndexTables> = OnceLock::new();
    T.get_or_init(|| {
        let mut order: Vec<u16> = (0..NB201_SIZE as u16).collect();
        Mt19937::python_seed(88).shuffle(&mut order);
        let mut from_lex = vec![0u16; NB201_SIZE];
        for (bench, &lex) in order.iter().enumerate() {
            from_lex[lex as usize] = bench as u16;
        }
        IndexTables {
            to_lex: order,
            from_lex,
        }
    })
}

/// Shape of the NB201 macro network, for counting its parameters and multiply-accumulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nb201Shape {
    /// Channels of the first stage (16 in the benchmark).
    pub channels: usize,
    /// Cells per stage (5 in the benchmark).
    pub cells: usize,
    /// Input channels (3 for CIFAR, 1 for MNIST).
    pub in_channels: usize,
    /// Input side in pixels (32).
    pub resolution: usize,
    /// Classes (10 for CIFAR-10, 100 for CIFAR-100, 120 for ImageNet16-120).
    pub classes: usize,
}

impl Default for Nb201Shape {
    fn default() -> Self {
        Nb201Shape {
            channels: 16,
            cells: 5,
            in_channels: 3,
            resolution: 32,
            classes: 10,
        }
    }
}

impl Nb201Shape {
    /// Parameters of the network with cell `arch` (trainable weights, BatchNorm affine
    /// included, running statistics excluded), as the benchmark counts them.
    pub fn params(&self, arch: &Nb201Arch) -> u64 {
        self.count(arch).0
    }

    /// Multiply-accumulates of conv and linear layers for one image.
    pub fn macs(&self, arch: &Nb201Arch) -> u64 {
        self.count(arch).1
    }

    fn count(&self, arch: &Nb201Arch) -> (u64, u64) {
        let conv = |cin: usize, cout: usize, k: usize, out_side: usize| -> (u64, u64) {
            let w = (cin * cout * k * k) as u64;
            (w, w * (out_side * out_side) as u64)
        };
        let bn = |c: usize| (2 * c) as u64;
        let (mut p, mut m) = (0u64, 0u64);
        let mut add = |(a, b): (u64, u64)| {
            p += a;
            m += b;
        };
        let c0 = self.channels;
        let mut side = self.resolution;
        // Stem: conv3x3 + BN.
        add(conv(self.in_channels, c0, 3, side));
        add((bn(c0), 0));
        let mut c = c0;
        for stage in 0..3 {
            if stage > 0 {
                // ResNet basic block with stride 2: conv_a, conv_b, avgpool + conv1x1.
                let cout = c * 2;
                let out = side.div_ceil(2);
                add(conv(c, cout, 3, out));
                add((bn(cout), 0));
                add(conv(cout, cout, 3, out));
                add((bn(cout), 0));
                add(conv(c, cout, 1, side / 2));
                c = cout;
                side = out;
            }
            for _ in 0..self.cells {
                for op in arch.0 {
                    match op {
                        Nb201Op::Conv1x1 => {
                            add(conv(c, c, 1, side));
                            add((bn(c), 0));
                        }
                        Nb201Op::Conv3x3 => {
                            add(conv(c, c, 3, side));
                            add((bn(c), 0));
                        }
                        _ => {}
                    }
                }
            }
        }
        // Last BN + ReLU, global pooling, linear.
        add((bn(c), 0));
        add((
            (c * self.classes + self.classes) as u64,
            (c * self.classes) as u64,
        ));
        (p, m)
    }
}

/// The NAS-Bench-201 space.
#[derive(Clone, Debug)]
pub struct Nb201Space {
    decisions: Vec<Decision>,
}

impl Default for Nb201Space {
    fn default() -> Self {
        Self::new()
    }
}

impl Nb201Space {
    /// The space.
    pub fn new() -> Self {
        let decisions = NB201_EDGES
            .iter()
            .map(|(to, from)| Decision::new(format!("edge {to}<-{from}"), &NB201_OPS))
            .collect();
        Nb201Space { decisions }
    }

    /// Path encoding (BANANAS): one indicator per sequence of non-`none` ops along one of the
    /// four input-to-output paths (0-3, 0-1-3, 0-2-3, 0-1-2-3): 4 + 16 + 64 = 84 features.
    pub fn path_encoding(arch: &Nb201Arch) -> Vec<f64> {
        const PATHS: [&[usize]; 4] = [&[3], &[0, 4], &[1, 5], &[0, 2, 5]];
        let mut v = vec![0.0; 84];
        for path in PATHS {
            let mut code = 0usize;
            let mut ok = true;
            for &e in path {
                let op = arch.0[e] as usize;
                if op == 0 {
                    ok = false;
                    break;
                }
                code = code * 4 + (op - 1);
            }
            if ok {
                let offset = match path.len() {
                    1 => 0,
                    2 => 4,
                    _ => 20,
                };
                v[offset + code] = 1.0;
            }
        }
        v
    }
}

impl SearchSpace for Nb201Space {
    type Arch = Nb201Arch;

    fn name(&self) -> &str {
        "nb201"
    }

    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    fn to_decisions(&self, arch: &Nb201Arch) -> Vec<usize> {
        arch.0.iter().map(|o| *o as usize).collect()
    }

    fn from_decisions(&self, choices: &[usize]) -> Result<Nb201Arch> {
        nascent_core::space::check_choices(&self.decisions, choices)?;
        let mut ops = [Nb201Op::None; 6];
        for (k, &c) in choices.iter().enumerate() {
            ops[k] = Nb201Op::ALL[c];
        }
        Ok(Nb201Arch(ops))
    }

    fn validate(&self, _arch: &Nb201Arch) -> Result<()> {
        Ok(())
    }

    fn format(&self, arch: &Nb201Arch) -> String {
        arch.to_string()
    }

    fn parse(&self, s: &str) -> Result<Nb201Arch> {
        s.parse()
    }

    fn sample(&self, rng: &mut nascent_core::Rng) -> Nb201Arch {
        Nb201Arch::from_lex(rng.below(NB201_SIZE))
    }

    fn encode(&self, arch: &Nb201Arch, encoding: Encoding) -> Option<Vec<f64>> {
        Some(match encoding {
            Encoding::OneHot => {
                nascent_core::space::one_hot(&self.decisions, &self.to_decisions(arch))
            }
            Encoding::Path => Self::path_encoding(arch),
        })
    }

    fn size(&self) -> Option<u64> {
        Some(NB201_SIZE as u64)
    }

    fn index(&self, arch: &Nb201Arch) -> Option<u64> {
        Some(tables().from_lex[arch.lex()] as u64)
    }

    fn from_index(&self, index: u64) -> Option<Nb201Arch> {
        let i = usize::try_from(index).ok()?;
        tables()
            .to_lex
            .get(i)
            .map(|&g| Nb201Arch::from_lex(g as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benchmark_order_matches_published_anchors() {
        let s = Nb201Space::new();
        // The benchmark's generator asserts these two.
        assert_eq!(
            s.from_index(0).unwrap().to_string(),
            "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
        );
        assert_eq!(
            s.from_index(9).unwrap().to_string(),
            "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
        );
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let e = "|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"
            .parse::<Nb201Arch>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown op `nor_conv_9x9`"), "{e}");
        let e = "|none~0|+|none~0|"
            .parse::<Nb201Arch>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 node groups"), "{e}");
        let e = "|none~0|+|none~0|none~0|+|none~0|none~1|none~2|"
            .parse::<Nb201Arch>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("must take input 1"), "{e}");
    }

    #[test]
    fn parameter_counts_match_the_benchmark() {
        let shape = Nb201Shape::default();
        assert_eq!(
            shape.params(&Nb201Arch::uniform(Nb201Op::Conv3x3)),
            1_531_546
        );
        assert_eq!(shape.params(&Nb201Arch::uniform(Nb201Op::None)), 73_306);
    }

    #[test]
    fn path_encoding_counts_live_paths() {
        let all3 = Nb201Arch::uniform(Nb201Op::Conv3x3);
        let v = Nb201Space::path_encoding(&all3);
        // 0-3, 0-x-3 (two paths, same ops), 0-1-2-3.
        assert_eq!(v.iter().sum::<f64>(), 3.0);
        assert_eq!(
            Nb201Space::path_encoding(&Nb201Arch::uniform(Nb201Op::None))
                .iter()
                .sum::<f64>(),
            0.0
        );
        assert!(!Nb201Arch::uniform(Nb201Op::None).is_connected());
        assert!(all3.is_connected());
    }
}
