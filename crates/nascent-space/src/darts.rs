//! The DARTS cell space (Liu et al., 2019).
//!
//! A genotype has a normal cell and a reduction cell. Each cell has two inputs (nodes 0 and 1:
//! the outputs of the two previous cells) and `steps` intermediate nodes (4 in DARTS); node
//! `i + 2` is the sum of two operations, each applied to an earlier node, and the cell's
//! output is the concatenation of the nodes in its `concat` list (`range(2, 6)`).
//!
//! Genotypes are printed and parsed in the DARTS notation,
//! `Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=range(2, 6), reduce=[...], reduce_concat=range(2, 6))`.
//! The parser also takes concat lists (`[2, 3, 4, 5]`, as the published `genotypes.py`
//! writes them), double quotes, any whitespace, and edges grouped per node
//! (`[[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], ...]`); the printer writes the canonical
//! form (a contiguous concat as `range(a, b)`).
//!
//! The order of the two edges of a node is kept as written (DARTS writes the stronger edge
//! first), so two genotypes that differ only in that order are different values that build
//! the same network.

use nascent_core::{Decision, Error, Result, Rng, SearchSpace};
use std::fmt;
use std::str::FromStr;

/// The DARTS search primitives, in the order of DARTS `genotypes.py` (`none` first).
pub const DARTS_PRIMITIVES: [&str; 8] = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
];

/// An operation of a DARTS cell edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DartsOp {
    /// Zero (`none`): in the search space, never in a derived genotype.
    None,
    /// 3x3 max pooling.
    MaxPool3x3,
    /// 3x3 average pooling.
    AvgPool3x3,
    /// Identity (factorized reduce in a reduction cell's input edges).
    SkipConnect,
    /// Separable convolution 3x3.
    SepConv3x3,
    /// Separable convolution 5x5.
    SepConv5x5,
    /// Dilated separable convolution 3x3.
    DilConv3x3,
    /// Dilated separable convolution 5x5.
    DilConv5x5,
    /// Separable convolution 7x7 (NASNet, AmoebaNet genotypes).
    SepConv7x7,
    /// 1x7 then 7x1 convolutions (AmoebaNet genotypes).
    Conv7x1_1x7,
}

impl DartsOp {
    /// Every operation the notation may name.
    pub const ALL: [DartsOp; 10] = [
        DartsOp::None,
        DartsOp::MaxPool3x3,
        DartsOp::AvgPool3x3,
        DartsOp::SkipConnect,
        DartsOp::SepConv3x3,
        DartsOp::SepConv5x5,
        DartsOp::DilConv3x3,
        DartsOp::DilConv5x5,
        DartsOp::SepConv7x7,
        DartsOp::Conv7x1_1x7,
    ];

    /// The 7 operations a derived DARTS genotype chooses from (the primitives without `none`).
    pub const SEARCH: [DartsOp; 7] = [
        DartsOp::MaxPool3x3,
        DartsOp::AvgPool3x3,
        DartsOp::SkipConnect,
        DartsOp::SepConv3x3,
        DartsOp::SepConv5x5,
        DartsOp::DilConv3x3,
        DartsOp::DilConv5x5,
    ];

    /// The name DARTS writes.
    pub fn name(self) -> &'static str {
        match self {
            DartsOp::None => "none",
            DartsOp::MaxPool3x3 => "max_pool_3x3",
            DartsOp::AvgPool3x3 => "avg_pool_3x3",
            DartsOp::SkipConnect => "skip_connect",
            DartsOp::SepConv3x3 => "sep_conv_3x3",
            DartsOp::SepConv5x5 => "sep_conv_5x5",
            DartsOp::DilConv3x3 => "dil_conv_3x3",
            DartsOp::DilConv5x5 => "dil_conv_5x5",
            DartsOp::SepConv7x7 => "sep_conv_7x7",
            DartsOp::Conv7x1_1x7 => "conv_7x1_1x7",
        }
    }

    /// The op a name denotes.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|op| op.name() == s)
    }
}

