//! The joint space: an NB201 cell, the network's width and depth, and its training recipe.
//!
//! A point of the space is everything a training run needs besides the data: the cell (six
//! edges, as in [`crate::nb201`]), the channels of the first stage, the cells per stage, and the
//! recipe: learning rate and weight decay (real numbers on a log scale), batch size, crops and
//! flips (on or off), cutout (its side in pixels, 0 for off), a TrivialAugment-style policy (on
//! or off) and label smoothing (a real number). Which values each may take is set by
//! [`JointConfig`].
//!
//! Real values are kept rounded to three significant digits (label smoothing to three
//! decimals), so the canonical string round-trips exactly and two architectures that print the
//! same are equal. The canonical string is the cell followed by `key=value` fields:
//!
//! ```text
//! |nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2| channels=16 cells=1 lr=1.00e-1 wd=5.00e-4 batch=128 crop_flip=on cutout=0 trivial=off smoothing=0.000
//! ```
//!
//! Strategies that see the space as categorical decisions (evolution's crossover, REINFORCE,
//! the GP and BANANAS candidate sets) see each real dimension as a grid of
//! [`JointConfig::grid`] levels; sampling, mutation, crossover and neighbours keep the real
//! values real, and [`SearchSpace::dimensions`] gives samplers that model real dimensions
//! (TPE) the ranges themselves.
//!
//! A space may carry a feasibility rule ([`JointSpace::with_feasibility`], for example "the
//! retraining's predicted time fits the time left"): no method returns an architecture that
//! breaks it, and `validate` names the reason.

use crate::nb201::{NB201_EDGES, NB201_OPS, Nb201Arch, Nb201Op, Nb201Space};
use nascent_core::space::check_point;
use nascent_core::{Decision, Dimension, Encoding, Error, Result, Rng, SearchSpace};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The training recipe of a joint architecture.
#[derive(Clone, Copy, Debug)]
pub struct Recipe {
    /// Peak learning rate.
    pub lr: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Training batch size.
    pub batch_size: usize,
    /// Random crops (padding 4) and horizontal flips.
    pub crop_flip: bool,
    /// Cutout side in pixels; 0 for none.
    pub cutout: usize,
    /// A TrivialAugment-style policy: one random operation at a random strength per image.
    pub trivial_augment: bool,
    /// Label smoothing.
    pub label_smoothing: f64,
}

impl PartialEq for Recipe {
    fn eq(&self, o: &Self) -> bool {
        self.lr.to_bits() == o.lr.to_bits()
            && self.weight_decay.to_bits() == o.weight_decay.to_bits()
            && self.batch_size == o.batch_size
            && self.crop_flip == o.crop_flip
            && self.cutout == o.cutout
            && self.trivial_augment == o.trivial_augment
            && self.label_smoothing.to_bits() == o.label_smoothing.to_bits()
    }
}

// The real values are canonical (rounded, finite, never NaN), so bit equality is value equality.
impl Eq for Recipe {}

impl Hash for Recipe {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.lr.to_bits().hash(h);
        self.weight_decay.to_bits().hash(h);
        self.batch_size.hash(h);
        self.crop_flip.hash(h);
        self.cutout.hash(h);
        self.trivial_augment.hash(h);
        self.label_smoothing.to_bits().hash(h);
    }
}

/// One point of the joint space: cell, width, depth and recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JointArch {
    /// The NB201 cell.
    pub cell: Nb201Arch,
    /// Channels of the first stage.
    pub channels: usize,
    /// Cells per stage.
    pub cells: usize,
    /// The training recipe.
    pub recipe: Recipe,
}

/// Rounds to three significant digits (the canonical form of learning rate and weight decay).
pub fn round_sig3(x: f64) -> f64 {
    format!("{x:.2e}").parse().unwrap_or(x)
}

/// Rounds to three decimals (the canonical form of label smoothing).
pub fn round_dec3(x: f64) -> f64 {
    let r = format!("{x:.3}").parse().unwrap_or(x);
    if r == 0.0 { 0.0 } else { r } // no -0.000
}

