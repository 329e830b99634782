//! Provenance marks that every generated file carries, whatever model made it:
//! the visible [`watermark`] in the frames and a signed C2PA [`manifest`] in
//! the MP4.

pub mod dev_keys;
pub mod manifest;
pub mod watermark;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Instant;

use serde_json::json;

pub use manifest::{
    JobAssertion, ManifestSigner, ProvenanceError, SigningAlg, SigningCredentials, ValidationState,
    Verification, verify_mp4,
};
pub use watermark::{Ink, Watermark};

use crate::log::JobLog;
use crate::render::RenderedClip;

/// A signer over the development credentials kept in `dir` (made there on
/// first use): the local stack's, so local videos are signed too.
pub fn development_signer(dir: &Path) -> Result<ManifestSigner, ProvenanceError> {
    ManifestSigner::new(&dev_keys::load_or_create(dir)?.signing)
}

/// Embeds the signed manifest in `clip`'s MP4, on the blocking pool (it
/// hashes the whole file). Without a signer (test configurations only:
/// [`crate::WorkerConfig::from_env`] requires one) the clip passes unsigned,
/// with a warning in the job's log.
pub(crate) async fn sign_clip(
    signer: Option<&ManifestSigner>,
    job: JobAssertion,
    mut clip: RenderedClip,
    log: &JobLog,
) -> Result<RenderedClip, ProvenanceError> {
    let Some(signer) = signer.cloned() else {
        log.warn(
            "no C2PA signer configured: media uploaded unsigned",
            json!({}),
        );
        return Ok(clip);
    };
    let started = Instant::now();
    let unsigned = std::mem::take(&mut clip.mp4);
    let before = unsigned.len();
    clip.mp4 = tokio::task::spawn_blocking(move || signer.sign_mp4(&unsigned, &job))
        .await
        .map_err(|e| ProvenanceError::Task(e.to_string()))??;
    log.info(
        "C2PA manifest signed",
        json!({
            "sign_ms": started.elapsed().as_millis() as u64,
            "added_bytes": clip.mp4.len().saturating_sub(before),
        }),
    );
    Ok(clip)
}
