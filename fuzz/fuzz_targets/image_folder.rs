//! Image folders held in memory: the input is files separated by `<<FILE>>`, each its
//! relative path, a newline, then its bytes (PNG, JPEG, anything). Reading never panics.
#![no_main]

mod harness {
    include!("../harness/image_folder.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
