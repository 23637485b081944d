// NAS-Bench-201 arch strings: parsing never panics, and what parses prints back to itself.
//
// Shared by the fuzz target fuzz/fuzz_targets/nb201_arch.rs and
// the corpus replay in the tests (crates/*/tests/fuzz_corpus.rs).
use nascent_space::nb201::Nb201Arch;

/// Feeds one input to the parser; panics only on a bug.
pub fn run(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(arch) = s.parse::<Nb201Arch>() {
        let back: Nb201Arch = arch.to_string().parse().expect("a printed arch parses");
        assert_eq!(back, arch);
    }
}
