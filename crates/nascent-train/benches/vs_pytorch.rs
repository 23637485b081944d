//! Training throughput and batch-1 latency of nascent against PyTorch, same network, same
//! batch, same thread count, in one run.
//!
//! ```text
//! bench/pytorch/run.sh [--net nb201|darts|both] [--batch 64] [--steps 10] [--rounds 3]
//!                      [--threads 2] [--device cpu|cuda] [--json FILE]
//!                      [--python PY] [--reference bench/pytorch/reference.py] [--prefetch 2]
//!                      [--amp none|bf16|fp16] [--layout default|contiguous|channels-last]
//! ```
//!
//! Networks: the NAS-Bench-201 network with the all-`nor_conv_3x3` cell (N = 5 cells a stage,
//! C = 16, CIFAR-10 shapes: the benchmark's own network, 1,531,546 parameters) and the DARTS
//! network of the published DARTS-V2 genotype (C = 16, 8 cells, no auxiliary head by default;
//! `--darts-channels 36 --darts-cells 20` gives the evaluation network). PyTorch runs
//! `bench/pytorch/reference.py`, an independent implementation of the same networks, with the
//! same optimizer (SGD, Nesterov momentum 0.9, weight decay 5e-4, gradient clipping at 5) on
//! batches held in memory. nascent runs its real training path, [`Trainer::fit`], with its
//! data loader on in-memory data of the same shape, so the data-loading cost is counted
//! against nascent only. Each side runs `--rounds` times, alternating, and the best round of
//! each is compared (the machine may be shared); the ratios are nascent / PyTorch.
//!
//! `--layout`: `default` runs each side as it runs by default (nascent keeps weights and
//! batches channels-last, [`TrainConfig::channels_last`]; the PyTorch script keeps PyTorch's
//! contiguous NCHW, as most training scripts do); `contiguous` runs both in NCHW,
//! `channels-last` both in NHWC (`model.to(memory_format=torch.channels_last)` in PyTorch).
//!
//! `--amp bf16` trains both in bfloat16 autocast (`torch.autocast` in PyTorch, the trainer's
//! [`AmpDtype::BFloat16`] in nascent); `--amp fp16` in float16 with loss scaling (CUDA only).

use nascent_core::NoReporter;
use nascent_space::{DartsGenotype, Nb201Arch};
use nascent_train::data::{Augment, DataSplits, Dataset, LoadedData, Samples};
use nascent_train::trainer::{AmpDtype, NoObserver, TrainConfig, Trainer};
use nascent_train::{Builder, DartsBuilder, Model, Nb201Builder, NetSpec};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;
use tch::{Device, Tensor};

const NB201_ALL_CONV3X3: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

