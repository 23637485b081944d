// Chain architectures (`layer,layer,...`): parsing never panics, and what parses prints back
// to itself.
//
// Shared by the fuzz target fuzz/fuzz_targets/chain_arch.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_space::chain::ChainArch;

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = s.parse::<ChainArch>() {
        let back: ChainArch = a.to_string().parse().expect("a printed chain parses");
        assert_eq!(back, a);
    }
}