impl fmt::Display for DartsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One cell of a genotype: two `(op, input node)` edges per intermediate node, and the
/// nodes concatenated into the cell's output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DartsCell {
    /// Edges, two per intermediate node, in node order.
    pub edges: Vec<(DartsOp, usize)>,
    /// The nodes whose concatenation is the output.
    pub concat: Vec<usize>,
}

impl DartsCell {
    /// Number of intermediate nodes.
    pub fn steps(&self) -> usize {
        self.edges.len() / 2
    }

    /// Checks that the cell can be built: an even number of edges, each reading an earlier
    /// node, and a non-empty concat of existing nodes without repeats.
    pub fn check(&self, which: &str) -> Result<()> {
        if self.edges.is_empty() || !self.edges.len().is_multiple_of(2) {
            return Err(Error::InvalidArch(format!(
                "{which} cell has {} edges; it needs two per intermediate node",
                self.edges.len()
            )));
        }
        for (k, &(_, input)) in self.edges.iter().enumerate() {
            let node = k / 2 + 2;
            if input >= node {
                return Err(Error::InvalidArch(format!(
                    "{which} cell: edge {k} of node {node} reads node {input}, which is not an earlier node (0..{node})"
                )));
            }
        }
        if self.concat.is_empty() {
            return Err(Error::InvalidArch(format!("{which}_concat is empty")));
        }
        let nodes = self.steps() + 2;
        for (k, &c) in self.concat.iter().enumerate() {
            if c >= nodes {
                return Err(Error::InvalidArch(format!(
                    "{which}_concat names node {c}; the cell has nodes 0..{nodes}"
                )));
            }
            if self.concat[..k].contains(&c) {
                return Err(Error::InvalidArch(format!(
                    "{which}_concat names node {c} twice"
                )));
            }
        }
        Ok(())
    }
}

/// A DARTS genotype: a normal and a reduction cell.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DartsGenotype {
    /// The normal cell (keeps size and width).
    pub normal: DartsCell,
    /// The reduction cell (halves the side, doubles the width).
    pub reduce: DartsCell,
}

/// The published DARTS (second order) genotype, `DARTS_V2` in DARTS `genotypes.py`.
pub const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";

impl DartsGenotype {
    /// The published DARTS-V2 genotype.
    pub fn darts_v2() -> Self {
        DARTS_V2.parse().expect("the DARTS-V2 constant parses")
    }

    /// Checks both cells (see [`DartsCell::check`]).
    pub fn check(&self) -> Result<()> {
        self.normal.check("normal")?;
        self.reduce.check("reduce")
    }
}

fn write_concat(f: &mut fmt::Formatter<'_>, c: &[usize]) -> fmt::Result {
    let contiguous = !c.is_empty() && c.windows(2).all(|w| w[1] == w[0] + 1);
    if contiguous {
        write!(f, "range({}, {})", c[0], c[c.len() - 1] + 1)
    } else {
        let items: Vec<String> = c.iter().map(|x| x.to_string()).collect();
        write!(f, "[{}]", items.join(", "))
    }
}

fn write_edges(f: &mut fmt::Formatter<'_>, e: &[(DartsOp, usize)]) -> fmt::Result {
    let items: Vec<String> = e.iter().map(|(op, i)| format!("('{op}', {i})")).collect();
    write!(f, "[{}]", items.join(", "))
}

impl fmt::Display for DartsGenotype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Genotype(normal=")?;
        write_edges(f, &self.normal.edges)?;
        write!(f, ", normal_concat=")?;
        write_concat(f, &self.normal.concat)?;
        write!(f, ", reduce=")?;
        write_edges(f, &self.reduce.edges)?;
        write!(f, ", reduce_concat=")?;
        write_concat(f, &self.reduce.concat)?;
        write!(f, ")")
    }
}

// ---------------------------------------------------------------------------------------
// Parsing: a tokenizer and a recursive-descent parser of the Python-literal subset DARTS uses.

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(usize),
    Punct(char),
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

