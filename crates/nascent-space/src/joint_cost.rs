//! Predicted training time of a joint architecture, so that a study proposes only
//! configurations whose retraining fits the time left.
//!
//! Training one image costs about `k * (macs + params / batch + overhead)`: the network's
//! multiply-accumulates per image (from [`Nb201Shape`], so it scales with the cell, the width
//! and the depth), the optimizer's work per step shared by the batch's images (so it scales
//! with the batch size), and a fixed per-image overhead (loading, augmentation, memory-bound
//! layers). The one unknown, `k` (seconds per unit of work on this machine), is the median of
//! the measured ratios of the trials so far ([`EpochCost::observe`]); before any measurement a
//! prior can be given, otherwise nothing is predicted and every configuration is allowed.

use crate::joint::{Feasibility, JointArch};
use crate::nb201::Nb201Shape;
use std::sync::{Arc, Mutex};

/// Per-image work not counted in multiply-accumulates (loader, augmentation, BN, pooling),
/// in multiply-accumulate equivalents.
pub const OVERHEAD_MACS: f64 = 1.0e6;

/// What the data looks like to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputShape {
    /// Image channels.
    pub channels: usize,
    /// Image side in pixels.
    pub resolution: usize,
    /// Classes.
    pub classes: usize,
}

/// The cost model: seconds per unit of work, fitted from measured trials.
#[derive(Clone, Debug, Default)]
pub struct EpochCost {
    prior: Option<f64>,
    ratios: Vec<f64>,
}

impl EpochCost {
    /// A model with no measurement and no prior.
    pub fn new() -> Self {
        EpochCost::default()
    }

    /// A model that predicts with `seconds_per_work` until it has measurements.
    pub fn with_prior(seconds_per_work: f64) -> Self {
        EpochCost {
            prior: Some(seconds_per_work),
            ratios: Vec::new(),
        }
    }

    /// Work units of training one image of `arch`.
    pub fn work(arch: &JointArch, input: InputShape) -> f64 {
        let shape = Nb201Shape {
            channels: arch.channels,
            cells: arch.cells,
            in_channels: input.channels,
            resolution: input.resolution,
            classes: input.classes,
        };
        shape.macs(&arch.cell) as f64
            + shape.params(&arch.cell) as f64 / arch.recipe.batch_size.max(1) as f64
            + OVERHEAD_MACS
    }

    /// Records a measurement: training `arch` on `images` images (epochs times images per
    /// epoch) took `seconds`. Measurements that are not positive and finite are ignored.
    pub fn observe(&mut self, arch: &JointArch, input: InputShape, images: f64, seconds: f64) {
        let w = Self::work(arch, input) * images;
        if w > 0.0 && seconds.is_finite() && seconds > 0.0 {
            self.ratios.push(seconds / w);
        }
    }

    /// Measurements so far.
    pub fn observations(&self) -> usize {
        self.ratios.len()
    }

    /// Seconds per unit of work: the median measured ratio, else the prior.
    pub fn seconds_per_work(&self) -> Option<f64> {
        if self.ratios.is_empty() {
            return self.prior;
        }
        let mut r = self.ratios.clone();
        r.sort_by(f64::total_cmp);
        let n = r.len();
        Some(if n % 2 == 1 {
            r[n / 2]
        } else {
            0.5 * (r[n / 2 - 1] + r[n / 2])
        })
    }

    /// Predicted seconds of training `arch` on `images` images; `None` before any measurement
    /// without a prior.
    pub fn predict(&self, arch: &JointArch, input: InputShape, images: f64) -> Option<f64> {
        Some(self.seconds_per_work()? * Self::work(arch, input) * images)
    }
}

