//! Machine-readable output: every `--json` document is a typed struct with a `schema_version`
//! (nascent-study's [`nascent_study::SCHEMA_VERSION`]), printed as one line of JSON.

use anyhow::Result;
use serde::Serialize;

/// Prints `value` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// `nascent train --json`: one trained architecture.
#[derive(Clone, Debug, Serialize)]
pub struct TrainOutput {
    /// [`nascent_study::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The space.
    pub space: String,
    /// The architecture as given.
    pub arch: String,
    /// Where the data came from.
    pub data: String,
    /// The device trained on.
    pub device: String,
    /// The seed.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: u32,
    /// Whether every epoch ran (not stopped early).
    pub completed: bool,
    /// Training accuracy (%) of the last epoch.
    pub train_accuracy: f64,
    /// Validation accuracy (%).
    pub val_accuracy: Option<f64>,
    /// Test accuracy (%).
    pub test_accuracy: Option<f64>,
    /// Trainable parameters.
    pub params: i64,
    /// Multiply-accumulates of one forward pass.
    pub flops: Option<u64>,
    /// Inference latency (ms).
    pub latency_ms: Option<TrainLatency>,
    /// Memory of one training step (bytes).
    pub train_step_memory_bytes: Option<TrainMemory>,
    /// Seconds of training.
    pub train_seconds: f64,
    /// Seconds of the whole command.
    pub wall_seconds: f64,
    /// Epoch by epoch.
    pub history: Vec<TrainEpoch>,
}

/// Inference latency of `nascent train --json`.
#[derive(Clone, Debug, Serialize)]
pub struct TrainLatency {
    /// The device measured.
    pub device: String,
    /// Median ms of a batch of one.
    pub batch1: f64,
    /// The larger batch.
    pub batch: i64,
    /// Median ms of the larger batch.
    pub batch_n: f64,
}

/// Training-step memory of `nascent train --json`.
#[derive(Clone, Debug, Serialize)]
pub struct TrainMemory {
    /// Batch size.
    pub batch: i64,
    /// Peak bytes.
    pub peak: u64,
    /// Bytes of the weights.
    pub model: u64,
    /// Bytes of one step above the weights.
    pub step: u64,
    /// How it was measured.
    pub method: String,
}

/// One epoch of `nascent train --json`.
#[derive(Clone, Debug, Serialize)]
pub struct TrainEpoch {
    /// 1-based epoch.
    pub epoch: u32,
    /// Learning rate.
    pub lr: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (%).
    pub train_accuracy: f64,
    /// Validation accuracy (%).
    pub val_accuracy: Option<f64>,
    /// Seconds of training.
    pub train_seconds: f64,
    /// Throughput.
    pub images_per_second: f64,
}

/// `nascent inspect --json`: an architecture's size (and, measured, its speed and memory).
#[derive(Clone, Debug, Serialize)]
pub struct InspectOutput {
    /// [`nascent_study::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The space.
    pub space: String,
    /// The architecture (canonical).
    pub arch: String,
    /// Input shape `[c, h, w]`.
    pub input: [i64; 3],
    /// Classes.
    pub classes: i64,
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates of one forward pass.
    pub flops: u64,
    /// Parameters used at inference, where they differ (auxiliary heads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_params: Option<u64>,
    /// Multiply-accumulates of attention, where there is any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention_macs: Option<u64>,
    /// Measured latency (`--measure`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<InspectLatency>,
    /// Measured training-step memory (`--measure`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<InspectMemory>,
}

/// Latency of `nascent inspect --measure --json`.
#[derive(Clone, Debug, Serialize)]
pub struct InspectLatency {
    /// The device measured.
    pub device: String,
    /// Median ms of a batch of one.
    pub batch1_ms: f64,
    /// The larger batch.
    pub batch: i64,
    /// Median ms of the larger batch.
    pub batch_ms: f64,
    /// Timed repeats.
    pub repeats: usize,
}

/// Memory of `nascent inspect --measure --json`.
#[derive(Clone, Debug, Serialize)]
pub struct InspectMemory {
    /// Batch size.
    pub batch: i64,
    /// Peak bytes.
    pub peak_bytes: u64,
    /// Bytes of the weights.
    pub model_bytes: u64,
    /// Bytes of one step above the weights.
    pub step_bytes: u64,
    /// How it was measured.
    pub method: String,
}

/// `nascent export --json`: the files written.
#[derive(Clone, Debug, Serialize)]
pub struct ExportOutput {
    /// [`nascent_study::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The architecture (canonical).
    pub arch: String,
    /// Where the weights came from.
    pub weights_from: String,
    /// The genotype as text.
    pub genotype_txt: std::path::PathBuf,
    /// The genotype as JSON.
    pub genotype_json: std::path::PathBuf,
    /// The weights (safetensors).
    pub weights: std::path::PathBuf,
    /// The ONNX model.
    pub onnx: std::path::PathBuf,
}

/// One proxy of `nascent proxies --json`.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyResult {
    /// The proxy.
    pub proxy: String,
    /// Spearman rank correlation with the table's accuracy (`None` without a table).
    pub spearman: Option<f64>,
    /// Mean seconds per architecture.
    pub seconds_per_arch: f64,
}

/// `nascent proxies --json`.
#[derive(Clone, Debug, Serialize)]
pub struct ProxiesOutput {
    /// [`nascent_study::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The space.
    pub space: String,
    /// The data of the minibatch.
    pub data: String,
    /// Architectures scored.
    pub archs: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Seed.
    pub seed: u64,
    /// Width of the networks.
    pub channels: i64,
    /// Cells per stage.
    pub cells: i64,
    /// The table's data set correlated with, if a table was given.
    pub table_dataset: Option<String>,
    /// Each proxy.
    pub proxies: Vec<ProxyResult>,
    /// Mean seconds per architecture, all proxies.
    pub seconds_per_arch: f64,
    /// Seconds in all.
    pub seconds: f64,
}

/// `nascent compare --json`: the summary of the results file, one entry per arm.
#[derive(Clone, Debug, Serialize)]
pub struct CompareOutput<T: Serialize> {
    /// [`nascent_study::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The results file summarised.
    pub results: std::path::PathBuf,
    /// Per arm: test accuracy mean and std, wall time, parameters, latency.
    pub arms: Vec<T>,
}
