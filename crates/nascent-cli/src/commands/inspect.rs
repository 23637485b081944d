//! `nascent inspect`: builds one architecture and prints its parameters and FLOPs (and, with
//! `--measure`, its latency and training memory on the device), without training.
//!
//! ```text
//! nascent inspect --space darts --arch "$(cat genotype.txt)" --input 3x32x32 --classes 10 --json
//! {"space":"darts","arch":"Genotype(...)","params":3349342,"flops":528359040,...}
//! ```

use anyhow::{Context, Result, anyhow};
use nascent_core::SearchSpace;
use nascent_train::graph::without_init;
use nascent_train::metrics::{
    LatencyConfig, complexity, device_name, measure_latency, train_step_memory,
};
use nascent_train::study::{NetOptions, NetSpace, NetTask, with_net_space};
use nascent_train::{Model, NetSpec};
use std::str::FromStr;

/// An input shape written `CxHxW` (square: `H == W`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputShape {
    /// Channels.
    pub channels: i64,
    /// Side in pixels.
    pub side: i64,
}

impl FromStr for InputShape {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.trim().split(['x', 'X']).collect();
        let nums: Option<Vec<i64>> = parts.iter().map(|p| p.trim().parse().ok()).collect();
        match nums.as_deref() {
            Some(&[c, h, w]) if c > 0 && h > 0 && w > 0 => {
                if h != w {
                    Err(anyhow!(
                        "--input {s}: inputs must be square (H == W), got {h}x{w}"
                    ))
                } else {
                    Ok(InputShape {
                        channels: c,
                        side: h,
                    })
                }
            }
            _ => Err(anyhow!(
                "--input `{s}` is not CxHxW with positive numbers (e.g. 3x32x32, 1x28x28)"
            )),
        }
    }
}

/// The architecture and the network shape, shared by `inspect` and `export`.
#[derive(clap::Args, Debug, Clone)]
pub struct NetArgs {
    /// The search space of the genotype.
    #[arg(long, value_parser = super::space_parser())]
    pub space: String,
    /// The genotype, in the space's notation.
    #[arg(long)]
    pub arch: String,
    /// Input shape CxHxW (square).
    #[arg(long, default_value = "3x32x32")]
    pub input: InputShape,
    /// Number of classes.
    #[arg(long, default_value_t = 10)]
    pub classes: i64,
    /// Base width C (NB201: 16, DARTS: 36; chain architectures set their own).
    #[arg(long)]
    pub channels: Option<i64>,
    /// Cells per stage N (NB201: 5) or cells in all (DARTS: 20).
    #[arg(long)]
    pub cells: Option<i64>,
    /// DARTS: add the auxiliary head (counted in `params`, never in FLOPs or exports).
    #[arg(long)]
    pub auxiliary: bool,
}

impl NetArgs {
    /// The network shape.
    pub fn spec(&self) -> NetSpec {
        NetSpec {
            in_channels: self.input.channels,
            resolution: self.input.side,
            classes: self.classes,
            channels: self.channels,
            cells: self.cells,
        }
    }

    /// Parses the genotype and builds the model on `device`; returns it with the genotype's
    /// canonical string. The error says what is wrong with the genotype or the shape.
    pub fn build(&self, device: tch::Device) -> Result<(Model, String)> {
        struct BuildTask<'a> {
            args: &'a NetArgs,
            device: tch::Device,
        }
        impl NetTask for BuildTask<'_> {
            type Output = Result<(Model, String)>;
            fn run<S: SearchSpace + Clone + 'static>(self, net: NetSpace<S>) -> Self::Output {
                let a = net.space.parse(&self.args.arch)?;
                let m = Model::new(&*net.builder, &a, self.args.spec(), self.device)
                    .with_context(|| format!("building the {} architecture", net.info.name))?;
                Ok((m, net.space.format(&a)))
            }
        }
        let options = NetOptions {
            auxiliary: self.auxiliary,
            ..NetOptions::default()
        };
        with_net_space(&self.space, &options, BuildTask { args: self, device }).map_err(
            |e| match e {
                nascent_study::Error::Config { field, reason } if field == "auxiliary" => {
                    anyhow!("--auxiliary: {reason}")
                }
                e => e.into(),
            },
        )?
    }
}

/// Arguments of `nascent inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub net: NetArgs,
    /// Also measure latency (batch 1 and --batch) and the peak memory of a training step.
    #[arg(long)]
    pub measure: bool,
    /// The larger batch for latency, and the batch of the memory measurement.
    #[arg(long, default_value_t = 64)]
    pub batch: i64,
    /// Timed passes per latency figure (after 5 warm-up passes).
    #[arg(long, default_value_t = 20)]
    pub repeats: usize,
    /// Device for --measure: auto (a CUDA GPU if present), cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The device `auto` (a CUDA GPU if present), `cpu`, `cuda` or `cuda:N` names; a GPU that is