/// Which values each dimension of the joint space may take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JointConfig {
    /// Channels of the first stage.
    pub channels: Vec<usize>,
    /// Cells per stage.
    pub cells: Vec<usize>,
    /// Smallest learning rate.
    pub lr_min: f64,
    /// Largest learning rate.
    pub lr_max: f64,
    /// Smallest weight decay.
    pub weight_decay_min: f64,
    /// Largest weight decay.
    pub weight_decay_max: f64,
    /// Batch sizes.
    pub batch_sizes: Vec<usize>,
    /// Cutout sides in pixels (0 is off).
    pub cutout: Vec<usize>,
    /// Whether crops and flips are a choice (otherwise always on).
    pub search_crop_flip: bool,
    /// Whether the TrivialAugment-style policy is a choice (otherwise always off).
    pub search_trivial_augment: bool,
    /// Largest label smoothing (the smallest is 0).
    pub label_smoothing_max: f64,
    /// Levels of each real dimension in the categorical view (grids for GP, BANANAS,
    /// REINFORCE and crossover).
    pub grid: usize,
    /// In a study: fewest retraining epochs a configuration must be predicted to fit in the
    /// time reserved for retraining (`retrain.minutes`); one that cannot is not proposed.
    pub min_retrain_epochs: u32,
}

impl Default for JointConfig {
    fn default() -> Self {
        JointConfig {
            channels: vec![8, 12, 16, 24, 32],
            cells: vec![1, 2, 3],
            lr_min: 0.01,
            lr_max: 0.4,
            weight_decay_min: 1e-5,
            weight_decay_max: 1e-3,
            batch_sizes: vec![64, 128, 256],
            cutout: vec![0, 8, 16],
            search_crop_flip: true,
            search_trivial_augment: true,
            label_smoothing_max: 0.2,
            grid: 8,
            min_retrain_epochs: 10,
        }
    }
}

