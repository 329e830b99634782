//! Model weights mirrored from object storage into the model directory at
//! start (`DREAMREEL_MODEL_SOURCE`), before the backend loads them.
//!
//! Each object under the prefix lands at the same relative path, streamed to
//! a temporary file and renamed into place, so a crash never leaves a
//! half-written file under a real name. A manifest (`.dreamreel-sync.json`)
//! remembers the ETag and size of every file this sync wrote: an unchanged
//! object is not downloaded again, and only files the manifest lists are ever
//! replaced or removed.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::storage::{ObjectStorage, StorageError};

/// The manifest's file name in the model directory.
pub const MANIFEST: &str = ".dreamreel-sync.json";

/// Why the model could not be synced; the worker does not start.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The configured prefix is not a clean relative prefix.
    #[error("model source {0:?} is not a clean relative prefix like models/ltx/")]
    BadPrefix(String),
    /// Nothing is stored under the prefix (a typo, or the export was never uploaded).
    #[error("no objects under {0:?}: upload the export first")]
    Empty(String),
    /// A key would land outside the model directory.
    #[error("refusing object {0:?}: its path is not a clean relative path")]
    BadKey(String),
    /// The object store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// An object vanished between listing and download.
    #[error("object {0} disappeared during the sync")]
    Vanished(String),
    /// The model directory could not be written.
    #[error("model directory {path}: {detail}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Objects under the prefix.
    pub objects: usize,
    /// Objects downloaded (new or changed).
    pub downloaded: usize,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Files removed because their object is gone (only files this sync wrote).
    pub removed: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// Relative path -> what was downloaded there.
    files: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    etag: String,
    size: u64,
}

/// `prefix` as a clean relative prefix ending in `/`, or why not.
pub fn clean_prefix(prefix: &str) -> Result<String, SyncError> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if clean_relative(trimmed).is_none() {
        return Err(SyncError::BadPrefix(prefix.to_owned()));
    }
    Ok(format!("{trimmed}/"))
}

/// `rel` as a path of plain segments (no `..`, `.`, empty or absolute parts).
fn clean_relative(rel: &str) -> Option<PathBuf> {
    if rel.is_empty() || rel.contains('\\') || rel.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for segment in rel.split('/') {
        let mut parts = Path::new(segment).components();
        match (parts.next(), parts.next()) {
            (Some(Component::Normal(s)), None) if s == segment => out.push(s),
            _ => return None,
        }
    }
    Some(out)
}

