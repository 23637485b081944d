// Storage URLs: parsing never panics.
//
// Shared by the fuzz target fuzz/fuzz_targets/storage_url.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_store::url::StorageUrl;

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = StorageUrl::parse(s);
    }
}
