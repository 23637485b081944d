//! Replays the fuzz corpus kept in the repository (`fuzz/corpus/<target>/`) through the
//! parsers, as the fuzz targets do (`fuzz/harness/<target>.rs`, shared with them): every
//! input may be refused with an error, none may panic. Fuzzing itself: `fuzz/README.md`.

use std::path::PathBuf;

mod nb201_arch {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/nb201_arch.rs"
    ));
}

mod darts_genotype {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/darts_genotype.rs"
    ));
}

mod chain_arch {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/chain_arch.rs"
    ));
}

/// Runs `run` on every file of the corpus of `target`; a panic names the file.
fn replay(target: &str, run: fn(&[u8])) {
    nascent_core::testing::replay_corpus(
        &PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus")).join(target),
        run,
    );
}

#[test]
fn issue9_fuzz_corpus_nb201_arch() {
    replay("nb201_arch", nb201_arch::run);
}

#[test]
fn issue9_fuzz_corpus_darts_genotype() {
    replay("darts_genotype", darts_genotype::run);
}

#[test]
fn issue9_fuzz_corpus_chain_arch() {
    replay("chain_arch", chain_arch::run);
}