#[derive(Clone, Debug)]
struct Opts {
    nets: Vec<Net>,
    batch: usize,
    steps: usize,
    rounds: usize,
    threads: usize,
    device: String,
    nb201_cells: i64,
    nb201_channels: i64,
    darts_cells: i64,
    darts_channels: i64,
    latency_runs: usize,
    prefetch: usize,
    amp: String,
    layout: String,
    python: Option<String>,
    reference: String,
    json: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Net {
    Nb201,
    Darts,
}

impl Net {
    fn name(self) -> &'static str {
        match self {
            Net::Nb201 => "nb201",
            Net::Darts => "darts",
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Measure {
    params: i64,
    images_per_second: f64,
    latency_ms: f64,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        nets: vec![Net::Nb201, Net::Darts],
        batch: 64,
        steps: 10,
        rounds: 3,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        device: "cpu".into(),
        nb201_cells: 5,
        nb201_channels: 16,
        darts_cells: 8,
        darts_channels: 16,
        latency_runs: 30,
        prefetch: 2,
        amp: "none".into(),
        layout: "default".into(),
        python: std::env::var("NASCENT_BENCH_PYTHON").ok(),
        reference: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../bench/pytorch/reference.py"
        )
        .into(),
        json: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        // `cargo bench` passes --bench; ignore it.
        if a == "--bench" {
            i += 1;
            continue;
        }
        let v = args.get(i + 1).cloned().unwrap_or_else(|| {
            eprintln!("missing value after {a}");
            std::process::exit(1)
        });
        let num = |v: &str| -> usize {
            v.parse().unwrap_or_else(|_| {
                eprintln!("{a}: `{v}` is not a number");
                std::process::exit(1)
            })
        };
        match a {
            "--net" => {
                o.nets = match v.as_str() {
                    "nb201" => vec![Net::Nb201],
                    "darts" => vec![Net::Darts],
                    "both" => vec![Net::Nb201, Net::Darts],
                    _ => {
                        eprintln!("--net: nb201, darts or both");
                        std::process::exit(1)
                    }
                }
            }
            "--batch" => o.batch = num(&v),
            "--steps" => o.steps = num(&v),
            "--rounds" => o.rounds = num(&v).max(1),
            "--threads" => o.threads = num(&v).max(1),
            "--device" => o.device = v,
            "--nb201-cells" => o.nb201_cells = num(&v) as i64,
            "--nb201-channels" => o.nb201_channels = num(&v) as i64,
            "--darts-cells" => o.darts_cells = num(&v) as i64,
            "--darts-channels" => o.darts_channels = num(&v) as i64,
            "--latency-runs" => o.latency_runs = num(&v).max(1),
            "--prefetch" => o.prefetch = num(&v),
            "--amp" => {
                if !["none", "bf16", "fp16"].contains(&v.as_str()) {
                    eprintln!("--amp: none, bf16 or fp16");
                    std::process::exit(1)
                }
                o.amp = v
            }
            "--layout" => {
                if !["default", "contiguous", "channels-last"].contains(&v.as_str()) {
                    eprintln!("--layout: default, contiguous or channels-last");
                    std::process::exit(1)
                }
                o.layout = v
            }
            "--python" => o.python = Some(v),
            "--reference" => o.reference = v,
            "--json" => o.json = Some(PathBuf::from(v)),
            _ => {
                eprintln!("unknown argument {a}");
                std::process::exit(1)
            }
        }
        i += 2;
    }
    o
}

fn python(o: &Opts) -> String {
    if let Some(p) = &o.python {
        return p.clone();
    }
    let setup = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/pytorch/setup.sh");
    let out = Command::new("bash")
        .arg(setup)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {setup}: {e}"));
    if !out.status.success() {
        panic!("{setup} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn shape(o: &Opts, net: Net) -> (i64, i64) {
    match net {
        Net::Nb201 => (o.nb201_cells, o.nb201_channels),
        Net::Darts => (o.darts_cells, o.darts_channels),
    }
}

fn run_pytorch(o: &Opts, py: &str, net: Net) -> Measure {
    let (cells, channels) = shape(o, net);
    let out = Command::new(py)
        .args([
            o.reference.as_str(),
            "--net",
            net.name(),
            "--cells",
            &cells.to_string(),
            "--channels",
            &channels.to_string(),
            "--batch",
            &o.batch.to_string(),
            "--steps",
            &o.steps.to_string(),
            "--threads",
            &o.threads.to_string(),
            "--latency-runs",
            &o.latency_runs.to_string(),
            "--device",
            &o.device,
            "--amp",
            &o.amp,
            "--memory-format",
            if o.layout == "channels-last" {
                "channels_last"
            } else {
                "contiguous"
            },
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {py}: {e}"));
    if !out.status.success() {
        panic!(
            "the PyTorch reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad output of the reference ({e}): {:?}", out.stdout));
    Measure {
        params: v["params"].as_i64().unwrap_or(0),
        images_per_second: v["train_images_per_second"].as_f64().unwrap_or(f64::NAN),
        latency_ms: v["latency_ms_batch1"].as_f64().unwrap_or(f64::NAN),
    }
}

fn synthetic_data(n: usize, seed: u64) -> DataSplits {
    let mut rng = nascent_core::Rng::new(seed);
    let px: Vec<u8> = (0..n * 3 * 32 * 32).map(|_| rng.below(256) as u8).collect();
    let labels: Vec<i64> = (0..n).map(|_| rng.below(10) as i64).collect();
    let train = Dataset::new(
        std::path::Path::new("synthetic"),
        [3, 32, 32],
        Samples::U8(px),
        labels,
        (0..10).map(|c| c.to_string()).collect(),
    )
    .expect("valid synthetic data");
    DataSplits::split(
        LoadedData {
            origin: "synthetic".into(),
            train,
            test: None,
        },
        0.0,
        seed,
    )
    .expect("split")
}

fn model(o: &Opts, net: Net, device: Device) -> Model {
    let (cells, channels) = shape(o, net);
    let spec = NetSpec {
        channels: Some(channels),
        cells: Some(cells),
        ..NetSpec::cifar(10)
    };
    match net {
        Net::Nb201 => {
            let arch: Nb201Arch = NB201_ALL_CONV3X3.parse().expect("NB201 arch");
            Model::new(
                &Nb201Builder as &dyn Builder<Nb201Arch>,
                &arch,
                spec,
                device,
            )
            .expect("NB201 builds")
        }
        Net::Darts => {
            let g: DartsGenotype = DARTS_V2.parse().expect("DARTS-V2 genotype");
            Model::new(
                &DartsBuilder::new(false) as &dyn Builder<DartsGenotype>,
                &g,
                spec,
                device,
            )
            .expect("DARTS builds")
        }
    }
}

/// The 1-, 5- and 15-minute load averages (Linux), to judge how busy the machine was.
fn load_average() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = s.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn run_nascent(o: &Opts, net: Net, device: Device) -> Measure {
    let data = synthetic_data(o.batch * o.steps, 1);
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: o.batch,
        lr: 0.01,
        augment: Augment::none(),
        threads: Some(o.threads),
        prefetch: o.prefetch,
        mixed_precision: o.amp != "none",
        amp_dtype: if o.amp == "fp16" {
            AmpDtype::Float16
        } else {
            AmpDtype::BFloat16
        },
        evaluate_test: false,
        channels_last: o.layout != "contiguous",
        ..TrainConfig::default()
    };
    let trainer = Trainer::new(cfg).expect("config");
    trainer.seed_torch();
    let mut m = model(o, net, device);
    let report = trainer
        .fit(&mut m, &data, &mut NoReporter, &mut NoObserver)
        .expect("training runs");
    // Epoch 1 warms up (allocations, kernel choice); epoch 2 is timed.
    let ips = report.epochs[1].images_per_second;
    let x1 = Tensor::randn([1, 3, 32, 32], (tch::Kind::Float, device));
    let mut times = Vec::with_capacity(o.latency_runs);
    tch::no_grad(|| {
        for _ in 0..5 {
            let _ = m.forward(&x1, false);
        }
        sync(device);
        for _ in 0..o.latency_runs {
            let t = Instant::now();
            let _ = m.forward(&x1, false);
            sync(device);
            times.push(t.elapsed().as_secs_f64());
        }
    });
    times.sort_by(|a, b| a.total_cmp(b));
    Measure {
        params: m.num_params(),
        images_per_second: ips,
        latency_ms: 1000.0 * times[times.len() / 2],
    }
}

fn main() {
    let o = parse_args();
    // Fail before the long measurement, not after it, when the result cannot be written.
    if let Some(path) = &o.json {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(d) = dir
            && !d.is_dir()
        {
            eprintln!(
                "error: --json {}: the folder {} does not exist (a relative path is taken from {})",
                path.display(),
                d.display(),
                std::env::current_dir()
                    .map(|c| c.display().to_string())
                    .unwrap_or_default()
            );
            std::process::exit(1);
        }
    }
    let device = match o.device.as_str() {
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        d => panic!("--device: cpu or cuda, not {d}"),
    };
    let py = python(&o);
    eprintln!(
        "vs_pytorch: batch {}, {} steps, {} threads, device {}, amp {}, layout {}, {} rounds, python {py}",
        o.batch, o.steps, o.threads, o.device, o.amp, o.layout, o.rounds
    );
    let load_start = load_average();
    eprintln!("load average at the start: {load_start:?}");
    let mut rows = Vec::new();
    for &net in &o.nets {
        let mut best_py: Option<Measure> = None;
        let mut best_rs: Option<Measure> = None;
        for round in 0..o.rounds {
            let p = run_pytorch(&o, &py, net);
            let r = run_nascent(&o, net, device);
            eprintln!(
                "  {} round {}: pytorch {:.1} img/s {:.2} ms | nascent {:.1} img/s {:.2} ms",
                net.name(),
                round + 1,
                p.images_per_second,
                p.latency_ms,
                r.images_per_second,
                r.latency_ms
            );
            let better = |best: Option<Measure>, m: Measure| match best {
                None => Some(m),
                Some(b) => Some(Measure {
                    params: m.params,
                    images_per_second: b.images_per_second.max(m.images_per_second),
                    latency_ms: b.latency_ms.min(m.latency_ms),
                }),
            };
            best_py = better(best_py, p);
            best_rs = better(best_rs, r);
        }
        let (p, r) = (best_py.unwrap_or_default(), best_rs.unwrap_or_default());
        assert_eq!(
            p.params,
            r.params,
            "{}: nascent and the PyTorch reference must build the same network",
            net.name()
        );
        rows.push((net, p, r));
    }
    println!(
        "{:<7} {:>10} {:>14} {:>14} {:>8} {:>12} {:>12} {:>8}",
        "net",
        "params",
        "pytorch img/s",
        "nascent img/s",
        "ratio",
        "pytorch ms",
        "nascent ms",
        "ratio"
    );
    let mut json_rows = Vec::new();
    for (net, p, r) in &rows {
        let tr = r.images_per_second / p.images_per_second;
        let lr = r.latency_ms / p.latency_ms;
        println!(
            "{:<7} {:>10} {:>14.1} {:>14.1} {:>8.3} {:>12.3} {:>12.3} {:>8.3}",
            net.name(),
            r.params,
            p.images_per_second,
            r.images_per_second,
            tr,
            p.latency_ms,
            r.latency_ms,
            lr
        );
        json_rows.push(serde_json::json!({
            "net": net.name(),
            "params": r.params,
            "pytorch_images_per_second": p.images_per_second,
            "nascent_images_per_second": r.images_per_second,
            "train_throughput_ratio": tr,
            "pytorch_latency_ms": p.latency_ms,
            "nascent_latency_ms": r.latency_ms,
            "latency_ratio": lr,
        }));
    }
    let load_end = load_average();
    eprintln!("load average at the end: {load_end:?}");
    println!(
        "(throughput ratio = nascent/PyTorch images per second, higher is better; latency ratio = \
         nascent/PyTorch batch-1 milliseconds, lower is better)"
    );
    if let Some(path) = &o.json {
        let v = serde_json::json!({
            "batch": o.batch, "steps": o.steps, "threads": o.threads, "device": o.device,
            "amp": o.amp, "layout": o.layout, "rounds": o.rounds, "results": json_rows,
            "load_average_start": load_start, "load_average_end": load_end,
        });
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()) {
            eprintln!("error: cannot write --json {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
