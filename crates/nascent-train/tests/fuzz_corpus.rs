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
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus")).join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "{} holds {} inputs",
        dir.display(),
        files.len()
    );
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{} makes the parser panic", f.display());
        }
    }
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
