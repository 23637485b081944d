//! The conformance suite every strategy passes, on a deterministic synthetic objective over the
//! NB201 space (no data needed): proposals are valid, never repeat, the same seed gives the same
//! search, `restore` resumes the search exactly, and the model-based strategies beat random
//! search.

use nascent_core::{
    Budget, Decision, Evaluation, Evaluator, History, Metrics, Objective, Outcome, Reporter, Rng,
    SearchSpace, Strategy, run_queries,
};
use nascent_space::{JointArch, JointConfig, JointSpace, Nb201Arch, Nb201Space};
use nascent_strategy::{StrategyConfig, StrategyKind};

/// A fixed random function of the one-hot encoding: linear terms plus pairwise interactions of
/// every two decisions, with a second objective (`cost`, minimised) that grows with the score.
struct Synthetic {
    linear: Vec<Vec<f64>>,
    pairwise: Vec<Vec<Vec<Vec<f64>>>>,
    /// Fail the evaluation of architectures whose first decision takes this option.
    fail_on: Option<usize>,
}

impl Synthetic {
    fn new(decisions: &[Decision]) -> Self {
        let mut rng = Rng::new(20_240_601);
        let n = decisions.len();
        let linear = decisions
            .iter()
            .map(|d| d.options.iter().map(|_| rng.normal()).collect())
            .collect();
        let pairwise = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        decisions[i]
                            .options
                            .iter()
                            .map(|_| {
                                decisions[j]
                                    .options
                                    .iter()
                                    .map(|_| if j > i { 0.5 * rng.normal() } else { 0.0 })
                                    .collect()
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Synthetic {
            linear,
            pairwise,
            fail_on: None,
        }
    }

    fn score(&self, c: &[usize]) -> f64 {
        let mut s = 0.0;
        for i in 0..c.len() {
            s += self.linear[i][c[i]];
            for j in i + 1..c.len() {
                s += self.pairwise[i][j][c[i]][c[j]];
            }
        }
        s
    }
}

struct SyntheticEvaluator<'a, S: SearchSpace> {
    space: &'a S,
    f: Synthetic,
}

impl<S: SearchSpace> Evaluator<S::Arch> for SyntheticEvaluator<'_, S> {
    fn metrics(&self) -> Vec<String> {
        vec!["score".into(), "cost".into()]
    }

    fn evaluate(&self, arch: &S::Arch, _: &Budget, _: &mut dyn Reporter) -> Outcome {
        let c = self.space.to_decisions(arch);
        if self.f.fail_on == Some(c[0]) {
            return Outcome::Failed {
                reason: "synthetic failure".into(),
                cost_seconds: 0.0,
            };
        }
        let score = self.f.score(&c);
        let mut metrics = Metrics::new();
        metrics.insert("score".into(), score);
        let ops: f64 = c.iter().map(|&o| o as f64).sum();
        metrics.insert("cost".into(), ops + 0.3 * score);
        Outcome::Complete(Evaluation {
            metrics,
            cost_seconds: 0.0,
        })
    }
}

fn objectives() -> Vec<Objective> {
    vec![Objective::maximize("score")]
}

fn run<S: SearchSpace>(
    space: &S,
    eval: &SyntheticEvaluator<'_, S>,
    config: &StrategyConfig,
    objectives: Vec<Objective>,
    queries: usize,
    seed: u64,
) -> History<S::Arch> {
    let mut strategy = config.build::<S>().unwrap();
    let mut history = History::new(objectives);
    let mut rng = Rng::new(seed);
    run_queries(
        space,
        &mut strategy,
        eval,
        &mut history,
        queries,
        &Budget::default(),
        &mut rng,
    );
    history
}

fn archs<A: Clone + Eq + std::hash::Hash>(h: &History<A>) -> Vec<A> {
    h.trials().iter().map(|t| t.arch.clone()).collect()
}

fn nb201() -> (Nb201Space, Synthetic) {
    let space = Nb201Space::new();
    let f = Synthetic::new(space.decisions());
    (space, f)
}

/// Small but real settings so the suite runs in seconds.
fn quick(kind: StrategyKind) -> StrategyConfig {
    let c = StrategyConfig::default_for(kind);
    match kind {
        StrategyKind::Bananas => c
            .with_setting("epochs", "40")
            .and_then(|c| c.with_setting("num_init", "10"))
            .and_then(|c| c.with_setting("batch", "10"))
            .unwrap(),
        StrategyKind::Gp | StrategyKind::Tpe => c.with_setting("num_init", "10").unwrap(),
        _ => c,
    }
}