/// A feasibility rule for [`crate::joint::JointSpace::with_feasibility`]: the predicted time of
/// `min_epochs` epochs on `images_per_epoch` images must fit in the seconds `available()`
/// returns at the time of asking (the time left for retraining). Allows everything while the
/// model cannot predict.
pub fn retraining_fits(
    cost: Arc<Mutex<EpochCost>>,
    input: InputShape,
    images_per_epoch: f64,
    min_epochs: u32,
    available: Arc<dyn Fn() -> f64 + Send + Sync>,
) -> Feasibility {
    Arc::new(move |arch: &JointArch| {
        let model = cost.lock().unwrap_or_else(|p| p.into_inner());
        let Some(epoch) = model.predict(arch, input, images_per_epoch) else {
            return Ok(());
        };
        let need = epoch * min_epochs as f64;
        let have = available();
        if need <= have {
            Ok(())
        } else {
            Err(format!(
                "{min_epochs} retraining epochs are predicted to take {need:.0} s, {have:.0} s are left"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::joint::{JointConfig, JointSpace};
    use nascent_core::{Rng, SearchSpace};

    const FMNIST: InputShape = InputShape {
        channels: 1,
        resolution: 28,
        classes: 10,
    };

    fn arch(channels: usize, cells: usize, batch: usize) -> JointArch {
        let s = JointSpace::new(JointConfig::default()).unwrap();
        s.parse(&format!(
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2| \
             channels={channels} cells={cells} lr=1.00e-1 wd=5.00e-4 batch={batch} crop_flip=on \
             cutout=0 trivial=off smoothing=0.000"
        ))
        .unwrap()
    }

    #[test]
    fn work_grows_with_width_depth_and_small_batches() {
        let w = |c, n, b| EpochCost::work(&arch(c, n, b), FMNIST);
        assert!(w(32, 1, 128) > 3.0 * w(16, 1, 128));
        assert!(w(16, 3, 128) > 2.0 * w(16, 1, 128));
        assert!(w(16, 1, 64) > w(16, 1, 256));
    }

    #[test]
    fn predictions_scale_from_measurements() {
        let mut m = EpochCost::new();
        assert_eq!(m.predict(&arch(16, 1, 128), FMNIST, 60_000.0), None);
        // 200 images/s for the all-conv3x3 cell at 16 channels.
        m.observe(&arch(16, 1, 128), FMNIST, 60_000.0, 300.0);
        let same = m.predict(&arch(16, 1, 128), FMNIST, 60_000.0).unwrap();
        assert!((same - 300.0).abs() < 1e-6);
        let wide = m.predict(&arch(32, 1, 128), FMNIST, 60_000.0).unwrap();
        assert!(wide > 900.0, "{wide}");
        m.observe(&arch(16, 1, 128), FMNIST, 60_000.0, f64::NAN);
        assert_eq!(m.observations(), 1);
    }

    #[test]
    fn the_rule_refuses_what_cannot_fit_and_names_the_times() {
        let mut m = EpochCost::new();
        m.observe(&arch(16, 1, 128), FMNIST, 60_000.0, 300.0);
        let cost = Arc::new(Mutex::new(m));
        // 17 minutes for at least 3 epochs: 16 channels, 1 cell fits (900 s), 32 does not.
        let rule = retraining_fits(cost, FMNIST, 60_000.0, 3, Arc::new(|| 1020.0));
        assert!(rule(&arch(16, 1, 128)).is_ok());
        let e = rule(&arch(32, 1, 128)).unwrap_err();
        assert!(
            e.contains("3 retraining epochs") && e.contains("1020 s"),
            "{e}"
        );
        let space = JointSpace::new(JointConfig::default())
            .unwrap()
            .with_feasibility(rule);
        let mut rng = Rng::new(0);
        for _ in 0..100 {
            let a = space.sample(&mut rng);
            let s = EpochCost::work(&a, FMNIST) * 60_000.0 * 3.0 * 300.0
                / (EpochCost::work(&arch(16, 1, 128), FMNIST) * 60_000.0);
            assert!(s <= 1020.0 + 1e-6, "{}", space.format(&a));
        }
    }
}
