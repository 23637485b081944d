//! Training the joint space: its points carry the cell, the width and depth, and the training
//! recipe ([`nascent_space::joint`]); this module turns a point into a network and a
//! [`TrainConfig`].

use crate::data::{Augment, DataSplits};
use crate::error::{TrainError, TrainResult};
use crate::evaluate::{ArchSetup, SpeedHook};
use crate::model::{Builder, NetSpec, Network};
use crate::nets::GraphNet;
use crate::nets::nb201::nb201_graph;
use crate::trainer::{Optimizer, TrainConfig};
use nascent_space::joint::{Feasibility, JointArch, JointConfig, JointSpace, Recipe};
use nascent_space::joint_cost::{EpochCost, InputShape};
use nascent_space::{Nb201Arch, Nb201Op};
use std::sync::{Arc, Mutex};
use tch::nn;

/// How a space whose architectures carry their own recipe, width or depth (the joint space)
/// takes part in training: the per-architecture set-up, and a measurement once the data is
/// loaded.
pub trait ArchTraining<A>: Send + Sync {
    /// The set-up applied to each architecture's training; `crop_flip` is the dataset's
    /// crop-and-flip augmentation.
    fn setup(&self, crop_flip: Augment) -> ArchSetup<A>;

    /// Called once a study's data is loaded, before its search: `speed` trains one short
    /// epoch of an architecture and gives its images a second; `retrain_seconds` is the time
    /// reserved for the final retraining (`None` without one).
    fn prepare(
        &self,
        _speed: &dyn Fn(&A) -> TrainResult<f64>,
        _data: &DataSplits,
        _retrain_seconds: Option<f64>,
    ) -> TrainResult<()> {
        Ok(())
    }

    /// Told the training speed of every trial (`None`: not interested).
    fn speed_hook(&self) -> Option<SpeedHook<A>> {
        None
    }
}

/// What the joint space's feasibility rule knows once measured.
#[derive(Clone, Debug)]
struct Measured {
    cost: EpochCost,
    input: InputShape,
    images_per_epoch: f64,
    reserve_seconds: f64,
}

/// The joint space's training: its recipe set-up, and the rule that a configuration whose
/// retraining is predicted not to fit `min_retrain_epochs` epochs into the time reserved for
/// retraining is not proposed. The prediction ([`EpochCost`]) is calibrated when a study
/// prepares, on this machine: one short epoch each of the cheapest configuration and of the
/// all-1x1 and all-3x3 cells at the middle width, depth and batch size; then every trial's
/// measured speed refines it. Until then, and without a retraining, every configuration is
/// allowed.
#[derive(Clone, Debug)]
pub struct JointTraining {
    config: JointConfig,
    measured: Arc<Mutex<Option<Measured>>>,
}

/// Images each calibration run trains on.
pub const CALIBRATION_IMAGES: usize = 1536;

impl JointTraining {
    /// The training of the joint space of `config`.
    pub fn new(config: JointConfig) -> Self {
        JointTraining {
            config,
            measured: Arc::new(Mutex::new(None)),
        }
    }

    /// The feasibility rule to give the space ([`nascent_space::JointSpace::with_feasibility`]).
    pub fn rule(&self) -> Feasibility {
        let measured = self.measured.clone();
        let min_epochs = self.config.min_retrain_epochs;
        Arc::new(move |arch: &JointArch| {
            let m = measured.lock().unwrap_or_else(|p| p.into_inner());
            let Some(m) = m.as_ref() else {
                return Ok(());
            };
            let Some(epoch) = m.cost.predict(arch, m.input, m.images_per_epoch) else {
                return Ok(());
            };
            let need = epoch * f64::from(min_epochs);
            if need <= m.reserve_seconds {
                Ok(())
            } else {
                Err(format!(
                    "{min_epochs} retraining epochs are predicted to take {need:.0} s, {:.0} s are reserved for retraining",
                    m.reserve_seconds
                ))
            }
        })
    }

