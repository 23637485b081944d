// CSV tables (features and a label column): reading never panics, with the label column
// found by default and named `label`.
//
// Shared by the fuzz target fuzz/fuzz_targets/csv_table.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_train::data::table;
use std::path::Path;

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    let p = Path::new("table.csv");
    let _ = table::read_csv(p, data, None);
    let _ = table::read_csv(p, data, Some("label"));
}