impl JointConfig {
    /// Validates the settings; errors name the field (prefixed by `prefix`, such as `space.`).
    pub fn check(&self, prefix: &str) -> Result<()> {
        let f = |name: &str| format!("{prefix}{name}");
        let list = |name: &str, v: &[usize], min: usize, max: usize| -> Result<()> {
            if v.is_empty() {
                return Err(Error::config(f(name), "must list at least one value"));
            }
            if let Some(x) = v.iter().find(|&&x| x < min || x > max) {
                return Err(Error::config(
                    f(name),
                    format!("{x} is outside {min}..={max}"),
                ));
            }
            let mut s = v.to_vec();
            s.sort_unstable();
            s.dedup();
            if s.len() != v.len() {
                return Err(Error::config(f(name), "lists a value twice"));
            }
            Ok(())
        };
        list("channels", &self.channels, 1, 1024)?;
        list("cells", &self.cells, 1, 32)?;
        list("batch_sizes", &self.batch_sizes, 1, 65_536)?;
        list("cutout", &self.cutout, 0, 64)?;
        let range = |lo_name: &str, lo: f64, hi_name: &str, hi: f64| -> Result<()> {
            if !(lo.is_finite() && lo > 0.0) {
                return Err(Error::config(
                    f(lo_name),
                    format!("must be a positive number, got {lo}"),
                ));
            }
            if !(hi.is_finite() && hi >= lo) {
                return Err(Error::config(
                    f(hi_name),
                    format!("must be a number at least {lo_name} ({lo}), got {hi}"),
                ));
            }
            Ok(())
        };
        range("lr_min", self.lr_min, "lr_max", self.lr_max)?;
        if self.lr_max > 10.0 {
            return Err(Error::config(
                f("lr_max"),
                format!("{} is not a learning rate (at most 10)", self.lr_max),
            ));
        }
        range(
            "weight_decay_min",
            self.weight_decay_min,
            "weight_decay_max",
            self.weight_decay_max,
        )?;
        if self.weight_decay_max > 1.0 {
            return Err(Error::config(
                f("weight_decay_max"),
                format!("must be at most 1, got {}", self.weight_decay_max),
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing_max) {
            return Err(Error::config(
                f("label_smoothing_max"),
                format!("must be in [0, 1), got {}", self.label_smoothing_max),
            ));
        }
        if !(1..=10_000).contains(&self.min_retrain_epochs) {
            return Err(Error::config(
                f("min_retrain_epochs"),
                format!(
                    "must be between 1 and 10000, got {}",
                    self.min_retrain_epochs
                ),
            ));
        }
        if !(2..=64).contains(&self.grid) {
            return Err(Error::config(
                f("grid"),
                format!("must be between 2 and 64, got {}", self.grid),
            ));
        }
        Ok(())
    }
}

/// A rule every proposed architecture must keep; `Err` carries the reason.
pub type Feasibility = Arc<dyn Fn(&JointArch) -> std::result::Result<(), String> + Send + Sync>;

/// Index of the dimensions (and decisions) after the six cell edges.
const CHANNELS: usize = 6;
const CELLS: usize = 7;
const LR: usize = 8;
const WD: usize = 9;
const BATCH: usize = 10;
const CROP_FLIP: usize = 11;
const CUTOUT: usize = 12;
const TRIVIAL: usize = 13;
const SMOOTHING: usize = 14;
const DIMS: usize = 15;

/// The joint space of cells, widths, depths and training recipes.
#[derive(Clone)]
pub struct JointSpace {
    config: JointConfig,
    decisions: Vec<Decision>,
    dims: Vec<Dimension>,
    feasibility: Option<Feasibility>,
}

impl std::fmt::Debug for JointSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JointSpace")
            .field("config", &self.config)
            .field("feasibility", &self.feasibility.is_some())
            .finish()
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

impl JointSpace {
    /// The space of `config` (checked; errors name the field under `space.`).
    pub fn new(config: JointConfig) -> Result<Self> {
        config.check("space.")?;
        let names = |v: &[usize]| -> Vec<String> { v.iter().map(|x| x.to_string()).collect() };
        let bools = |searched: bool, fixed: bool| -> Vec<String> {
            if searched {
                vec!["off".into(), "on".into()]
            } else {
                vec![on_off(fixed).into()]
            }
        };
        let real = |name: &str, low: f64, high: f64, log: bool| Dimension::Real {
            name: name.into(),
            low,
            high,
            log,
        };
        let mut dims: Vec<Dimension> = NB201_EDGES
            .iter()
            .map(|(to, from)| Dimension::Categorical {
                name: format!("edge {to}<-{from}"),
                options: NB201_OPS.iter().map(|s| s.to_string()).collect(),
            })
            .collect();
        let cat = |name: &str, options: Vec<String>| Dimension::Categorical {
            name: name.into(),
            options,
        };
        dims.push(cat("channels", names(&config.channels)));
        dims.push(cat("cells", names(&config.cells)));
        dims.push(real("lr", config.lr_min, config.lr_max, true));
        dims.push(real(
            "wd",
            config.weight_decay_min,
            config.weight_decay_max,
            true,
        ));
        dims.push(cat("batch", names(&config.batch_sizes)));
        dims.push(cat("crop_flip", bools(config.search_crop_flip, true)));
        dims.push(cat("cutout", names(&config.cutout)));
        dims.push(cat("trivial", bools(config.search_trivial_augment, false)));
        dims.push(real("smoothing", 0.0, config.label_smoothing_max, false));
        debug_assert_eq!(dims.len(), DIMS);
        let mut space = JointSpace {
            config,
            decisions: Vec::new(),
            dims,
            feasibility: None,
        };
        space.decisions = space
            .dims
            .iter()
            .enumerate()
            .map(|(k, d)| match d {
                Dimension::Categorical { name, options } => Decision {
                    name: name.clone(),
                    options: options.clone(),
                },
                Dimension::Real { name, .. } => Decision {
                    name: name.clone(),
                    options: (0..space.config.grid)
                        .map(|g| space.format_value(k, space.grid_value(k, g)))
                        .collect(),
                },
            })
            .collect();
        Ok(space)
    }

    /// The same space, proposing only architectures that `rule` accepts.
    pub fn with_feasibility(mut self, rule: Feasibility) -> Self {
        self.feasibility = Some(rule);
        self
    }

    /// The settings of the space.
    pub fn config(&self) -> &JointConfig {
        &self.config
    }

    /// Canonical value of real dimension `k`.
    fn canonical(k: usize, v: f64) -> f64 {
        if k == SMOOTHING {
            round_dec3(v)
        } else {
            round_sig3(v)
        }
    }

    /// Value of real dimension `k` at unit position `u`, canonical and inside the range.
    fn real_at(&self, k: usize, u: f64) -> f64 {
        self.canonical_in(k, self.dims[k].from_unit(u))
    }

    /// `v` rounded to its canonical form inside the range of real dimension `k` (rounding may
    /// step just outside a range whose ends are not canonical themselves).
    fn canonical_in(&self, k: usize, v: f64) -> f64 {
        let Dimension::Real { low, high, .. } = self.dims[k] else {
            unreachable!("dimension {k} is real")
        };
        let c = Self::canonical(k, v.clamp(low, high));
        if c < low {
            let up = Self::canonical(k, low);
            if up >= low {
                up
            } else {
                Self::canonical(k, low * 1.001 + 5e-4 * (k == SMOOTHING) as u8 as f64)
            }
        } else if c > high {
            let down = Self::canonical(k, high);
            if down <= high {
                down
            } else {
                Self::canonical(k, high * 0.999 - 5e-4 * (k == SMOOTHING) as u8 as f64)
            }
        } else {
            c
        }
    }

    fn grid_value(&self, k: usize, g: usize) -> f64 {
        self.real_at(k, g as f64 / (self.config.grid - 1) as f64)
    }

    fn format_value(&self, k: usize, v: f64) -> String {
        if k == SMOOTHING {
            format!("{v:.3}")
        } else {
            format!("{v:.2e}")
        }
    }

    /// Checks the values of an architecture against the options (not the feasibility rule).
    fn check_values(&self, a: &JointArch) -> Result<()> {
        check_point(&self.dims, &self.to_point(a))?;
        for (k, v) in [
            (LR, a.recipe.lr),
            (WD, a.recipe.weight_decay),
            (SMOOTHING, a.recipe.label_smoothing),
        ] {
            if Self::canonical(k, v).to_bits() != v.to_bits() {
                return Err(Error::InvalidArch(format!(
                    "{} = {v} is not rounded to its canonical form {}",
                    self.dims[k].name(),
                    self.format_value(k, v)
                )));
            }
        }
        Ok(())
    }

    fn feasible(&self, a: &JointArch) -> bool {
        self.feasibility.as_ref().is_none_or(|f| f(a).is_ok())
    }

    /// The architecture at `point`, whose values are already in range (the categorical ones
    /// valid indices): no checks.
    fn build(&self, p: &[f64]) -> JointArch {
        let mut ops = [Nb201Op::None; 6];
        for (k, op) in ops.iter_mut().enumerate() {
            *op = Nb201Op::ALL[p[k] as usize];
        }
        let opt = |k: usize| p[k] as usize;
        let flag = |k: usize| match &self.dims[k] {
            Dimension::Categorical { options, .. } => options[opt(k)] == "on",
            Dimension::Real { .. } => unreachable!("flags are categorical"),
        };
        JointArch {
            cell: Nb201Arch(ops),
            channels: self.config.channels[opt(CHANNELS)],
            cells: self.config.cells[opt(CELLS)],
            recipe: Recipe {
                lr: self.canonical_in(LR, p[LR]),
                weight_decay: self.canonical_in(WD, p[WD]),
                batch_size: self.config.batch_sizes[opt(BATCH)],
                crop_flip: flag(CROP_FLIP),
                cutout: self.config.cutout[opt(CUTOUT)],
                trivial_augment: flag(TRIVIAL),
                label_smoothing: self.canonical_in(SMOOTHING, p[SMOOTHING]),
            },
        }
    }

    /// A uniform random point (log-uniform on log dimensions).
    fn random_point(&self, rng: &mut Rng) -> Vec<f64> {
        self.dims
            .iter()
            .enumerate()
            .map(|(k, d)| match d {
                Dimension::Categorical { options, .. } => rng.below(options.len()) as f64,
                Dimension::Real { .. } => self.real_at(k, rng.uniform()),
            })
            .collect()
    }

    /// The smallest network with the largest batch: the cheapest point, proposed when no
    /// sampled point is feasible.
    pub fn cheapest(&self) -> JointArch {
        let argmin = |v: &[usize]| (0..v.len()).min_by_key(|&i| v[i]).map_or(0.0, |i| i as f64);
        let argmax = |v: &[usize]| (0..v.len()).max_by_key(|&i| v[i]).map_or(0.0, |i| i as f64);
        let mut p = vec![0.0; DIMS];
        p[CHANNELS] = argmin(&self.config.channels);
        p[CELLS] = argmin(&self.config.cells);
        p[LR] = self.real_at(LR, 0.5);
        p[WD] = self.real_at(WD, 0.5);
        p[BATCH] = argmax(&self.config.batch_sizes);
        p[SMOOTHING] = self.real_at(SMOOTHING, 0.0);
        self.build(&p)
    }

    /// Parses `key=value` fields after the cell.
    fn parse_fields(&self, s: &str, cell: Nb201Arch, fields: &[&str]) -> Result<JointArch> {
        let what = "joint architecture";
        const KEYS: [&str; 9] = [
            "channels",
            "cells",
            "lr",
            "wd",
            "batch",
            "crop_flip",
            "cutout",
            "trivial",
            "smoothing",
        ];
        let mut values: [Option<&str>; 9] = [None; 9];
        for f in fields {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                Error::parse(what, s, format!("field `{f}` is not of the form key=value"))
            })?;
            let i = KEYS.iter().position(|x| *x == k).ok_or_else(|| {
                Error::parse(
                    what,
                    s,
                    format!("unknown field `{k}` (known: {})", KEYS.join(", ")),
                )
            })?;
            if values[i].replace(v).is_some() {
                return Err(Error::parse(what, s, format!("field `{k}` is given twice")));
            }
        }
        let mut p = vec![0.0; DIMS];
        for (k, op) in cell.0.iter().enumerate() {
            p[k] = *op as usize as f64;
        }
        for (i, key) in KEYS.iter().enumerate() {
            let k = CHANNELS + i;
            let v = values[i]
                .ok_or_else(|| Error::parse(what, s, format!("field `{key}` is missing")))?;
            p[k] = match &self.dims[k] {
                Dimension::Categorical { options, .. } => {
                    options.iter().position(|o| o == v).ok_or_else(|| {
                        Error::parse(
                            what,
                            s,
                            format!(
                                "`{key}={v}` is not an option of the space (options: {})",
                                options.join(", ")
                            ),
                        )
                    })? as f64
                }
                Dimension::Real { low, high, .. } => {
                    let x: f64 = v.parse().map_err(|_| {
                        Error::parse(what, s, format!("`{key}={v}` is not a number"))
                    })?;
                    let x = Self::canonical(k, x);
                    if !(x >= *low && x <= *high) {
                        return Err(Error::parse(
                            what,
                            s,
                            format!("`{key}={v}` is outside the space's range [{low}, {high}]"),
                        ));
                    }
                    x
                }
            };
        }
        Ok(self.build(&p))
    }

