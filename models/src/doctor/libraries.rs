//! Shared libraries resolved the way the CUDA provider will resolve them: by name, through
//! the dynamic loader (`LD_LIBRARY_PATH`, the loader cache, the system folders), with the
//! loader's own message when one is missing.

use std::path::PathBuf;

use serde::Serialize;

/// One library and what the dynamic loader made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LibraryCheck {
    /// The name asked for (a soname such as `libcudart.so.13`, or a path).
    pub name: String,
    /// The file the loader mapped, when it loaded (Linux: read from `/proc/self/maps`).
    pub path: Option<PathBuf>,
    /// The loader's message, when it did not load.
    pub error: Option<String>,
}

/// The libraries the `onnxruntime-gpu==1.31.1` CUDA provider needs, by soname: the
/// driver's `libcuda.so.1`, then CUDA 13's runtime, cuBLAS, cuBLASLt, cuFFT, cuRAND and
/// cuDNN 9 (what `ldd libonnxruntime_providers_cuda.so` of that wheel lists).
pub fn cuda_library_names() -> &'static [&'static str] {
    if cfg!(windows) {
        &[
            "nvcuda.dll",
            "cudart64_13.dll",
            "cublas64_13.dll",
            "cublasLt64_13.dll",
            "cufft64_12.dll",
            "curand64_10.dll",
            "cudnn64_9.dll",
        ]
    } else {
        &[
            "libcuda.so.1",
            "libcudart.so.13",
            "libcublas.so.13",
            "libcublasLt.so.13",
            "libcufft.so.12",
            "libcurand.so.10",
            "libcudnn.so.9",
        ]
    }
}

/// Asks the dynamic loader for `name` (a soname or a path), then lets it go again.
pub fn resolve_library(name: &str) -> LibraryCheck {
    match open(name) {
        Ok(lib) => {
            let path = mapped_path(name);
            drop(lib);
            LibraryCheck {
                name: name.to_string(),
                path,
                error: None,
            }
        }
        Err(e) => LibraryCheck {
            name: name.to_string(),
            path: None,
            error: Some(loader_message(&e)),
        },
    }
}

#[allow(
    unsafe_code,
    reason = "dlopen is the one way to ask the dynamic loader what it resolves; see SAFETY"
)]
fn open(name: &str) -> Result<libloading::Library, libloading::Error> {
    // SAFETY: loading a library runs its initialisers. The libraries opened here are the
    // CUDA, cuDNN and ONNX Runtime provider libraries that ONNX Runtime itself loads into
    // this process when a CUDA session starts; their initialisers only register their own
    // state. No symbol is looked up or called, and the handle is closed again at once.
    unsafe { libloading::Library::new(name) }
}

/// The loader's own message (`dlerror()`), without libloading's "dlopen failed" wrapping.
fn loader_message(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => source.to_string(),
        None => e.to_string(),
    }
}

/// The file mapped for `name` (Linux): the first mapping whose file name starts with the
/// soname, or the path itself when `name` is one.
fn mapped_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            std::path::Path::new(p)
                .file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with(name))
        })
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_gives_the_loaders_message() {
        let c = resolve_library("libimg23d_does_not_exist.so.7");
        assert!(c.path.is_none());
        let e = c.error.unwrap();
        assert!(e.contains("libimg23d_does_not_exist.so.7"), "{e}");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_present_library_resolves_to_its_file() {
        // The C library is always there and always mapped.
        let c = resolve_library("libc.so.6");
        assert_eq!(c.error, None);
        let p = c.path.expect("libc.so.6 is mapped");
        assert!(p.to_string_lossy().contains("libc"), "{p:?}");
    }

    #[test]
    fn a_file_that_is_no_library_gives_the_loaders_message() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("libonnxruntime_providers_cuda.so");
        std::fs::write(&f, b"not an ELF file").unwrap();
        let c = resolve_library(&f.to_string_lossy());
        let e = c.error.unwrap();
        assert!(e.contains("libonnxruntime_providers_cuda.so"), "{e}");
    }
}
