//! Lets the `nascent` binary find libtorch without `LD_LIBRARY_PATH`: torch-sys passes the
//! libtorch directory it linked against (`DEP_TCH_LIBTORCH_LIB`), and we record it as the
//! binary's run-time search path (rpath). `LD_LIBRARY_PATH` still takes precedence, so the
//! binary can be pointed at another copy of the same libtorch (on a GPU machine, say).

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
        if os == "linux" || os == "macos" {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
