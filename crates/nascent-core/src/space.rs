//! The search-space trait.

use crate::error::{Error, Result};
use crate::rng::Rng;
use std::fmt::Debug;
use std::hash::Hash;

/// One categorical decision of a space: which option is taken at one place (an edge's op, a
/// layer's kernel, a node's input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Where the decision is made (`edge 1<-0`, `layer 3 kernel`).
    pub name: String,
    /// The options, by name.
    pub options: Vec<String>,
}

impl Decision {
    /// A decision named `name` over `options`.
    pub fn new(name: impl Into<String>, options: &[&str]) -> Self {
        Decision {
            name: name.into(),
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// One dimension of a mixed space, as samplers that model each dimension (TPE) see it: a
/// categorical choice, or a real number in a range (on a log scale when `log`).
///
/// A point of the space is a `Vec<f64>` with one value per dimension: the option's index for a
/// categorical dimension, the value itself for a real one.
#[derive(Clone, Debug, PartialEq)]
pub enum Dimension {
    /// One of `options`, by index.
    Categorical {
        /// Where the choice is made.
        name: String,
        /// The options, by name.
        options: Vec<String>,
    },
    /// A real number in `[low, high]`.
    Real {
        /// What the number is (`lr`).
        name: String,
        /// Smallest value.
        low: f64,
        /// Largest value.
        high: f64,
        /// Whether the natural scale is logarithmic (learning rates, weight decay).
        log: bool,
    },
}

impl Dimension {
    /// The dimension's name.
    pub fn name(&self) -> &str {
        match self {
            Dimension::Categorical { name, .. } | Dimension::Real { name, .. } => name,
        }
    }

    /// A value mapped to `[0, 1]` (on the log scale for a log dimension; the option index over
    /// the number of options minus one for a categorical one).
    pub fn to_unit(&self, v: f64) -> f64 {
        match self {
            Dimension::Categorical { options, .. } => {
                if options.len() < 2 {
                    0.0
                } else {
                    v / (options.len() - 1) as f64
                }
            }
            Dimension::Real { low, high, log, .. } => {
                let (lo, hi, x) = if *log {
                    (low.ln(), high.ln(), v.max(f64::MIN_POSITIVE).ln())
                } else {
                    (*low, *high, v)
                };
                if hi > lo {
                    ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            }
        }
    }

    /// The value at `u` in `[0, 1]` (the inverse of [`Dimension::to_unit`]; categorical
    /// dimensions round to the nearest option).
    pub fn from_unit(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        match self {
            Dimension::Categorical { options, .. } => {
                (u * options.len().saturating_sub(1) as f64).round()
            }
            Dimension::Real { low, high, log, .. } => {
                if *log {
                    (low.ln() + u * (high.ln() - low.ln()))
                        .exp()
                        .clamp(*low, *high)
                } else {
                    low + u * (high - low)
                }
            }
        }
    }

    /// Checks that `v` is a value of the dimension; the error names the dimension.
    pub fn check(&self, v: f64) -> Result<()> {
        match self {
            Dimension::Categorical { name, options } => {
                if v.fract() != 0.0 || v < 0.0 || v >= options.len() as f64 {
                    return Err(Error::InvalidArch(format!(
                        "value {v} at `{name}` is not an option index (it has {})",
                        options.len()
                    )));
                }
            }
            Dimension::Real {
                name, low, high, ..
            } => {
                if !v.is_finite() || v < *low || v > *high {
                    return Err(Error::InvalidArch(format!(
                        "value {v} at `{name}` is outside [{low}, {high}]"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// How an architecture is turned into numbers for a predictor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// One-hot per decision, concatenated.
    OneHot,
    /// Path encoding (BANANAS): one feature per possible input-to-output path of operations.
    Path,
}

/// A space of architectures.
///
/// Every architecture is a point of a product of categorical [`Decision`]s (with a space's own
/// validity rules on top). That common view gives every strategy what it needs: sampling,
/// mutation, crossover and neighbours come for free from the decisions, and a space overrides
/// them where it knows better. A space also prints and parses its architectures (the canonical
/// string is what storage keeps), encodes them for predictors, and enumerates them when finite.
pub trait SearchSpace: Send + Sync {
    /// One architecture of the space.
    type Arch: Clone + Eq + Hash + Debug + Send + Sync + 'static;

    /// The space's name (`nb201`, `darts`, `chain`).
    fn name(&self) -> &str;

    /// The categorical decisions that make up an architecture.
    fn decisions(&self) -> &[Decision];

    /// The option index taken at every decision.
    fn to_decisions(&self, arch: &Self::Arch) -> Vec<usize>;

    /// The architecture taking these options; an error if they break the space's rules.
    #[allow(clippy::wrong_self_convention)] // the space is the factory of its architectures
    fn from_decisions(&self, choices: &[usize]) -> Result<Self::Arch>;

    /// Checks the space's rules.
    fn validate(&self, arch: &Self::Arch) -> Result<()> {
        let d = self.to_decisions(arch);
        check_choices(self.decisions(), &d)
    }

    /// The canonical string of an architecture (what the benchmark or paper writes).
    fn format(&self, arch: &Self::Arch) -> String;

    /// Parses the canonical string; the error names what is wrong.
    fn parse(&self, s: &str) -> Result<Self::Arch>;

    /// A uniformly random valid architecture.
    fn sample(&self, rng: &mut Rng) -> Self::Arch {
        let decisions = self.decisions();
        loop {
            let choices: Vec<usize> = decisions
                .iter()
                .map(|d| rng.below(d.options.len()))
                .collect();
            if let Ok(a) = self.from_decisions(&choices) {
                return a;
            }
        }
    }

    /// A copy with one decision changed to another option (one edge's op, one layer's
    /// kernel), valid under the space's rules; the same architecture only if no change is valid.
    fn mutate(&self, arch: &Self::Arch, rng: &mut Rng) -> Self::Arch {
        let decisions = self.decisions();
        let base = self.to_decisions(arch);
        for _ in 0..64 {
            let i = rng.below(decisions.len());
            let n = decisions[i].options.len();
            if n < 2 {
                continue;
            }
            let mut c = base.clone();
            let o = rng.below(n - 1);
            c[i] = if o >= base[i] { o + 1 } else { o };
            if let Ok(a) = self.from_decisions(&c) {
                return a;
            }
        }
        arch.clone()
    }

    /// A child taking each decision from one parent or the other.
    fn crossover(&self, a: &Self::Arch, b: &Self::Arch, rng: &mut Rng) -> Self::Arch {
        let (da, db) = (self.to_decisions(a), self.to_decisions(b));
        for _ in 0..16 {
            let c: Vec<usize> = da
                .iter()
                .zip(&db)
                .map(|(x, y)| if rng.bernoulli(0.5) { *x } else { *y })
                .collect();
            if let Ok(child) = self.from_decisions(&c) {
                return child;
            }
        }
        a.clone()
    }

    /// Every valid architecture that differs in exactly one decision.
    fn neighbours(&self, arch: &Self::Arch) -> Vec<Self::Arch> {
        let base = self.to_decisions(arch);
        let mut out = Vec::new();
        for (i, d) in self.decisions().iter().enumerate() {
            for o in 0..d.options.len() {
                if o != base[i] {
                    let mut c = base.clone();
                    c[i] = o;
                    if let Ok(a) = self.from_decisions(&c) {
                        out.push(a);
                    }
                }
            }
        }
        out
    }

    /// Features for a predictor; `None` when the space has no such encoding.
    fn encode(&self, arch: &Self::Arch, encoding: Encoding) -> Option<Vec<f64>> {
        match encoding {
            Encoding::OneHot => Some(one_hot(self.decisions(), &self.to_decisions(arch))),
            Encoding::Path => None,
        }
    }

    /// The space as mixed dimensions, for samplers that model each dimension (TPE); by
    /// default one categorical dimension per decision.
    fn dimensions(&self) -> Vec<Dimension> {
        self.decisions()
            .iter()
            .map(|d| Dimension::Categorical {
                name: d.name.clone(),
                options: d.options.clone(),
            })
            .collect()
    }

    /// The architecture as a point of [`SearchSpace::dimensions`] (option indices for
    /// categorical dimensions, values for real ones).
    fn to_point(&self, arch: &Self::Arch) -> Vec<f64> {
        self.to_decisions(arch).iter().map(|&c| c as f64).collect()
    }

    /// The architecture at a point of [`SearchSpace::dimensions`]; an error if a value is out
    /// of its dimension or the point breaks the space's rules.
    #[allow(clippy::wrong_self_convention)] // the space is the factory of its architectures
    fn from_point(&self, point: &[f64]) -> Result<Self::Arch> {
        let dims = self.dimensions();
        check_point(&dims, point)?;
        let choices: Vec<usize> = point.iter().map(|&v| v as usize).collect();
        self.from_decisions(&choices)
    }

    /// Number of architectures, when known and finite.
    fn size(&self) -> Option<u64> {
        None
    }

    /// The canonical index of an architecture, for spaces that have one.
    fn index(&self, _arch: &Self::Arch) -> Option<u64> {
        None
    }

    /// The architecture at a canonical index.
    #[allow(clippy::wrong_self_convention)] // the space is the factory of its architectures
    fn from_index(&self, _index: u64) -> Option<Self::Arch> {
        None
    }

    /// Every architecture in canonical order, for finite indexed spaces.
    fn enumerate(&self) -> Option<Vec<Self::Arch>> {
        let n = self.size()?;
        (0..n).map(|i| self.from_index(i)).collect()
    }
}

/// Checks that every choice is in range for its decision.
pub fn check_choices(decisions: &[Decision], choices: &[usize]) -> Result<()> {
    if choices.len() != decisions.len() {
        return Err(Error::InvalidArch(format!(
            "{} decisions given, the space has {}",
            choices.len(),
            decisions.len()
        )));
    }
    for (d, &c) in decisions.iter().zip(choices) {
        if c >= d.options.len() {
            return Err(Error::InvalidArch(format!(
                "option {c} at `{}` (it has {})",
                d.name,
                d.options.len()
            )));
        }
    }
    Ok(())
}

/// Checks that a point has one value per dimension, each in range.
pub fn check_point(dims: &[Dimension], point: &[f64]) -> Result<()> {
    if point.len() != dims.len() {
        return Err(Error::InvalidArch(format!(
            "{} values given, the space has {} dimensions",
            point.len(),
            dims.len()
        )));
    }
    for (d, &v) in dims.iter().zip(point) {
        d.check(v)?;
    }
    Ok(())
}

/// One-hot encoding of choices.
pub fn one_hot(decisions: &[Decision], choices: &[usize]) -> Vec<f64> {
    let n: usize = decisions.iter().map(|d| d.options.len()).sum();
    let mut v = vec![0.0; n];
    let mut off = 0;
    for (d, &c) in decisions.iter().zip(choices) {
        v[off + c] = 1.0;
        off += d.options.len();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_map_to_the_unit_interval_and_back() {
        let lr = Dimension::Real {
            name: "lr".into(),
            low: 1e-3,
            high: 1e-1,
            log: true,
        };
        assert!((lr.to_unit(1e-2) - 0.5).abs() < 1e-12);
        assert!((lr.from_unit(0.5) - 1e-2).abs() < 1e-12);
        assert_eq!(lr.from_unit(2.0), 1e-1);
        assert!(lr.check(0.5).unwrap_err().to_string().contains("`lr`"));
        let c = Dimension::Categorical {
            name: "batch".into(),
            options: vec!["64".into(), "128".into(), "256".into()],
        };
        assert_eq!(c.to_unit(2.0), 1.0);
        assert_eq!(c.from_unit(0.6), 1.0);
        assert!(c.check(1.0).is_ok());
        let e = c.check(1.5).unwrap_err().to_string();
        assert!(e.contains("`batch`"), "{e}");
        assert!(c.check(3.0).is_err());
        let e = check_point(&[lr, c], &[0.01]).unwrap_err().to_string();
        assert!(e.contains("1 values given"), "{e}");
    }
}
