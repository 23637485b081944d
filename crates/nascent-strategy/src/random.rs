//! Random search: uniform samples of the space, never one already queried.

use crate::util::fresh_sample;
use nascent_core::{History, Result, Rng, SearchSpace, Strategy};
use serde::{Deserialize, Serialize};

/// Settings of [`RandomSearch`] (it has none; the struct keeps the interface uniform).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomConfig {}

impl RandomConfig {
    /// Validates the settings (always valid).
    pub fn check(&self) -> Result<()> {
        Ok(())
    }

    /// Builds the strategy.
    pub fn init(&self) -> Result<RandomSearch> {
        self.check()?;
        Ok(RandomSearch)
    }
}

/// Uniform random search without repeats.
#[derive(Clone, Debug, Default)]
pub struct RandomSearch;

impl<S: SearchSpace> Strategy<S> for RandomSearch {
    fn name(&self) -> String {
        "random".into()
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        Some(fresh_sample(space, history, rng))
    }

    fn repeated(&mut self, _: &S, _: &History<S::Arch>, _: usize, _: &mut Rng) {}

    fn uses_past(&self) -> bool {
        false
    }
}
