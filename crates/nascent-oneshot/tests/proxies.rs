//! Zero-cost proxies on real CIFAR-10 images (small networks, so that the tests take seconds)
//! and Spearman's rank correlation on known values.

use nascent_bench::{Dataset as BenchDataset, Nb201Table};
use nascent_core::{Budget, Evaluator, NoReporter, Outcome, Rng, SearchSpace};
use nascent_oneshot::data::load_images;
use nascent_oneshot::proxies::{
    Proxy, ProxyBatch, ProxyComputer, ProxyEvaluator, meco, min_correlation_eigenvalue, naswot,
    naswot_kernel, ranks, relu_modules, spearman, zico_from_gradients,
};
use nascent_space::{Nb201Arch, Nb201Space};
use nascent_train::Model;
use nascent_train::graph::{GraphBuilder, NodeOp};
use nascent_train::{Builder, Nb201Builder, NetSpec};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tch::{Device, Tensor, nn};

fn data_dir() -> PathBuf {
    std::env::var_os("NASCENT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// `path` when it exists; otherwise `None` after saying on stderr that the test is skipped,
/// or a failure in CI (`CI=true`), where the data must be there.
fn required(path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} is absent (CI=true: the test data must be there)",
            path.display()
        );
    }
    eprintln!("skipped: {} is absent", path.display());
    None
}

fn cifar() -> Option<PathBuf> {
    required(data_dir().join("cifar10-jpg/cifar10-jpg.tar.gz"))
}

fn small_spec() -> NetSpec {
    NetSpec {
        in_channels: 3,
        resolution: 32,
        classes: 10,
        channels: Some(8),
        cells: Some(1),
    }
}

fn computer(path: &Path, batch: usize, proxies: Vec<Proxy>) -> ProxyComputer<Nb201Arch> {
    let data = load_images(path.to_str().unwrap(), Some(batch.div_ceil(10) + 1)).unwrap();
    let batch = ProxyBatch::sample(&data.train, batch, 1).unwrap();
    let builder: Arc<dyn Builder<Nb201Arch>> = Arc::new(Nb201Builder);
    ProxyComputer::new(builder, small_spec(), batch, proxies, 0).unwrap()
}

#[test]
fn spearman_matches_known_values() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    // scipy.stats.spearmanr([1,2,3,4,5], [5,6,7,8,7]) = 0.8207826816681233 (ties averaged).
    let r = spearman(&x, &[5.0, 6.0, 7.0, 8.0, 7.0]).unwrap();
    assert!((r - 0.820_782_681_668_123_3).abs() < 1e-12, "{r}");
    assert_eq!(spearman(&x, &[10.0, 20.0, 30.0, 40.0, 50.0]), Some(1.0));
    assert_eq!(spearman(&x, &[9.0, 7.0, 5.0, 3.0, 1.0]), Some(-1.0));
    // Monotone transforms do not matter.
    let y = [0.3, 0.1, 0.9, 0.5, 0.7];
    let ey: Vec<f64> = y.iter().map(|v: &f64| v.exp() * 100.0).collect();
    assert_eq!(spearman(&x, &y), spearman(&x, &ey));
    assert_eq!(spearman(&x, &[1.0; 5]), None);
    assert_eq!(spearman(&x[..1], &[1.0]), None);
    assert_eq!(spearman(&x, &[1.0, 2.0]), None);
    // Non-finite scores rank lowest, tied.
    assert_eq!(
        ranks(&[f64::NAN, 2.0, f64::NEG_INFINITY, 1.0]),
        vec![1.5, 4.0, 1.5, 3.0]
    );
    assert_eq!(spearman(&[f64::NAN, 1.0, 2.0], &[0.0, 1.0, 2.0]), Some(1.0));
}

#[test]
fn proxy_names_parse() {
    assert_eq!(Proxy::parse_list("all").unwrap(), Proxy::ALL.to_vec());
    assert_eq!(
        Proxy::parse_list("synflow, nwot,jacob-cov,synflow").unwrap(),
        vec![Proxy::Synflow, Proxy::Naswot, Proxy::JacobCov]
    );
    let e = Proxy::parse_list("zen").unwrap_err().to_string();
    assert!(
        e.contains("unknown proxy `zen`") && e.contains("grasp"),
        "{e}"
    );
    assert!(Proxy::parse_list(" , ").is_err());
}