const WHAT: &str = "DARTS genotype";

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].1.is_ascii_alphanumeric() || chars[i].1 == '_') {
                i += 1;
            }
            let s: String = chars[start..i].iter().map(|x| x.1).collect();
            out.push((Tok::Ident(s), at));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].1.is_ascii_digit() {
                i += 1;
            }
            let s: String = chars[start..i].iter().map(|x| x.1).collect();
            let n = s.parse::<usize>().map_err(|_| {
                Error::parse(
                    WHAT,
                    src,
                    format!("number `{s}` at character {at} is too large"),
                )
            })?;
            out.push((Tok::Int(n), at));
        } else if c == '\'' || c == '"' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i].1 != c {
                i += 1;
            }
            if i == chars.len() {
                return Err(Error::parse(
                    WHAT,
                    src,
                    format!("the string opened at character {at} is not closed"),
                ));
            }
            let s: String = chars[start..i].iter().map(|x| x.1).collect();
            out.push((Tok::Str(s), at));
            i += 1;
        } else if "()[],=".contains(c) {
            out.push((Tok::Punct(c), at));
            i += 1;
        } else {
            return Err(Error::parse(
                WHAT,
                src,
                format!("unexpected character `{c}` at character {at}"),
            ));
        }
    }
    Ok(out)
}

impl<'s> Parser<'s> {
    fn err(&self, reason: impl fmt::Display) -> Error {
        let at = self
            .toks
            .get(self.pos)
            .map(|t| format!("at character {}", t.1))
            .unwrap_or_else(|| "at the end".to_string());
        Error::parse(WHAT, self.src, format!("{reason} ({at})"))
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.0.clone());
        self.pos += 1;
        t
    }

    fn expect(&mut self, c: char) -> Result<()> {
        match self.peek() {
            Some(Tok::Punct(p)) if *p == c => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(self.err(format!("expected `{c}`"))),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(p)) if *p == c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn int(&mut self) -> Result<usize> {
        match self.peek() {
            Some(Tok::Int(n)) => {
                let n = *n;
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.err("expected a non-negative integer")),
        }
    }

    /// `('op', input)`
    fn edge(&mut self) -> Result<(DartsOp, usize)> {
        self.expect('(')?;
        let op = match self.next() {
            Some(Tok::Str(s)) => DartsOp::parse(&s).ok_or_else(|| {
                self.pos -= 1;
                let known: Vec<&str> = DartsOp::ALL.iter().map(|o| o.name()).collect();
                self.err(format!(
                    "unknown operation `{s}` (known: {})",
                    known.join(", ")
                ))
            })?,
            _ => {
                self.pos -= 1;
                return Err(self.err("expected an operation name in quotes"));
            }
        };
        self.expect(',')?;
        let input = self.int()?;
        self.eat(',');
        self.expect(')')?;
        Ok((op, input))
    }

    /// `[edge, ...]` or `[[edge, edge], ...]` (grouped per node).
    fn edges(&mut self) -> Result<Vec<(DartsOp, usize)>> {
        self.expect('[')?;
        let mut out = Vec::new();
        while !self.eat(']') {
            if self.eat('[') {
                while !self.eat(']') {
                    out.push(self.edge()?);
                    if !self.eat(',') {
                        self.expect(']')?;
                        break;
                    }
                }
            } else {
                out.push(self.edge()?);
            }
            if !self.eat(',') {
                self.expect(']')?;
                break;
            }
        }
        Ok(out)
    }

    /// `range(a, b)`, `range(b)` or `[a, b, ...]`.
    fn concat(&mut self) -> Result<Vec<usize>> {
        match self.peek() {
            Some(Tok::Ident(s)) if s == "range" => {
                self.pos += 1;
                self.expect('(')?;
                let a = self.int()?;
                let (start, end) = if self.eat(',') {
                    (a, self.int()?)
                } else {
                    (0, a)
                };
                self.expect(')')?;
                if end <= start {
                    return Err(self.err(format!("range({start}, {end}) is empty")));
                }
                Ok((start..end).collect())
            }
            Some(Tok::Punct('[')) => {
                self.pos += 1;
                let mut out = Vec::new();
                while !self.eat(']') {
                    out.push(self.int()?);
                    if !self.eat(',') {
                        self.expect(']')?;
                        break;
                    }
                }
                Ok(out)
            }
            _ => Err(self.err("expected `range(a, b)` or a list of node numbers")),
        }
    }

    fn genotype(&mut self) -> Result<DartsGenotype> {
        match self.next() {
            Some(Tok::Ident(s)) if s == "Genotype" => {}
            _ => {
                self.pos = 0;
                return Err(self.err("expected `Genotype(`"));
            }
        }
        self.expect('(')?;
        let (mut normal, mut reduce, mut nc, mut rc) = (None, None, None, None);
        while !self.eat(')') {
            let key = match self.next() {
                Some(Tok::Ident(k)) => k,
                _ => {
                    self.pos -= 1;
                    return Err(self.err("expected a field name"));
                }
            };
            self.expect('=')?;
            let dup = |p: &Self, set: bool| {
                if set {
                    Err(p.err(format!("field `{key}` is given twice")))
                } else {
                    Ok(())
                }
            };
            match key.as_str() {
                "normal" => {
                    dup(self, normal.is_some())?;
                    normal = Some(self.edges()?);
                }
                "reduce" => {
                    dup(self, reduce.is_some())?;
                    reduce = Some(self.edges()?);
                }
                "normal_concat" => {
                    dup(self, nc.is_some())?;
                    nc = Some(self.concat()?);
                }
                "reduce_concat" => {
                    dup(self, rc.is_some())?;
                    rc = Some(self.concat()?);
                }
                _ => {
                    self.pos -= 2;
                    return Err(self.err(format!(
                        "unknown field `{key}` (known: normal, normal_concat, reduce, reduce_concat)"
                    )));
                }
            }
            if !self.eat(',') {
                self.expect(')')?;
                break;
            }
        }
        if self.pos < self.toks.len() {
            return Err(self.err("unexpected text after the genotype"));
        }
        let normal = normal.ok_or_else(|| self.err("field `normal` is missing"))?;
        let reduce = reduce.ok_or_else(|| self.err("field `reduce` is missing"))?;
        let default_concat = |e: &[(DartsOp, usize)]| (2..e.len() / 2 + 2).collect::<Vec<_>>();
        let g = DartsGenotype {
            normal: DartsCell {
                concat: nc.unwrap_or_else(|| default_concat(&normal)),
                edges: normal,
            },
            reduce: DartsCell {
                concat: rc.unwrap_or_else(|| default_concat(&reduce)),
                edges: reduce,
            },
        };
        g.check()
            .map_err(|e| Error::parse(WHAT, self.src, e.to_string()))?;
        Ok(g)
    }
}

