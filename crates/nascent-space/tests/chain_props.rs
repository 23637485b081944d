//! Property tests of the chain space: every move gives a valid architecture that differs
//! from its parent, and strings and decisions round-trip.

use nascent_core::{Encoding, Rng, SearchSpace};
use nascent_space::chain::{ChainArch, ChainConfig, ChainOp, ChainSpace};
use proptest::prelude::*;
use std::collections::HashSet;

fn space() -> ChainSpace {
    ChainSpace::new(ChainConfig {
        ops: ChainOp::ALL.to_vec(),
        ..ChainConfig::default()
    })
    .unwrap()
}

proptest! {
    #[test]
    fn samples_are_valid_and_round_trip(seed in any::<u64>()) {
        let s = space();
        let a = s.sample(&mut Rng::new(seed));
        prop_assert!(s.validate(&a).is_ok());
        prop_assert!(a.layers.iter().filter(|l| l.stride == 2).count() <= 3);
        prop_assert_eq!(s.parse(&s.format(&a)).unwrap(), a.clone());
        prop_assert_eq!(s.from_decisions(&s.to_decisions(&a)).unwrap(), a.clone());
        prop_assert_eq!(s.encode(&a, Encoding::OneHot).unwrap().len(), 8 + 8 * (5 + 3 + 4 + 2));
    }

    #[test]
    fn mutation_is_one_step_and_valid(seed in any::<u64>()) {
        let s = space();
        let mut rng = Rng::new(seed);
        let a = s.sample(&mut rng);
        let b = s.mutate(&a, &mut rng);
        prop_assert!(s.validate(&b).is_ok());
        prop_assert_ne!(&a, &b);
        let (la, lb) = (a.layers.len(), b.layers.len());
        if la == lb {
            // One field of one layer.
            let diffs: usize = a.layers.iter().zip(&b.layers).map(|(x, y)| {
                (x.op != y.op) as usize + (x.kernel != y.kernel) as usize
                    + (x.width != y.width) as usize + (x.stride != y.stride) as usize
            }).sum();
            prop_assert_eq!(diffs, 1);
        } else {
            // One layer inserted or removed: the shorter is a subsequence of the longer.
            prop_assert_eq!(la.abs_diff(lb), 1);
            let (short, long) = if la < lb { (&a, &b) } else { (&b, &a) };
            let mut it = long.layers.iter();
            prop_assert!(short.layers.iter().all(|l| it.any(|m| m == l)));
        }
    }

    #[test]
    fn crossover_takes_layers_from_parents(seed in any::<u64>()) {
        let s = space();
        let mut rng = Rng::new(seed);
        let (a, b) = (s.sample(&mut rng), s.sample(&mut rng));
        let c = s.crossover(&a, &b, &mut rng);
        prop_assert!(s.validate(&c).is_ok());
        for (i, l) in c.layers.iter().enumerate() {
            prop_assert!(a.layers.get(i) == Some(l) || b.layers.get(i) == Some(l));
        }
    }

    #[test]
    fn neighbours_are_distinct_valid_and_new(seed in any::<u64>()) {
        let s = space();
        let a = s.sample(&mut Rng::new(seed));
        let n = s.neighbours(&a);
        let set: HashSet<ChainArch> = n.iter().cloned().collect();
        prop_assert_eq!(set.len(), n.len());
        prop_assert!(!set.contains(&a));
        for x in &n {
            prop_assert!(s.validate(x).is_ok());
        }
        // At least every op/kernel/width change of every layer.
        prop_assert!(n.len() >= a.layers.len() * (4 + 2 + 3));
    }

    #[test]
    fn garbage_never_panics(text in "\\PC{0,60}") {
        let _ = text.parse::<ChainArch>();
    }
}
