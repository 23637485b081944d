//! # nascent-strategy
//!
//! Multi-trial search strategies, each behind [`nascent_core::Strategy`] and generic over any
//! [`nascent_core::SearchSpace`]: random search, regularized evolution, local search, REINFORCE,
//! Bayesian optimisation with a Gaussian process, BANANAS (an ensemble of neural predictors)
//! NSGA-II, and TPE (a tree-structured Parzen estimator over mixed categorical and real
//! dimensions). Pure Rust: the predictors are written here, with no deep-learning dependency.
//!
//! Every strategy has a config struct with defaults and a `check()` that validates it (errors
//! name the field), and an `init()` that builds it. [`StrategyKind`] parses the names the CLI
//! accepts and [`StrategyConfig`] holds the settings of any of them:
//!
//! ```
//! use nascent_strategy::{StrategyConfig, StrategyKind};
//! use nascent_core::{History, Objective, Rng, Strategy};
//! use nascent_space::Nb201Space;
//!
//! let kind: StrategyKind = "evolution".parse().unwrap();
//! let config = StrategyConfig::default_for(kind).with_setting("population", "30").unwrap();
//! let mut strategy = config.build::<Nb201Space>().unwrap();
//! let history = History::new(vec![Objective::maximize("val_accuracy")]);
//! let arch = strategy.ask(&Nb201Space::new(), &history, &mut Rng::new(0)).unwrap();
//! assert!(!history.contains(&arch));
//! ```
//!
//! No strategy proposes an architecture already in the history (when the space has one left);
//! the state of every strategy is rebuilt from the history by `restore` (see each type for the
//! one exception, BANANAS in the middle of a batch).

#![warn(missing_docs)]

pub mod bananas;
pub mod common;
pub mod evolution;
pub mod gp;
pub mod linalg;
pub mod local;
pub mod mlp;
pub mod nsga2;
pub mod random;
pub mod reinforce;
pub mod tpe;
mod util;
pub mod warm;

pub use bananas::{Bananas, BananasConfig};
pub use common::{Acquisition, FeatureEncoding};
pub use evolution::{EvolutionConfig, RegularizedEvolution};
pub use gp::{GaussianProcess, GpBayesOpt, GpConfig};
pub use local::{LocalConfig, LocalSearch};
pub use mlp::{Mlp, MlpEnsemble, MlpSpec};
pub use nsga2::{Nsga2, Nsga2Config};
pub use random::{RandomConfig, RandomSearch};
pub use reinforce::{Reinforce, ReinforceConfig};
pub use tpe::{Tpe, TpeConfig};
pub use warm::{ScoreFile, Warm};

use nascent_core::{Error, Result, SearchSpace, Strategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The built-in strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    /// Uniform random search.
    Random,
    /// Regularized (aging) evolution.
    Evolution,
    /// Local search (hill climbing with random restarts).
    Local,
    /// REINFORCE with a factorised categorical policy.
    Reinforce,
    /// Bayesian optimisation with a Gaussian process.
    Gp,
    /// BANANAS: an ensemble of neural predictors on the path encoding.
    Bananas,
    /// NSGA-II (several objectives).
    Nsga2,
    /// Tree-structured Parzen estimator over mixed categorical and real dimensions.
    Tpe,
}