    /// Path-style features of everything but the cell: one-hot of the categorical dimensions
    /// and the unit position of the real ones.
    fn macro_features(&self, p: &[f64]) -> Vec<f64> {
        let mut v = Vec::new();
        for (k, d) in self.dims.iter().enumerate().skip(CHANNELS) {
            match d {
                Dimension::Categorical { options, .. } => {
                    let mut o = vec![0.0; options.len()];
                    o[p[k] as usize] = 1.0;
                    v.extend(o);
                }
                Dimension::Real { .. } => v.push(d.to_unit(p[k])),
            }
        }
        v
    }
}

impl SearchSpace for JointSpace {
    type Arch = JointArch;

    fn name(&self) -> &str {
        "joint"
    }

    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// The option index of every decision; a real value maps to the nearest grid level.
    fn to_decisions(&self, a: &JointArch) -> Vec<usize> {
        let p = self.to_point(a);
        p.iter()
            .enumerate()
            .map(|(k, &v)| match &self.dims[k] {
                Dimension::Categorical { .. } => v as usize,
                Dimension::Real { .. } => {
                    (self.dims[k].to_unit(v) * (self.config.grid - 1) as f64).round() as usize
                }
            })
            .collect()
    }

    /// The architecture at these options, real dimensions at their grid levels.
    fn from_decisions(&self, choices: &[usize]) -> Result<JointArch> {
        nascent_core::space::check_choices(&self.decisions, choices)?;
        let p: Vec<f64> = choices
            .iter()
            .enumerate()
            .map(|(k, &c)| match self.dims[k] {
                Dimension::Categorical { .. } => c as f64,
                Dimension::Real { .. } => self.grid_value(k, c),
            })
            .collect();
        let a = self.build(&p);
        self.validate(&a)?;
        Ok(a)
    }

