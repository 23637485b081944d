//! Replays the fuzz corpus kept in the repository (`fuzz/corpus/<target>/`) through the
//! parsers, as the fuzz targets do (`fuzz/harness/<target>.rs`, shared with them): every
//! input may be refused with an error, none may panic. Fuzzing itself: `fuzz/README.md`.

use std::path::PathBuf;

mod nb201_table {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/nb201_table.rs"
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
fn issue9_fuzz_corpus_nb201_table() {
    replay("nb201_table", nb201_table::run);
}
