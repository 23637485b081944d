//! Writes one SVG of each chart and diagram kind into a folder, to look at them:
//! `cargo run -p nascent-report --example gallery -- OUT_DIR`.

use nascent_core::Direction;
use nascent_report::cell::{CellGraph, ChainDiagram};
use nascent_report::plot::{
    BarChart, BarGroup, LineChart, Orientation, ParetoFront, PointGroup, ScatterChart,
    ScatterPoint, Series,
};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "gallery".into()));
    std::fs::create_dir_all(&dir)?;
    let mut rng = nascent_core::Rng::new(7);
    let curve = |shift: f64, speed: f64| -> Vec<(f64, f64, f64)> {
        (1..=100)
            .map(|q| {
                let q = q as f64;
                (
                    q,
                    94.4 - shift - 4.0 * (-q / speed).exp(),
                    0.8 * (-q / 60.0).exp() + 0.2,
                )
            })
            .collect()
    };
    let line = LineChart {
        title: "Best so far on CIFAR-10 (mean ± std over runs)".into(),
        x_label: "queries".into(),
        y_label: "test accuracy (%)".into(),
        series: vec![
            Series::mean_std("random", &curve(0.7, 30.0)),
            Series::mean_std("evolution", &curve(0.45, 22.0)),
            Series::mean_std("bananas", &curve(0.15, 12.0)),
        ],
        y_range: Some((89.0, 95.0)),
        log_x: false,
    };
    std::fs::write(dir.join("line.svg"), line.to_svg())?;
    let lc = LineChart {
        title: "Learning curves".into(),
        x_label: "epoch".into(),
        y_label: "validation accuracy (%)".into(),
        series: (0..30)
            .map(|t| {
                let top = 80.0 + rng.uniform() * 12.0;
                Series::new(
                    format!("trial {t}"),
                    (1..=12)
                        .map(|e| (e as f64, top - 30.0 * (-(e as f64) / 3.0).exp()))
                        .collect(),
                )
            })
            .collect(),
        ..LineChart::default()
    };
    std::fs::write(dir.join("curves.svg"), lc.to_svg())?;
    let pts: Vec<(f64, f64)> = (0..200)
        .map(|_| {
            let lat = 2.0 + rng.uniform() * 18.0;
            (
                lat,
                70.0 + 20.0 * (1.0 - (-lat / 6.0).exp()) * (0.7 + 0.3 * rng.uniform()),
            )
        })
        .collect();
    let scatter = ScatterChart {
        title: "Accuracy against latency".into(),
        x_label: "latency (ms)".into(),
        y_label: "accuracy (%)".into(),
        groups: vec![PointGroup {
            name: "complete".into(),
            points: pts
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| ScatterPoint::labelled(x, y, format!("trial {i}")))
                .collect(),
        }],
        front: Some(ParetoFront::of(
            "Pareto front",
            &pts,
            Direction::Minimize,
            Direction::Maximize,
        )),
        ..ScatterChart::default()
    };
    std::fs::write(dir.join("scatter.svg"), scatter.to_svg())?;
    let ops = [
        "none",
        "skip_connect",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
    ];
    for (name, orientation) in [
        ("bars_h", Orientation::Horizontal),
        ("bars_v", Orientation::Vertical),
    ] {
        let bars = BarChart {
            title: "Operations of the top 10 against all trials".into(),
            value_label: "share of edges (%)".into(),
            categories: ops.iter().map(|s| s.to_string()).collect(),
            groups: vec![
                BarGroup {
                    name: "top 10".into(),
                    values: vec![3.3, 15.0, 16.7, 58.3, 6.7],
                },
                BarGroup {
                    name: "all trials".into(),
                    values: vec![19.0, 21.0, 20.0, 21.5, 18.5],
                },
            ],
            orientation,
        };
        std::fs::write(dir.join(format!("{name}.svg")), bars.to_svg())?;
    }
    let arch =
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
            .parse()
            .expect("a valid arch");
    std::fs::write(dir.join("nb201.svg"), CellGraph::from_nb201(&arch).to_svg())?;
    let [normal, reduce] = CellGraph::from_darts(&nascent_space::DartsGenotype::darts_v2());
    std::fs::write(dir.join("darts_normal.svg"), normal.to_svg())?;
    std::fs::write(dir.join("darts_reduce.svg"), reduce.to_svg())?;
    let chain_arch: nascent_space::ChainArch =
        "conv_3x3-32-s1,sep_conv_5x5-64-s2,res_block_3x3-64-s1,attention_3x3-128-s2"
            .parse()
            .expect("a valid chain");
    std::fs::write(
        dir.join("chain_arch.svg"),
        ChainDiagram::from_chain(&chain_arch).to_svg(),
    )?;
    let chain = ChainDiagram::new(
        "chain",
        (0..12)
            .map(|i| format!("conv 3x3, {} ch", 16 << (i / 4)))
            .collect(),
    );
    std::fs::write(dir.join("chain.svg"), chain.to_svg())?;
    eprintln!("wrote charts to {}", dir.display());
    Ok(())
}