    fn validate(&self, a: &JointArch) -> Result<()> {
        self.check_values(a)?;
        if let Some(rule) = &self.feasibility {
            rule(a).map_err(|why| {
                Error::InvalidArch(format!("`{}` is not feasible: {why}", self.format(a)))
            })?;
        }
        Ok(())
    }

    fn format(&self, a: &JointArch) -> String {
        let r = &a.recipe;
        format!(
            "{} channels={} cells={} lr={} wd={} batch={} crop_flip={} cutout={} trivial={} smoothing={}",
            a.cell,
            a.channels,
            a.cells,
            self.format_value(LR, r.lr),
            self.format_value(WD, r.weight_decay),
            r.batch_size,
            on_off(r.crop_flip),
            r.cutout,
            on_off(r.trivial_augment),
            self.format_value(SMOOTHING, r.label_smoothing),
        )
    }

    /// Parses the canonical string; fields may come in any order, each exactly once, and real
    /// values are rounded to their canonical form. The error names the field.
    fn parse(&self, s: &str) -> Result<JointArch> {
        let mut parts = s.split_whitespace();
        let cell_str = parts.next().ok_or_else(|| {
            Error::parse("joint architecture", s, "empty: expected a cell and fields")
        })?;
        let cell: Nb201Arch = cell_str.parse()?;
        let fields: Vec<&str> = parts.collect();
        let a = self.parse_fields(s, cell, &fields)?;
        self.check_values(&a)?;
        Ok(a)
    }

