//! Chain architectures (`layer,layer,...`): parsing never panics, and what parses prints back
//! to itself.
#![no_main]

mod harness {
    include!("../harness/chain_arch.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
