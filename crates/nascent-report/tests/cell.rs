//! Structure of the cell and chain diagrams.

use nascent_report::cell::{CellGraph, ChainDiagram, Edge, EdgeStyle, Node, NodeKind, op_colour};
use nascent_space::Nb201Arch;
use roxmltree::Document;

fn parse(svg: &str) -> Document<'_> {
    let doc = Document::parse(svg).unwrap_or_else(|e| panic!("invalid XML: {e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc
}

fn with_class<'a>(doc: &'a Document<'a>, class: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split_whitespace().any(|w| w == class))
        })
        .collect()
}

/// Centre of a node group's rect.
fn node_centre(n: &roxmltree::Node) -> (f64, f64) {
    let r = n.children().find(|c| c.has_tag_name("rect")).unwrap();
    let g = |a: &str| -> f64 { r.attribute(a).unwrap().parse().unwrap() };
    (g("x") + g("width") / 2.0, g("y") + g("height") / 2.0)
}

#[test]
fn nb201_cell_has_four_nodes_six_edges_and_faint_none() {
    let arch: Nb201Arch =
        "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
            .parse()
            .unwrap();
    let graph = CellGraph::from_nb201(&arch);
    graph.check().unwrap();
    let svg = graph.to_svg();
    let doc = parse(&svg);
    let nodes = with_class(&doc, "node");
    assert_eq!(nodes.len(), 4);
    assert_eq!(with_class(&doc, "input").len(), 1);
    assert_eq!(with_class(&doc, "output").len(), 1);
    let edges = with_class(&doc, "edge");
    assert_eq!(edges.len(), 6);
    assert_eq!(with_class(&doc, "arrow").len(), 6);
    assert_eq!(with_class(&doc, "edge-label").len(), 6);
    // The none edge is dashed and grey; the others carry their op's colour.
    let dashed: Vec<_> = edges
        .iter()
        .filter(|e| e.attribute("stroke-dasharray").is_some())
        .collect();
    assert_eq!(dashed.len(), 1);
    assert!(
        dashed[0]
            .first_element_child()
            .unwrap()
            .text()
            .unwrap()
            .ends_with("none")
    );
    assert!(
        edges
            .iter()
            .any(|e| e.attribute("stroke") == Some(op_colour("nor_conv_3x3")))
    );
    // Left to right by depth: node 0, 1, 2, 3 strictly increasing x.
    let xs: Vec<f64> = nodes.iter().map(|n| node_centre(n).0).collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    // Legend lists each distinct op once.
    assert_eq!(with_class(&doc, "op-legend-entry").len(), 5);
    // The title is the arch string.
    assert!(svg.contains(&arch.to_string()));
}

#[test]
fn layers_follow_depth_and_outputs_come_last() {
    // 0 -> 1 -> 3 (output), 0 -> 2 (intermediate, depth 1), 2 -> 3; and an input 4 -> 3.
    let graph = CellGraph {
        title: "custom <cell>".into(),
        nodes: vec![
            Node::new(0, "in", NodeKind::Input),
            Node::new(1, "a", NodeKind::Intermediate),
            Node::new(2, "b", NodeKind::Intermediate),
            Node::new(3, "out", NodeKind::Output),
            Node::new(4, "in2", NodeKind::Input),
        ],
        edges: vec![
            Edge::new(0, 1, "conv"),
            Edge::new(0, 2, "pool & co"),
            Edge::new(1, 3, "").styled(EdgeStyle::Plain),
            Edge::new(2, 3, "").styled(EdgeStyle::Plain),
            Edge::new(4, 3, "skip"),
        ],
    };
    graph.check().unwrap();
    let svg = graph.to_svg();
    let doc = parse(&svg);
    assert!(svg.contains("pool &amp; co") && svg.contains("custom &lt;cell&gt;"));
    let nodes = with_class(&doc, "node");
    let c: Vec<(f64, f64)> = nodes.iter().map(node_centre).collect();
    // Inputs share the first column, a and b the second, out the third.
    assert_eq!(c[0].0, c[4].0);
    assert_eq!(c[1].0, c[2].0);
    assert!(c[1].0 > c[0].0 && c[3].0 > c[1].0);
    // Plain edges carry no label.
    assert_eq!(with_class(&doc, "edge-label").len(), 3);
}