    /// The configurations the calibration trains: the cheapest, and the all-1x1 and all-3x3
    /// cells at the middle width, depth and batch size, crops and flips on, nothing else.
    fn calibration_archs(&self) -> TrainResult<Vec<JointArch>> {
        let mid = |v: &[usize]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(1)
        };
        let at = |op: Nb201Op| JointArch {
            cell: Nb201Arch::uniform(op),
            channels: mid(&self.config.channels),
            cells: mid(&self.config.cells),
            recipe: Recipe {
                lr: self.config.lr_min,
                weight_decay: self.config.weight_decay_min,
                batch_size: mid(&self.config.batch_sizes),
                crop_flip: true,
                cutout: 0,
                trivial_augment: false,
                label_smoothing: 0.0,
            },
        };
        let cheapest = JointSpace::new(self.config.clone())?.cheapest();
        Ok(vec![cheapest, at(Nb201Op::Conv1x1), at(Nb201Op::Conv3x3)])
    }

    /// Sets the measurement by hand: `seconds_per_work` (see [`EpochCost`]) for `input`,
    /// `images_per_epoch` retraining images, `reserve_seconds` reserved (what
    /// [`ArchTraining::prepare`] measures).
    pub fn set_measurement(
        &self,
        seconds_per_work: f64,
        input: InputShape,
        images_per_epoch: f64,
        reserve_seconds: f64,
    ) {
        *self.measured.lock().unwrap_or_else(|p| p.into_inner()) = Some(Measured {
            cost: EpochCost::with_prior(seconds_per_work),
            input,
            images_per_epoch,
            reserve_seconds,
        });
    }

    /// Seconds predicted for one retraining epoch of `arch` (`None` before the calibration).
    pub fn predicted_epoch_seconds(&self, arch: &JointArch) -> Option<f64> {
        let m = self.measured.lock().unwrap_or_else(|p| p.into_inner());
        let m = m.as_ref()?;
        m.cost.predict(arch, m.input, m.images_per_epoch)
    }
}

impl ArchTraining<JointArch> for JointTraining {
    fn setup(&self, crop_flip: Augment) -> ArchSetup<JointArch> {
        joint_setup(crop_flip)
    }

    fn prepare(
        &self,
        speed: &dyn Fn(&JointArch) -> TrainResult<f64>,
        data: &DataSplits,
        retrain_seconds: Option<f64>,
    ) -> TrainResult<()> {
        let Some(reserve_seconds) = retrain_seconds else {
            return Ok(());
        };
        let train = data.train.len();
        if train == 0 {
            return Ok(());
        }
        let [channels, resolution, _] = data.shape();
        let input = InputShape {
            channels,
            resolution,
            classes: data.classes(),
        };
        let mut cost = EpochCost::new();
        for arch in self.calibration_archs()? {
            let ips = speed(&arch)?;
            if ips.is_finite() && ips > 0.0 {
                cost.observe(&arch, input, 1.0, 1.0 / ips);
                log::info!(
                    "joint space: {ips:.0} images/s for channels={} cells={} {}",
                    arch.channels,
                    arch.cells,
                    arch.cell
                );
            }
        }
        *self.measured.lock().unwrap_or_else(|p| p.into_inner()) = Some(Measured {
            cost,
            input,
            images_per_epoch: train as f64,
            reserve_seconds,
        });
        // When not even the cheapest configuration fits, the search could only propose
        // configurations that break the rule: refused before any trial.
        let cheapest = JointSpace::new(self.config.clone())?.cheapest();
        if let Err(why) = (self.rule())(&cheapest) {
            return Err(nascent_core::Error::config(
                "space.joint.min_retrain_epochs",
                format!(
                    "not even the cheapest configuration fits: {why} (reserve more time with retrain.minutes, or ask for fewer epochs)"
                ),
            )
            .into());
        }
        Ok(())
    }

    fn speed_hook(&self) -> Option<SpeedHook<JointArch>> {
        let measured = self.measured.clone();
        Some(Arc::new(move |arch: &JointArch, ips: f64| {
            let mut m = measured.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(m) = m.as_mut() {
                let input = m.input;
                m.cost.observe(arch, input, 1.0, 1.0 / ips);
            }
        }))
    }
}

/// `config` trained with `recipe`: its learning rate, weight decay (of SGD or Adam), batch
/// size, label smoothing and augmentation. `crop_flip` is the dataset's crop-and-flip
/// augmentation, used when the recipe turns crops and flips on.
pub fn apply_recipe(config: &mut TrainConfig, recipe: &Recipe, crop_flip: &Augment) {
    config.lr = recipe.lr;
    match &mut config.optimizer {
        Optimizer::Sgd { weight_decay, .. } | Optimizer::Adam { weight_decay, .. } => {
            *weight_decay = recipe.weight_decay
        }
    }
    config.batch_size = recipe.batch_size;
    config.label_smoothing = recipe.label_smoothing;
    config.augment = Augment {
        crop_padding: if recipe.crop_flip {
            crop_flip.crop_padding
        } else {
            0
        },
        hflip: recipe.crop_flip && crop_flip.hflip,
        cutout: recipe.cutout,
        trivial: recipe.trivial_augment,
    };
}

