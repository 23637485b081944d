//! Replays the fuzz corpus kept in the repository (`fuzz/corpus/<target>/`) through the
//! parsers, as the fuzz targets do (`fuzz/harness/<target>.rs`, shared with them): every
//! input may be refused with an error, none may panic. Fuzzing itself: `fuzz/README.md`.

use std::path::PathBuf;

mod idx {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/idx.rs"
    ));
}

mod cifar {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/cifar.rs"
    ));
}

mod csv_table {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/csv_table.rs"
    ));
}

mod image_folder {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/image_folder.rs"
    ));
}

mod tar_archive {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/tar_archive.rs"
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
fn issue9_fuzz_corpus_idx() {
    replay("idx", idx::run);
}

#[test]
fn issue9_fuzz_corpus_cifar() {
    replay("cifar", cifar::run);
}

#[test]
fn issue9_fuzz_corpus_csv_table() {
    replay("csv_table", csv_table::run);
}

#[test]
fn issue9_fuzz_corpus_image_folder() {
    replay("image_folder", image_folder::run);
}

#[test]
fn issue9_fuzz_corpus_tar_archive() {
    replay("tar_archive", tar_archive::run);
}
