//! CIFAR binary batches: the first byte picks CIFAR-10 (even) or CIFAR-100 (odd), the rest is
//! a batch file, made into a dataset; errors are fine, panics are not.
#![no_main]

mod harness {
    include!("../harness/cifar.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
