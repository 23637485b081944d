//! Lets this crate's tests find libtorch (and a GPU) without `LD_LIBRARY_PATH`.

include!("../nascent-train/link_libtorch.rs");

fn main() {
    link_libtorch();
}