    fn sample(&self, rng: &mut Rng) -> JointArch {
        for _ in 0..1_000 {
            let a = self.build(&self.random_point(rng));
            if self.feasible(&a) {
                return a;
            }
        }
        self.cheapest()
    }

    /// One dimension changed: a categorical one to another option, a real one by a normal
    /// step of a sixth of its (log) range.
    fn mutate(&self, a: &JointArch, rng: &mut Rng) -> JointArch {
        let base = self.to_point(a);
        for _ in 0..64 {
            let k = rng.below(DIMS);
            let mut p = base.clone();
            match &self.dims[k] {
                Dimension::Categorical { options, .. } => {
                    let n = options.len();
                    if n < 2 {
                        continue;
                    }
                    let o = rng.below(n - 1) as f64;
                    p[k] = if o >= base[k] { o + 1.0 } else { o };
                }
                d @ Dimension::Real { .. } => {
                    let mut u = d.to_unit(base[k]) + rng.normal() / 6.0;
                    // Reflect into [0, 1].
                    if u < 0.0 {
                        u = -u;
                    }
                    if u > 1.0 {
                        u = 2.0 - u;
                    }
                    p[k] = self.real_at(k, u);
                }
            }
            let b = self.build(&p);
            if b != *a && self.feasible(&b) {
                return b;
            }
        }
        *a
    }

    fn crossover(&self, a: &JointArch, b: &JointArch, rng: &mut Rng) -> JointArch {
        let (pa, pb) = (self.to_point(a), self.to_point(b));
        for _ in 0..16 {
            let p: Vec<f64> = pa
                .iter()
                .zip(&pb)
                .map(|(x, y)| if rng.bernoulli(0.5) { *x } else { *y })
                .collect();
            let c = self.build(&p);
            if self.feasible(&c) {
                return c;
            }
        }
        *a
    }

