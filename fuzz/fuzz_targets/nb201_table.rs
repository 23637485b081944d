//! The NAS-Bench-201 tables (`nb201.csv`, `nb201_latency_ms.csv`): reading never panics.
#![no_main]

mod harness {
    include!("../harness/nb201_table.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