impl FromStr for DartsGenotype {
    type Err = Error;

    /// Parses the DARTS notation; the error names what is wrong and where.
    fn from_str(s: &str) -> Result<Self> {
        let toks = tokenize(s)?;
        Parser {
            src: s,
            toks,
            pos: 0,
        }
        .genotype()
    }
}

// ---------------------------------------------------------------------------------------
// The search space.

/// The DARTS search space for multi-trial search: both cells, `steps` intermediate nodes
/// (4), each taking two edges with distinct inputs and an op from `ops` (the 7 DARTS
/// primitives other than `none`); outputs concatenated as `range(2, steps + 2)`.
///
/// Decisions, per cell (`normal`, then `reduce`), per node, per edge (`a`, then `b`): the
/// op, then the input node.
#[derive(Clone, Debug)]
pub struct DartsSpace {
    steps: usize,
    ops: Vec<DartsOp>,
    decisions: Vec<Decision>,
}

impl Default for DartsSpace {
    fn default() -> Self {
        Self::new()
    }
}

impl DartsSpace {
    /// The DARTS space: 4 steps, the 7 primitives other than `none`.
    pub fn new() -> Self {
        Self::with(4, &DartsOp::SEARCH).expect("the DARTS space is valid")
    }

    /// A space with `steps` intermediate nodes and candidate `ops`.
    pub fn with(steps: usize, ops: &[DartsOp]) -> Result<Self> {
        if steps == 0 {
            return Err(Error::config("darts.steps", "must be at least 1"));
        }
        if ops.is_empty() {
            return Err(Error::config(
                "darts.ops",
                "must name at least one operation",
            ));
        }
        let names: Vec<&str> = ops.iter().map(|o| o.name()).collect();
        let mut decisions = Vec::new();
        for cell in ["normal", "reduce"] {
            for i in 0..steps {
                let node = i + 2;
                let inputs: Vec<String> = (0..node).map(|n| n.to_string()).collect();
                let inputs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
                for e in ["a", "b"] {
                    decisions.push(Decision::new(
                        format!("{cell} node {node} edge {e} op"),
                        &names,
                    ));
                    decisions.push(Decision::new(
                        format!("{cell} node {node} edge {e} input"),
                        &inputs,
                    ));
                }
            }
        }
        Ok(DartsSpace {
            steps,
            ops: ops.to_vec(),
            decisions,
        })
    }

