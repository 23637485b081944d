// Image folders held in memory: the input is files separated by `<<FILE>>`, each its
// relative path, a newline, then its bytes (PNG, JPEG, anything). Reading never panics.
//
// Shared by the fuzz target fuzz/fuzz_targets/image_folder.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_train::data::folder::{self, FolderOptions};
use std::path::{Path, PathBuf};

const SEP: &[u8] = b"<<FILE>>";

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    let mut files = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest
            .windows(SEP.len())
            .position(|w| w == SEP)
            .unwrap_or(rest.len());
        let part = &rest[..end];
        rest = rest.get(end + SEP.len()..).unwrap_or(&[]);
        let nl = part.iter().position(|&b| b == b'\n').unwrap_or(part.len());
        let path = PathBuf::from(String::from_utf8_lossy(&part[..nl]).into_owned());
        files.push((path, part.get(nl + 1..).unwrap_or(&[]).to_vec()));
    }
    let opts = FolderOptions {
        max_per_class: Some(2),
    };
    let _ = folder::load_files(Path::new("folder"), files.clone(), &opts);
    let _ = folder::load_files(Path::new("folder"), files, &FolderOptions::default());
}
