//! Measured metrics of a built network: parameters, FLOPs, latency and training memory.
//!
//! - **Parameters** are counted from the weights the network holds ([`Complexity`]).
//! - **FLOPs** are the multiply-accumulates of the conv and linear layers for one sample,
//!   counted from the network's [`Graph`]: each layer's output shape
//!   is propagated from the input shape when the network is built, so nothing is guessed.
//!   Attention products (`QK^T`, `AV`) are reported separately.
//! - **Latency** is measured on the model's device ([`measure_latency`]): inference mode
//!   without gradients, a warm-up, then the median of repeated forward passes at batch 1 and
//!   at batch N, with the device synchronised around each pass on CUDA.
//! - **Peak memory of a training step** ([`train_step_memory`]): on the CPU (Linux) it is
//!   measured from the kernel's resident-set counters: after one warm-up step (so that
//!   gradients exist and one-time buffers are allocated), the resident peak is reset
//!   (`/proc/self/clear_refs`) and a forward + backward pass (cross-entropy on random labels,
//!   auxiliary head included) is run; the step's peak is the resident high-water mark minus
//!   the resident size before the step. To make freed tensors leave the resident set, glibc
//!   is told to serve allocations of 64 KiB and more with `mmap` (`mallopt`), a setting that
//!   stays for the process; call it after timing-sensitive work. The total adds the bytes of
//!   weights, buffers and gradients. Optimiser state (momentum: one more copy of the
//!   weights; Adam: two) is not included. On other devices only the estimate from the graph
//!   is given: weights, gradients, and every node output of the training forward pass at
//!   4 bytes an element (an upper bound on what autograd keeps).

use crate::error::{TrainError, TrainResult};
use crate::graph::Graph;
use crate::model::Model;
use tch::{Device, Kind, Reduction, Tensor};

/// Parameters and FLOPs of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Complexity {
    /// Trainable parameters (auxiliary head included).
    pub params: u64,
    /// Trainable parameters used in inference (auxiliary head excluded).
    pub inference_params: u64,
    /// Multiply-accumulates of conv and linear layers for one sample, in inference.
    pub flops: u64,
    /// Multiply-accumulates of attention products for one sample, in inference.
    pub attention_macs: u64,
}

/// The graph of a model, or an error saying the network cannot describe itself.
pub fn graph_of(model: &Model) -> TrainResult<&Graph> {
    model.net.graph().ok_or_else(|| {
        TrainError::Core(nascent_core::Error::Other(
            "this network does not describe its layers (no graph), so it cannot be measured or exported"
                .to_string(),
        ))
    })
}

/// Counts parameters and FLOPs of `model`.
pub fn complexity(model: &Model) -> TrainResult<Complexity> {
    let g = graph_of(model)?;
    Ok(Complexity {
        params: g.param_count(),
        inference_params: g.inference_param_count(),
        flops: g.macs(),
        attention_macs: g.attention_macs(),
    })
}

/// Latency of forward passes at one batch size, in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    /// Batch size.
    pub batch: i64,
    /// Median over the timed passes.
    pub median_ms: f64,
    /// Fastest timed pass.
    pub min_ms: f64,
    /// Number of timed passes.
    pub repeats: usize,
}

/// Latency at batch 1 and batch N.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyReport {
    /// Where it was measured (`cpu`, `cuda:0`).
    pub device: String,
    /// Batch 1.
    pub batch1: Latency,
    /// Batch N.
    pub batch_n: Latency,
}

/// How latency is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyConfig {
    /// The larger batch.
    pub batch: i64,
    /// Untimed passes first.
    pub warmup: usize,
    /// Timed passes.
    pub repeats: usize,
}

impl Default for LatencyConfig {
    /// Batch 64, 5 warm-up passes, 20 timed passes.
    fn default() -> Self {
        LatencyConfig {
            batch: 64,
            warmup: 5,
            repeats: 20,
        }
    }
}

/// The name of a device as users write it.
pub fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".to_string(),
        Device::Vulkan => "vulkan".to_string(),
    }
}

fn sync(d: Device) {
    if let Device::Cuda(i) = d {
        tch::Cuda::synchronize(i as i64);
    }
}

