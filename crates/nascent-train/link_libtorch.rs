// The build scripts of nascent-train, nascent-oneshot and nascent-cli `include!` this file.

/// Records the libtorch directory torch-sys linked against (`DEP_TCH_LIBTORCH_LIB`) as the
/// run-time search path (rpath) of this crate's binaries, tests and benchmarks, so they find
/// libtorch without `LD_LIBRARY_PATH` (which still takes precedence: a binary can be pointed
/// at another copy of the same libtorch, on a GPU machine say). With a CUDA build of libtorch
/// it keeps libtorch_cuda a needed library: nothing names its symbols, so the linker's
/// `--as-needed` would drop it, and without its static initialisers libtorch sees no GPU
/// (`Device::Cuda` would be unavailable).
fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
        if os == "linux" || os == "macos" {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
        if os == "linux" && std::path::Path::new(&dir).join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        }
    }
}
