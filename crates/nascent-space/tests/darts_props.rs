//! Property tests of the DARTS space: every move gives a valid genotype, strings and
//! decisions round-trip.

use nascent_core::{Encoding, Rng, SearchSpace};
use nascent_space::darts::{DARTS_V2, DartsGenotype, DartsSpace};
use proptest::prelude::*;

proptest! {
    #[test]
    fn sampled_genotypes_are_valid_and_round_trip(seed in any::<u64>()) {
        let s = DartsSpace::new();
        let g = s.sample(&mut Rng::new(seed));
        prop_assert!(s.validate(&g).is_ok());
        let text = s.format(&g);
        prop_assert!(text.starts_with("Genotype(normal=[('"), "{}", text);
        prop_assert!(text.contains("normal_concat=range(2, 6)"), "{}", text);
        prop_assert_eq!(s.parse(&text).unwrap(), g.clone());
        prop_assert_eq!(s.from_decisions(&s.to_decisions(&g)).unwrap(), g);
    }

    #[test]
    fn mutation_changes_one_decision_and_stays_valid(seed in any::<u64>()) {
        let s = DartsSpace::new();
        let mut rng = Rng::new(seed);
        let a = s.sample(&mut rng);
        let b = s.mutate(&a, &mut rng);
        prop_assert!(s.validate(&b).is_ok());
        let (da, db) = (s.to_decisions(&a), s.to_decisions(&b));
        prop_assert_eq!(da.iter().zip(&db).filter(|(x, y)| x != y).count(), 1);
    }

    #[test]
    fn crossover_and_neighbours_are_valid(seed in any::<u64>()) {
        let s = DartsSpace::new();
        let mut rng = Rng::new(seed);
        let (a, b) = (s.sample(&mut rng), s.sample(&mut rng));
        let c = s.crossover(&a, &b, &mut rng);
        prop_assert!(s.validate(&c).is_ok());
        let (da, db, dc) = (s.to_decisions(&a), s.to_decisions(&b), s.to_decisions(&c));
        for k in 0..dc.len() {
            prop_assert!(dc[k] == da[k] || dc[k] == db[k]);
        }
        for n in s.neighbours(&a) {
            prop_assert!(s.validate(&n).is_ok());
            prop_assert_ne!(&n, &a);
        }
    }

    #[test]
    fn inputs_of_a_node_are_distinct_and_earlier(seed in any::<u64>()) {
        let s = DartsSpace::new();
        let g = s.sample(&mut Rng::new(seed));
        for cell in [&g.normal, &g.reduce] {
            for (k, pair) in cell.edges.chunks(2).enumerate() {
                prop_assert_ne!(pair[0].1, pair[1].1);
                prop_assert!(pair[0].1 < k + 2 && pair[1].1 < k + 2);
            }
        }
        let oh = s.encode(&g, Encoding::OneHot).unwrap();
        prop_assert_eq!(oh.iter().sum::<f64>(), 32.0);
    }

    #[test]
    fn garbage_never_panics(text in "\\PC{0,80}") {
        let _ = text.parse::<DartsGenotype>();
        let cut = DARTS_V2.chars().take(text.len() % DARTS_V2.len()).collect::<String>();
        prop_assert!(cut.parse::<DartsGenotype>().is_err());
    }
}

#[test]
fn neighbours_of_darts_v2_count() {
    let s = DartsSpace::new();
    let g = DartsGenotype::darts_v2();
    let n = s.neighbours(&g);
    // Per edge: 6 other ops, plus the inputs not used by either edge of its node
    // (node k has k inputs): 16 * 6 + 2 * 2 * (0 + 1 + 2 + 3).
    assert_eq!(n.len(), 16 * 6 + 2 * 2 * 6);
}
