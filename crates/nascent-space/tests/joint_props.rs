//! Property tests of the joint space: every move gives a valid architecture, strings, points
//! and (at grid levels) decisions round-trip, and encodings have a fixed length.

use nascent_core::{Dimension, Encoding, Rng, SearchSpace};
use nascent_space::joint::{JointArch, JointConfig, JointSpace};
use proptest::prelude::*;
use std::collections::HashSet;

fn space() -> JointSpace {
    JointSpace::new(JointConfig::default()).unwrap()
}

proptest! {
    #[test]
    fn samples_are_valid_and_round_trip(seed in any::<u64>()) {
        let s = space();
        let a = s.sample(&mut Rng::new(seed));
        prop_assert!(s.validate(&a).is_ok());
        prop_assert_eq!(s.parse(&s.format(&a)).unwrap(), a);
        prop_assert_eq!(s.from_point(&s.to_point(&a)).unwrap(), a);
        let c = JointConfig::default();
        prop_assert!(a.recipe.lr >= c.lr_min && a.recipe.lr <= c.lr_max);
        prop_assert!(a.recipe.label_smoothing >= 0.0 && a.recipe.label_smoothing <= 0.2);
        // Decisions snap real values to the grid; at a grid level they round-trip.
        let g = s.from_decisions(&s.to_decisions(&a)).unwrap();
        prop_assert_eq!(s.to_decisions(&g), s.to_decisions(&a));
        prop_assert_eq!(s.from_decisions(&s.to_decisions(&g)).unwrap(), g);
        let n = s.encode(&a, Encoding::OneHot).unwrap().len();
        prop_assert_eq!(n, 30 + 5 + 3 + 1 + 1 + 3 + 2 + 3 + 2 + 1);
        prop_assert_eq!(s.encode(&a, Encoding::Path).unwrap().len(), 84 + n - 30);
    }

    #[test]
    fn mutation_changes_one_dimension(seed in any::<u64>()) {
        let s = space();
        let mut rng = Rng::new(seed);
        let a = s.sample(&mut rng);
        let b = s.mutate(&a, &mut rng);
        prop_assert!(s.validate(&b).is_ok());
        prop_assert_ne!(a, b);
        let (pa, pb) = (s.to_point(&a), s.to_point(&b));
        let diffs = pa.iter().zip(&pb).filter(|(x, y)| x != y).count();
        prop_assert_eq!(diffs, 1);
    }

    #[test]
    fn crossover_takes_each_value_from_a_parent(seed in any::<u64>()) {
        let s = space();
        let mut rng = Rng::new(seed);
        let (a, b) = (s.sample(&mut rng), s.sample(&mut rng));
        let c = s.crossover(&a, &b, &mut rng);
        prop_assert!(s.validate(&c).is_ok());
        let (pa, pb, pc) = (s.to_point(&a), s.to_point(&b), s.to_point(&c));
        for k in 0..pc.len() {
            prop_assert!(pc[k] == pa[k] || pc[k] == pb[k]);
        }
    }

    #[test]
    fn neighbours_are_distinct_valid_and_new(seed in any::<u64>()) {
        let s = space();
        let a = s.sample(&mut Rng::new(seed));
        let n = s.neighbours(&a);
        let set: HashSet<JointArch> = n.iter().cloned().collect();
        prop_assert_eq!(set.len(), n.len());
        prop_assert!(!set.contains(&a));
        for x in &n {
            prop_assert!(s.validate(x).is_ok());
        }
        // Every other option of every categorical dimension, at least one step of each real.
        let cat: usize = s.dimensions().iter().map(|d| match d {
            Dimension::Categorical { options, .. } => options.len() - 1,
            Dimension::Real { .. } => 1,
        }).sum();
        prop_assert!(n.len() >= cat, "{} < {}", n.len(), cat);
    }

    #[test]
    fn garbage_never_panics(text in "\\PC{0,80}") {
        let _ = space().parse(&text);
    }

    #[test]
    fn points_out_of_range_are_refused(k in 0usize..15, v in -10.0f64..10.0) {
        let s = space();
        let mut p = s.to_point(&s.sample(&mut Rng::new(7)));
        p[k] = v;
        let dims = s.dimensions();
        if dims[k].check(v).is_err() {
            prop_assert!(s.from_point(&p).is_err());
        }
    }
}