/// The [`ArchSetup`] of the joint space for a [`crate::evaluate::TrainEvaluator`]: each trial
/// trains with its own recipe, width and depth.
pub fn joint_setup(crop_flip: Augment) -> ArchSetup<JointArch> {
    Arc::new(
        move |arch: &JointArch, cfg: &mut TrainConfig, spec: &mut NetSpec| {
            apply_recipe(cfg, &arch.recipe, &crop_flip);
            spec.channels = Some(arch.channels as i64);
            spec.cells = Some(arch.cells as i64);
        },
    )
}

/// Builds the NB201 network of a joint architecture's cell, at the architecture's own width
/// and depth (whatever the specification says).
#[derive(Clone, Copy, Debug, Default)]
pub struct JointBuilder;

impl Builder<JointArch> for JointBuilder {
    fn build(
        &self,
        arch: &JointArch,
        spec: &NetSpec,
        root: &nn::Path,
    ) -> TrainResult<Box<dyn Network>> {
        let spec = NetSpec {
            channels: Some(arch.channels as i64),
            cells: Some(arch.cells as i64),
            ..spec.clone()
        };
        let graph = nb201_graph(&arch.cell, &spec, root).map_err(|reason| TrainError::Build {
            arch: arch.cell.to_string(),
            reason,
        })?;
        Ok(Box::new(GraphNet::new(graph)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nascent_core::SearchSpace;
    use nascent_space::joint::{JointConfig, JointSpace};

    #[test]
    fn only_configurations_whose_retraining_fits_are_proposed() {
        use nascent_core::Rng;
        use nascent_space::joint_cost::InputShape;
        let config = JointConfig::default();
        let training = JointTraining::new(config.clone());
        let free = JointSpace::new(config.clone()).unwrap();
        let ruled = JointSpace::new(config)
            .unwrap()
            .with_feasibility(training.rule());
        let input = InputShape {
            channels: 1,
            resolution: 28,
            classes: 10,
        };
        // Before the measurement, everything is allowed.
        let mut rng = Rng::new(1);
        let big = free.sample(&mut rng);
        assert!(ruled.validate(&big).is_ok());
        // 0.1 ns per unit of work (10 G multiply-accumulates a second), 54,000 images, 10
        // epochs in 15 minutes.
        training.set_measurement(1e-10, input, 54_000.0, 900.0);
        let epoch = |a: &JointArch| training.predicted_epoch_seconds(a).unwrap();
        let mut rejected = 0;
        for _ in 0..300 {
            let a = free.sample(&mut rng);
            let fits = epoch(&a) * 10.0 <= 900.0;
            assert_eq!(ruled.validate(&a).is_ok(), fits, "{}", free.format(&a));
            rejected += usize::from(!fits);
        }
        assert!(
            rejected > 10,
            "the rule must bite: {rejected} of 300 rejected"
        );
        for _ in 0..300 {
            let a = ruled.sample(&mut rng);
            assert!(epoch(&a) * 10.0 <= 900.0, "{}", ruled.format(&a));
            let b = ruled.mutate(&a, &mut rng);
            assert!(epoch(&b) * 10.0 <= 900.0, "{}", ruled.format(&b));
        }
    }

    #[test]
    fn the_recipe_reaches_the_config() {
        let s = JointSpace::new(JointConfig::default()).unwrap();
        let a = s
            .parse(
                "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2| \
                 channels=24 cells=2 lr=3.00e-2 wd=1.00e-4 batch=64 crop_flip=off cutout=8 \
                 trivial=on smoothing=0.150",
            )
            .unwrap();
        let mut cfg = TrainConfig::default();
        let mut spec = NetSpec::cifar(10);
        joint_setup(Augment::cifar())(&a, &mut cfg, &mut spec);
        assert_eq!(cfg.lr, 0.03);
        assert_eq!(cfg.batch_size, 64);
        assert_eq!(cfg.label_smoothing, 0.15);
        let Optimizer::Sgd { weight_decay, .. } = cfg.optimizer else {
            panic!("the default optimizer is SGD")
        };
        assert_eq!(weight_decay, 1e-4);
        assert_eq!(
            cfg.augment,
            Augment {
                crop_padding: 0,
                hflip: false,
                cutout: 8,
                trivial: true
            }
        );
        assert_eq!((spec.channels, spec.cells), (Some(24), Some(2)));
        cfg.check().unwrap();
    }
}
