//! Local search (as in NASLib, after White et al., 2021): hill climbing over the neighbours of
//! the current architecture.
//!
//! The search starts with `num_init` random queries and climbs from the best of them. In each
//! round it queries the not yet known neighbours of the current architecture in random order;
//! when all are known it moves to the best of them if that improves on the current one
//! (best improvement), and otherwise it is at a local optimum and restarts from a fresh random
//! architecture. With `first_improvement` it moves as soon as a neighbour improves.

use crate::util::{fresh_sample, replay};
use nascent_core::{Error, History, Result, Rng, SearchSpace, Strategy};
use serde::{Deserialize, Serialize};

/// Settings of [`LocalSearch`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// Random queries before the first climb starts (from the best of them).
    pub num_init: usize,
    /// Move to the first improving neighbour instead of the best of the whole neighbourhood.
    pub first_improvement: bool,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            num_init: 10,
            first_improvement: false,
        }
    }
}

impl LocalConfig {
    /// Validates the settings; the error names the field.
    pub fn check(&self) -> Result<()> {
        if self.num_init < 1 {
            return Err(Error::config("local.num_init", "must be at least 1"));
        }
        Ok(())
    }

    /// Builds the strategy.
    pub fn init(&self) -> Result<LocalSearch> {
        self.check()?;
        Ok(LocalSearch {
            config: self.clone(),
            center: None,
            restarting: false,
            told: 0,
        })
    }
}

/// Local search; its state (the current architecture, whether it is restarting) is a function of
/// the history, so `restore` rebuilds it exactly.
#[derive(Clone, Debug)]
pub struct LocalSearch {
    config: LocalConfig,
    /// Index (into the history) of the architecture whose neighbourhood is being explored.
    center: Option<usize>,
    /// At a local optimum: the next trial is a random restart and becomes the centre.
    restarting: bool,
    /// Finished trials told so far.
    told: usize,
}

impl LocalSearch {
    /// The index (into the history) of the architecture being climbed from, if any.
    pub fn center(&self) -> Option<usize> {
        self.center
    }

    fn fit<A: Clone + Eq + std::hash::Hash>(history: &History<A>, i: usize) -> f64 {
        history
            .fitness(&history.trials()[i])
            .unwrap_or(f64::NEG_INFINITY)
    }

    /// Moves the centre while its neighbourhood is decided.
    fn advance<S: SearchSpace>(&mut self, space: &S, history: &History<S::Arch>) {
        while let Some(c) = self.center {
            let here = Self::fit(history, c);
            let mut best: Option<(usize, f64)> = None;
            let mut unknown = false;
            for n in space.neighbours(&history.trials()[c].arch) {
                match history.index_of(&n) {
                    Some(j) if history.trials()[j].state.is_finished() => {
                        let f = Self::fit(history, j);
                        if best.is_none_or(|(_, b)| f > b) {
                            best = Some((j, f));
                        }
                    }
                    _ => unknown = true,
                }
            }
            if let Some((j, _)) = best.filter(|&(_, f)| f > here)
                && (self.config.first_improvement || !unknown)
            {
                self.center = Some(j);
                continue;
            }
            if unknown {
                return;
            }
            self.center = None;
            self.restarting = true;
        }
    }
}

impl<S: SearchSpace> Strategy<S> for LocalSearch {
    fn name(&self) -> String {
        "local".into()
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        self.advance(space, history);
        let Some(c) = self.center else {
            return Some(fresh_sample(space, history, rng));
        };
        let unknown: Vec<S::Arch> = space
            .neighbours(&history.trials()[c].arch)
            .into_iter()
            .filter(|n| !history.contains(n))
            .collect();
        match rng.choose(&unknown) {
            Some(a) => Some(a.clone()),
            None => Some(fresh_sample(space, history, rng)),
        }
    }

    fn tell(&mut self, space: &S, history: &History<S::Arch>, index: usize, _: &mut Rng) {
        if !history.trials()[index].state.is_finished() {
            return;
        }
        self.told += 1;
        if self.restarting {
            self.restarting = false;
            self.center = Some(index);
        } else if self.center.is_none() && self.told >= self.config.num_init {
            self.center = history.ranked().first().copied().or(Some(index));
        }
        self.advance(space, history);
    }

    fn repeated(&mut self, _: &S, _: &History<S::Arch>, _: usize, _: &mut Rng) {}

    fn restore(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) {
        self.center = None;
        self.restarting = false;
        self.told = 0;
        replay(self, space, history, rng);
    }
}
