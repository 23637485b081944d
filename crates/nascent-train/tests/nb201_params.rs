//! The NB201 network built by nascent has the benchmark's parameter count, and the FLOPs
//! counted from the built network equal the analytic count, for every cell of the space.

use nascent_core::SearchSpace;
use nascent_space::{Nb201Arch, Nb201Op, Nb201Shape, Nb201Space};
use nascent_train::graph::without_init;
use nascent_train::nets::nb201::nb201_graph;
use nascent_train::{Model, Nb201Builder, NetSpec};
use std::time::Instant;
use tch::{Device, nn};

#[test]
fn every_cell_has_the_benchmarks_parameter_count_and_flops() {
    let space = Nb201Space::new();
    let shape = Nb201Shape::default();
    let spec = NetSpec::cifar(10);
    let t = Instant::now();
    let all = space.enumerate().unwrap();
    // Two threads (the CI machine has two cores); each builds its half.
    let dead: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .chunks(all.len().div_ceil(2))
            .map(|part| scope.spawn(|| check(part, &shape, &spec)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    eprintln!(
        "built {} NB201 networks in {:.1?} ({dead} with skipped dead layers)",
        all.len(),
        t.elapsed()
    );
}

/// Checks the cells of `part`; returns how many have dead layers.
fn check(part: &[Nb201Arch], shape: &Nb201Shape, spec: &NetSpec) -> usize {
    let mut dead = 0;
    for arch in part {
        let vs = nn::VarStore::new(Device::Cpu);
        let g = without_init(|| nb201_graph(arch, spec, &vs.root())).unwrap();
        assert_eq!(g.param_count(), shape.params(arch), "{arch}");
        // Counted from the nodes: every layer equals the analytic count; the forward pass
        // skips layers that only feed `none` edges into the output node.
        assert_eq!(g.macs_all_nodes(), shape.macs(arch), "{arch}");
        assert!(g.macs() <= g.macs_all_nodes(), "{arch}");
        if dead_layers(arch) {
            dead += 1;
            assert!(g.macs() < g.macs_all_nodes(), "{arch}");
        } else {
            assert_eq!(g.macs(), shape.macs(arch), "{arch}");
        }
        // The VarStore holds exactly the graph's trainable weights.
        let in_store: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        assert_eq!(in_store as u64, g.param_count(), "{arch}");
    }
    dead
}

/// Whether some conv edge's result cannot reach node 3 through edges other than `none`.
fn dead_layers(arch: &Nb201Arch) -> bool {
    use nascent_space::nb201::NB201_EDGES;
    // Nodes from which the output is reachable.
    let mut live = [false, false, false, true];
    for (k, &(to, from)) in NB201_EDGES.iter().enumerate().rev() {
        if live[to] && arch.0[k] != Nb201Op::None {
            live[from] = true;
        }
    }
    NB201_EDGES
        .iter()
        .enumerate()
        .any(|(k, &(to, _))| arch.0[k].is_parametric() && !live[to])
}

#[test]
fn published_sizes_and_other_shapes() {
    let s = Nb201Space::new();
    let all3 = s.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|").unwrap();
    let none = s
        .parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
        .unwrap();
    let m = Model::new(&Nb201Builder, &all3, NetSpec::cifar(10), Device::Cpu).unwrap();
    assert_eq!(m.num_params(), 1_531_546);
    let m = Model::new(&Nb201Builder, &none, NetSpec::cifar(10), Device::Cpu).unwrap();
    assert_eq!(m.num_params(), 73_306);
    // CIFAR-100, ImageNet16-120, Fashion-MNIST at N=1, C=16, and a wide variant.
    for (in_c, res, classes, c, n) in [
        (3, 32, 100, 16, 5),
        (3, 16, 120, 16, 5),
        (1, 28, 10, 16, 1),
        (3, 32, 10, 32, 2),
    ] {
        let spec = NetSpec {
            in_channels: in_c,
            resolution: res,
            classes,
            channels: Some(c),
            cells: Some(n),
        };
        let shape = Nb201Shape {
            channels: c as usize,
            cells: n as usize,
            in_channels: in_c as usize,
            resolution: res as usize,
            classes: classes as usize,
        };
        for i in (0..15_625).step_by(521) {
            let arch = s.from_index(i).unwrap();
            let m = Model::new(&Nb201Builder, &arch, spec.clone(), Device::Cpu).unwrap();
            assert_eq!(
                m.num_params() as u64,
                shape.params(&arch),
                "{arch} {spec:?}"
            );
        }
    }
}
