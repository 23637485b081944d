//! NSGA-II (Deb et al., 2002) for several objectives.
//!
//! The first `population` queries are random. Then the search runs in generations of
//! `population` children: each child is bred from two parents picked by binary tournament
//! (lower non-domination rank wins, then larger crowding distance), by uniform crossover with
//! probability `crossover_prob` and one mutation with probability `mutation_prob`. When a
//! generation is complete the next parents are the best `population` of parents and children by
//! rank and crowding distance. Feasible trials rank before infeasible ones, which rank by their
//! constraint violation; failed trials rank last.

use crate::util::{fresh_mutation, fresh_sample, replay};
use nascent_core::pareto::{crowding_distance, non_dominated_sort};
use nascent_core::{Error, History, Result, Rng, SearchSpace, Strategy};
use serde::{Deserialize, Serialize};

/// Settings of [`Nsga2`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Nsga2Config {
    /// Parents kept and children per generation (at least 2).
    pub population: usize,
    /// Probability that a child is a crossover of its two parents (else a copy of the first).
    pub crossover_prob: f64,
    /// Probability that a child is mutated once.
    pub mutation_prob: f64,
}

impl Default for Nsga2Config {
    fn default() -> Self {
        Nsga2Config {
            population: 20,
            crossover_prob: 0.9,
            mutation_prob: 1.0,
        }
    }
}

impl Nsga2Config {
    /// Validates the settings; the error names the field.
    pub fn check(&self) -> Result<()> {
        if self.population < 2 {
            return Err(Error::config(
                "nsga2.population",
                format!("must be at least 2, got {}", self.population),
            ));
        }
        for (field, p) in [
            ("nsga2.crossover_prob", self.crossover_prob),
            ("nsga2.mutation_prob", self.mutation_prob),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::config(field, format!("must be in [0, 1], got {p}")));
            }
        }
        Ok(())
    }

    /// Builds the strategy.
    pub fn init(&self) -> Result<Nsga2> {
        self.check()?;
        Ok(Nsga2 {
            config: self.clone(),
            parents: Vec::new(),
            generation: Vec::new(),
        })
    }
}

/// A parent: its trial index, non-domination rank and crowding distance.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Parent {
    index: usize,
    rank: usize,
    crowding: f64,
}

/// NSGA-II; parents are chosen in `tell` from the history alone, so `restore` rebuilds them
/// exactly.
#[derive(Clone, Debug)]
pub struct Nsga2 {
    config: Nsga2Config,
    parents: Vec<Parent>,
    /// Finished trials of the generation being evaluated.
    generation: Vec<usize>,
}

/// A loss too large for any real objective, for missing values (finite, so that crowding
/// distances stay numbers).
const WORST: f64 = 1e300;

impl Nsga2 {
    /// Indices (into the history) of the current parents.
    pub fn parents(&self) -> Vec<usize> {
        self.parents.iter().map(|p| p.index).collect()
    }

    /// Selects the best `population` of `pool` by constrained rank, then crowding distance.
    fn select<A: Clone + Eq + std::hash::Hash>(
        &self,
        history: &History<A>,
        pool: &[usize],
    ) -> Vec<Parent> {
        let objectives = history.objectives();
        let mut feasible = Vec::new();
        let mut infeasible: Vec<(usize, f64)> = Vec::new();
        let mut failed = Vec::new();
        for &i in pool {
            let t = &history.trials()[i];
            if !t.is_complete() || t.values.iter().any(|v| !v.is_finite()) {
                failed.push(i);
                continue;
            }
            let v = history.violation(t);
            if v > 0.0 {
                infeasible.push((i, v));
            } else {
                feasible.push(i);
            }
        }
        let points: Vec<Vec<f64>> = feasible
            .iter()
            .map(|&i| {
                let t = &history.trials()[i];
                objectives
                    .iter()
                    .zip(&t.values)
                    .map(|(o, &v)| o.loss(v).clamp(-WORST, WORST))
                    .collect()
            })
            .collect();
        let mut fronts: Vec<Vec<(usize, Vec<f64>)>> = non_dominated_sort(&points)
            .into_iter()
            .map(|f| {
                let mut f = f;
                f.sort_unstable();
                f.iter()
                    .map(|&k| (feasible[k], points[k].clone()))
                    .collect()
            })
            .collect();
        infeasible.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        for (i, _) in infeasible {
            fronts.push(vec![(i, vec![0.0])]);
        }
        failed.sort_unstable();
        for i in failed {
            fronts.push(vec![(i, vec![0.0])]);
        }
        let mut out = Vec::new();
        for (rank, front) in fronts.into_iter().enumerate() {
            if out.len() >= self.config.population {
                break;
            }
            let pts: Vec<Vec<f64>> = front.iter().map(|(_, p)| p.clone()).collect();
            let members: Vec<usize> = (0..pts.len()).collect();
            let crowd = crowding_distance(&pts, &members);
            let mut order: Vec<usize> = members;
            order.sort_by(|&a, &b| {
                crowd[b]
                    .total_cmp(&crowd[a])
                    .then(front[a].0.cmp(&front[b].0))
            });
            for k in order {
                if out.len() >= self.config.population {
                    break;
                }
                out.push(Parent {
                    index: front[k].0,
                    rank,
                    crowding: crowd[k],
                });
            }
        }
        out
    }

    fn tournament(&self, rng: &mut Rng) -> usize {
        let a = self.parents[rng.below(self.parents.len())];
        let b = self.parents[rng.below(self.parents.len())];
        let a_wins = a.rank < b.rank || (a.rank == b.rank && a.crowding >= b.crowding);
        if a_wins { a.index } else { b.index }
    }
}

impl<S: SearchSpace> Strategy<S> for Nsga2 {
    fn name(&self) -> String {
        "nsga2".into()
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        if self.parents.is_empty() {
            return Some(fresh_sample(space, history, rng));
        }
        let p1 = &history.trials()[self.tournament(rng)].arch;
        let p2 = &history.trials()[self.tournament(rng)].arch;
        let mut child = if rng.bernoulli(self.config.crossover_prob) {
            space.crossover(p1, p2, rng)
        } else {
            p1.clone()
        };
        if rng.bernoulli(self.config.mutation_prob) {
            child = space.mutate(&child, rng);
        }
        if !history.contains(&child) {
            return Some(child);
        }
        Some(
            fresh_mutation(space, &child, history, rng)
                .unwrap_or_else(|| fresh_sample(space, history, rng)),
        )
    }

    fn tell(&mut self, _: &S, history: &History<S::Arch>, index: usize, _: &mut Rng) {
        if !history.trials()[index].state.is_finished() {
            return;
        }
        self.generation.push(index);
        if self.generation.len() >= self.config.population {
            let mut pool: Vec<usize> = self.parents.iter().map(|p| p.index).collect();
            pool.append(&mut self.generation);
            self.parents = self.select(history, &pool);
        }
    }

    fn repeated(&mut self, _: &S, _: &History<S::Arch>, _: usize, _: &mut Rng) {}

    fn restore(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) {
        self.parents.clear();
        self.generation.clear();
        replay(self, space, history, rng);
    }
}
