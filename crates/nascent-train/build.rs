//! Lets this crate's tests, benchmarks and examples find libtorch without `LD_LIBRARY_PATH`:
//! torch-sys passes the libtorch directory it linked against (`DEP_TCH_LIBTORCH_LIB`), and we
//! record it as a run-time search path (rpath) of those binaries.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
        if os == "linux" || os == "macos" {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
        // With a CUDA build of libtorch, keep libtorch_cuda linked (--as-needed would drop it,
        // and libtorch would then see no GPU).
        if os == "linux" && std::path::Path::new(&dir).join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        }
    }
}