#[test]
fn proxies_are_finite_deterministic_and_degenerate_for_the_empty_cell() {
    let Some(path) = cifar() else { return };
    let c = computer(&path, 16, Proxy::ALL.to_vec());
    let space = Nb201Space::new();
    let archs: Vec<Nb201Arch> = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    ]
    .iter()
    .map(|s| space.parse(s).unwrap())
    .collect();
    for arch in &archs {
        let a = c.compute(arch).unwrap();
        let b = c.compute(arch).unwrap();
        assert_eq!(a.scores, b.scores, "{arch}: not deterministic");
        assert_eq!(a.scores.len(), Proxy::ALL.len());
        for (p, v) in &a.scores {
            assert!(v.is_finite(), "{arch}: {p} = {v}");
        }
        for p in [
            Proxy::Synflow,
            Proxy::Snip,
            Proxy::GradNorm,
            Proxy::Fisher,
            Proxy::Params,
            Proxy::Flops,
        ] {
            assert!(a.scores[&p] > 0.0, "{arch}: {p} = {}", a.scores[&p]);
        }
        assert!(a.seconds.values().all(|s| *s >= 0.0));
    }
    // The bigger cell has more synflow, parameters and FLOPs than the small one.
    let big = c.compute(&archs[0]).unwrap().scores;
    let small = c.compute(&archs[1]).unwrap().scores;
    for p in [Proxy::Synflow, Proxy::Params, Proxy::Flops] {
        assert!(big[&p] > small[&p], "{p}: {} <= {}", big[&p], small[&p]);
    }
    // The empty cell (every edge `none`) passes no signal: degenerate scores.
    let none = space
        .parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
        .unwrap();
    let s = c.compute(&none).unwrap().scores;
    for p in [Proxy::Synflow, Proxy::Snip, Proxy::GradNorm, Proxy::Grasp] {
        assert_eq!(s[&p], 0.0, "{p} of the empty cell");
    }
    // Only the classifier's output (its bias) carries Fisher information.
    assert!(
        s[&Proxy::Fisher] < 0.1 * big[&Proxy::Fisher],
        "fisher of the empty cell: {}",
        s[&Proxy::Fisher]
    );
    assert!(
        !s[&Proxy::Naswot].is_finite() || s[&Proxy::Naswot] < big[&Proxy::Naswot] - 10.0,
        "naswot of the empty cell: {}",
        s[&Proxy::Naswot]
    );
    assert!(s[&Proxy::JacobCov].is_nan(), "{}", s[&Proxy::JacobCov]);
}