impl StrategyKind {
    /// Every strategy, in the order they are listed.
    pub const ALL: [StrategyKind; 8] = [
        StrategyKind::Random,
        StrategyKind::Evolution,
        StrategyKind::Local,
        StrategyKind::Reinforce,
        StrategyKind::Gp,
        StrategyKind::Bananas,
        StrategyKind::Nsga2,
        StrategyKind::Tpe,
    ];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Random => "random",
            StrategyKind::Evolution => "evolution",
            StrategyKind::Local => "local",
            StrategyKind::Reinforce => "reinforce",
            StrategyKind::Gp => "gp",
            StrategyKind::Bananas => "bananas",
            StrategyKind::Nsga2 => "nsga2",
            StrategyKind::Tpe => "tpe",
        }
    }

    /// Other names accepted for it.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            StrategyKind::Random => &["rs", "random_search"],
            StrategyKind::Evolution => &["re", "rea", "regularized_evolution", "aging_evolution"],
            StrategyKind::Local => &["ls", "local_search"],
            StrategyKind::Reinforce => &["rl"],
            StrategyKind::Gp => &["bo", "gp_bo", "bayesopt"],
            StrategyKind::Bananas => &["ensemble"],
            StrategyKind::Nsga2 => &["nsga", "nsga_ii"],
            StrategyKind::Tpe => &["parzen"],
        }
    }

    /// Whether it fits a surrogate model (and so costs more per query).
    pub fn is_model_based(self) -> bool {
        matches!(self, StrategyKind::Gp | StrategyKind::Bananas)
    }

    /// Parses a comma-separated list of names (`random,evolution`).
    pub fn parse_list(s: &str) -> Result<Vec<StrategyKind>> {
        let out: Vec<StrategyKind> = s
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::parse)
            .collect::<Result<_>>()?;
        if out.is_empty() {
            return Err(Error::parse("strategy list", s, "no strategy named"));
        }
        Ok(out)
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StrategyKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        StrategyKind::ALL
            .into_iter()
            .find(|k| k.name() == key || k.aliases().contains(&key.as_str()))
            .ok_or_else(|| {
                let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
                Error::unknown("strategy", s, &names)
            })
    }
}

/// The settings of one strategy of any kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum StrategyConfig {
    /// Random search.
    Random(RandomConfig),
    /// Regularized evolution.
    Evolution(EvolutionConfig),
    /// Local search.
    Local(LocalConfig),
    /// REINFORCE.
    Reinforce(ReinforceConfig),
    /// GP Bayesian optimisation.
    Gp(GpConfig),
    /// BANANAS.
    Bananas(BananasConfig),
    /// NSGA-II.
    Nsga2(Nsga2Config),
    /// TPE.
    Tpe(TpeConfig),
}

impl StrategyConfig {
    /// The default settings of a strategy.
    pub fn default_for(kind: StrategyKind) -> Self {
        match kind {
            StrategyKind::Random => StrategyConfig::Random(RandomConfig::default()),
            StrategyKind::Evolution => StrategyConfig::Evolution(EvolutionConfig::default()),
            StrategyKind::Local => StrategyConfig::Local(LocalConfig::default()),
            StrategyKind::Reinforce => StrategyConfig::Reinforce(ReinforceConfig::default()),
            StrategyKind::Gp => StrategyConfig::Gp(GpConfig::default()),
            StrategyKind::Bananas => StrategyConfig::Bananas(BananasConfig::default()),
            StrategyKind::Nsga2 => StrategyConfig::Nsga2(Nsga2Config::default()),
            StrategyKind::Tpe => StrategyConfig::Tpe(TpeConfig::default()),
        }
    }

    /// Which strategy these settings are for.
    pub fn kind(&self) -> StrategyKind {
        match self {
            StrategyConfig::Random(_) => StrategyKind::Random,
            StrategyConfig::Evolution(_) => StrategyKind::Evolution,
            StrategyConfig::Local(_) => StrategyKind::Local,
            StrategyConfig::Reinforce(_) => StrategyKind::Reinforce,
            StrategyConfig::Gp(_) => StrategyKind::Gp,
            StrategyConfig::Bananas(_) => StrategyKind::Bananas,
            StrategyConfig::Nsga2(_) => StrategyKind::Nsga2,
            StrategyConfig::Tpe(_) => StrategyKind::Tpe,
        }
    }

    /// Validates the settings; the error names the field.
    pub fn check(&self) -> Result<()> {
        match self {
            StrategyConfig::Random(c) => c.check(),
            StrategyConfig::Evolution(c) => c.check(),
            StrategyConfig::Local(c) => c.check(),
            StrategyConfig::Reinforce(c) => c.check(),
            StrategyConfig::Gp(c) => c.check(),
            StrategyConfig::Bananas(c) => c.check(),
            StrategyConfig::Nsga2(c) => c.check(),
            StrategyConfig::Tpe(c) => c.check(),
        }
    }