#[test]
fn every_strategy_proposes_valid_distinct_architectures() {
    let (space, f) = nb201();
    let eval = SyntheticEvaluator { space: &space, f };
    for kind in StrategyKind::ALL {
        let h = run(&space, &eval, &quick(kind), objectives(), 60, 1);
        assert_eq!(h.len(), 60, "{kind}");
        let mut seen = std::collections::HashSet::new();
        for t in h.trials() {
            space.validate(&t.arch).unwrap();
            assert!(space.index(&t.arch).is_some());
            assert!(seen.insert(t.arch), "{kind} repeated {}", t.arch);
            assert!(t.is_complete());
        }
    }
}

#[test]
fn strategies_avoid_proposing_repeats() {
    // The runner refuses repeats; a strategy that leans on that would hand them back through
    // `repeated`. Count the proposals each strategy makes per query.
    struct Counting<St> {
        inner: St,
        asks: usize,
        repeats: usize,
    }
    impl<S: SearchSpace, St: Strategy<S>> Strategy<S> for Counting<St> {
        fn name(&self) -> String {
            self.inner.name()
        }
        fn ask(&mut self, space: &S, h: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
            self.asks += 1;
            self.inner.ask(space, h, rng)
        }
        fn tell(&mut self, space: &S, h: &History<S::Arch>, i: usize, rng: &mut Rng) {
            self.inner.tell(space, h, i, rng)
        }
        fn repeated(&mut self, space: &S, h: &History<S::Arch>, i: usize, rng: &mut Rng) {
            self.repeats += 1;
            self.inner.repeated(space, h, i, rng)
        }
    }
    let (space, f) = nb201();
    let eval = SyntheticEvaluator { space: &space, f };
    for kind in StrategyKind::ALL {
        let mut s = Counting {
            inner: quick(kind).build::<Nb201Space>().unwrap(),
            asks: 0,
            repeats: 0,
        };
        let mut h = History::new(objectives());
        run_queries(
            &space,
            &mut s,
            &eval,
            &mut h,
            100,
            &Budget::default(),
            &mut Rng::new(3),
        );
        assert_eq!(h.len(), 100);
        assert_eq!(s.repeats, 0, "{kind} proposed {} repeats", s.repeats);
        assert_eq!(s.asks, 100, "{kind}");
    }
}

#[test]
fn same_seed_same_search_and_seeds_differ() {
    let (space, f) = nb201();
    let eval = SyntheticEvaluator { space: &space, f };
    for kind in StrategyKind::ALL {
        let c = quick(kind);
        let a = archs(&run(&space, &eval, &c, objectives(), 40, 11));
        let b = archs(&run(&space, &eval, &c, objectives(), 40, 11));
        let other = archs(&run(&space, &eval, &c, objectives(), 40, 12));
        assert_eq!(a, b, "{kind} is not deterministic");
        assert_ne!(a, other, "{kind} ignores the seed");
    }
}

/// Runs `first` queries, rebuilds a fresh strategy from the history with `restore`, and runs
/// the rest with the same generator state.
fn resumed<S: SearchSpace>(
    space: &S,
    eval: &SyntheticEvaluator<'_, S>,
    config: &StrategyConfig,
    first: usize,
    total: usize,
    seed: u64,
) -> History<S::Arch> {
    let budget = Budget::default();
    let mut rng = Rng::new(seed);
    let mut history = History::new(objectives());
    let mut before = config.build::<S>().unwrap();
    run_queries(
        space,
        &mut before,
        eval,
        &mut history,
        first,
        &budget,
        &mut rng,
    );
    drop(before);
    let mut after = config.build::<S>().unwrap();
    let mut scratch = rng.clone();
    after.restore(space, &history, &mut scratch);
    assert_eq!(scratch, rng, "restore must not draw random numbers");
    run_queries(
        space,
        &mut after,
        eval,
        &mut history,
        total - first,
        &budget,
        &mut rng,
    );
    history
}

#[test]
fn restore_resumes_the_same_search() {
    let (space, f) = nb201();
    let eval = SyntheticEvaluator { space: &space, f };
    for kind in StrategyKind::ALL {
        let c = quick(kind);
        let whole = archs(&run(&space, &eval, &c, objectives(), 70, 5));
        // Local search and NSGA-II mid-round, evolution mid-population, BANANAS at the end of a
        // batch (10 random, then batches of 10).
        for first in [7, 30, 43] {
            if kind == StrategyKind::Bananas && first % 10 != 0 {
                continue;
            }
            let again = archs(&resumed(&space, &eval, &c, first, 70, 5));
            assert_eq!(whole, again, "{kind} resumed after {first} differs");
        }
    }
}

#[test]
fn bananas_resumed_mid_batch_goes_on_validly() {
    let (space, f) = nb201();
    let eval = SyntheticEvaluator { space: &space, f };
    let c = quick(StrategyKind::Bananas);
    let h = resumed(&space, &eval, &c, 35, 60, 8);
    assert_eq!(h.len(), 60);
    let mut a = archs(&h);
    a.sort();
    a.dedup();
    assert_eq!(a.len(), 60);
}