    /// Every other option of each categorical dimension, and one grid step up and down of
    /// each real one (a step of 1/(grid-1) of its unit range); feasible ones only.
    fn neighbours(&self, a: &JointArch) -> Vec<JointArch> {
        let base = self.to_point(a);
        let step = 1.0 / (self.config.grid - 1) as f64;
        let mut out: Vec<JointArch> = Vec::new();
        for (k, d) in self.dims.iter().enumerate() {
            let values: Vec<f64> = match d {
                Dimension::Categorical { options, .. } => {
                    (0..options.len()).map(|o| o as f64).collect()
                }
                Dimension::Real { .. } => {
                    let u = d.to_unit(base[k]);
                    [u - step, u + step]
                        .into_iter()
                        .filter(|u| (-1e-9..=1.0 + 1e-9).contains(u))
                        .map(|u| self.real_at(k, u))
                        .collect()
                }
            };
            for v in values {
                if v.to_bits() == base[k].to_bits() {
                    continue;
                }
                let mut p = base.clone();
                p[k] = v;
                let n = self.build(&p);
                if n != *a && self.feasible(&n) && !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    fn dimensions(&self) -> Vec<Dimension> {
        self.dims.clone()
    }

    fn to_point(&self, a: &JointArch) -> Vec<f64> {
        let pos = |v: &[usize], x: usize| v.iter().position(|&y| y == x).map_or(-1.0, |i| i as f64);
        let flag = |k: usize, b: bool| match &self.dims[k] {
            Dimension::Categorical { options, .. } => options
                .iter()
                .position(|o| o == on_off(b))
                .map_or(-1.0, |i| i as f64),
            Dimension::Real { .. } => unreachable!("flags are categorical"),
        };
        let r = &a.recipe;
        let mut p: Vec<f64> = a.cell.0.iter().map(|o| *o as usize as f64).collect();
        p.push(pos(&self.config.channels, a.channels));
        p.push(pos(&self.config.cells, a.cells));
        p.push(r.lr);
        p.push(r.weight_decay);
        p.push(pos(&self.config.batch_sizes, r.batch_size));
        p.push(flag(CROP_FLIP, r.crop_flip));
        p.push(pos(&self.config.cutout, r.cutout));
        p.push(flag(TRIVIAL, r.trivial_augment));
        p.push(r.label_smoothing);
        p
    }

    fn from_point(&self, point: &[f64]) -> Result<JointArch> {
        check_point(&self.dims, point)?;
        let a = self.build(point);
        self.validate(&a)?;
        Ok(a)
    }

    /// One-hot: every categorical dimension one-hot and every real one as its unit position.
    /// Path: the cell's path encoding (as in NB201) followed by the same features of the rest.
    fn encode(&self, a: &JointArch, encoding: Encoding) -> Option<Vec<f64>> {
        let p = self.to_point(a);
        let mut v = match encoding {
            Encoding::OneHot => {
                let mut v = vec![0.0; 30];
                for (k, op) in a.cell.0.iter().enumerate() {
                    v[k * 5 + *op as usize] = 1.0;
                }
                v
            }
            Encoding::Path => Nb201Space::path_encoding(&a.cell),
        };
        v.extend(self.macro_features(&p));
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESNET: &str =
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|";

    #[test]
    fn canonical_string_parses_back() {
        let s = JointSpace::new(JointConfig::default()).unwrap();
        let text = format!(
            "{RESNET} channels=16 cells=1 lr=1.00e-1 wd=5.00e-4 batch=128 crop_flip=on cutout=0 trivial=off smoothing=0.100"
        );
        let a = s.parse(&text).unwrap();
        assert_eq!(s.format(&a), text);
        assert_eq!(a.recipe.lr, 0.1);
        assert_eq!(a.channels, 16);
        // Any order, non-canonical numbers are rounded.
        let b = s
            .parse(&format!(
                "{RESNET} smoothing=0.1 cells=1 channels=16 lr=0.1 wd=0.0005 batch=128 cutout=0 trivial=off crop_flip=on"
            ))
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn parse_errors_name_the_field() {
        let s = JointSpace::new(JointConfig::default()).unwrap();
        let ok = format!(
            "{RESNET} channels=16 cells=1 lr=1.00e-1 wd=5.00e-4 batch=128 crop_flip=on cutout=0 trivial=off smoothing=0.100"
        );
        let err = |t: String| s.parse(&t).unwrap_err().to_string();
        let e = err(ok.replace("channels=16", "channels=17"));
        assert!(
            e.contains("`channels=17`") && e.contains("8, 12, 16, 24, 32"),
            "{e}"
        );
        let e = err(ok.replace("lr=1.00e-1", "lr=2"));
        assert!(e.contains("`lr=2`") && e.contains("range"), "{e}");
        let e = err(ok.replace("lr=1.00e-1", "lr=fast"));
        assert!(e.contains("not a number"), "{e}");
        let e = err(ok.replace(" smoothing=0.100", ""));
        assert!(e.contains("`smoothing` is missing"), "{e}");
        let e = err(format!("{ok} cells=2"));
        assert!(e.contains("`cells` is given twice"), "{e}");
        let e = err(format!("{ok} dropout=0.1"));
        assert!(e.contains("unknown field `dropout`"), "{e}");
        let e = err(ok.replace("nor_conv_3x3~0", "conv~0"));
        assert!(e.contains("unknown op `conv`"), "{e}");
        let e = err(ok.replace("crop_flip=on", "crop_flip"));
        assert!(e.contains("key=value"), "{e}");
        assert!(err(String::new()).contains("empty"));
    }

    #[test]
    fn config_errors_name_the_field() {
        let e = |c: JointConfig| JointSpace::new(c).unwrap_err().to_string();
        let d = JointConfig::default;
        assert!(
            e(JointConfig {
                channels: vec![],
                ..d()
            })
            .contains("space.channels")
        );
        assert!(e(JointConfig { lr_min: 0.0, ..d() }).contains("space.lr_min"));
        assert!(
            e(JointConfig {
                lr_max: 0.001,
                ..d()
            })
            .contains("space.lr_max")
        );
        assert!(
            e(JointConfig {
                batch_sizes: vec![64, 64],
                ..d()
            })
            .contains("space.batch_sizes")
        );
        assert!(
            e(JointConfig {
                label_smoothing_max: 1.0,
                ..d()
            })
            .contains("space.label_smoothing_max")
        );
        assert!(e(JointConfig { grid: 1, ..d() }).contains("space.grid"));
        assert!(
            e(JointConfig {
                weight_decay_max: 2.0,
                ..d()
            })
            .contains("space.weight_decay_max")
        );
    }

    #[test]
    fn ranges_with_uncanonical_ends_stay_inside() {
        let s = JointSpace::new(JointConfig {
            lr_min: 0.012_345_6,
            lr_max: 0.098_765_4,
            label_smoothing_max: 0.123_45,
            ..JointConfig::default()
        })
        .unwrap();
        let mut rng = Rng::new(5);
        for _ in 0..300 {
            let a = s.sample(&mut rng);
            assert!(
                a.recipe.lr >= 0.012_345_6 && a.recipe.lr <= 0.098_765_4,
                "{a:?}"
            );
            assert!(a.recipe.label_smoothing <= 0.123_45);
            s.validate(&a).unwrap();
            assert_eq!(s.parse(&s.format(&a)).unwrap(), a);
        }
        for u in [0.0, 1.0] {
            let mut p = s.to_point(&s.sample(&mut rng));
            p[LR] = s.dims[LR].from_unit(u);
            p[SMOOTHING] = s.dims[SMOOTHING].from_unit(u);
            s.validate(&s.from_point(&p).unwrap()).unwrap();
        }
    }

    #[test]
    fn fixed_flags_are_single_options() {
        let s = JointSpace::new(JointConfig {
            search_crop_flip: false,
            search_trivial_augment: false,
            ..JointConfig::default()
        })
        .unwrap();
        let mut rng = Rng::new(1);
        for _ in 0..50 {
            let a = s.sample(&mut rng);
            assert!(a.recipe.crop_flip && !a.recipe.trivial_augment);
        }
    }

    #[test]
    fn the_feasibility_rule_is_kept_and_named() {
        let rule: Feasibility = Arc::new(|a: &JointArch| {
            if a.channels * a.cells > 24 {
                Err(format!(
                    "{} channels x {} cells is too slow",
                    a.channels, a.cells
                ))
            } else {
                Ok(())
            }
        });
        let s = JointSpace::new(JointConfig::default())
            .unwrap()
            .with_feasibility(rule);
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let a = s.sample(&mut rng);
            assert!(a.channels * a.cells <= 24);
            let m = s.mutate(&a, &mut rng);
            assert!(m.channels * m.cells <= 24);
            assert!(s.neighbours(&a).iter().all(|n| n.channels * n.cells <= 24));
        }
        let big = s
            .parse(&format!(
                "{RESNET} channels=32 cells=3 lr=1.00e-1 wd=5.00e-4 batch=128 crop_flip=on cutout=0 trivial=off smoothing=0.100"
            ))
            .unwrap();
        let e = s.validate(&big).unwrap_err().to_string();
        assert!(e.contains("not feasible") && e.contains("too slow"), "{e}");
        // Nothing feasible: the cheapest point.
        let none: Feasibility = Arc::new(|_: &JointArch| Err("never".into()));
        let s = JointSpace::new(JointConfig::default())
            .unwrap()
            .with_feasibility(none);
        let a = s.sample(&mut rng);
        assert_eq!((a.channels, a.cells, a.recipe.batch_size), (8, 1, 256));
    }
}
