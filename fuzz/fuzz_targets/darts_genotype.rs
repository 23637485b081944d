//! DARTS genotypes (the Python notation): parsing never panics, and what parses prints back
//! to a genotype equal to it.
#![no_main]

mod harness {
    include!("../harness/darts_genotype.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
