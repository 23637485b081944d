//! The plain sequential search loop: ask, evaluate, tell, for a number of queries.
//!
//! This is the loop of a tabular benchmark run and of the simplest studies; the resumable,
//! multi-worker runner over a storage lives in `nascent-study`.

use crate::evaluator::{Evaluator, NoReporter, Outcome};
use crate::rng::Rng;
use crate::space::SearchSpace;
use crate::strategy::Strategy;
use crate::trial::{Budget, History, Trial, TrialState};

/// How many repeats in a row the loop hands back before it samples a fresh architecture itself.
pub const MAX_REPEATS_IN_A_ROW: usize = 200;

/// Runs `strategy` for `queries` evaluations of distinct architectures and returns the history.
///
/// A proposal that repeats an architecture already in the history is not evaluated and does
/// not count as a query: the strategy gets the known result back through `repeated`. After
/// [`MAX_REPEATS_IN_A_ROW`] repeats in a row the loop proposes a fresh random architecture
/// itself; it stops early when the space is exhausted.
pub fn run_queries<S, St, E>(
    space: &S,
    strategy: &mut St,
    evaluator: &E,
    history: &mut History<S::Arch>,
    queries: usize,
    budget: &Budget,
    rng: &mut Rng,
) where
    S: SearchSpace,
    St: Strategy<S> + ?Sized,
    E: Evaluator<S::Arch> + ?Sized,
{
    let target = history.len() + queries;
    while history.len() < target {
        let Some(arch) = next_fresh(space, strategy, history, rng) else {
            break;
        };
        let number = history.len() as u64;
        let mut trial = Trial::running(number, arch, budget.clone());
        match evaluator.evaluate(&trial.arch, budget, &mut NoReporter) {
            Outcome::Complete(e) => {
                trial.state = TrialState::Complete;
                trial.metrics = e.metrics;
                trial.cost_seconds = e.cost_seconds;
            }
            Outcome::Pruned(e) => {
                trial.state = TrialState::Pruned;
                trial.metrics = e.metrics;
                trial.cost_seconds = e.cost_seconds;
            }
            Outcome::Failed {
                reason,
                cost_seconds,
            } => {
                trial.state = TrialState::Fail;
                trial.fail_reason = Some(reason);
                trial.cost_seconds = cost_seconds;
            }
        }
        let i = history.push(trial);
        strategy.tell(space, history, i, rng);
    }
}

/// Asks `strategy` until it proposes an architecture not yet in `history`, handing repeats
/// back; falls back to random sampling after too many repeats. `None` when neither the
/// strategy nor sampling finds anything new.
pub fn next_fresh<S, St>(
    space: &S,
    strategy: &mut St,
    history: &History<S::Arch>,
    rng: &mut Rng,
) -> Option<S::Arch>
where
    S: SearchSpace,
    St: Strategy<S> + ?Sized,
{
    if space.size().is_some_and(|n| history.len() as u64 >= n) {
        return None;
    }
    for _ in 0..MAX_REPEATS_IN_A_ROW {
        let arch = strategy.ask(space, history, rng)?;
        match history.index_of(&arch) {
            None => return Some(arch),
            Some(i) => strategy.repeated(space, history, i, rng),
        }
    }
    for _ in 0..10_000 {
        let arch = space.sample(rng);
        if !history.contains(&arch) {
            return Some(arch);
        }
    }
    // A nearly exhausted finite space: walk it in order.
    space
        .enumerate()?
        .into_iter()
        .find(|a| !history.contains(a))
}
