//! Zero-cost proxies on real CIFAR-10 images (small networks, so that the tests take seconds)
//! and Spearman's rank correlation on known values.

use nascent_bench::{Dataset as BenchDataset, Nb201Table};
use nascent_core::{Budget, Evaluator, NoReporter, Outcome, Rng, SearchSpace};
use nascent_oneshot::data::load_images;
use nascent_oneshot::proxies::{Proxy, ProxyBatch, ProxyComputer, ProxyEvaluator, ranks, spearman};
use nascent_space::{Nb201Arch, Nb201Space};
use nascent_train::{Builder, Nb201Builder, NetSpec};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn data_dir() -> PathBuf {
    std::env::var_os("NASCENT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

fn cifar() -> Option<PathBuf> {
    let p = data_dir().join("cifar10-jpg/cifar10-jpg.tar.gz");
    if p.exists() {
        Some(p)
    } else {
        nascent_core::testing::skip(format_args!("{} is absent", p.display()));
        None
    }
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
    let table_path = data_dir().join("nb201/nb201.csv");
    if !table_path.exists() {
        nascent_core::testing::skip(format_args!("{} is absent", table_path.display()));
        return;
    }
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
