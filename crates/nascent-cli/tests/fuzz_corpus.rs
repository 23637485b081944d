//! Replays the fuzz corpus of the study settings (`fuzz/corpus/study_toml/`) through the
//! layering, parse and check of a study file with `--set` overrides, as the fuzz target does
//! (`fuzz/harness/study_toml.rs`): every input may be refused with an error, none may panic,
//! and checked settings read back as themselves. Fuzzing itself: `fuzz/README.md`.

#[path = "../src/layered.rs"]
#[allow(dead_code)]
mod layered;

mod study_toml {
    use super::layered;
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/study_toml.rs"
    ));
}

#[test]
fn issue9_fuzz_corpus_study_toml() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/study_toml");
    nascent_core::testing::replay_corpus(&dir, study_toml::run);
}
