//! Finds and loads ONNX Runtime, the engine behind every ONNX graph the
//! worker runs (video model stages, frame classifiers).
//!
//! `ort` is built with `load-dynamic`: nothing is linked or downloaded at
//! build time. The shared library comes from `DREAMREEL_ONNXRUNTIME` (a file
//! path; CUDA hosts point it at the `onnxruntime-gpu` wheel's library), else
//! `ORT_DYLIB_PATH`, else the PyPI `onnxruntime` wheel that `python3` imports.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use thiserror::Error;

/// Why ONNX Runtime could not be loaded.
#[derive(Debug, Clone, Error)]
pub enum OnnxRuntimeError {
    /// No library was configured and `python3` has no `onnxruntime` package.
    #[error(
        "ONNX Runtime not found: set DREAMREEL_ONNXRUNTIME to libonnxruntime's path or `pip install onnxruntime`"
    )]
    NotFound,
    /// The library exists but could not be initialised.
    #[error("ONNX Runtime at {path} failed to load: {detail}")]
    Load {
        /// The library tried.
        path: PathBuf,
        /// What ort said.
        detail: String,
    },
}

/// The shared library to load, per the order in the module docs.
pub fn library_path() -> Option<PathBuf> {
    ["DREAMREEL_ONNXRUNTIME", "ORT_DYLIB_PATH"]
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(pip_library)
}

/// `libonnxruntime.so.*` inside the `onnxruntime` package `python3` imports.
pub fn pip_library() -> Option<PathBuf> {
    let capi = crate::util::python_package_dir("onnxruntime")?.join("capi");
    library_in(&capi)
}

/// The versioned ONNX Runtime library in `dir` (not the providers' helper library).
fn library_in(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so") || n == "libonnxruntime.dylib")
        })
        .collect();
    found.sort();
    found.pop()
}

/// Loads ONNX Runtime once per process; later calls return the first result.
pub fn init() -> Result<(), OnnxRuntimeError> {
    static LOADED: OnceLock<Result<(), OnnxRuntimeError>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = library_path().ok_or(OnnxRuntimeError::NotFound)?;
            let display = path.to_string_lossy().into_owned();
            // ort reads the path lazily; committing the environment forces
            // the load now so a bad library fails here, not mid-job.
            ort::init_from(display)
                .with_name("dreamreel-worker")
                .commit()
                .map(|_| ())
                .map_err(|e| OnnxRuntimeError::Load {
                    path,
                    detail: e.to_string(),
                })
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_runtime_library_not_the_providers_helper() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "libonnxruntime_providers_shared.so",
            "libonnxruntime.so.1.32.0",
            "README",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let found = library_in(dir.path()).unwrap();
        assert_eq!(found.file_name().unwrap(), "libonnxruntime.so.1.32.0");
        assert!(library_in(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn loads_the_installed_runtime() {
        // CI installs the `onnxruntime` wheel (.ci/run); a worker host must have it too.
        init().expect("ONNX Runtime loads");
        assert!(init().is_ok(), "a second call reuses the first load");
    }
}
