//! Study files and `--set` overrides: layering, parsing and checking never panic, and checked
//! settings print (`--dry-run`) and read back unchanged.
#![no_main]

#[path = "../../crates/nascent-cli/src/layered.rs"]
#[allow(dead_code)]
mod layered;

mod harness {
    use super::layered;
    include!("../harness/study_toml.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
