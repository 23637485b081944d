// The NAS-Bench-201 tables (`nb201.csv`, `nb201_latency_ms.csv`): reading never panics.
//
// Shared by the fuzz target fuzz/fuzz_targets/nb201_table.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_bench::table::{LatencyTable, Nb201Table};

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    let _ = Nb201Table::from_reader(std::io::Cursor::new(data.to_vec()), "nb201.csv");
    let _ = LatencyTable::from_reader(std::io::Cursor::new(data.to_vec()), "nb201_latency_ms.csv");
}
