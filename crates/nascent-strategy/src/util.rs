//! Helpers shared by the strategies: fresh proposals, fitness views, target transforms and the
//! normal distribution.

use nascent_core::{Encoding, History, Rng, SearchSpace};
use std::collections::HashSet;

/// How many samples a strategy draws while looking for an architecture not yet queried.
pub(crate) const FRESH_TRIES: usize = 1_000;

/// A uniformly random architecture not yet in `history` (after [`FRESH_TRIES`] samples it
/// returns a repeat, which the runner refuses and replaces).
pub(crate) fn fresh_sample<S: SearchSpace>(
    space: &S,
    history: &History<S::Arch>,
    rng: &mut Rng,
) -> S::Arch {
    let mut arch = space.sample(rng);
    for _ in 1..FRESH_TRIES {
        if !history.contains(&arch) {
            break;
        }
        arch = space.sample(rng);
    }
    arch
}

/// A mutation of `parent` not yet in `history`: single mutations first, then a random walk of
/// growing length away from the parent. `None` when every try repeats.
pub(crate) fn fresh_mutation<S: SearchSpace>(
    space: &S,
    parent: &S::Arch,
    history: &History<S::Arch>,
    rng: &mut Rng,
) -> Option<S::Arch> {
    for _ in 0..20 {
        let child = space.mutate(parent, rng);
        if !history.contains(&child) {
            return Some(child);
        }
    }
    let mut walker = parent.clone();
    for _ in 0..50 {
        walker = space.mutate(&walker, rng);
        if !history.contains(&walker) {
            return Some(walker);
        }
    }
    None
}

/// Features of an architecture for a predictor: the requested encoding, or the one-hot of its
/// decisions when the space has no such encoding.
pub(crate) fn features<S: SearchSpace>(space: &S, arch: &S::Arch, encoding: Encoding) -> Vec<f64> {
    space.encode(arch, encoding).unwrap_or_else(|| {
        nascent_core::space::one_hot(space.decisions(), &space.to_decisions(arch))
    })
}

/// The training set of a surrogate: indices of the trials with a fitness and their fitness.
pub(crate) fn observed<A: Clone + Eq + std::hash::Hash>(
    history: &History<A>,
) -> (Vec<usize>, Vec<f64>) {
    let mut idx = Vec::new();
    let mut y = Vec::new();
    for (i, t) in history.trials().iter().enumerate() {
        if let Some(f) = history.fitness(t) {
            idx.push(i);
            y.push(f);
        }
    }
    (idx, y)
}

/// Targets for a surrogate: values below the `floor_quantile` quantile are raised to it (so a
/// few broken architectures, such as NB201 cells that output zeros, do not dominate the fit and
/// the model spends its capacity on the good region), then standardised to mean 0 and standard
/// deviation 1. `floor_quantile` 0 keeps the values as they are.
pub(crate) fn surrogate_targets(y: &[f64], floor_quantile: f64) -> Vec<f64> {
    let mut t = y.to_vec();
    if floor_quantile > 0.0 && !t.is_empty() {
        let mut sorted = t.clone();
        sorted.sort_by(f64::total_cmp);
        let k = ((sorted.len() - 1) as f64 * floor_quantile).round() as usize;
        let floor = sorted[k.min(sorted.len() - 1)];
        for v in &mut t {
            if *v < floor {
                *v = floor;
            }
        }
    }
    let n = t.len().max(1) as f64;
    let mean = t.iter().sum::<f64>() / n;
    let var = t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let sd = if var > 1e-24 { var.sqrt() } else { 1.0 };
    for v in &mut t {
        *v = (*v - mean) / sd;
    }
    t
}

