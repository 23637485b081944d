// DARTS genotypes (the Python notation): parsing never panics, and what parses prints back
// to a genotype equal to it.
//
// Shared by the fuzz target fuzz/fuzz_targets/darts_genotype.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_space::darts::DartsGenotype;

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(g) = s.parse::<DartsGenotype>() {
        let back: DartsGenotype = g.to_string().parse().expect("a printed genotype parses");
        assert_eq!(back, g);
    }
}
