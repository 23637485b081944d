// CIFAR binary batches: the first byte picks CIFAR-10 (even) or CIFAR-100 (odd), the rest is
// a batch file, made into a dataset; errors are fine, panics are not.
//
// Shared by the fuzz target fuzz/fuzz_targets/cifar.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_train::data::cifar::{self, CifarKind};
use std::path::{Path, PathBuf};

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    let Some((&k, bytes)) = data.split_first() else {
        return;
    };
    let kind = if k % 2 == 0 {
        CifarKind::Cifar10
    } else {
        CifarKind::Cifar100
    };
    let k = if kind == CifarKind::Cifar10 { 10 } else { 100 };
    let names = cifar::parse_class_names(&String::from_utf8_lossy(bytes), k);
    let batch = vec![(PathBuf::from("data_batch_1.bin"), bytes.to_vec())];
    let _ = cifar::batches_dataset(Path::new("cifar"), &batch, kind, &names);
}