fn best_score<A: Clone + Eq + std::hash::Hash>(h: &History<A>) -> f64 {
    h.best().unwrap().metrics["score"]
}

#[test]
fn model_based_strategies_beat_random_search() {
    let (space, f) = nb201();
    let eval = SyntheticEvaluator { space: &space, f };
    let seeds = 0..8u64;
    let mean = |kind: StrategyKind| {
        let c = quick(kind);
        seeds
            .clone()
            .map(|s| best_score(&run(&space, &eval, &c, objectives(), 60, 100 + s)))
            .sum::<f64>()
            / seeds.clone().count() as f64
    };
    // The optimum of the synthetic function, by enumeration.
    let optimum = space
        .enumerate()
        .unwrap()
        .iter()
        .map(|a| eval.f.score(&space.to_decisions(a)))
        .fold(f64::NEG_INFINITY, f64::max);
    let random = mean(StrategyKind::Random);
    for kind in [StrategyKind::Gp, StrategyKind::Bananas, StrategyKind::Tpe] {
        let m = mean(kind);
        eprintln!("{kind}: {m:.3}, random {random:.3}, optimum {optimum:.3}");
        // Closes more than a third of the gap random search leaves.
        assert!(
            m > random + (optimum - random) / 3.0,
            "{kind} {m:.3} vs random {random:.3} (optimum {optimum:.3})"
        );
    }
}

#[test]
fn nsga2_covers_two_objectives_better_than_random() {
    use nascent_core::pareto::hypervolume;
    let (space, f) = nb201();
    let eval = SyntheticEvaluator { space: &space, f };
    let objs = vec![Objective::maximize("score"), Objective::minimize("cost")];
    let hv = |h: &History<Nb201Arch>| {
        let pts: Vec<Vec<f64>> = h
            .completed()
            .map(|t| vec![-t.metrics["score"], t.metrics["cost"]])
            .collect();
        hypervolume(&pts, &[20.0, 40.0])
    };
    let mean = |kind: StrategyKind| {
        (0..8u64)
            .map(|s| {
                hv(&run(
                    &space,
                    &eval,
                    &quick(kind),
                    objs.clone(),
                    100,
                    300 + s,
                ))
            })
            .sum::<f64>()
            / 8.0
    };
    let (nsga, random) = (mean(StrategyKind::Nsga2), mean(StrategyKind::Random));
    eprintln!("hypervolume: nsga2 {nsga:.2}, random {random:.2}");
    assert!(nsga > random, "nsga2 {nsga} vs random {random}");
}

/// A space of four architectures, to check that strategies stop rather than repeat when it is
/// exhausted and that they work on a space without a path encoding.
struct Tiny {
    decisions: Vec<Decision>,
}

impl SearchSpace for Tiny {
    type Arch = (usize, usize);
    fn name(&self) -> &str {
        "tiny"
    }
    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }
    fn to_decisions(&self, a: &(usize, usize)) -> Vec<usize> {
        vec![a.0, a.1]
    }
    fn from_decisions(&self, c: &[usize]) -> nascent_core::Result<(usize, usize)> {
        nascent_core::space::check_choices(&self.decisions, c)?;
        Ok((c[0], c[1]))
    }
    fn format(&self, a: &(usize, usize)) -> String {
        format!("{}{}", a.0, a.1)
    }
    fn parse(&self, s: &str) -> nascent_core::Result<(usize, usize)> {
        Err(nascent_core::Error::parse("tiny arch", s, "not supported"))
    }
    fn size(&self) -> Option<u64> {
        Some(4)
    }
    fn from_index(&self, i: u64) -> Option<(usize, usize)> {
        (i < 4).then_some(((i / 2) as usize, (i % 2) as usize))
    }
}

#[test]
fn strategies_stop_when_a_small_space_is_exhausted() {
    let space = Tiny {
        decisions: vec![
            Decision::new("a", &["x", "y"]),
            Decision::new("b", &["x", "y"]),
        ],
    };
    let f = Synthetic::new(space.decisions());
    let eval = SyntheticEvaluator { space: &space, f };
    for kind in StrategyKind::ALL {
        let c = match kind {
            StrategyKind::Gp | StrategyKind::Bananas | StrategyKind::Tpe => {
                quick(kind).with_setting("num_init", "2").unwrap()
            }
            StrategyKind::Evolution => quick(kind)
                .with_setting("sample_size", "2")
                .unwrap()
                .with_setting("population", "2")
                .unwrap(),
            StrategyKind::Nsga2 => quick(kind).with_setting("population", "2").unwrap(),
            _ => quick(kind),
        };
        let h = run(&space, &eval, &c, objectives(), 10, 4);
        let mut a = archs(&h);
        assert_eq!(a.len(), 4, "{kind}");
        a.sort();
        a.dedup();
        assert_eq!(a.len(), 4, "{kind}");
    }
}

