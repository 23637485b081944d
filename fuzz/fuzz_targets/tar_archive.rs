//! `.tar.gz` (and plain `.tar`) archives of image folders: reading never panics.
#![no_main]

mod harness {
    include!("../harness/tar_archive.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
