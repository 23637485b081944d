//! Training the joint space: its points carry the cell, the width and depth, and the training
//! recipe ([`nascent_space::joint`]); this module turns a point into a network and a
//! [`TrainConfig`].

use crate::data::Augment;
use crate::error::{TrainError, TrainResult};
use crate::evaluate::ArchSetup;
use crate::model::{Builder, NetSpec, Network};
use crate::nets::GraphNet;
use crate::nets::nb201::nb201_graph;
use crate::trainer::{Optimizer, TrainConfig};
use nascent_space::joint::{JointArch, Recipe};
use std::sync::Arc;
use tch::nn;

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
