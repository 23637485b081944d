//! Lets this crate's tests and benchmarks find libtorch (and a GPU) without `LD_LIBRARY_PATH`,
//! and compiles `csrc/nascent_ops.cpp` (the libtorch operations tch does not expose: foreach
//! optimizer steps, autocast to any dtype) against the libtorch torch-sys linked.

include!("link_libtorch.rs");

fn main() {
    link_libtorch();
    // Without the `torch` feature (the fuzz targets) there is no libtorch to compile against.
    if std::env::var_os("CARGO_FEATURE_TORCH").is_some() {
        compile_ops();
    }
}

/// Compiles the C++ operations with libtorch's headers: those next to the library torch-sys
/// found (`DEP_TCH_LIBTORCH_LIB/../include`), or `LIBTORCH_INCLUDE/include` when set, as
/// torch-sys reads it.
fn compile_ops() {
    println!("cargo:rerun-if-changed=csrc/nascent_ops.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_INCLUDE");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not say where libtorch is (DEP_TCH_LIBTORCH_LIB is not set)");
    };
    let base = match std::env::var("LIBTORCH_INCLUDE") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => std::path::Path::new(&lib).join(".."),
    };
    let include = base.join("include");
    if !include.join("ATen").is_dir() {
        panic!(
            "libtorch's headers are not in {} (set LIBTORCH_INCLUDE to the folder above them)",
            include.display()
        );
    }
    let abi = cxx11_abi();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .file("csrc/nascent_ops.cpp");
    if os == "windows" {
        build.flag("/std:c++17");
    } else {
        build
            .flag("-std=c++17")
            .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
            .flag("-DGLOG_USE_GLOG_EXPORT");
    }
    build.compile("nascent_ops");
}

/// The C++ ABI libtorch was built with, found as torch-sys finds it: `LIBTORCH_CXX11_ABI`, or
/// PyTorch's own answer when libtorch comes from it (`LIBTORCH_USE_PYTORCH`), else 1.
fn cxx11_abi() -> String {
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    if let Ok(abi) = std::env::var("LIBTORCH_CXX11_ABI") {
        return abi;
    }
    if std::env::var_os("LIBTORCH_USE_PYTORCH").is_some() {
        let python = if std::env::var_os("VIRTUAL_ENV").is_some() {
            "python"
        } else {
            "python3"
        };
        let out = std::process::Command::new(python)
            .args([
                "-c",
                "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))",
            ])
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let abi = String::from_utf8_lossy(&o.stdout).trim().to_string();
                if abi == "0" || abi == "1" {
                    return abi;
                }
                panic!("{python} said the C++ ABI of torch is `{abi}` (expected 0 or 1)");
            }
            Ok(o) => panic!(
                "{python} cannot tell torch's C++ ABI: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run {python} to ask torch's C++ ABI: {e}"),
        }
    }
    "1".into()
}