/// Candidate architectures for an acquisition function, none of them in `history`, in a
/// deterministic order: every neighbour of the `top` best trials, `mutations` random two-step
/// mutations of them, and `random` uniform samples.
pub(crate) fn candidates<S: SearchSpace>(
    space: &S,
    history: &History<S::Arch>,
    top: usize,
    mutations: usize,
    random: usize,
    rng: &mut Rng,
) -> Vec<S::Arch> {
    let mut seen: HashSet<S::Arch> = HashSet::new();
    let mut out = Vec::new();
    let mut push = |a: S::Arch, out: &mut Vec<S::Arch>| {
        if !history.contains(&a) && seen.insert(a.clone()) {
            out.push(a);
        }
    };
    let ranked = history.ranked();
    let parents: Vec<&S::Arch> = ranked
        .iter()
        .take(top)
        .map(|&i| &history.trials()[i].arch)
        .collect();
    for p in &parents {
        for n in space.neighbours(p) {
            push(n, &mut out);
        }
    }
    if !parents.is_empty() {
        for _ in 0..mutations {
            let p = parents[rng.below(parents.len())];
            let once = space.mutate(p, rng);
            push(space.mutate(&once, rng), &mut out);
        }
    }
    for _ in 0..random {
        push(space.sample(rng), &mut out);
    }
    out
}

/// The standard normal density.
pub(crate) fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal distribution function, through the complementary error function.
pub(crate) fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Chebyshev fit, relative error below 1.2e-7).
pub(crate) fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Expected improvement over `best` of a normal prediction (`mean`, `sd`), for maximisation.
pub(crate) fn expected_improvement(mean: f64, sd: f64, best: f64, xi: f64) -> f64 {
    let d = mean - best - xi;
    if sd <= 1e-12 {
        return d.max(0.0);
    }
    let z = d / sd;
    d * norm_cdf(z) + sd * norm_pdf(z)
}

/// Index of the largest value (the first among ties); `None` for an empty slice.
pub(crate) fn argmax(xs: &[f64]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &x) in xs.iter().enumerate() {
        if best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i)
}

/// Rebuilds a strategy's state by telling it every finished trial in the order they finished
/// ([`History::finish_order`]), each time with the history as it could have stood then: the
/// trials created up to that one, those not yet told still running. Draws from `rng` as the
/// tells did.
pub(crate) fn replay<S, St>(strategy: &mut St, space: &S, history: &History<S::Arch>, rng: &mut Rng)
where
    S: SearchSpace,
    St: nascent_core::Strategy<S> + ?Sized,
{
    let mut prefix = History::new(history.objectives().to_vec())
        .with_constraints(history.constraints().to_vec());
    let trials = history.trials();
    for &i in history.finish_order() {
        while prefix.len() <= i {
            let t = &trials[prefix.len()];
            prefix.push(nascent_core::Trial::running(
                t.number,
                t.arch.clone(),
                t.budget.clone(),
            ));
        }
        prefix.update(i, trials[i].clone());
        strategy.tell(space, &prefix, i, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((norm_cdf(1.0) - 0.841_344_746).abs() < 1e-6);
        assert!((norm_cdf(-1.959_963_985) - 0.025).abs() < 1e-6);
        assert!(norm_cdf(-10.0) < 1e-20 && norm_cdf(10.0) > 1.0 - 1e-12);
    }

    #[test]
    fn expected_improvement_is_positive_and_monotone() {
        let a = expected_improvement(0.0, 1.0, 0.0, 0.0);
        assert!((a - norm_pdf(0.0)).abs() < 1e-7);
        assert!(expected_improvement(1.0, 1.0, 0.0, 0.0) > a);
        assert!(expected_improvement(0.0, 2.0, 0.0, 0.0) > a);
        assert_eq!(expected_improvement(-1.0, 0.0, 0.0, 0.0), 0.0);
    }

    #[test]
    fn targets_are_floored_and_standardised() {
        let t = surrogate_targets(&[10.0, 80.0, 82.0, 84.0, 86.0], 0.5);
        // 10 and 80 are raised to the median 82.
        assert_eq!(t[0], t[1]);
        assert_eq!(t[1], t[2]);
        let mean: f64 = t.iter().sum::<f64>() / 5.0;
        assert!(mean.abs() < 1e-12);
        assert!(t[4] > t[3] && t[3] > t[2]);
        let same = surrogate_targets(&[3.0, 3.0], 0.0);
        assert_eq!(same, vec![0.0, 0.0]);
    }
}
