//! NAS-Bench-201 arch strings: parsing never panics, and what parses prints back to itself.
#![no_main]

mod harness {
    include!("../harness/nb201_arch.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
