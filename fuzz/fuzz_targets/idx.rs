//! IDX files (MNIST), gzipped or not: the input is a 4-byte little-endian length, an image
//! file of that length, then a label file. Each is parsed, and the pair made into a dataset;
//! errors are fine, panics are not.
#![no_main]

mod harness {
    include!("../harness/idx.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
