//! Early stopping of poor trials from their intermediate values: pruners the study runner
//! consults after every value a trial reports (see [`nascent_core::Pruner`]).
//!
//! - [`MedianPruner`]: stop a trial whose best value so far is worse than the median of the
//!   completed trials' values at the same step.
//! - [`SuccessiveHalvingPruner`]: asynchronous successive halving (ASHA): at each rung
//!   (`min_resource * eta^k` steps) a trial goes on only if it is in the best `1/eta` of all the
//!   trials that reached that rung so far; workers never wait for a rung to fill.
//! - [`HyperbandPruner`]: several successive-halving brackets with different first rungs
//!   (from aggressive to none); each trial falls in one bracket and competes only within it.
//! - [`CurvePruner`]: learning-curve extrapolation: stop a trial whose predicted final value,
//!   even optimistically and with a margin, cannot beat the best completed trial.
//!
//! All read the other trials' values from storage, so they work across workers and
//! processes, and they respect the direction of the intermediate values.

use crate::curve::{CurveModel, extrapolate};
use nascent_core::{Direction, StorageError, TrialState, derive_seed};
use nascent_core::{PruneContext, Pruner, Verdict};
use serde::{Deserialize, Serialize};

/// `value` turned so that larger is better.
fn utility(direction: Direction, value: f64) -> f64 {
    match direction {
        Direction::Maximize => value,
        Direction::Minimize => -value,
    }
}

/// Whether the trial has reached the last step of its budget: stopping it then saves nothing,
/// so no pruner does.
fn at_end(ctx: &PruneContext<'_>) -> bool {
    ctx.budget.epochs.is_some_and(|e| ctx.step >= e)
}

fn check_positive(field: &str, v: u32) -> nascent_core::Result<()> {
    if v == 0 {
        return Err(nascent_core::Error::config(field, "must be at least 1"));
    }
    Ok(())
}

/// The median stopping rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MedianPruner {
    /// Completed trials with a value at the step needed before any pruning.
    pub startup_trials: usize,
    /// Steps before which no trial is pruned.
    pub warmup_steps: u32,
    /// Only judge at steps that are multiples of this.
    pub interval: u32,
}

impl Default for MedianPruner {
    fn default() -> Self {
        MedianPruner {
            startup_trials: 5,
            warmup_steps: 1,
            interval: 1,
        }
    }
}

impl MedianPruner {
    /// Checks the settings; errors name the field under `prefix`.
    pub fn check(&self, prefix: &str) -> nascent_core::Result<()> {
        check_positive(&format!("{prefix}.interval"), self.interval)
    }
}

/// The median of `xs` (sorted in place); NaN-free input.
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    }
}

impl Pruner for MedianPruner {
    fn name(&self) -> String {
        "median rule".into()
    }

    fn decide(&self, ctx: &PruneContext<'_>) -> Result<Verdict, StorageError> {
        if at_end(ctx)
            || ctx.step < self.warmup_steps
            || !ctx.step.is_multiple_of(self.interval.max(1))
        {
            return Ok(Verdict::Continue);
        }
        let mut others: Vec<f64> = ctx
            .storage
            .step_values(ctx.study.id, ctx.step)?
            .into_iter()
            .filter(|v| v.number != ctx.number && v.state == TrialState::Complete)
            .map(|v| utility(ctx.direction, v.value))
            .filter(|v| v.is_finite())
            .collect();
        if others.len() < self.startup_trials.max(1) {
            return Ok(Verdict::Continue);
        }
        let best = ctx
            .curve
            .iter()
            .map(|&(_, v)| utility(ctx.direction, v))
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let m = median(&mut others);
        if best < m {
            Ok(Verdict::Prune(format!(
                "best value so far {:.4} is worse than the median {:.4} of {} completed trials",
                utility(ctx.direction, best),
                utility(ctx.direction, m),
                others.len()
            )))
        } else {
            Ok(Verdict::Continue)
        }
    }
}

/// Asynchronous successive halving (ASHA).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuccessiveHalvingPruner {
    /// Steps of the first rung.
    pub min_resource: u32,
    /// The reduction factor `eta`: a trial goes on from a rung if it is in the best `1/eta`.
    pub reduction_factor: u32,
    /// `s`: the first rung is at `min_resource * eta^s` steps (0 is the most aggressive).
    pub min_early_stopping_rate: u32,
}

impl Default for SuccessiveHalvingPruner {
    fn default() -> Self {
        SuccessiveHalvingPruner {
            min_resource: 1,
            reduction_factor: 3,
            min_early_stopping_rate: 0,
        }
    }
}

