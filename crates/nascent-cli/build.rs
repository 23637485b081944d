//! Lets the `nascent` binary find libtorch without `LD_LIBRARY_PATH`: torch-sys passes the
//! libtorch directory it linked against (`DEP_TCH_LIBTORCH_LIB`), and we record it as the
//! binary's run-time search path (rpath). `LD_LIBRARY_PATH` still takes precedence, so the
//! binary can be pointed at another copy of the same libtorch (on a GPU machine, say).
//! With a CUDA build of libtorch it also keeps libtorch_cuda linked (see below).

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
        if os == "linux" || os == "macos" {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
        // With a CUDA build of libtorch, keep libtorch_cuda as a needed library: nothing names
        // its symbols, so the linker's --as-needed would drop it, and without its static
        // initialisers libtorch sees no GPU (`Device::Cuda` would be unavailable).
        if os == "linux" && std::path::Path::new(&dir).join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        }
    }
}
