//! Cell diagrams: a cell's DAG laid out left to right, and chain (macro) architectures as a
//! sequence of layers.
//!
//! A [`CellGraph`] is generic: nodes (inputs, intermediate nodes, outputs) and edges that carry
//! an operation name. [`CellGraph::to_svg`] layers the nodes by their topological depth (inputs
//! first, outputs last), orders each layer to reduce crossings, and draws edges as curves
//! coloured by operation with the operation's name on the edge. Constructors build the graph of
//! an NB201 cell ([`CellGraph::from_nb201`]) and of the two cells of a DARTS genotype
//! ([`CellGraph::from_darts`]); [`ChainDiagram`] draws a chain of layers
//! ([`ChainDiagram::from_chain`]).
//!
//! ```
//! use nascent_report::cell::CellGraph;
//! let arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
//!     .parse()
//!     .unwrap();
//! let svg = CellGraph::from_nb201(&arch).to_svg();
//! assert!(svg.contains("nor_conv_3x3"));
//! ```

use crate::plot::{PALETTE, escape, f, shorten, text_width};
use nascent_core::{Error, Result};
use nascent_space::{
    ChainArch, DartsCell, DartsGenotype, DartsOp, Nb201Arch, Nb201Op, nb201::NB201_EDGES,
};
use std::collections::BTreeSet;
use std::fmt::Write;

/// The role of a node in a cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// An input of the cell (drawn in the first column).
    Input,
    /// A node computed inside the cell.
    #[default]
    Intermediate,
    /// An output of the cell (drawn in the last column).
    Output,
}

/// A node of a [`CellGraph`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// Identifier that edges refer to (unique in the graph).
    pub id: usize,
    /// Text drawn in the node.
    pub label: String,
    /// Its role.
    pub kind: NodeKind,
}

impl Node {
    /// A node.
    pub fn new(id: usize, label: impl Into<String>, kind: NodeKind) -> Self {
        Node {
            id,
            label: label.into(),
            kind,
        }
    }
}

/// How an edge is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EdgeStyle {
    /// A solid curve in the operation's colour, labelled with the operation.
    #[default]
    Op,
    /// A faint dashed curve: an edge that carries nothing (NB201's `none`).
    Faint,
    /// A plain grey curve without a label: wiring, such as the concatenation into a DARTS
    /// cell's output.
    Plain,
}

/// An edge of a [`CellGraph`]: the operation applied to `from`'s output on its way to `to`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edge {
    /// Source node id.
    pub from: usize,
    /// Target node id.
    pub to: usize,
    /// The operation's name (drawn on the edge).
    pub op: String,
    /// How the edge is drawn.
    pub style: EdgeStyle,
}

impl Edge {
    /// An operation edge.
    pub fn new(from: usize, to: usize, op: impl Into<String>) -> Self {
        Edge {
            from,
            to,
            op: op.into(),
            style: EdgeStyle::Op,
        }
    }

    /// The same edge with another style.
    pub fn styled(mut self, style: EdgeStyle) -> Self {
        self.style = style;
        self
    }
}

/// A cell as a DAG of nodes and operation-carrying edges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CellGraph {
    /// Title above the diagram (may be empty).
    pub title: String,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The edges.
    pub edges: Vec<Edge>,
}

/// The colour of an operation: fixed for the operations of the built-in spaces, so that the
/// same operation looks the same in every diagram of a report, and a stable palette colour
/// for any other name.
pub fn op_colour(op: &str) -> &'static str {
    match op {
        "none" | "zero" => "#AAAAAA",
        "skip_connect" | "identity" => "#009E73",
        "nor_conv_1x1" | "conv_1x1" => "#E69F00",
        "nor_conv_3x3" | "conv_3x3" | "sep_conv_3x3" => "#0072B2",
        "sep_conv_5x5" | "conv_5x5" => "#56B4E9",
        "sep_conv_7x7" | "conv_7x1_1x7" => "#333333",
        "dil_conv_3x3" => "#D55E00",
        "dil_conv_5x5" => "#A23B00",
        "avg_pool_3x3" => "#CC79A7",
        "max_pool_3x3" => "#B59F00",
        other => {
            let h = other.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100000001b3)
            });
            PALETTE[(h % PALETTE.len() as u64) as usize]
        }
    }
}