/// not there is an error saying how many there are.
pub fn parse_device(s: &str) -> Result<tch::Device> {
    let t = s.trim().to_ascii_lowercase();
    let gpus = if tch::Cuda::is_available() {
        tch::Cuda::device_count() as usize
    } else {
        0
    };
    let n = match t.as_str() {
        "auto" => return Ok(tch::Device::cuda_if_available()),
        "cpu" => return Ok(tch::Device::Cpu),
        "cuda" | "gpu" => 0,
        _ => t
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| anyhow!("unknown device `{s}` (known: auto, cpu, cuda, cuda:N)"))?,
    };
    if n < gpus {
        Ok(tch::Device::Cuda(n))
    } else {
        Err(anyhow!(
            "device cuda:{n} asked for, but this machine has {gpus} CUDA GPU(s)"
        ))
    }
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let device = if args.measure {
        parse_device(&args.device).context("choosing the device")?
    } else {
        tch::Device::Cpu
    };
    if args.batch < 1 {
        return Err(anyhow!("--batch must be at least 1, got {}", args.batch));
    }
    // Counting needs no initialised weights (building is then much faster).
    let (model, arch) = if args.measure {
        args.net.build(device)?
    } else {
        without_init(|| args.net.build(device))?
    };
    let c = complexity(&model)?;
    let n = &args.net;
    let mut out = crate::output::InspectOutput {
        schema_version: nascent_study::SCHEMA_VERSION,
        space: n.space.clone(),
        arch: arch.clone(),
        input: [n.input.channels, n.input.side, n.input.side],
        classes: n.classes,
        params: c.params,
        flops: c.flops,
        inference_params: (c.inference_params != c.params).then_some(c.inference_params),
        attention_macs: (c.attention_macs > 0).then_some(c.attention_macs),
        latency: None,
        memory: None,
    };
    if args.measure {
        log::info!("measuring latency and memory on {}", device_name(device));
        let lat = measure_latency(
            &model,
            LatencyConfig {
                batch: args.batch,
                warmup: 5,
                repeats: args.repeats,
            },
        )?;
        let mem = train_step_memory(&model, args.batch)?;
        out.latency = Some(crate::output::InspectLatency {
            device: lat.device.clone(),
            batch1_ms: lat.batch1.median_ms,
            batch: lat.batch_n.batch,
            batch_ms: lat.batch_n.median_ms,
            repeats: lat.batch1.repeats,
        });
        out.memory = Some(crate::output::InspectMemory {
            batch: mem.batch,
            peak_bytes: mem.peak_bytes,
            model_bytes: mem.model_bytes,
            step_bytes: mem.step_bytes,
            method: mem.method.name().to_string(),
        });
    }
    if args.json {
        return crate::output::print_json(&out);
    }
    println!("space            {}", n.space);
    println!("arch             {arch}");
    println!(
        "input            {}x{}x{}, {} classes",
        n.input.channels, n.input.side, n.input.side, n.classes
    );
    println!("params           {}", c.params);
    if c.inference_params != c.params {
        println!("  without aux    {}", c.inference_params);
    }
    println!("flops (MACs)     {}", c.flops);
    if c.attention_macs > 0 {
        println!("attention MACs   {}", c.attention_macs);
    }
    if let (Some(l), Some(m)) = (&out.latency, &out.memory) {
        println!(
            "latency          {:.3} ms at batch 1, {:.3} ms at batch {} ({}, median of {})",
            l.batch1_ms, l.batch_ms, args.batch, l.device, args.repeats
        );
        println!(
            "train memory     {:.1} MiB at batch {} ({})",
            m.peak_bytes as f64 / (1024.0 * 1024.0),
            args.batch,
            m.method
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shapes_parse() {
        assert_eq!(
            "1x28x28".parse::<InputShape>().unwrap(),
            InputShape {
                channels: 1,
                side: 28
            }
        );
        let e = "3x32x16".parse::<InputShape>().unwrap_err().to_string();
        assert!(e.contains("square"), "{e}");
        let e = "3x32".parse::<InputShape>().unwrap_err().to_string();
        assert!(e.contains("CxHxW"), "{e}");
        assert_eq!(parse_device("CPU").unwrap(), tch::Device::Cpu);
        assert!(
            parse_device("tpu")
                .unwrap_err()
                .to_string()
                .contains("unknown device")
        );
    }
}
