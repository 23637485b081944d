//! `nascent export`: writes an architecture's genotype, weights and ONNX model.
//!
//! ```text
//! nascent export --space nb201 --arch '|nor_conv_3x3~0|+|...|' --input 1x28x28 --cells 1 \
//!     --out model/ [--weights trained.safetensors]
//! ```
//!
//! Writes `genotype.txt`, `genotype.json`, `model.safetensors` and `model.onnx` into `--out`:
//! from the given trained weights (safetensors, as `nascent train` saves them), or freshly
//! initialised ones (seeded by `--seed`).

use super::inspect::NetArgs;
use anyhow::{Context, Result};
use nascent_train::export::{export_model, load_weights};
use std::path::PathBuf;

/// Arguments of `nascent export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub net: NetArgs,
    /// Directory to write into (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Trained weights (safetensors) to export; without it the weights are freshly
    /// initialised.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Seed of the fresh initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    tch::manual_seed(args.seed as i64);
    let (model, arch) = args.net.build(tch::Device::Cpu)?;
    if let Some(w) = &args.weights {
        load_weights(&model, w).with_context(|| {
            format!(
                "loading the weights of `{arch}`{}",
                if args.net.auxiliary {
                    ""
                } else {
                    " (add --auxiliary if they were trained with an auxiliary head, as DARTS networks can be)"
                }
            )
        })?;
    }
    let files = export_model(&model, &args.net.space, &arch, &args.out)
        .with_context(|| format!("exporting to {}", args.out.display()))?;
    let weights = match &args.weights {
        Some(w) => w.display().to_string(),
        None => format!("fresh (seed {})", args.seed),
    };
    if args.json {
        crate::output::print_json(&crate::output::ExportOutput {
            schema_version: nascent_study::SCHEMA_VERSION,
            arch: arch.clone(),
            weights_from: weights.clone(),
            genotype_txt: files.genotype_txt.clone(),
            genotype_json: files.genotype_json.clone(),
            weights: files.weights.clone(),
            onnx: files.onnx.clone(),
        })?;
    } else {
        println!("arch       {arch}");
        println!("weights    {weights}");
        for f in [
            &files.genotype_txt,
            &files.genotype_json,
            &files.weights,
            &files.onnx,
        ] {
            println!("wrote      {}", f.display());
        }
    }
    Ok(())
}
