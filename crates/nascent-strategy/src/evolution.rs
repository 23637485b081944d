//! Regularized (aging) evolution (Real et al., 2019).
//!
//! The first `population` queries are random. Afterwards each query mutates the winner of a
//! tournament among `sample_size` members drawn from the population, and the child replaces
//! the oldest member: a member dies of age, not of weakness.

use crate::util::{fresh_mutation, fresh_sample, replay};
use nascent_core::{Error, History, Result, Rng, SearchSpace, Strategy};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Settings of [`RegularizedEvolution`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvolutionConfig {
    /// Members alive at any time (and the number of random queries that start the search).
    pub population: usize,
    /// Members drawn for each tournament.
    pub sample_size: usize,
}

impl Default for EvolutionConfig {
    fn default() -> Self {
        EvolutionConfig {
            population: 30,
            sample_size: 10,
        }
    }
}

impl EvolutionConfig {
    /// Validates the settings; the error names the field.
    pub fn check(&self) -> Result<()> {
        if self.population < 1 {
            return Err(Error::config("evolution.population", "must be at least 1"));
        }
        if self.sample_size < 1 || self.sample_size > self.population {
            return Err(Error::config(
                "evolution.sample_size",
                format!(
                    "must be between 1 and the population ({}), got {}",
                    self.population, self.sample_size
                ),
            ));
        }
        Ok(())
    }

    /// Builds the strategy.
    pub fn init(&self) -> Result<RegularizedEvolution> {
        self.check()?;
        Ok(RegularizedEvolution {
            config: self.clone(),
            population: VecDeque::new(),
        })
    }
}

/// Regularized evolution; its population is a window over the history (indices of the
/// youngest `population` finished trials), so `restore` rebuilds it exactly.
#[derive(Clone, Debug)]
pub struct RegularizedEvolution {
    config: EvolutionConfig,
    population: VecDeque<usize>,
}

impl RegularizedEvolution {
    /// Indices (into the history) of the members alive, oldest first.
    pub fn population(&self) -> impl Iterator<Item = usize> + '_ {
        self.population.iter().copied()
    }
}

impl<S: SearchSpace> Strategy<S> for RegularizedEvolution {
    fn name(&self) -> String {
        "evolution".into()
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        if self.population.len() < self.config.population {
            return Some(fresh_sample(space, history, rng));
        }
        let members: Vec<usize> = self.population.iter().copied().collect();
        let mut winner: Option<(usize, f64)> = None;
        for k in rng.sample_indices(members.len(), self.config.sample_size) {
            let i = members[k];
            let f = history
                .fitness(&history.trials()[i])
                .unwrap_or(f64::NEG_INFINITY);
            if winner.is_none_or(|(_, b)| f > b) {
                winner = Some((i, f));
            }
        }
        let parent = &history.trials()[winner?.0].arch;
        Some(
            fresh_mutation(space, parent, history, rng)
                .unwrap_or_else(|| fresh_sample(space, history, rng)),
        )
    }

    fn tell(&mut self, _: &S, history: &History<S::Arch>, index: usize, _: &mut Rng) {
        if !history.trials()[index].state.is_finished() {
            return;
        }
        self.population.push_back(index);
        while self.population.len() > self.config.population {
            self.population.pop_front();
        }
    }

    fn repeated(&mut self, _: &S, _: &History<S::Arch>, _: usize, _: &mut Rng) {}

    fn restore(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) {
        self.population.clear();
        replay(self, space, history, rng);
    }
}
