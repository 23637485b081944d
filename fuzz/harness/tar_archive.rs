// `.tar.gz` (and plain `.tar`) archives of image folders: reading never panics.
//
// Shared by the fuzz target fuzz/fuzz_targets/tar_archive.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_train::data::folder::{self, FolderOptions};
use std::path::Path;

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    let gz = data.starts_with(&[0x1f, 0x8b]);
    let _ = folder::read_archive(
        Path::new("data.tar.gz"),
        data,
        gz,
        &FolderOptions::default(),
    );
}
