//! Storage URLs: parsing never panics.
#![no_main]

mod harness {
    include!("../harness/storage_url.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