impl CellGraph {
    /// The diagram of an NB201 cell: node 0 (input), nodes 1 and 2, node 3 (output), six edges;
    /// `none` edges are drawn faint. The title is the arch string.
    pub fn from_nb201(arch: &Nb201Arch) -> Self {
        let nodes = vec![
            Node::new(0, "0", NodeKind::Input),
            Node::new(1, "1", NodeKind::Intermediate),
            Node::new(2, "2", NodeKind::Intermediate),
            Node::new(3, "3", NodeKind::Output),
        ];
        let edges = NB201_EDGES
            .iter()
            .zip(arch.0)
            .map(|(&(to, from), op)| {
                let style = if op == Nb201Op::None {
                    EdgeStyle::Faint
                } else {
                    EdgeStyle::Op
                };
                Edge::new(from, to, op.name()).styled(style)
            })
            .collect();
        CellGraph {
            title: arch.to_string(),
            nodes,
            edges,
        }
    }

    /// The diagram of one DARTS cell: inputs `c_{k-2}` and `c_{k-1}`, intermediate nodes
    /// `0..steps`, two operation edges into each, and the output `c_{k}` joined by plain
    /// "concat" edges from the nodes of the cell's concat list. `none` edges (never in a
    /// derived genotype) are drawn faint.
    pub fn from_darts_cell(cell: &DartsCell, title: impl Into<String>) -> Self {
        let steps = cell.steps();
        let out = steps + 2;
        let mut nodes = vec![
            Node::new(0, "c_{k-2}", NodeKind::Input),
            Node::new(1, "c_{k-1}", NodeKind::Input),
        ];
        nodes.extend((0..steps).map(|i| Node::new(i + 2, i.to_string(), NodeKind::Intermediate)));
        nodes.push(Node::new(out, "c_{k}", NodeKind::Output));
        let mut edges: Vec<Edge> = cell
            .edges
            .iter()
            .enumerate()
            .map(|(k, &(op, input))| {
                let style = if op == DartsOp::None {
                    EdgeStyle::Faint
                } else {
                    EdgeStyle::Op
                };
                Edge::new(input, k / 2 + 2, op.name()).styled(style)
            })
            .collect();
        edges.extend(
            cell.concat
                .iter()
                .map(|&c| Edge::new(c, out, "concat").styled(EdgeStyle::Plain)),
        );
        CellGraph {
            title: title.into(),
            nodes,
            edges,
        }
    }

    /// The two diagrams of a DARTS genotype: the normal cell and the reduction cell.
    pub fn from_darts(genotype: &DartsGenotype) -> [CellGraph; 2] {
        [
            CellGraph::from_darts_cell(&genotype.normal, "normal cell"),
            CellGraph::from_darts_cell(&genotype.reduce, "reduction cell"),
        ]
    }

    /// Checks that node ids are unique, edges join existing nodes, and the graph has no cycle;
    /// the error names the offending node or edge.
    pub fn check(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        for n in &self.nodes {
            if !seen.insert(n.id) {
                return Err(Error::InvalidArch(format!(
                    "cell graph: node id {} appears twice",
                    n.id
                )));
            }
        }
        for (k, e) in self.edges.iter().enumerate() {
            for end in [e.from, e.to] {
                if !seen.contains(&end) {
                    return Err(Error::InvalidArch(format!(
                        "cell graph: edge {k} ({} -> {}, `{}`) names node {end}, which does not exist",
                        e.from, e.to, e.op
                    )));
                }
            }
        }
        let (_, cyclic) = self.depths();
        if let Some(&i) = cyclic.first() {
            return Err(Error::InvalidArch(format!(
                "cell graph: node {} lies on a cycle",
                self.nodes[i].id
            )));
        }
        Ok(())
    }

    /// Index of node `id` in `nodes`.
    fn index(&self, id: usize) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// Edges as (from index, to index, edge index), skipping those naming unknown nodes.
    fn resolved_edges(&self) -> Vec<(usize, usize, usize)> {
        self.edges
            .iter()
            .enumerate()
            .filter_map(|(k, e)| Some((self.index(e.from)?, self.index(e.to)?, k)))
            .collect()
    }

