//! The search-strategy trait (ask/tell).

use crate::rng::Rng;
use crate::space::SearchSpace;
use crate::trial::History;

/// A multi-trial search strategy: proposes the next architecture from the history of trials.
///
/// `ask` proposes; the runner evaluates and records the trial in the history, then calls
/// `tell` with its index. A strategy whose state lives only in the history needs no `tell`.
/// Strategies that learn (a policy, a population) rebuild their state from a history with
/// `restore`, which is how a study resumes after a crash.
pub trait Strategy<S: SearchSpace>: Send {
    /// The strategy's name as the CLI knows it.
    fn name(&self) -> String;

    /// The next architecture to evaluate, or `None` when the strategy has nothing left to
    /// propose (a finite space exhausted). It should avoid architectures already in `history`:
    /// the runner does not count a repeat as a query but hands it back through `repeated`.
    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch>;

    /// Trial `index` of `history` has finished.
    fn tell(&mut self, _space: &S, _history: &History<S::Arch>, _index: usize, _rng: &mut Rng) {}

    /// The last proposal repeated trial `index`: its known result is handed back for free.
    fn repeated(&mut self, space: &S, history: &History<S::Arch>, index: usize, rng: &mut Rng) {
        self.tell(space, history, index, rng);
    }

    /// Rebuilds the strategy's state from a history (used on resume): by default, tells it of
    /// every finished trial in the order they finished ([`History::finish_order`]).
    fn restore(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) {
        for &i in history.finish_order() {
            self.tell(space, history, i, rng);
        }
    }

    /// Whether the strategy looks at trials that finished before the current run started (in
    /// `ask`, `tell` or `restore`). One that does not (random search) lets a runner that joins
    /// a large study skip reading them: its history then starts at the study's first unfinished
    /// trial, so that joining costs the same at a thousand trials as at a hundred thousand.
    fn uses_past(&self) -> bool {
        true
    }
}

impl<S: SearchSpace, T: Strategy<S> + ?Sized> Strategy<S> for Box<T> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        (**self).ask(space, history, rng)
    }
    fn tell(&mut self, space: &S, history: &History<S::Arch>, index: usize, rng: &mut Rng) {
        (**self).tell(space, history, index, rng)
    }
    fn repeated(&mut self, space: &S, history: &History<S::Arch>, index: usize, rng: &mut Rng) {
        (**self).repeated(space, history, index, rng)
    }
    fn restore(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) {
        (**self).restore(space, history, rng)
    }
    fn uses_past(&self) -> bool {
        (**self).uses_past()
    }
}
