//! Redraws the plot of a `nascent bench nb201 --json` results file (one JSON object per
//! strategy per line) the way `nascent bench nb201 --plot` draws it, without rerunning the
//! strategies (the model-based ones take long):
//!
//! ```text
//! cargo run -p nascent-report --example replot_bench -- bench/results/nb201_cifar10_q100_r500.jsonl OUT.svg
//! ```

use nascent_report::plot::{LineChart, RunCurve};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: replot_bench RESULTS.jsonl OUT.svg");
        std::process::exit(1);
    };
    let text = std::fs::read_to_string(input).unwrap_or_else(|e| {
        eprintln!("error: cannot read {input}: {e}");
        std::process::exit(1);
    });
    let mut curves = Vec::new();
    let (mut dataset, mut runs) = (String::new(), 0);
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
            eprintln!("error: {input}:{}: not JSON: {e}", i + 1);
            std::process::exit(1);
        });
        let nums = |k: &str| -> Vec<f64> {
            v["best_so_far"][k]
                .as_array()
                .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
                .unwrap_or_else(|| {
                    eprintln!("error: {input}:{}: no best_so_far.{k}", i + 1);
                    std::process::exit(1);
                })
        };
        dataset = v["dataset"].as_str().unwrap_or("").to_string();
        runs = v["runs"].as_u64().unwrap_or(0) as usize;
        curves.push(RunCurve {
            name: v["strategy"].as_str().unwrap_or("?").to_string(),
            mean: nums("mean"),
            std: nums("std"),
            runs,
        });
    }
    // The titles `nascent bench` gives the data sets (nascent_bench::Dataset::title).
    let title = match dataset.as_str() {
        "cifar10" => "CIFAR-10",
        "cifar100" => "CIFAR-100",
        "imagenet16" | "ImageNet16-120" => "ImageNet16-120",
        other => other,
    };
    let chart = LineChart::best_so_far_over_runs(
        format!("NAS-Bench-201 {title}: best so far, {runs} runs, 95 % CI bands"),
        "test accuracy (%) of the best-signal architecture",
        &curves,
    );
    std::fs::write(output, chart.to_svg()).unwrap_or_else(|e| {
        eprintln!("error: cannot write {output}: {e}");
        std::process::exit(1);
    });
    eprintln!("wrote {output} ({} strategies)", curves.len());
}