impl SuccessiveHalvingPruner {
    /// Checks the settings; errors name the field under `prefix`.
    pub fn check(&self, prefix: &str) -> nascent_core::Result<()> {
        check_positive(&format!("{prefix}.min_resource"), self.min_resource)?;
        if self.reduction_factor < 2 {
            return Err(nascent_core::Error::config(
                format!("{prefix}.reduction_factor"),
                "must be at least 2",
            ));
        }
        Ok(())
    }

    /// The rung index of `step`, if `step` is a rung.
    pub fn rung_of(&self, step: u32) -> Option<u32> {
        let eta = self.reduction_factor.max(2) as u64;
        let mut r = self.min_resource.max(1) as u64 * eta.pow(self.min_early_stopping_rate);
        let mut k = 0;
        while r <= step as u64 {
            if r == step as u64 {
                return Some(k);
            }
            r *= eta;
            k += 1;
        }
        None
    }

    /// The verdict at a rung, against the values `competitors` (this trial's included) reached
    /// there, all as utilities (larger is better).
    fn promote(&self, mine: f64, competitors: &mut [f64]) -> bool {
        competitors.sort_by(|a, b| b.total_cmp(a));
        let k = (competitors.len() / self.reduction_factor.max(2) as usize).max(1);
        mine >= competitors[k - 1]
    }

    fn decide_among(
        &self,
        ctx: &PruneContext<'_>,
        member: impl Fn(u64) -> bool,
    ) -> Result<Verdict, StorageError> {
        let Some(rung) = self.rung_of(ctx.step) else {
            return Ok(Verdict::Continue);
        };
        if at_end(ctx) {
            return Ok(Verdict::Continue);
        }
        let mine = utility(ctx.direction, ctx.value);
        if !mine.is_finite() {
            return Ok(Verdict::Prune(format!(
                "value {} at rung {rung}",
                ctx.value
            )));
        }
        // This trial's value is in storage already when the runner asks; it is taken from
        // the context so that a pruner asked before the write sees it too.
        let mut competitors: Vec<f64> = ctx
            .storage
            .step_values(ctx.study.id, ctx.step)?
            .into_iter()
            .filter(|v| v.number != ctx.number && member(v.number))
            .map(|v| utility(ctx.direction, v.value))
            .filter(|v| v.is_finite())
            .collect();
        competitors.push(mine);
        let n = competitors.len();
        if self.promote(mine, &mut competitors) {
            Ok(Verdict::Continue)
        } else {
            Ok(Verdict::Prune(format!(
                "not in the best 1/{} of the {n} trials at rung {rung} (step {})",
                self.reduction_factor, ctx.step
            )))
        }
    }
}

impl Pruner for SuccessiveHalvingPruner {
    fn name(&self) -> String {
        "successive halving".into()
    }

    fn decide(&self, ctx: &PruneContext<'_>) -> Result<Verdict, StorageError> {
        self.decide_among(ctx, |_| true)
    }
}

/// Hyperband over asynchronous successive halving.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HyperbandPruner {
    /// Steps of the most aggressive bracket's first rung.
    pub min_resource: u32,
    /// Steps of a full evaluation (the trials' epochs).
    pub max_resource: u32,
    /// The reduction factor `eta`.
    pub reduction_factor: u32,
}

impl Default for HyperbandPruner {
    fn default() -> Self {
        HyperbandPruner {
            min_resource: 1,
            max_resource: 27,
            reduction_factor: 3,
        }
    }
}

impl HyperbandPruner {
    /// Checks the settings; errors name the field under `prefix`.
    pub fn check(&self, prefix: &str) -> nascent_core::Result<()> {
        check_positive(&format!("{prefix}.min_resource"), self.min_resource)?;
        if self.max_resource < self.min_resource {
            return Err(nascent_core::Error::config(
                format!("{prefix}.max_resource"),
                format!("must be at least min_resource ({})", self.min_resource),
            ));
        }
        if self.reduction_factor < 2 {
            return Err(nascent_core::Error::config(
                format!("{prefix}.reduction_factor"),
                "must be at least 2",
            ));
        }
        Ok(())
    }

    /// Number of brackets: `floor(log_eta(max / min)) + 1`.
    pub fn brackets(&self) -> u32 {
        let eta = self.reduction_factor.max(2) as u64;
        let ratio = (self.max_resource / self.min_resource.max(1)) as u64;
        let mut n = 1;
        let mut r = eta;
        while r <= ratio {
            n += 1;
            r *= eta;
        }
        n
    }

