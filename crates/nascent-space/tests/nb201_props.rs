//! Property tests of the NB201 space, and its order checked against the benchmark's own table.

use nascent_core::{Encoding, Rng, SearchSpace};
use nascent_space::{Nb201Arch, Nb201Space};
use proptest::prelude::*;
use std::collections::HashSet;

proptest! {
    #[test]
    fn string_and_index_round_trip(seed in any::<u64>()) {
        let s = Nb201Space::new();
        let a = s.sample(&mut Rng::new(seed));
        prop_assert_eq!(s.parse(&s.format(&a)).unwrap(), a);
        let i = s.index(&a).unwrap();
        prop_assert!(i < 15_625);
        prop_assert_eq!(s.from_index(i).unwrap(), a);
        prop_assert_eq!(s.from_decisions(&s.to_decisions(&a)).unwrap(), a);
    }

    #[test]
    fn mutation_changes_exactly_one_edge(seed in any::<u64>()) {
        let s = Nb201Space::new();
        let mut rng = Rng::new(seed);
        let a = s.sample(&mut rng);
        let b = s.mutate(&a, &mut rng);
        let diff = a.0.iter().zip(b.0.iter()).filter(|(x, y)| x != y).count();
        prop_assert_eq!(diff, 1);
        prop_assert!(s.validate(&b).is_ok());
    }

    #[test]
    fn crossover_takes_each_edge_from_a_parent(seed in any::<u64>()) {
        let s = Nb201Space::new();
        let mut rng = Rng::new(seed);
        let (a, b) = (s.sample(&mut rng), s.sample(&mut rng));
        let c = s.crossover(&a, &b, &mut rng);
        for k in 0..6 {
            prop_assert!(c.0[k] == a.0[k] || c.0[k] == b.0[k]);
        }
    }

    #[test]
    fn neighbours_are_the_24_one_edge_changes(seed in any::<u64>()) {
        let s = Nb201Space::new();
        let a = s.sample(&mut Rng::new(seed));
        let n = s.neighbours(&a);
        prop_assert_eq!(n.len(), 24);
        let set: HashSet<Nb201Arch> = n.iter().copied().collect();
        prop_assert_eq!(set.len(), 24);
        prop_assert!(!set.contains(&a));
    }

    #[test]
    fn encodings_have_fixed_length(seed in any::<u64>()) {
        let s = Nb201Space::new();
        let a = s.sample(&mut Rng::new(seed));
        let oh = s.encode(&a, Encoding::OneHot).unwrap();
        prop_assert_eq!(oh.len(), 30);
        prop_assert_eq!(oh.iter().sum::<f64>(), 6.0);
        prop_assert_eq!(s.encode(&a, Encoding::Path).unwrap().len(), 84);
    }
}

#[test]
fn enumeration_is_the_whole_space_once() {
    let s = Nb201Space::new();
    let all = s.enumerate().unwrap();
    assert_eq!(all.len(), 15_625);
    let set: HashSet<Nb201Arch> = all.iter().copied().collect();
    assert_eq!(set.len(), 15_625);
}

#[test]
fn index_order_equals_the_benchmark_table() {
    let Some(path) = nascent_core::testing::shared_data("nb201/nb201.csv") else {
        return;
    };
    let s = Nb201Space::new();
    let mut r = csv::Reader::from_path(&path).unwrap();
    let mut n = 0;
    for row in r.records() {
        let row = row.unwrap();
        let i: u64 = row[0].parse().unwrap();
        let arch = s.parse(&row[1]).unwrap();
        assert_eq!(s.index(&arch), Some(i), "row {i}");
        assert_eq!(s.format(&arch), &row[1]);
        n += 1;
    }
    assert_eq!(n, 15_625);
}