    /// The depth of each node (longest path from a source, by Kahn's algorithm) and the nodes
    /// left on cycles (given the depth after all others).
    fn depths(&self) -> (Vec<usize>, Vec<usize>) {
        let n = self.nodes.len();
        let edges = self.resolved_edges();
        let mut indeg = vec![0usize; n];
        for &(_, t, _) in &edges {
            indeg[t] += 1;
        }
        let mut depth = vec![0usize; n];
        let mut queue: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut done = vec![false; n];
        let mut head = 0;
        while head < queue.len() {
            let u = queue[head];
            head += 1;
            done[u] = true;
            for &(s, t, _) in &edges {
                if s == u {
                    depth[t] = depth[t].max(depth[u] + 1);
                    indeg[t] -= 1;
                    if indeg[t] == 0 {
                        queue.push(t);
                    }
                }
            }
        }
        let cyclic: Vec<usize> = (0..n).filter(|&i| !done[i]).collect();
        let max = depth.iter().copied().max().unwrap_or(0);
        for &i in &cyclic {
            depth[i] = max + 1;
        }
        (depth, cyclic)
    }

    /// Layers of node indices, left to right: inputs in the first, outputs in the last, each
    /// ordered by the barycentre of its predecessors.
    fn layers(&self) -> Vec<Vec<usize>> {
        let (mut depth, _) = self.depths();
        let n = self.nodes.len();
        if n == 0 {
            return Vec::new();
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if node.kind == NodeKind::Input {
                depth[i] = 0;
            }
        }
        let inner_max = (0..n)
            .filter(|&i| self.nodes[i].kind != NodeKind::Output)
            .map(|i| depth[i])
            .max()
            .unwrap_or(0);
        for (i, node) in self.nodes.iter().enumerate() {
            if node.kind == NodeKind::Output {
                depth[i] = depth[i].max(inner_max + 1);
            }
        }
        // Squeeze out empty layers.
        let used: BTreeSet<usize> = depth.iter().copied().collect();
        let rank: Vec<usize> = used.into_iter().collect();
        let mut layers: Vec<Vec<usize>> = vec![Vec::new(); rank.len()];
        for (i, d) in depth.iter().enumerate() {
            let l = rank.binary_search(d).unwrap_or(0);
            layers[l].push(i);
        }
        let edges = self.resolved_edges();
        for _sweep in 0..2 {
            let mut pos = vec![0.0; n];
            for layer in &layers {
                for (k, &i) in layer.iter().enumerate() {
                    pos[i] = (k as f64 + 0.5) / layer.len() as f64;
                }
            }
            for layer in layers.iter_mut().skip(1) {
                let mut keyed: Vec<(f64, usize, usize)> = layer
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| {
                        let preds: Vec<f64> = edges
                            .iter()
                            .filter(|e| e.1 == i && depth[e.0] < depth[i])
                            .map(|e| pos[e.0])
                            .collect();
                        let key = if preds.is_empty() {
                            pos[i]
                        } else {
                            preds.iter().sum::<f64>() / preds.len() as f64
                        };
                        (key, k, i)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                *layer = keyed.into_iter().map(|x| x.2).collect();
                for (k, &i) in layer.iter().enumerate() {
                    pos[i] = (k as f64 + 0.5) / layer.len() as f64;
                }
            }
        }
        layers
    }

    /// The diagram as a standalone SVG element.
    ///
    /// Draws one `g.node` per node (with a second class `input`, `intermediate` or `output`),
    /// one `path.edge` and one arrowhead per edge, one `text.edge-label` per labelled edge, and
    /// a legend of the operations used. Edges naming unknown nodes are skipped and nodes on a
    /// cycle are put in a last column; use [`CellGraph::check`] to report such graphs.
    pub fn to_svg(&self) -> String {
        let layers = self.layers();
        let node_h = 30.0;
        // Busy cells (DARTS: 8 operation edges) get more room between rows for labels.
        let row_gap = if self.edges.len() > 8 { 92.0 } else { 74.0 };
        let widths: Vec<f64> = self
            .nodes
            .iter()
            .map(|n| (text_width(&shorten(&n.label, 24), 13.0) + 22.0).max(34.0))
            .collect();
        let longest_op = self
            .edges
            .iter()
            .filter(|e| e.style != EdgeStyle::Plain)
            .map(|e| text_width(&e.op, 10.5))
            .fold(0.0, f64::max);
        let max_w = widths.iter().copied().fold(34.0, f64::max);
        let layer_gap = (longest_op + max_w + 48.0).max(120.0);
        let rows = layers.iter().map(Vec::len).max().unwrap_or(0).max(1);

        // Node centres. A gap that many labelled edges cross grows, so their labels fit.
        let mut layer_of = vec![0usize; self.nodes.len()];
        for (l, layer) in layers.iter().enumerate() {
            for &i in layer {
                layer_of[i] = l;
            }
        }
        let mut crossing = vec![0usize; layers.len()];
        for &(s, t, k) in &self.resolved_edges() {
            if self.edges[k].style == EdgeStyle::Plain {
                continue;
            }
            let (a, b) = (layer_of[s].min(layer_of[t]), layer_of[s].max(layer_of[t]));
            for c in &mut crossing[a..b] {
                *c += 1;
            }
        }
        let mut x_of_layer = vec![0.0; layers.len()];
        for l in 1..layers.len() {
            let extra = crossing[l - 1].saturating_sub(3) as f64 * 0.35 * longest_op;
            x_of_layer[l] = x_of_layer[l - 1] + layer_gap + extra;
        }
        let mut centre = vec![(0.0, 0.0); self.nodes.len()];
        for (l, layer) in layers.iter().enumerate() {
            let offset = (rows - layer.len()) as f64 * row_gap / 2.0;
            for (k, &i) in layer.iter().enumerate() {
                centre[i] = (x_of_layer[l], offset + k as f64 * row_gap);
            }
        }

        // Edge geometry: cubic curves; long edges between nodes on one row bulge, alternately
        // up and down, so they clear the nodes between.
        let rects: Vec<(f64, f64, f64, f64)> = centre
            .iter()
            .zip(&widths)
            .map(|(&(x, y), w)| (x - w / 2.0, y - node_h / 2.0, x + w / 2.0, y + node_h / 2.0))
            .collect();
        // Each edge is a cubic curve. Among a few bulges (none, then up or down by growing
        // amounts) it takes the one that crosses no other node and runs least along the
        // edges drawn before it; short edges are routed first.
        let mut drawn: Vec<Drawn> = Vec::new();
        let mut routed: Vec<(f64, f64)> = Vec::new();
        let mut order = self.resolved_edges();
        order.sort_by_key(|&(s, t, k)| (layer_of[t].abs_diff(layer_of[s]), s, t, k));
        for (s, t, k) in order {
            let (x1, y1) = centre[s];
            let (x2, y2) = centre[t];
            let span = layer_of[t].abs_diff(layer_of[s]);
            let same_row = (y2 - y1).abs() < 1.0;
            let bulges: &[f64] = if span > 1 {
                &[0.0, -1.0, 1.0, -2.0, 2.0, -3.0, 3.0, -4.0, 4.0]
            } else {
                &[0.0]
            };
            let mut best: Option<(f64, Drawn, Vec<Point>)> = None;
            for &b in bulges {
                let sign = b.signum();
                // Bulging edges leave and enter the nodes off-centre, on their side.
                let off = if b != 0.0 { sign * node_h * 0.3 } else { 0.0 };
                let p0 = (x1 + widths[s] / 2.0 - off.abs() / 4.0, y1 + off);
                let p3 = (x2 - widths[t] / 2.0 + off.abs() / 4.0, y2 + off);
                let dx = (p3.0 - p0.0) * if b != 0.0 { 0.3 } else { 0.45 };
                let h = b * (16.0 + 18.0 * span as f64);
                let (c1, c2) = ((p0.0 + dx, p0.1 + h), (p3.0 - dx, p3.1 + h));
                let samples: Vec<(f64, f64)> = (1..24)
                    .map(|i| bezier(p0, c1, c2, p3, i as f64 / 24.0))
                    .collect();
                let hits = samples
                    .iter()
                    .filter(|p| {
                        rects.iter().enumerate().any(|(i, r)| {
                            i != s
                                && i != t
                                && p.0 > r.0 - 5.0
                                && p.0 < r.2 + 5.0
                                && p.1 > r.1 - 5.0
                                && p.1 < r.3 + 5.0
                        })
                    })
                    .count();
                let close = samples
                    .iter()
                    .filter(|p| {
                        routed
                            .iter()
                            .any(|q| (p.0 - q.0).abs() < 6.0 && (p.1 - q.1).abs() < 6.0)
                    })
                    .count();
                let straight_through = same_row && b == 0.0 && span > 1;
                let cost = hits as f64 * 1000.0
                    + close as f64 * 8.0
                    + b.abs() * 10.0
                    + if straight_through { 500.0 } else { 0.0 };
                if best.as_ref().is_none_or(|(c, _, _)| cost < *c) {
                    best = Some((cost, Drawn { k, p0, c1, c2, p3 }, samples));
                }
            }
            let (_, d, samples) = best.expect("at least one bulge is tried");
            routed.extend(samples);
            drawn.push(d);
        }
        drawn.sort_by_key(|d| d.k);

        // Edge labels: along each labelled edge, at the first spot (middle first) where the
        // label overlaps no node and no label placed before it.
        let mut labels: Vec<Option<(f64, f64)>> = vec![None; drawn.len()];
        let mut boxes: Vec<(f64, f64, f64, f64)> = Vec::new();
        for (j, d) in drawn.iter().enumerate() {
            let e = &self.edges[d.k];
            if e.style == EdgeStyle::Plain || e.op.is_empty() {
                continue;
            }
            let w = text_width(&e.op, 10.5) / 2.0 + 2.0;
            let mut best: Option<(f64, Point, Rect)> = None;
            for t in [0.5, 0.6, 0.4, 0.7, 0.3, 0.78, 0.22] {
                let m = bezier(d.p0, d.c1, d.c2, d.p3, t);
                let bx = (m.0 - w, m.1 - 15.0, m.0 + w, m.1 - 2.0);
                let overlap: f64 = boxes
                    .iter()
                    .chain(rects.iter())
                    .map(|o| {
                        let ox = (bx.2.min(o.2) - bx.0.max(o.0)).max(0.0);
                        let oy = (bx.3.min(o.3) - bx.1.max(o.1)).max(0.0);
                        ox * oy
                    })
                    .sum();
                // Other edges running under the label make it hard to read.
                let crossed = routed
                    .iter()
                    .filter(|q| q.0 > bx.0 && q.0 < bx.2 && q.1 > bx.1 && q.1 < bx.3)
                    .count() as f64
                    - own_samples(d, bx);
                let cost = overlap * 10.0 + crossed.max(0.0) * 15.0 + (t - 0.5f64).abs() * 20.0;
                if best.as_ref().is_none_or(|(c, _, _)| cost < *c) {
                    best = Some((cost, m, bx));
                }
                if overlap == 0.0 && crossed <= 0.0 {
                    break;
                }
            }
            if let Some((_, m, bx)) = best {
                labels[j] = Some(m);
                boxes.push(bx);
            }
        }

        // Bounds of everything drawn, then the view box around them.
        let mut lo = (f64::INFINITY, f64::INFINITY);
        let mut hi = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        let mut grow = |x: f64, y: f64| {
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        };
        for (i, &(x, y)) in centre.iter().enumerate() {
            grow(x - widths[i] / 2.0, y - node_h / 2.0);
            grow(x + widths[i] / 2.0, y + node_h / 2.0);
        }
        for d in &drawn {
            for i in 0..=12 {
                let p = bezier(d.p0, d.c1, d.c2, d.p3, i as f64 / 12.0);
                grow(p.0, p.1);
            }
        }
        for b in &boxes {
            grow(b.0, b.1);
            grow(b.2, b.3);
        }
        if self.nodes.is_empty() {
            grow(0.0, 0.0);
            grow(200.0, 40.0);
        }
        let ops: Vec<&str> = {
            let mut seen = Vec::new();
            for e in &self.edges {
                if e.style != EdgeStyle::Plain && !seen.contains(&e.op.as_str()) {
                    seen.push(e.op.as_str());
                }
            }
            seen
        };
        let pad = 16.0;
        let title_h = if self.title.is_empty() { 0.0 } else { 26.0 };
        let legend_h = if ops.is_empty() { 0.0 } else { 28.0 };
        let min_x = lo.0 - pad;
        let min_y = lo.1 - pad - title_h;
        let mut width = hi.0 - lo.0 + 2.0 * pad;
        let title_w = text_width(&shorten(&self.title, 90), 13.0) * 1.12 + 2.0 * pad;
        let legend_w: f64 = ops.iter().map(|o| text_width(o, 11.0) + 34.0).sum::<f64>() + pad;
        // Legend entries wrap onto as many rows as needed.
        width = width.max(title_w).max(legend_w.min(640.0));
        let legend_rows = legend_rows(&ops, width - 2.0 * pad);
        let height = hi.1 - lo.1 + 2.0 * pad + title_h + legend_h * legend_rows.len() as f64;

        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"nascent-cell\" width=\"{w}\" height=\"{h}\" viewBox=\"{x} {y} {w} {h}\" role=\"img\" font-family=\"{font}\" font-size=\"12\">",
            w = f(width),
            h = f(height),
            x = f(min_x),
            y = f(min_y),
            font = crate::plot::FONT
        );
        let _ = write!(
            out,
            "<title>{}</title><rect class=\"background\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
            escape(if self.title.is_empty() {
                "cell diagram"
            } else {
                &self.title
            }),
            f(min_x),
            f(min_y),
            f(width),
            f(height)
        );
        if !self.title.is_empty() {
            let _ = write!(
                out,
                "<text class=\"cell-title\" x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"600\" fill=\"#222\"><title>{}</title>{}</text>",
                f(min_x + pad),
                f(min_y + pad + 8.0),
                escape(&self.title),
                escape(&shorten(&self.title, 90))
            );
        }

        // Edges below nodes; faint ones first.
        out.push_str("<g class=\"edges\" fill=\"none\">");
        let mut by_style: Vec<&Drawn> = drawn.iter().collect();
        by_style.sort_by_key(|d| (self.edges[d.k].style != EdgeStyle::Faint, d.k));
        for d in &by_style {
            let e = &self.edges[d.k];
            let (colour, extra) = match e.style {
                EdgeStyle::Op => (op_colour(&e.op), " stroke-width=\"2\""),
                EdgeStyle::Faint => ("#B8B8B8", " stroke-width=\"1.2\" stroke-dasharray=\"4 3\""),
                EdgeStyle::Plain => ("#9A9A9A", " stroke-width=\"1.4\""),
            };
            let _ = write!(
                out,
                "<path class=\"edge\" d=\"M{} {}C{} {} {} {} {} {}\" stroke=\"{colour}\"{extra}><title>{} → {}: {}</title></path>",
                f(d.p0.0),
                f(d.p0.1),
                f(d.c1.0),
                f(d.c1.1),
                f(d.c2.0),
                f(d.c2.1),
                f(d.p3.0),
                f(d.p3.1),
                escape(&self.label_of(e.from)),
                escape(&self.label_of(e.to)),
                escape(&e.op)
            );
            let _ = write!(
                out,
                "<path class=\"arrow\" d=\"{}\" fill=\"{colour}\" stroke=\"none\"/>",
                arrowhead(d.c2, d.p3)
            );
        }
        out.push_str("</g>");

        // Nodes.
        out.push_str("<g class=\"nodes\">");
        for (i, n) in self.nodes.iter().enumerate() {
            let (x, y) = centre[i];
            let w = widths[i];
            let (class, fill, stroke, rx) = match n.kind {
                NodeKind::Input => ("input", "#E3EEF8", "#0072B2", 6.0),
                NodeKind::Intermediate => ("intermediate", "#FFFFFF", "#555555", node_h / 2.0),
                NodeKind::Output => ("output", "#E2F3EC", "#009E73", 6.0),
            };
            let _ = write!(
                out,
                "<g class=\"node {class}\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222\">{}</text></g>",
                escape(&n.label),
                f(x - w / 2.0),
                f(y - node_h / 2.0),
                f(w),
                f(node_h),
                f(rx.min(w / 2.0)),
                f(x),
                f(y + 4.5),
                escape(&shorten(&n.label, 24))
            );
        }
        out.push_str("</g>");

        // Edge labels above everything, with a white halo.
        out.push_str("<g class=\"edge-labels\" font-size=\"10.5\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\" stroke-linejoin=\"round\">");
        for (d, m) in drawn.iter().zip(&labels) {
            let e = &self.edges[d.k];
            let Some(m) = *m else { continue };
            let colour = match e.style {
                EdgeStyle::Faint => "#999999",
                _ => op_colour(&e.op),
            };
            let _ = write!(
                out,
                "<text class=\"edge-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{colour}\">{}</text>",
                f(m.0),
                f(m.1 - 5.0),
                escape(&e.op)
            );
        }
        out.push_str("</g>");

        // Legend of operations.
        if !ops.is_empty() {
            out.push_str("<g class=\"op-legend\" font-size=\"11\" fill=\"#333\">");
            let y0 = hi.1 + pad + 6.0;
            for (r, row) in legend_rows.iter().enumerate() {
                let y = y0 + r as f64 * legend_h;
                let mut x = min_x + pad;
                for op in row {
                    let faint = self
                        .edges
                        .iter()
                        .filter(|e| e.op == *op)
                        .all(|e| e.style == EdgeStyle::Faint);
                    let (colour, dash) = if faint {
                        ("#B8B8B8", " stroke-dasharray=\"4 3\"")
                    } else {
                        (op_colour(op), "")
                    };
                    let _ = write!(
                        out,
                        "<g class=\"op-legend-entry\"><line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{colour}\" stroke-width=\"2.5\"{dash}/><text x=\"{}\" y=\"{}\">{}</text></g>",
                        f(x),
                        f(y),
                        f(x + 20.0),
                        f(y),
                        f(x + 25.0),
                        f(y + 4.0),
                        escape(op)
                    );
                    x += text_width(op, 11.0) + 34.0;
                }
            }
            out.push_str("</g>");
        }
        out.push_str("</svg>");
        out
    }