    /// The bracket of trial `number` in a study of seed `seed`. Brackets are drawn with
    /// Hyperband's weights: bracket `s` (first rung at `min * eta^s`) gets
    /// `eta^(S-s) / (S - s + 1)` of the trials, so aggressive brackets start more trials.
    pub fn bracket_of(&self, seed: u64, number: u64) -> u32 {
        let n = self.brackets();
        let eta = self.reduction_factor.max(2) as f64;
        let top = (n - 1) as f64;
        let weights: Vec<f64> = (0..n)
            .map(|s| eta.powf(top - s as f64) / (top - s as f64 + 1.0))
            .collect();
        let total: f64 = weights.iter().sum();
        let u = (derive_seed(seed, number) >> 11) as f64 / (1u64 << 53) as f64 * total;
        let mut acc = 0.0;
        for (s, w) in weights.iter().enumerate() {
            acc += w;
            if u < acc {
                return s as u32;
            }
        }
        n - 1
    }

    fn bracket_pruner(&self, s: u32) -> SuccessiveHalvingPruner {
        SuccessiveHalvingPruner {
            min_resource: self.min_resource,
            reduction_factor: self.reduction_factor,
            min_early_stopping_rate: s,
        }
    }
}

impl Pruner for HyperbandPruner {
    fn name(&self) -> String {
        "hyperband".into()
    }

    fn decide(&self, ctx: &PruneContext<'_>) -> Result<Verdict, StorageError> {
        let seed = ctx.study.seed;
        let s = self.bracket_of(seed, ctx.number);
        if ctx.step >= self.max_resource || at_end(ctx) {
            return Ok(Verdict::Continue);
        }
        let sh = self.bracket_pruner(s);
        match sh.decide_among(ctx, |n| self.bracket_of(seed, n) == s)? {
            Verdict::Continue => Ok(Verdict::Continue),
            Verdict::Prune(why) => Ok(Verdict::Prune(format!("bracket {s}: {why}"))),
        }
    }
}

/// Learning-curve extrapolation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CurvePruner {
    /// Points of the curve needed before judging (at least 3).
    pub min_steps: u32,
    /// A trial goes on unless even its highest prediction falls short of the best by more
    /// than this (in the units of the values).
    pub margin: f64,
    /// The step curves end at when the trial's budget gives no epochs.
    pub max_step: Option<u32>,
    /// The models fitted.
    pub models: Vec<CurveModel>,
    /// Values never exceed this (100 for accuracies in percent); none when unset.
    pub cap: Option<f64>,
}

impl Default for CurvePruner {
    fn default() -> Self {
        CurvePruner {
            min_steps: 4,
            margin: 1.0,
            max_step: None,
            models: CurveModel::ALL.to_vec(),
            cap: None,
        }
    }
}

impl CurvePruner {
    /// Checks the settings; errors name the field under `prefix`.
    pub fn check(&self, prefix: &str) -> nascent_core::Result<()> {
        if self.min_steps < 3 {
            return Err(nascent_core::Error::config(
                format!("{prefix}.min_steps"),
                "must be at least 3 (a curve needs three points to fit)",
            ));
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(nascent_core::Error::config(
                format!("{prefix}.margin"),
                format!("must be a finite number >= 0, not {}", self.margin),
            ));
        }
        if self.models.is_empty() {
            return Err(nascent_core::Error::config(
                format!("{prefix}.models"),
                "name at least one curve model",
            ));
        }
        Ok(())
    }
}

impl Pruner for CurvePruner {
    fn name(&self) -> String {
        "learning-curve extrapolation".into()
    }

    fn decide(&self, ctx: &PruneContext<'_>) -> Result<Verdict, StorageError> {
        let Some(target) = ctx.budget.epochs.or(self.max_step) else {
            return Ok(Verdict::Continue);
        };
        if ctx.step < self.min_steps.max(3) || ctx.step >= target {
            return Ok(Verdict::Continue);
        }
        // The best completed trial's value at the final step.
        let best = ctx
            .storage
            .step_values(ctx.study.id, target)?
            .into_iter()
            .filter(|v| v.state == TrialState::Complete && v.number != ctx.number)
            .map(|v| utility(ctx.direction, v.value))
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        if !best.is_finite() {
            return Ok(Verdict::Continue);
        }
        // Fit rising curves: negate values that fall.
        let curve: Vec<(u32, f64)> = ctx
            .curve
            .iter()
            .map(|&(s, v)| (s, utility(ctx.direction, v)))
            .collect();
        let cap = match ctx.direction {
            Direction::Maximize => self.cap,
            Direction::Minimize => self.cap.map(|c| -c),
        };
        let Some(x) = extrapolate(&curve, target, &self.models, cap) else {
            return Ok(Verdict::Continue);
        };
        if x.high + self.margin < best {
            Ok(Verdict::Prune(format!(
                "predicted {:.3} at step {target} (at most {:.3}; models {}), cannot beat the \
                 best {:.3} within the margin {}",
                utility(ctx.direction, x.mean),
                utility(ctx.direction, x.high),
                x.fits
                    .iter()
                    .map(|f| f.model.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                utility(ctx.direction, best),
                self.margin
            )))
        } else {
            Ok(Verdict::Continue)
        }
    }
}

/// Which pruner a study uses, as a configuration file names it (`kind = "median"`, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PrunerConfig {
    /// No pruning.
    #[default]
    None,
    /// [`MedianPruner`].
    Median(MedianPruner),
    /// [`SuccessiveHalvingPruner`] (ASHA).
    SuccessiveHalving(SuccessiveHalvingPruner),
    /// [`HyperbandPruner`].
    Hyperband(HyperbandPruner),
    /// [`CurvePruner`].
    Curve(CurvePruner),
}

