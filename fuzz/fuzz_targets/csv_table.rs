//! CSV tables (features and a label column): reading never panics, with the label column
//! found by default and named `label`.
#![no_main]

mod harness {
    include!("../harness/csv_table.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
