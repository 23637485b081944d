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
//!
//! On a CPU the small networks of a search cost far more than their multiply-accumulates say
//! (normalisation, activations, pooling and per-operation overhead are memory-bound): one
//! ratio fitted on a heavy network predicts a light one several times too fast. With three
//! or more measurements whose work differs by half or more, the prediction is the least-squares
//! line `seconds per image = a + b * work` (both at least 0) instead.

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
    /// (work per image, seconds per image) of each measurement.
    points: Vec<(f64, f64)>,
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
            points: Vec::new(),
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
        let w = Self::work(arch, input);
        if w > 0.0 && images > 0.0 && seconds.is_finite() && seconds > 0.0 {
            self.points.push((w, seconds / images));
        }
    }

    /// Measurements so far.
    pub fn observations(&self) -> usize {
        self.points.len()
    }

    /// Seconds per unit of work: the median measured ratio, else the prior.
    pub fn seconds_per_work(&self) -> Option<f64> {
        if self.points.is_empty() {
            return self.prior;
        }
        let mut r: Vec<f64> = self.points.iter().map(|(w, s)| s / w).collect();
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
        let work = Self::work(arch, input);
        if let Some((a, b)) = self.line() {
            return Some((a + b * work) * images);
        }
        Some(self.seconds_per_work()? * work * images)
    }

    /// The least-squares line `(a, b)` of seconds per image against work, both at least 0;
    /// `None` with fewer than three measurements or work that hardly varies.
    fn line(&self) -> Option<(f64, f64)> {
        let n = self.points.len();
        if n < 3 {
            return None;
        }
        let (lo, hi) = self
            .points
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &(w, _)| {
                (lo.min(w), hi.max(w))
            });
        if hi < 1.5 * lo {
            return None;
        }
        let nf = n as f64;
        let mw = self.points.iter().map(|p| p.0).sum::<f64>() / nf;
        let ms = self.points.iter().map(|p| p.1).sum::<f64>() / nf;
        let sww: f64 = self.points.iter().map(|p| (p.0 - mw).powi(2)).sum();
        let sws: f64 = self.points.iter().map(|p| (p.0 - mw) * (p.1 - ms)).sum();
        let b = sws / sww;
        if !(b.is_finite() && b > 0.0) {
            return None;
        }
        let a = ms - b * mw;
        if a >= 0.0 {
            return Some((a, b));
        }
        // Through the origin.
        let b0 = self.points.iter().map(|p| p.0 * p.1).sum::<f64>()
            / self.points.iter().map(|p| p.0 * p.0).sum::<f64>();
        Some((0.0, b0))
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
    fn light_networks_cost_more_than_their_work_once_measured() {
        // Measured: a fixed 2 ms per image besides 1 ns per unit of work.
        let truth = |a: &JointArch| 2e-3 + 1e-9 * EpochCost::work(a, FMNIST);
        let mut m = EpochCost::new();
        for (c, n) in [(32, 3), (16, 1), (8, 1), (24, 2)] {
            let a = arch(c, n, 128);
            m.observe(&a, FMNIST, 1000.0, 1000.0 * truth(&a));
        }
        for (c, n) in [(8, 3), (12, 1), (32, 1)] {
            let a = arch(c, n, 64);
            let p = m.predict(&a, FMNIST, 100.0).unwrap();
            assert!(
                (p - 100.0 * truth(&a)).abs() < 1e-6 * p.max(1.0),
                "{c}x{n}: {p}"
            );
        }
        // One measurement only: the single ratio, which a lighter network underestimates.
        let mut one = EpochCost::new();
        let heavy = arch(32, 3, 128);
        one.observe(&heavy, FMNIST, 1000.0, 1000.0 * truth(&heavy));
        let light = arch(8, 1, 128);
        assert!(one.predict(&light, FMNIST, 1.0).unwrap() < truth(&light));
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