impl PrunerConfig {
    /// Checks the settings; errors name the field under `prefix` (`pruner`).
    pub fn check(&self, prefix: &str) -> nascent_core::Result<()> {
        match self {
            PrunerConfig::None => Ok(()),
            PrunerConfig::Median(p) => p.check(prefix),
            PrunerConfig::SuccessiveHalving(p) => p.check(prefix),
            PrunerConfig::Hyperband(p) => p.check(prefix),
            PrunerConfig::Curve(p) => p.check(prefix),
        }
    }

    /// The pruner, or `None` for no pruning.
    pub fn build(&self) -> Option<Box<dyn Pruner>> {
        match self {
            PrunerConfig::None => None,
            PrunerConfig::Median(p) => Some(Box::new(p.clone())),
            PrunerConfig::SuccessiveHalving(p) => Some(Box::new(p.clone())),
            PrunerConfig::Hyperband(p) => Some(Box::new(p.clone())),
            PrunerConfig::Curve(p) => Some(Box::new(p.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs() {
        let sh = SuccessiveHalvingPruner::default();
        assert_eq!(sh.rung_of(1), Some(0));
        assert_eq!(sh.rung_of(3), Some(1));
        assert_eq!(sh.rung_of(9), Some(2));
        assert_eq!(sh.rung_of(4), None);
        let sh2 = SuccessiveHalvingPruner {
            min_resource: 2,
            reduction_factor: 2,
            min_early_stopping_rate: 1,
        };
        assert_eq!(sh2.rung_of(2), None);
        assert_eq!(sh2.rung_of(4), Some(0));
        assert_eq!(sh2.rung_of(8), Some(1));
    }

    #[test]
    fn promotion_keeps_the_best_third() {
        let sh = SuccessiveHalvingPruner::default();
        let mut c = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert!(sh.promote(6.0, &mut c.clone()));
        assert!(sh.promote(5.0, &mut c.clone()));
        assert!(!sh.promote(4.0, &mut c));
        assert!(sh.promote(1.0, &mut [1.0]));
        assert!(!sh.promote(1.0, &mut [1.0, 2.0, 3.0]));
    }

    #[test]
    fn hyperband_brackets() {
        let hb = HyperbandPruner::default();
        assert_eq!(hb.brackets(), 4); // 1, 3, 9, 27
        let mut counts = [0usize; 4];
        for n in 0..4000 {
            counts[hb.bracket_of(7, n) as usize] += 1;
        }
        // Weights 27/4, 9/3, 3/2, 1/1: the aggressive bracket gets the most trials.
        assert!(counts[0] > counts[1] && counts[1] > counts[2] && counts[2] > counts[3]);
        assert!(counts.iter().all(|&c| c > 0));
    }

    #[test]
    fn configs_check_and_parse() {
        let c: PrunerConfig =
            serde_json::from_str(r#"{"kind":"median","startup_trials":3}"#).unwrap();
        assert_eq!(
            c,
            PrunerConfig::Median(MedianPruner {
                startup_trials: 3,
                ..MedianPruner::default()
            })
        );
        assert!(c.build().is_some());
        assert!(PrunerConfig::None.build().is_none());
        assert!(serde_json::from_str::<PrunerConfig>(r#"{"kind":"median","bogus":1}"#).is_err());
        let bad = PrunerConfig::SuccessiveHalving(SuccessiveHalvingPruner {
            reduction_factor: 1,
            ..Default::default()
        });
        let e = bad.check("pruner").unwrap_err().to_string();
        assert!(e.contains("pruner.reduction_factor"), "{e}");
        let bad = PrunerConfig::Curve(CurvePruner {
            min_steps: 2,
            ..Default::default()
        });
        assert!(
            bad.check("pruner")
                .unwrap_err()
                .to_string()
                .contains("min_steps")
        );
    }
}