fn input(model: &Model, batch: i64) -> TrainResult<Tensor> {
    let s = &model.spec;
    if batch < 1 {
        return Err(TrainError::Core(nascent_core::Error::config(
            "batch",
            format!("must be at least 1, got {batch}"),
        )));
    }
    // A constant input: timing does not depend on the values, and the torch RNG (which
    // training draws from) is left untouched.
    Ok(Tensor::full(
        [batch, s.in_channels, s.resolution, s.resolution],
        0.5,
        (Kind::Float, model.device()),
    ))
}

/// Times inference forward passes of `model` at batch `batch`.
pub fn latency(model: &Model, batch: i64, warmup: usize, repeats: usize) -> TrainResult<Latency> {
    let x = input(model, batch)?;
    let dev = model.device();
    let _guard = tch::no_grad_guard();
    for _ in 0..warmup {
        let _ = model.net.forward(&x, false);
    }
    sync(dev);
    let mut times = Vec::with_capacity(repeats.max(1));
    for _ in 0..repeats.max(1) {
        let t = std::time::Instant::now();
        let y = model.net.forward(&x, false);
        sync(dev);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        drop(y);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0
    };
    Ok(Latency {
        batch,
        median_ms: median,
        min_ms: times[0],
        repeats: times.len(),
    })
}

/// Latency at batch 1 and at `cfg.batch`.
pub fn measure_latency(model: &Model, cfg: LatencyConfig) -> TrainResult<LatencyReport> {
    Ok(LatencyReport {
        device: device_name(model.device()),
        batch1: latency(model, 1, cfg.warmup, cfg.repeats)?,
        batch_n: latency(model, cfg.batch, cfg.warmup, cfg.repeats)?,
    })
}

/// How a memory figure was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryMethod {
    /// Measured from the process's resident set (CPU, Linux).
    ResidentSet,
    /// Estimated from the graph (other devices and systems).
    GraphEstimate,
}

impl MemoryMethod {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            MemoryMethod::ResidentSet => "measured (resident set)",
            MemoryMethod::GraphEstimate => "estimated from the graph",
        }
    }
}

/// Memory of one training step (forward and backward) at one batch size.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryReport {
    /// Batch size.
    pub batch: i64,
    /// Bytes of weights, buffers and gradients (held across steps).
    pub model_bytes: u64,
    /// Peak bytes the step adds on top (activations kept for the backward pass, temporaries).
    pub step_bytes: u64,
    /// `model_bytes + step_bytes`.
    pub peak_bytes: u64,
    /// How `step_bytes` was obtained.
    pub method: MemoryMethod,
    /// The graph's estimate of `step_bytes` (always given, for comparison).
    pub estimate_step_bytes: u64,
}

fn model_bytes(g: &Graph) -> u64 {
    g.params()
        .iter()
        .map(|p| {
            let b = p.tensor.numel() as u64 * p.tensor.kind().elt_size_in_bytes() as u64;
            if p.trainable { 2 * b } else { b }
        })
        .sum()
}

/// One forward + backward pass in training mode on a constant batch with label 0.
fn train_step(model: &Model, x: &Tensor, labels: &Tensor) {
    let out = model.net.forward(x, true);
    let mut loss =
        out.logits
            .cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, 0.0);
    if let Some(aux) = out.aux_logits {
        loss += aux.cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, 0.0) * 0.4;
    }
    loss.backward();
}

