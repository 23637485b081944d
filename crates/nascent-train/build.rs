//! Lets this crate's tests and benchmarks find libtorch (and a GPU) without `LD_LIBRARY_PATH`.

include!("link_libtorch.rs");

fn main() {
    link_libtorch();
}