    /// Builds the strategy for space `S` (after `check`).
    pub fn build<S: SearchSpace>(&self) -> Result<Box<dyn Strategy<S>>> {
        Ok(match self {
            StrategyConfig::Random(c) => Box::new(c.init()?),
            StrategyConfig::Evolution(c) => Box::new(c.init()?),
            StrategyConfig::Local(c) => Box::new(c.init()?),
            StrategyConfig::Reinforce(c) => Box::new(c.init()?),
            StrategyConfig::Gp(c) => Box::new(c.init()?),
            StrategyConfig::Bananas(c) => Box::new(c.init()?),
            StrategyConfig::Nsga2(c) => Box::new(c.init()?),
            StrategyConfig::Tpe(c) => Box::new(c.init()?),
        })
    }

    /// The settings with one field set from text: `key` is a field name (`population`), the
    /// value is JSON (`30`, `0.5`, `[64,64]`, `{"kind":"ucb","beta":2}`) or a bare word
    /// (`path`). The result is checked; errors name the field.
    pub fn with_setting(&self, key: &str, value: &str) -> Result<Self> {
        let kind = self.kind();
        let field = format!("{kind}.{key}");
        let mut json = serde_json::to_value(self).map_err(|e| Error::Other(e.to_string()))?;
        let obj = json
            .as_object_mut()
            .ok_or_else(|| Error::Other("strategy settings are not an object".into()))?;
        if key == "kind" || !obj.contains_key(key) {
            let mut known: Vec<&str> = obj
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "kind")
                .collect();
            known.sort_unstable();
            return Err(Error::Unknown {
                kind: "setting",
                name: field,
                known: if known.is_empty() {
                    format!("none: `{kind}` has no settings")
                } else {
                    known.join(", ")
                },
            });
        }
        let parsed: serde_json::Value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        obj.insert(key.to_string(), parsed);
        let out: StrategyConfig = serde_json::from_value(json)
            .map_err(|e| Error::config(field.clone(), format!("`{value}`: {e}")))?;
        out.check()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_parse() {
        for k in StrategyKind::ALL {
            assert_eq!(k.name().parse::<StrategyKind>().unwrap(), k);
            for a in k.aliases() {
                assert_eq!(a.parse::<StrategyKind>().unwrap(), k);
            }
            assert_eq!(StrategyConfig::default_for(k).kind(), k);
            StrategyConfig::default_for(k).check().unwrap();
        }
        assert_eq!(
            "Local-Search".parse::<StrategyKind>().unwrap(),
            StrategyKind::Local
        );
        let e = "annealing".parse::<StrategyKind>().unwrap_err().to_string();
        assert!(e.contains("unknown strategy `annealing`"), "{e}");
        assert!(
            e.contains("random, evolution, local, reinforce, gp, bananas, nsga2, tpe"),
            "{e}"
        );
        assert_eq!(
            StrategyKind::parse_list("random, bananas").unwrap(),
            vec![StrategyKind::Random, StrategyKind::Bananas]
        );
        assert!(StrategyKind::parse_list(" , ").is_err());
    }

    #[test]
    fn settings_are_set_and_checked_by_name() {
        let c = StrategyConfig::default_for(StrategyKind::Evolution);
        let c = c.with_setting("population", "50").unwrap();
        assert_eq!(
            c,
            StrategyConfig::Evolution(EvolutionConfig {
                population: 50,
                ..EvolutionConfig::default()
            })
        );
        let e = c.with_setting("sample_size", "60").unwrap_err().to_string();
        assert!(e.contains("evolution.sample_size"), "{e}");
        let e = c.with_setting("popsize", "6").unwrap_err().to_string();
        assert!(
            e.contains("evolution.popsize") && e.contains("population"),
            "{e}"
        );
        let e = c
            .with_setting("population", "many")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("evolution.population") && e.contains("many"),
            "{e}"
        );
        let g = StrategyConfig::default_for(StrategyKind::Gp)
            .with_setting("encoding", "path")
            .unwrap()
            .with_setting("acquisition", r#"{"kind":"ucb","beta":2.0}"#)
            .unwrap();
        let StrategyConfig::Gp(g) = g else { panic!() };
        assert_eq!(g.encoding, FeatureEncoding::Path);
        assert_eq!(g.acquisition, Acquisition::Ucb { beta: 2.0 });
        let e = StrategyConfig::default_for(StrategyKind::Random)
            .with_setting("x", "1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no settings"), "{e}");
        let e = StrategyConfig::default_for(StrategyKind::Reinforce)
            .with_setting("learning_rate", "-1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("reinforce.learning_rate"), "{e}");
    }
}