/// Mirrors every object under `prefix` into `dir` (see the module docs).
pub async fn sync(
    storage: &dyn ObjectStorage,
    prefix: &str,
    dir: &Path,
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let prefix = clean_prefix(prefix)?;
    let listed = storage.list(&prefix).await?;
    // "Folder" markers some tools create carry no file.
    let listed: Vec<_> = listed
        .into_iter()
        .filter(|o| !o.key.ends_with('/'))
        .collect();
    if listed.is_empty() {
        return Err(SyncError::Empty(prefix));
    }
    // Every key is checked before anything is written.
    let mut wanted = Vec::with_capacity(listed.len());
    for object in listed {
        let rel = &object.key[prefix.len()..];
        let path = clean_relative(rel).ok_or_else(|| SyncError::BadKey(object.key.clone()))?;
        if rel == MANIFEST {
            return Err(SyncError::BadKey(object.key));
        }
        wanted.push((rel.to_owned(), path, object));
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let manifest_path = dir.join(MANIFEST);
    let mut manifest = read_manifest(&manifest_path)?;
    let mut report = SyncReport {
        objects: wanted.len(),
        ..Default::default()
    };
    for (rel, path, object) in &wanted {
        let target = dir.join(path);
        let entry = Entry {
            etag: object.etag.clone(),
            size: object.size,
        };
        let on_disk = std::fs::metadata(&target).ok().map(|m| m.len());
        if manifest.files.get(rel) == Some(&entry) && on_disk == Some(object.size) {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let part = part_path(&target);
        let got = match storage.get_to_file(&object.key, &part).await {
            Ok(Some(got)) => got,
            Ok(None) => {
                let _ = std::fs::remove_file(&part);
                return Err(SyncError::Vanished(object.key.clone()));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e.into());
            }
        };
        std::fs::rename(&part, &target).map_err(|e| io(&target, e))?;
        report.downloaded += 1;
        report.bytes += got.size;
        // The GET's ETag describes the bytes written, even if the object
        // changed since the listing.
        let etag = if got.etag.is_empty() {
            object.etag.clone()
        } else {
            got.etag
        };
        manifest.files.insert(
            rel.clone(),
            Entry {
                etag,
                size: got.size,
            },
        );
        // Saved per file: a restart after a crash resumes, not restarts.
        write_manifest(&manifest_path, &manifest)?;
    }
    // Files this sync wrote whose object is gone: stale weights must not linger.
    let stale: Vec<String> = manifest
        .files
        .keys()
        .filter(|rel| !wanted.iter().any(|(w, _, _)| w == *rel))
        .cloned()
        .collect();
    for rel in stale {
        if let Some(path) = clean_relative(&rel) {
            match std::fs::remove_file(dir.join(path)) {
                Ok(()) => report.removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&dir.join(&rel), e)),
            }
        }
        manifest.files.remove(&rel);
    }
    write_manifest(&manifest_path, &manifest)?;
    crate::log::worker_event(
        "info",
        "model synced",
        serde_json::json!({
            "source": prefix,
            "dir": dir.display().to_string(),
            "objects": report.objects,
            "downloaded": report.downloaded,
            "bytes": report.bytes,
            "removed": report.removed,
            "seconds": started.elapsed().as_secs_f64(),
        }),
    );
    Ok(report)
}

/// Syncs the configured model source, if any, into the model directory,
/// blocking until done: call it before [`crate::Worker::with_backend`].
pub fn sync_configured(
    config: &crate::WorkerConfig,
    storage: &dyn ObjectStorage,
) -> Result<Option<SyncReport>, crate::ConfigError> {
    let Some(source) = &config.models.source else {
        return Ok(None);
    };
    let dir = config
        .models
        .ltx_dir
        .as_ref()
        .ok_or(crate::ConfigError::Missing(crate::config::MODEL_DIR_VAR))?;
    let run = sync(storage, source, dir);
    let report = match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(run))?
        }
        // block_in_place would panic on a single-threaded runtime.
        Ok(_) => {
            return Err(io(
                dir,
                "a blocking sync needs a multi-threaded runtime; await sync()",
            )
            .into());
        }
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| io(dir, e))?
            .block_on(run)?,
    };
    Ok(Some(report))
}

fn part_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.dreamreel-part"))
}

fn read_manifest(path: &Path) -> Result<Manifest, SyncError> {
    match std::fs::read(path) {
        // An unreadable manifest only costs a fresh download.
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(io(path, e)),
    }
}

fn write_manifest(path: &Path, manifest: &Manifest) -> Result<(), SyncError> {
    let part = part_path(path);
    let body = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
    std::fs::write(&part, body).map_err(|e| io(&part, e))?;
    std::fs::rename(&part, path).map_err(|e| io(path, e))
}

fn io(path: &Path, e: impl std::fmt::Display) -> SyncError {
    SyncError::Io {
        path: path.to_owned(),
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_must_be_clean_and_relative() {
        assert_eq!(clean_prefix("models/ltx/").unwrap(), "models/ltx/");
        assert_eq!(clean_prefix("models/ltx").unwrap(), "models/ltx/");
        for bad in [
            "",
            "/",
            "/models/ltx/",
            "models//ltx/",
            "models/../x/",
            "./models/",
            "models/./x",
            "..",
            "a\\b/",
        ] {
            assert!(clean_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_must_stay_inside_the_directory() {
        assert_eq!(
            clean_relative("vae/decoder.onnx.data"),
            Some(PathBuf::from("vae/decoder.onnx.data"))
        );
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a/",
            "",
        ] {
            assert!(clean_relative(bad).is_none(), "{bad:?}");
        }
    }
}