    fn label_of(&self, id: usize) -> String {
        self.index(id)
            .map(|i| self.nodes[i].label.clone())
            .unwrap_or_else(|| id.to_string())
    }
}

/// A point (x, y) in pixels.
type Point = (f64, f64);

/// A box (x0, y0, x1, y1) in pixels.
type Rect = (f64, f64, f64, f64);

/// An edge as drawn: the index of the edge and its cubic curve.
struct Drawn {
    k: usize,
    p0: (f64, f64),
    c1: (f64, f64),
    c2: (f64, f64),
    p3: (f64, f64),
}

/// Splits legend entries into rows that fit `width`.
fn legend_rows<'a>(ops: &[&'a str], width: f64) -> Vec<Vec<&'a str>> {
    let mut rows: Vec<Vec<&str>> = Vec::new();
    let mut used = f64::INFINITY;
    for op in ops {
        let w = text_width(op, 11.0) + 34.0;
        if used + w > width {
            rows.push(Vec::new());
            used = 0.0;
        }
        rows.last_mut().expect("a row was pushed").push(op);
        used += w;
    }
    rows
}

/// How many of the routing samples of edge `d` fall inside box `b` (a label sits on its own
/// edge, which does not count against it).
fn own_samples(d: &Drawn, b: (f64, f64, f64, f64)) -> f64 {
    (1..24)
        .map(|i| bezier(d.p0, d.c1, d.c2, d.p3, i as f64 / 24.0))
        .filter(|q| q.0 > b.0 && q.0 < b.2 && q.1 > b.1 && q.1 < b.3)
        .count() as f64
}