#[test]
fn check_names_bad_nodes_edges_and_cycles() {
    let mut g = CellGraph {
        title: String::new(),
        nodes: vec![
            Node::new(0, "x", NodeKind::Input),
            Node::new(1, "y", NodeKind::Intermediate),
        ],
        edges: vec![Edge::new(0, 7, "conv")],
    };
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("node 7"), "{e}");
    // Still draws, skipping the bad edge.
    assert_eq!(with_class(&parse(&g.to_svg()), "edge").len(), 0);
    g.edges = vec![Edge::new(0, 1, "a"), Edge::new(1, 1, "loop")];
    let e = g.check().unwrap_err().to_string();
    assert!(e.contains("cycle"), "{e}");
    parse(&g.to_svg());
    g.nodes.push(Node::new(0, "dup", NodeKind::Output));
    assert!(g.check().unwrap_err().to_string().contains("twice"));
}

#[test]
fn empty_graph_renders() {
    parse(&CellGraph::default().to_svg());
}

#[test]
fn chain_diagram_wraps_long_chains() {
    let layers: Vec<String> = (0..20)
        .map(|i| format!("MBConv6 k{} <{}ch>", 3 + 2 * (i % 2), 16 * (i + 1)))
        .collect();
    let d = ChainDiagram::new("chain", layers);
    let svg = d.to_svg();
    let doc = parse(&svg);
    assert_eq!(with_class(&doc, "node").len(), 22);
    assert_eq!(with_class(&doc, "edge").len(), 21);
    assert!(svg.contains("&lt;16ch&gt;"));
    let ys: std::collections::BTreeSet<i64> = with_class(&doc, "node")
        .iter()
        .map(|n| node_centre(n).1 as i64)
        .collect();
    assert!(ys.len() > 1, "a 22-box chain wraps onto several rows");
    let w: f64 = doc
        .root_element()
        .attribute("width")
        .unwrap()
        .parse()
        .unwrap();
    assert!(w <= 960.0, "{w}");
}

#[test]
fn darts_genotype_draws_two_cells_with_concat_output() {
    use nascent_space::DartsGenotype;
    let g = DartsGenotype::darts_v2();
    let [normal, reduce] = CellGraph::from_darts(&g);
    for (graph, title) in [(&normal, "normal cell"), (&reduce, "reduction cell")] {
        graph.check().unwrap();
        assert_eq!(graph.title, title);
        let svg = graph.to_svg();
        let doc = parse(&svg);
        // c_{k-2}, c_{k-1}, nodes 0-3, c_{k}.
        assert_eq!(with_class(&doc, "node").len(), 7);
        assert_eq!(with_class(&doc, "input").len(), 2);
        assert_eq!(with_class(&doc, "output").len(), 1);
        // 8 operation edges and 4 concat edges; only the operations are labelled.
        assert_eq!(with_class(&doc, "edge").len(), 12);
        assert_eq!(with_class(&doc, "edge-label").len(), 8);
        assert!(svg.contains("c_{k-2}") && svg.contains("c_{k}"));
        // Inputs share the first column; the output is alone in the last.
        let nodes = with_class(&doc, "node");
        let xs: Vec<f64> = nodes.iter().map(|n| node_centre(n).0).collect();
        assert_eq!(xs[0], xs[1]);
        assert!(xs[2..6].iter().all(|&x| x > xs[0] && x < xs[6]));
    }
    // DARTS-V2's normal cell: node 3 reads node 0 (dil_conv_3x3 from state 2), so it sits
    // one column right of nodes 0-2.
    let doc_src = normal.to_svg();
    let doc = parse(&doc_src);
    let nodes = with_class(&doc, "node");
    let x = |i: usize| node_centre(&nodes[i]).0;
    assert_eq!(x(2), x(3));
    assert_eq!(x(3), x(4));
    assert!(x(5) > x(4));
    assert!(doc_src.contains("sep_conv_3x3") && doc_src.contains("dil_conv_3x3"));
}

#[test]
fn chain_arch_draws_its_layers() {
    use nascent_space::ChainArch;
    let arch: ChainArch = "conv_3x3-32-s1,sep_conv_5x5-64-s2,res_block_3x3-64-s1"
        .parse()
        .unwrap();
    let d = ChainDiagram::from_chain(&arch);
    assert_eq!(
        d.layers,
        vec![
            "conv 3x3, 32 ch",
            "sep conv 5x5, 64 ch, stride 2",
            "res block 3x3, 64 ch"
        ]
    );
    let svg = d.to_svg();
    assert_eq!(with_class(&parse(&svg), "node").len(), 5);
}
