//! Shared helpers of the integration tests: the path of the shared data and a small real
//! convolutional network (so the trainer's tests do not depend on the space builders).

#![allow(dead_code)]

use nascent_train::data::{DataSplits, KnownDataset, LoadedData};
use nascent_train::{Builder, NetOutput, NetSpec, Network, TrainError, TrainResult};
use std::path::PathBuf;
use tch::Tensor;
use tch::nn::{self, Module, ModuleT};

/// Serialises the tests of one binary that use torch's global generator (weights are drawn
/// from it), so that running them on parallel threads keeps each deterministic.
pub static TORCH_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`TORCH_LOCK`] (even if a failed test poisoned it).
pub fn torch_lock() -> std::sync::MutexGuard<'static, ()> {
    TORCH_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `<repo>/../shared/data/<rel>`, or `None` (with a message naming it) when absent; a
/// failure under CI (see [`nascent_core::testing`]).
#[track_caller]
pub fn shared(rel: &str) -> Option<PathBuf> {
    nascent_core::testing::shared_data(rel)
}

/// A small Fashion-MNIST: `per_class` training images of each class, 50 test images of each.
pub fn small_fashion(per_class: usize, val_fraction: f64, seed: u64) -> Option<DataSplits> {
    let dir = shared("fashion-mnist")?;
    let full = KnownDataset::FashionMnist
        .load(&dir)
        .expect("Fashion-MNIST loads");
    let data = LoadedData {
        origin: full.origin,
        train: full.train.take_per_class(per_class),
        test: full.test.map(|t| t.take_per_class(50)),
    };
    Some(DataSplits::split(data, val_fraction, seed).unwrap())
}

/// conv3x3(C) BN ReLU, conv3x3 stride 2 (2C) BN ReLU, average pooling to 4x4, linear.
#[derive(Debug)]
pub struct TinyNet {
    c1: nn::Conv2D,
    b1: nn::BatchNorm,
    c2: nn::Conv2D,
    b2: nn::BatchNorm,
    fc: nn::Linear,
    /// Multiplies the logits (a NaN here makes the loss NaN).
    pub poison: f64,
}

impl Network for TinyNet {
    fn forward(&self, xs: &Tensor, train: bool) -> NetOutput {
        let h = self.b1.forward_t(&xs.apply(&self.c1), train).relu();
        let h = self.b2.forward_t(&h.apply(&self.c2), train).relu();
        let h = h.adaptive_avg_pool2d([4, 4]).flatten(1, -1);
        let logits = self.fc.forward(&h) * self.poison;
        NetOutput {
            logits,
            aux_logits: None,
        }
    }
}

/// The architecture of a [`TinyNet`]: its width multiplier (0 cannot be built).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TinyArch(pub i64);

/// Builds [`TinyNet`]s; `poison` multiplies their logits.
#[derive(Clone, Copy, Debug)]
pub struct TinyBuilder {
    pub poison: f64,
}

impl Default for TinyBuilder {
    fn default() -> Self {
        TinyBuilder { poison: 1.0 }
    }
}

impl Builder<TinyArch> for TinyBuilder {
    fn build(
        &self,
        arch: &TinyArch,
        spec: &NetSpec,
        root: &nn::Path,
    ) -> TrainResult<Box<dyn Network>> {
        if arch.0 < 1 {
            return Err(TrainError::Build {
                arch: format!("{arch:?}"),
                reason: "width multiplier must be at least 1".into(),
            });
        }
        let c = spec.channels.unwrap_or(16) * arch.0;
        let conv = |s: i64| nn::ConvConfig {
            padding: 1,
            stride: s,
            bias: false,
            ..Default::default()
        };
        Ok(Box::new(TinyNet {
            c1: nn::conv2d(root / "c1", spec.in_channels, c, 3, conv(1)),
            b1: nn::batch_norm2d(root / "b1", c, Default::default()),
            c2: nn::conv2d(root / "c2", c, 2 * c, 3, conv(2)),
            b2: nn::batch_norm2d(root / "b2", 2 * c, Default::default()),
            fc: nn::linear(root / "fc", 2 * c * 16, spec.classes, Default::default()),
            poison: self.poison,
        }))
    }
}