/// Peak memory of a training step of `model` at batch `batch` (see the
/// [module docs](self) for how it is measured and what it includes). The weights are left
/// as they were (running statistics are restored); gradients are left allocated, at zero.
pub fn train_step_memory(model: &Model, batch: i64) -> TrainResult<MemoryReport> {
    let g = graph_of(model)?;
    let x = input(model, batch)?;
    let labels = Tensor::zeros([batch], (Kind::Int64, model.device()));
    let held = model_bytes(g);
    let estimate = g.train_activation_elems() * batch as u64 * 4;
    let buffers: Vec<(Tensor, Tensor)> = g
        .params()
        .iter()
        .filter(|p| !p.trainable)
        .map(|p| (p.tensor.shallow_clone(), p.tensor.copy()))
        .collect();
    let measured = if model.device() == Device::Cpu {
        rss::prepare();
        train_step(model, &x, &labels);
        let before = rss::current();
        let ok = rss::reset_peak();
        train_step(model, &x, &labels);
        let peak = rss::peak();
        crate::trainer::keep_freed_memory();
        match (ok, before, peak) {
            (true, Some(b), Some(p)) => Some(p.saturating_sub(b)),
            _ => None,
        }
    } else {
        None
    };
    tch::no_grad(|| {
        for (live, saved) in &buffers {
            live.shallow_clone().copy_(saved);
        }
        for p in g.params().iter().filter(|p| p.trainable) {
            let mut grad = p.tensor.grad();
            if grad.defined() {
                let _ = grad.zero_();
            }
        }
    });
    let (step, method) = match measured {
        Some(m) => (m, MemoryMethod::ResidentSet),
        None => (estimate, MemoryMethod::GraphEstimate),
    };
    Ok(MemoryReport {
        batch,
        model_bytes: held,
        step_bytes: step,
        peak_bytes: held + step,
        method,
        estimate_step_bytes: estimate,
    })
}

/// The resident set of this process, from `/proc/self` (Linux).
mod rss {
    fn status_kib(field: &str) -> Option<u64> {
        let s = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = s.lines().find(|l| l.starts_with(field))?;
        line[field.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    /// Resident bytes now.
    pub fn current() -> Option<u64> {
        status_kib("VmRSS:").map(|k| k * 1024)
    }

    /// Peak resident bytes since the last reset.
    pub fn peak() -> Option<u64> {
        status_kib("VmHWM:").map(|k| k * 1024)
    }

    /// Resets the peak to the current resident size.
    pub fn reset_peak() -> bool {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }

    /// Makes glibc return freed blocks of 64 KiB or more to the system at once, so that the
    /// resident set follows the live tensors.
    pub fn prepare() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            const M_TRIM_THRESHOLD: libc::c_int = -1;
            const M_MMAP_THRESHOLD: libc::c_int = -3;
            // SAFETY: mallopt only changes allocator parameters; it is thread-safe in glibc.
            unsafe {
                libc::mallopt(M_MMAP_THRESHOLD, 64 * 1024);
                libc::mallopt(M_TRIM_THRESHOLD, 128 * 1024);
                libc::malloc_trim(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Model, Nb201Builder, NetSpec};
    use nascent_space::{Nb201Arch, Nb201Op, Nb201Shape};

    fn small(arch: Nb201Arch) -> Model {
        let spec = NetSpec {
            in_channels: 1,
            resolution: 28,
            classes: 10,
            channels: Some(16),
            cells: Some(1),
        };
        Model::new(&Nb201Builder, &arch, spec, Device::Cpu).unwrap()
    }

    #[test]
    fn complexity_matches_the_analytic_counts() {
        let arch = Nb201Arch::uniform(Nb201Op::Conv3x3);
        let m = small(arch);
        let c = complexity(&m).unwrap();
        let shape = Nb201Shape {
            channels: 16,
            cells: 1,
            in_channels: 1,
            resolution: 28,
            classes: 10,
        };
        assert_eq!(c.params, shape.params(&arch));
        assert_eq!(c.inference_params, c.params);
        assert_eq!(c.flops, shape.macs(&arch));
        assert_eq!(c.attention_macs, 0);
    }

    #[test]
    fn latency_reports_both_batches() {
        let m = small(Nb201Arch::uniform(Nb201Op::Conv3x3));
        let r = measure_latency(
            &m,
            LatencyConfig {
                batch: 16,
                warmup: 1,
                repeats: 3,
            },
        )
        .unwrap();
        assert_eq!(r.device, "cpu");
        // Timings on a shared machine are noisy: check their form, not their ratio.
        for l in [&r.batch1, &r.batch_n] {
            assert!(l.min_ms > 0.0 && l.min_ms <= l.median_ms, "{r:?}");
            assert_eq!(l.repeats, 3);
        }
        assert_eq!((r.batch1.batch, r.batch_n.batch), (1, 16));
        assert!(latency(&m, 0, 0, 1).is_err());
    }
}