    /// Intermediate nodes per cell.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Candidate operations.
    pub fn ops(&self) -> &[DartsOp] {
        &self.ops
    }

    fn check_cell(&self, cell: &DartsCell, which: &str) -> Result<()> {
        cell.check(which)?;
        if cell.steps() != self.steps {
            return Err(Error::InvalidArch(format!(
                "{which} cell has {} intermediate nodes; this space has {}",
                cell.steps(),
                self.steps
            )));
        }
        let want: Vec<usize> = (2..self.steps + 2).collect();
        if cell.concat != want {
            return Err(Error::InvalidArch(format!(
                "{which}_concat must be range(2, {}) in this space",
                self.steps + 2
            )));
        }
        for (k, pair) in cell.edges.chunks(2).enumerate() {
            if pair[0].1 == pair[1].1 {
                return Err(Error::InvalidArch(format!(
                    "{which} cell node {}: both edges read node {} (inputs must be distinct)",
                    k + 2,
                    pair[0].1
                )));
            }
        }
        for (op, _) in &cell.edges {
            if !self.ops.contains(op) {
                let names: Vec<&str> = self.ops.iter().map(|o| o.name()).collect();
                return Err(Error::InvalidArch(format!(
                    "{which} cell uses `{op}`, which is not in this space ({})",
                    names.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn cell_decisions(&self, cell: &DartsCell, out: &mut Vec<usize>) {
        for &(op, input) in &cell.edges {
            out.push(self.ops.iter().position(|o| *o == op).unwrap_or(0));
            out.push(input);
        }
    }

    fn cell_from(&self, choices: &[usize]) -> DartsCell {
        DartsCell {
            edges: choices.chunks(2).map(|c| (self.ops[c[0]], c[1])).collect(),
            concat: (2..self.steps + 2).collect(),
        }
    }
}

impl SearchSpace for DartsSpace {
    type Arch = DartsGenotype;

    fn name(&self) -> &str {
        "darts"
    }

    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    fn to_decisions(&self, arch: &DartsGenotype) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.decisions.len());
        self.cell_decisions(&arch.normal, &mut out);
        self.cell_decisions(&arch.reduce, &mut out);
        out
    }

    fn from_decisions(&self, choices: &[usize]) -> Result<DartsGenotype> {
        nascent_core::space::check_choices(&self.decisions, choices)?;
        let half = choices.len() / 2;
        let g = DartsGenotype {
            normal: self.cell_from(&choices[..half]),
            reduce: self.cell_from(&choices[half..]),
        };
        self.validate(&g)?;
        Ok(g)
    }

    fn validate(&self, arch: &DartsGenotype) -> Result<()> {
        self.check_cell(&arch.normal, "normal")?;
        self.check_cell(&arch.reduce, "reduce")
    }

    fn format(&self, arch: &DartsGenotype) -> String {
        arch.to_string()
    }

    fn parse(&self, s: &str) -> Result<DartsGenotype> {
        let g: DartsGenotype = s.parse()?;
        self.validate(&g)
            .map_err(|e| Error::parse(WHAT, s, e.to_string()))?;
        Ok(g)
    }

    /// Uniform over ops; the two inputs of a node are a uniform pair of distinct earlier
    /// nodes, written in increasing order.
    fn sample(&self, rng: &mut Rng) -> DartsGenotype {
        let mut cell = || {
            let mut edges = Vec::with_capacity(2 * self.steps);
            for i in 0..self.steps {
                let mut ins = rng.sample_indices(i + 2, 2);
                ins.sort_unstable();
                for input in ins {
                    edges.push((self.ops[rng.below(self.ops.len())], input));
                }
            }
            DartsCell {
                edges,
                concat: (2..self.steps + 2).collect(),
            }
        };
        let normal = cell();
        let reduce = cell();
        DartsGenotype { normal, reduce }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn darts_v2_round_trips_exactly() {
        let g = DartsGenotype::darts_v2();
        assert_eq!(g.to_string(), DARTS_V2);
        assert_eq!(g.normal.edges[5], (DartsOp::SkipConnect, 0));
        assert_eq!(g.reduce.concat, vec![2, 3, 4, 5]);
        DartsSpace::new().validate(&g).unwrap();
    }

    #[test]
    fn published_list_form_and_grouped_edges_parse() {
        let list = DARTS_V2
            .replace("range(2, 6)", "[2, 3, 4, 5]")
            .replace('\'', "\"");
        assert_eq!(
            list.parse::<DartsGenotype>().unwrap(),
            DartsGenotype::darts_v2()
        );
        let grouped = "Genotype(normal=[[('sep_conv_3x3', 1), ('sep_conv_3x3', 0)], [('skip_connect', 2), ('sep_conv_3x3', 0)]], normal_concat=range(2, 4), reduce=[[('max_pool_3x3', 0), ('max_pool_3x3', 1)], [('skip_connect', 2), ('max_pool_3x3', 1)]], reduce_concat=range(2, 4))";
        let g: DartsGenotype = grouped.parse().unwrap();
        assert_eq!(g.normal.steps(), 2);
        assert_eq!(g.normal.edges[2], (DartsOp::SkipConnect, 2));
        // A 2-step genotype parses but is not in the 4-step space.
        let e = DartsSpace::new().parse(grouped).unwrap_err().to_string();
        assert!(e.contains("2 intermediate nodes"), "{e}");
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            (
                DARTS_V2.replace("sep_conv_3x3", "sep_conv_9x9"),
                "unknown operation `sep_conv_9x9`",
            ),
            (
                DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"),
                "reads node 5",
            ),
            (
                DARTS_V2.replace("normal_concat=range(2, 6)", "normal_concat=range(2, 9)"),
                "names node 6",
            ),
            (
                "Genotype(normal=[('sep_conv_3x3', 0)], reduce=[])".to_string(),
                "1 edges",
            ),
            (DARTS_V2.replace("Genotype(", "Genotype ["), "expected `(`"),
            (
                DARTS_V2.replace("reduce=", "reduction="),
                "unknown field `reduction`",
            ),
            ("|nor_conv_3x3~0|+|".to_string(), "unexpected character `|`"),
            (DARTS_V2[..60].to_string(), "at the end"),
            (
                "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)])".to_string(),
                "`reduce` is missing",
            ),
        ];
        for (s, want) in cases {
            let e = s.parse::<DartsGenotype>().unwrap_err().to_string();
            assert!(e.contains(want), "{s}\n -> {e}");
        }
        let same = DARTS_V2.replace(
            "('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1)",
            "('sep_conv_3x3', 0), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1)",
        );
        let e = DartsSpace::new().parse(&same).unwrap_err().to_string();
        assert!(e.contains("inputs must be distinct"), "{e}");
    }

    #[test]
    fn decisions_are_per_cell_node_edge() {
        let s = DartsSpace::new();
        assert_eq!(s.decisions().len(), 32);
        assert_eq!(s.decisions()[0].name, "normal node 2 edge a op");
        assert_eq!(s.decisions()[1].options, vec!["0", "1"]);
        assert_eq!(s.decisions()[31].options.len(), 5);
        let g = DartsGenotype::darts_v2();
        assert_eq!(s.from_decisions(&s.to_decisions(&g)).unwrap(), g);
    }
}