#[test]
fn strategies_survive_failed_trials() {
    let (space, mut f) = nb201();
    // Every architecture whose first edge is `none` fails (a fifth of the space).
    f.fail_on = Some(0);
    let eval = SyntheticEvaluator { space: &space, f };
    for kind in StrategyKind::ALL {
        let h = run(&space, &eval, &quick(kind), objectives(), 50, 9);
        assert_eq!(h.len(), 50, "{kind}");
        let best = h.best().unwrap();
        assert!(best.is_complete(), "{kind}");
    }
}

/// A synthetic objective of the joint space that depends on the real values themselves, not
/// their grid levels: the cell's synthetic score, a bonus for width and depth, and a smooth
/// optimum of the recipe (learning rate 0.05, weight decay 2e-4, label smoothing 0.1, cutout on).
struct JointSynthetic<'a> {
    space: &'a JointSpace,
    cell: Synthetic,
}

impl JointSynthetic<'_> {
    fn score(&self, a: &JointArch) -> f64 {
        let d = self.space.to_decisions(a);
        let r = &a.recipe;
        self.cell.score(&d[..6]) + 0.3 * (a.channels as f64).ln() + 0.2 * a.cells as f64
            - 2.0 * (r.lr / 0.05).ln().powi(2)
            - 0.5 * (r.weight_decay / 2e-4).ln().powi(2)
            - 40.0 * (r.label_smoothing - 0.1).powi(2)
            + if r.cutout > 0 { 0.3 } else { 0.0 }
    }
}

impl Evaluator<JointArch> for JointSynthetic<'_> {
    fn metrics(&self) -> Vec<String> {
        vec!["score".into()]
    }

    fn evaluate(&self, arch: &JointArch, _: &Budget, _: &mut dyn Reporter) -> Outcome {
        let mut metrics = Metrics::new();
        metrics.insert("score".into(), self.score(arch));
        Outcome::Complete(Evaluation {
            metrics,
            cost_seconds: 0.0,
        })
    }
}

fn joint() -> JointSpace {
    JointSpace::new(JointConfig::default()).unwrap()
}

#[test]
fn every_strategy_works_on_the_joint_space() {
    let space = joint();
    let cell = Synthetic::new(&Nb201Space::new().decisions()[..6]);
    let eval = JointSynthetic {
        space: &space,
        cell,
    };
    for kind in StrategyKind::ALL {
        let c = quick(kind);
        let mut strategy = c.build::<JointSpace>().unwrap();
        let mut h = History::new(objectives());
        run_queries(
            &space,
            &mut strategy,
            &eval,
            &mut h,
            50,
            &Budget::default(),
            &mut Rng::new(2),
        );
        assert_eq!(h.len(), 50, "{kind}");
        let mut seen = std::collections::HashSet::new();
        for t in h.trials() {
            space.validate(&t.arch).unwrap();
            assert_eq!(space.parse(&space.format(&t.arch)).unwrap(), t.arch);
            assert!(
                seen.insert(t.arch),
                "{kind} repeated {}",
                space.format(&t.arch)
            );
        }
        // Same seed, same search.
        let mut again = c.build::<JointSpace>().unwrap();
        let mut h2 = History::new(objectives());
        run_queries(
            &space,
            &mut again,
            &eval,
            &mut h2,
            50,
            &Budget::default(),
            &mut Rng::new(2),
        );
        assert_eq!(
            archs(&h),
            archs(&h2),
            "{kind} is not deterministic on the joint space"
        );
    }
}

#[test]
fn tpe_and_evolution_beat_random_search_on_the_joint_space() {
    let space = joint();
    let cell = Synthetic::new(&Nb201Space::new().decisions()[..6]);
    let eval = JointSynthetic {
        space: &space,
        cell,
    };
    let mean = |kind: StrategyKind| {
        let c = match kind {
            StrategyKind::Evolution => quick(kind).with_setting("population", "20").unwrap(),
            _ => quick(kind),
        };
        (0..8u64)
            .map(|s| {
                let mut st = c.build::<JointSpace>().unwrap();
                let mut h = History::new(objectives());
                run_queries(
                    &space,
                    &mut st,
                    &eval,
                    &mut h,
                    100,
                    &Budget::default(),
                    &mut Rng::new(500 + s),
                );
                h.best().unwrap().metrics["score"]
            })
            .sum::<f64>()
            / 8.0
    };
    let random = mean(StrategyKind::Random);
    for kind in [StrategyKind::Tpe, StrategyKind::Evolution] {
        let m = mean(kind);
        eprintln!("joint space: {kind} {m:.3}, random {random:.3}");
        assert!(m > random, "{kind} {m:.3} vs random {random:.3}");
    }
}