/// The point of a cubic Bézier curve at `t`.
fn bezier(p0: (f64, f64), c1: (f64, f64), c2: (f64, f64), p3: (f64, f64), t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (
        a * p0.0 + b * c1.0 + c * c2.0 + d * p3.0,
        a * p0.1 + b * c1.1 + c * c2.1 + d * p3.1,
    )
}

/// A triangle pointing along `from -> tip`, its tip at `tip`.
fn arrowhead(from: (f64, f64), tip: (f64, f64)) -> String {
    let (dx, dy) = (tip.0 - from.0, tip.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt();
    let (ux, uy) = if len > 1e-9 {
        (dx / len, dy / len)
    } else {
        (1.0, 0.0)
    };
    let (l, w) = (8.0, 4.0);
    let base = (tip.0 - ux * l, tip.1 - uy * l);
    format!(
        "M{} {}L{} {}L{} {}Z",
        f(tip.0),
        f(tip.1),
        f(base.0 - uy * w),
        f(base.1 + ux * w),
        f(base.0 + uy * w),
        f(base.1 - ux * w)
    )
}

/// A chain (macro) architecture: a sequence of layers from input to output, drawn as boxes
/// joined by arrows, wrapping onto several rows when long.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainDiagram {
    /// Title above the diagram (may be empty).
    pub title: String,
    /// The layers' labels, input side first ("conv 3x3, 32", "MBConv6 k5, stride 2").
    pub layers: Vec<String>,
}