#[test]
fn evaluator_returns_the_proxies_as_metrics() {
    let Some(path) = cifar() else { return };
    let c = computer(&path, 8, vec![Proxy::Naswot, Proxy::Params]);
    let eval = ProxyEvaluator::new(c);
    assert_eq!(eval.metrics(), vec!["naswot", "params"]);
    let arch = Nb201Space::new().sample(&mut Rng::new(5));
    match eval.evaluate(&arch, &Budget::default(), &mut NoReporter) {
        Outcome::Complete(e) => {
            assert_eq!(e.metrics.len(), 2);
            assert!(e.metrics["params"] > 1000.0);
            assert!(e.cost_seconds > 0.0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_batches_are_refused() {
    let Some(path) = cifar() else { return };
    let data = load_images(path.to_str().unwrap(), Some(2)).unwrap();
    let e = ProxyBatch::sample(&data.train, 1, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch"), "{e}");
    let batch = ProxyBatch::sample(&data.train, 8, 0).unwrap();
    let mut spec = small_spec();
    spec.resolution = 28;
    let builder: Arc<dyn Builder<Nb201Arch>> = Arc::new(Nb201Builder);
    let e = ProxyComputer::new(builder, spec, batch, vec![Proxy::Naswot], 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3x32x32") && e.contains("3x28x28"), "{e}");
}

#[test]
fn naswot_and_synflow_rank_sixty_cells_like_the_table() {
    let Some(path) = cifar() else { return };
    let Some(table_path) = required(data_dir().join("nb201/nb201.csv")) else {
        return;
    };
    let table = Nb201Table::load(&table_path).unwrap();
    let c = computer(&path, 16, vec![Proxy::Naswot, Proxy::Synflow]);
    let space = Nb201Space::new();
    let idx = Rng::new(11).sample_indices(space.size().unwrap() as usize, 60);
    let mut nw = Vec::new();
    let mut sf = Vec::new();
    let mut acc = Vec::new();
    for &i in &idx {
        let arch = space.from_index(i as u64).unwrap();
        let s = c.compute(&arch).unwrap().scores;
        nw.push(s[&Proxy::Naswot]);
        sf.push(s[&Proxy::Synflow]);
        acc.push(table.rows()[i].test(BenchDataset::Cifar10));
    }
    let rn = spearman(&nw, &acc).unwrap();
    let rs = spearman(&sf, &acc).unwrap();
    eprintln!("60 cells, C=8 N=1, batch 16: naswot {rn:.3}, synflow {rs:.3}");
    assert!(rn > 0.4, "naswot {rn}");
    assert!(rs > 0.4, "synflow {rs}");
}

/// NASWOT's kernel counts the units where two images' codes agree: `N_A - d_H`.
#[test]
fn naswot_kernel_counts_agreeing_units() {
    // Codes of three images over three units.
    let c = Tensor::from_slice(&[1i64, 0, 1, 1, 1, 0, 0, 0, 0])
        .view([3, 3])
        .gt(0);
    let k = naswot_kernel(&c);
    let got = Vec::<f64>::try_from(k.view([-1])).unwrap();
    // Agreements: (0,1) unit 0; (0,2) unit 1; (1,2) unit 2.
    assert_eq!(got, vec![3.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 3.0]);
}

/// A hand-computable NASWOT: input -> one ReLU read by two 1x1 convolutions (two ReLU
/// modules in PyTorch, one node here), their sum -> pooling -> linear; and a ReLU of the first
/// convolution feeding a convolution whose result never reaches the output (PyTorch computes
/// it, so its ReLU counts too).
///
/// Three 1x1x2 images `[1, -1]`, `[1, 1]`, `[-1, -1]` have the codes `10`, `11`, `00` at the
/// input's ReLU: `K = [[2,1,1],[1,2,0],[1,0,2]]`, `det K = 4`. With every convolution weight
/// 1 (no bias), the dead branch's ReLU sees `relu(x)` again: the same codes. One code per
/// module gives `3K`, `log det 3K = log(27 * 4) = log 108`; one per graph node of the live
/// path alone gave `log 4`.
#[test]
fn naswot_counts_one_code_per_relu_module_including_shared_and_dead_ones() {
    let vs = nn::VarStore::new(Device::Cpu);
    let (mut g, x) = GraphBuilder::new(&vs.root(), [1, 1, 2]).unwrap();
    let r = g.relu(x);
    let a = g.scoped("a", |g| g.conv_k(r, 1, 1, 1, 1, 1)).unwrap();
    let r2 = g.relu(x);
    assert_eq!(r, r2, "the graph computes the ReLU of a value once");
    let b = g.scoped("b", |g| g.conv_k(r2, 1, 1, 1, 1, 1)).unwrap();
    let dead = g.relu(a);
    let _ = g.scoped("dead", |g| g.conv_k(dead, 1, 1, 1, 1, 1)).unwrap();
    let s = g.add(&[a, b]).unwrap();
    let p = g.global_avg_pool(s).unwrap();
    let out = g.scoped("fc", |g| g.linear(p, 2)).unwrap();
    let graph = g.finish(out, None);
    tch::no_grad(|| {
        for prm in graph.params() {
            if prm.tensor.dim() == 4 {
                let _ = prm.tensor.shallow_clone().fill_(1.0);
            }
        }
    });
    let modules = relu_modules(&graph);
    let relus: Vec<usize> = graph
        .nodes()
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op == NodeOp::Relu)
        .map(|(i, _)| modules[i])
        .collect();
    assert_eq!(relus, vec![2, 1]);
    let batch = ProxyBatch {
        images: vec![1.0, -1.0, 1.0, 1.0, -1.0, -1.0],
        shape: [1, 1, 2],
        labels: vec![0, 1, 0],
        classes: 2,
    };
    let score = naswot(&graph, &batch, Device::Cpu).unwrap();
    assert!((score - 108f64.ln()).abs() < 1e-9, "{score}");
}

fn nb201_graph_relus(arch: &str) -> (usize, usize) {
    let arch: Nb201Arch = arch.parse().unwrap();
    let spec = NetSpec {
        channels: Some(4),
        ..small_spec()
    };
    let model = Model::new(&Nb201Builder, &arch, spec, Device::Cpu).unwrap();
    let graph = model.net.graph().unwrap();
    let nodes = graph
        .nodes()
        .iter()
        .filter(|n| n.op == NodeOp::Relu)
        .count();
    (nodes, relu_modules(graph).iter().sum())
}

/// The ReLU modules of NB201 networks (C=4, one cell per stage: three cells, two ResNet
/// blocks of two ReLU-Conv-BN each, the final BN-ReLU), counted by hand.
#[test]
fn nb201_relu_modules_are_counted_per_edge() {
    // Six conv edges per cell, each its own ReLU: 3 * 6 + 2 * 2 + 1 = 23 modules; the graph
    // has one ReLU per cell node that convolutions read: 3 * 3 + 4 + 1 = 14.
    let all_conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
    assert_eq!(nb201_graph_relus(all_conv), (14, 23));
    // Nodes 1 and 2 feed only `none` edges (their convolutions cannot reach the output, but
    // PyTorch runs them): 3 modules per cell on node 0's one ReLU: 3 * 3 + 5 = 14 modules,
    // 3 + 5 = 8 nodes.
    let dead = "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|nor_conv_3x3~0|none~1|none~2|";
    assert_eq!(nb201_graph_relus(dead), (8, 14));
}

/// ZiCo on hand-made gradients: per layer `log Σ mean|g| / std(g)` over the weights whose
/// gradient varies, summed.
#[test]
fn zico_of_known_gradients() {
    let t = |v: &[f32]| Some(Tensor::from_slice(v));
    let parts = vec![
        vec![t(&[1.0, 2.0, 0.0]), t(&[1.0, -1.0]), t(&[5.0, 5.0]), None],
        vec![t(&[3.0, 2.0, 0.0]), t(&[-1.0, 1.0]), t(&[5.0, 5.0]), None],
    ];
    // Layer 0: weight 0 has mean |g| 2 and std 1 (the others do not vary): log 2.
    // Layer 1: mean |g| 1, std 1 on both: log 2. Layer 2 does not vary; layer 3 has no
    // gradient: left out.
    let z = zico_from_gradients(&parts);
    assert!((z - 2.0 * 2f64.ln()).abs() < 1e-12, "{z}");
}

/// MeCo's per-layer value: the smallest eigenvalue of the channels' correlation matrix.
#[test]
fn meco_layer_value_of_known_maps() {
    let f = |v: &[f32], rows: i64| Tensor::from_slice(v).view([rows, -1]);
    // Correlation 0.8 between two channels: eigenvalues 1 ± 0.8.
    let two = f(&[1.0, 2.0, 3.0, 4.0, 1.0, 3.0, 2.0, 4.0], 2);
    let v = min_correlation_eigenvalue(&two).unwrap();
    assert!((v - 0.2).abs() < 1e-9, "{v}");
    // A constant channel's correlations are NaN, set to 0: a zero eigenvalue.
    let three = f(
        &[1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0, 1.0, 3.0, 2.0, 4.0],
        3,
    );
    let v = min_correlation_eigenvalue(&three).unwrap();
    assert!(v.abs() < 1e-9, "{v}");
    // Perfectly anti-correlated channels: 0.
    let anti = f(&[1.0, 2.0, 3.0, 3.0, 2.0, 1.0], 2);
    assert!(min_correlation_eigenvalue(&anti).unwrap().abs() < 1e-9);
}

/// MeCo of a tiny graph against its definition computed here: input -> 1x1 conv (weights
/// fixed) -> ReLU -> pooling -> linear, on the batch's first image.
#[test]
fn meco_sums_the_layers_of_the_first_image() {
    let vs = nn::VarStore::new(Device::Cpu);
    let (mut g, x) = GraphBuilder::new(&vs.root(), [2, 2, 2]).unwrap();
    let c = g.scoped("c", |g| g.conv_k(x, 2, 1, 1, 1, 1)).unwrap();
    let r = g.relu(c);
    let p = g.global_avg_pool(r).unwrap();
    let out = g.scoped("fc", |g| g.linear(p, 2)).unwrap();
    let graph = g.finish(out, None);
    let w = Tensor::from_slice(&[1.0f32, 0.5, -0.5, 1.0]).view([2, 2, 1, 1]);
    tch::no_grad(|| {
        for prm in graph.params() {
            if prm.tensor.dim() == 4 {
                prm.tensor.shallow_clone().copy_(&w);
            }
        }
    });
    let first = [1.0f32, 2.0, 3.0, 4.0, 2.0, 1.0, 0.0, 5.0];
    let mut images = first.to_vec();
    images.extend([9.0f32; 8]);
    let batch = ProxyBatch {
        images,
        shape: [2, 2, 2],
        labels: vec![0, 1],
        classes: 2,
    };
    let x = Tensor::from_slice(&first).view([1, 2, 2, 2]);
    let conv = x.conv2d(&w, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1);
    let relu = conv.relu();
    let want = min_correlation_eigenvalue(&conv.view([2, -1])).unwrap()
        + min_correlation_eigenvalue(&relu.view([2, -1])).unwrap();
    let got = meco(&graph, &batch, Device::Cpu).unwrap();
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
}