impl ChainDiagram {
    /// A diagram of `layers`.
    pub fn new(title: impl Into<String>, layers: Vec<String>) -> Self {
        ChainDiagram {
            title: title.into(),
            layers,
        }
    }

    /// The diagram of a chain architecture: one box per layer (`conv 3x3, 32 ch`, with the
    /// stride where it is not 1); the title is the canonical string.
    pub fn from_chain(arch: &ChainArch) -> Self {
        ChainDiagram {
            title: arch.to_string(),
            layers: arch
                .layers
                .iter()
                .map(|l| {
                    let mut s = format!(
                        "{} {}x{}, {} ch",
                        l.op.name().replace('_', " "),
                        l.kernel,
                        l.kernel,
                        l.width
                    );
                    if l.stride != 1 {
                        let _ = write!(s, ", stride {}", l.stride);
                    }
                    s
                })
                .collect(),
        }
    }

    /// The diagram as a standalone SVG element: `g.node` boxes (the layers between an `input`
    /// and an `output` box) joined by `path.edge` arrows.
    pub fn to_svg(&self) -> String {
        let mut labels: Vec<(String, NodeKind)> = vec![("input".into(), NodeKind::Input)];
        labels.extend(
            self.layers
                .iter()
                .map(|l| (l.clone(), NodeKind::Intermediate)),
        );
        labels.push(("output".into(), NodeKind::Output));
        let box_w = labels
            .iter()
            .map(|(l, _)| text_width(&shorten(l, 28), 12.0) + 20.0)
            .fold(70.0, f64::max);
        let box_h = 34.0;
        let gap = 30.0;
        let per_row = ((900.0 + gap) / (box_w + gap)).floor().max(1.0) as usize;
        let rows = labels.len().div_ceil(per_row);
        let pad = 16.0;
        let title_h = if self.title.is_empty() { 0.0 } else { 26.0 };
        let row_h = box_h + 36.0;
        let cols = per_row.min(labels.len());
        let title_w = text_width(&shorten(&self.title, 90), 13.0) * 1.12;
        let width = (cols as f64 * (box_w + gap) - gap + 2.0 * pad).max(title_w + 2.0 * pad);
        let height = rows as f64 * row_h - 36.0 + 2.0 * pad + title_h;
        let pos = |i: usize| -> (f64, f64) {
            let r = i / per_row;
            let c = i % per_row;
            (
                pad + c as f64 * (box_w + gap),
                pad + title_h + r as f64 * row_h,
            )
        };

        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"nascent-chain\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" font-family=\"{font}\" font-size=\"12\"><title>{t}</title><rect class=\"background\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>",
            w = f(width),
            h = f(height),
            font = crate::plot::FONT,
            t = escape(if self.title.is_empty() {
                "chain diagram"
            } else {
                &self.title
            })
        );
        if !self.title.is_empty() {
            let _ = write!(
                out,
                "<text class=\"cell-title\" x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"600\" fill=\"#222\">{}</text>",
                f(pad),
                f(pad + 8.0),
                escape(&shorten(&self.title, 90))
            );
        }
        out.push_str("<g class=\"edges\" fill=\"none\" stroke=\"#777\" stroke-width=\"1.5\">");
        for i in 1..labels.len() {
            let (ax, ay) = pos(i - 1);
            let (bx, by) = pos(i);
            let (from, tip, d) = if (ay - by).abs() < 1.0 {
                let s = (ax + box_w, ay + box_h / 2.0);
                let t = (bx, by + box_h / 2.0);
                (
                    s,
                    t,
                    format!("M{} {}L{} {}", f(s.0), f(s.1), f(t.0), f(t.1)),
                )
            } else {
                // Wrap: down from the end of one row, back to the start of the next.
                let s = (ax + box_w / 2.0, ay + box_h);
                let mid = ay + box_h + 18.0;
                let t = (bx + box_w / 2.0, by);
                (
                    (t.0, mid),
                    t,
                    format!("M{} {}V{}H{}V{}", f(s.0), f(s.1), f(mid), f(t.0), f(t.1)),
                )
            };
            let _ = write!(
                out,
                "<path class=\"edge\" d=\"{d}\"/><path class=\"arrow\" d=\"{}\" fill=\"#777\" stroke=\"none\"/>",
                arrowhead(from, tip)
            );
        }
        out.push_str("</g><g class=\"nodes\">");
        for (i, (label, kind)) in labels.iter().enumerate() {
            let (x, y) = pos(i);
            let (class, fill, stroke) = match kind {
                NodeKind::Input => ("input", "#E3EEF8", "#0072B2"),
                NodeKind::Intermediate => ("intermediate", "#FFFFFF", "#555555"),
                NodeKind::Output => ("output", "#E2F3EC", "#009E73"),
            };
            let _ = write!(
                out,
                "<g class=\"node {class}\"><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#222\">{}</text></g>",
                escape(label),
                f(x),
                f(y),
                f(box_w),
                f(box_h),
                f(x + box_w / 2.0),
                f(y + box_h / 2.0 + 4.0),
                escape(&shorten(label, 28))
            );
        }
        out.push_str("</g></svg>");
        out
    }
}
