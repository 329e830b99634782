//! The signed C2PA manifest embedded in every generated MP4: it says a
//! trained algorithm made the clip (`c2pa.created`, IPTC digital source type
//! `trainedAlgorithmicMedia`), that Dreamreel generated the claim, and which
//! job and model produced it (`app.dreamreel.job`). The `c2pa` crate writes it
//! as a `uuid` box right after `ftyp`, moving `moov`'s chunk offsets, so the
//! file stays fast-start (`moov` before `mdat`).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use c2pa::assertions::Actions;
use c2pa::{Builder, BuilderIntent, ClaimGeneratorInfo, Context, DigitalSourceType, Reader};
use serde::{Deserialize, Serialize};
use serde_json::json;
use thiserror::Error;

/// The claim generator's name, and the created action's software agent.
pub const GENERATOR: &str = "Dreamreel";
/// Label of the assertion naming the job and the model.
pub const JOB_ASSERTION: &str = "app.dreamreel.job";
/// IPTC digital source type of media made by a trained model.
pub const TRAINED_ALGORITHMIC_MEDIA: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";
/// Validation status of a good signature whose root is not in the reader's trust list.
pub const UNTRUSTED: &str = "signingCredential.untrusted";

/// Why a manifest could not be signed or read. (`c2pa`'s errors are boxed:
/// they are large, and this one travels inside [`crate::ConfigError`].)
#[derive(Debug, Error)]
pub enum ProvenanceError {
    /// A key or certificate file could not be read.
    #[error("cannot read the C2PA {what} at {}: {source}", path.display())]
    File {
        /// Which file ("signing key", "certificate chain").
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The signing algorithm is not one the worker signs with.
    #[error("unknown C2PA signing algorithm {0:?} (known: es256, ed25519)")]
    UnknownAlgorithm(String),
    /// The key or certificate chain is not usable by the `c2pa` crate.
    #[error("unusable C2PA signing credentials: {0}")]
    Credentials(#[source] Box<c2pa::Error>),
    /// Development credentials could not be made or stored.
    #[error("development C2PA credentials: {0}")]
    Development(String),
    /// Building, signing or embedding the manifest failed.
    #[error("signing the C2PA manifest failed: {0}")]
    Sign(#[source] Box<c2pa::Error>),
    /// The signing task died.
    #[error("the C2PA signing task died: {0}")]
    Task(String),
    /// The file has no manifest, or one the reader cannot parse.
    #[error("no readable C2PA manifest: {0}")]
    Read(#[source] Box<c2pa::Error>),
}

/// Signature algorithms the worker signs with (both are in C2PA's list and
/// in `c2pa`'s pure-Rust crypto).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlg {
    /// ECDSA on P-256 with SHA-256.
    #[default]
    Es256,
    /// EdDSA on Curve25519.
    Ed25519,
}

impl SigningAlg {
    /// `es256` or `ed25519` (any case).
    pub fn parse(name: &str) -> Result<Self, ProvenanceError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "es256" => Ok(SigningAlg::Es256),
            "ed25519" => Ok(SigningAlg::Ed25519),
            _ => Err(ProvenanceError::UnknownAlgorithm(name.to_owned())),
        }
    }

    fn c2pa(self) -> c2pa::SigningAlg {
        match self {
            SigningAlg::Es256 => c2pa::SigningAlg::Es256,
            SigningAlg::Ed25519 => c2pa::SigningAlg::Ed25519,
        }
    }
}

/// A PKCS#8 private key and its certificate chain (end entity first,
/// without the root), both PEM.
#[derive(Clone)]
pub struct SigningCredentials {
    /// The key's algorithm.
    pub alg: SigningAlg,
    /// PKCS#8 PEM private key.
    pub private_key_pem: String,
    /// PEM certificates: the signing certificate, then any intermediates.
    pub cert_chain_pem: String,
}

impl std::fmt::Debug for SigningCredentials {
    // The private key is a secret: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningCredentials {
    /// From configuration values that are each either PEM text (as a secret
    /// store injects it) or the path of a PEM file.
    pub fn from_settings(key: &str, chain: &str, alg: SigningAlg) -> Result<Self, ProvenanceError> {
        let pem_or_file = |what, value: &str| {
            if value.trim_start().starts_with("-----BEGIN") {
                return Ok(value.to_owned());
            }
            std::fs::read_to_string(value).map_err(|source| ProvenanceError::File {
                what,
                path: value.into(),
                source,
            })
        };
        Ok(SigningCredentials {
            alg,
            private_key_pem: pem_or_file("signing key", key)?,
            cert_chain_pem: pem_or_file("certificate chain", chain)?,
        })
    }

    /// Reads the key and the chain from PEM files.
    pub fn from_files(key: &Path, chain: &Path, alg: SigningAlg) -> Result<Self, ProvenanceError> {
        let read = |what, path: &Path| {
            std::fs::read_to_string(path).map_err(|source| ProvenanceError::File {
                what,
                path: path.to_owned(),
                source,
            })
        };
        Ok(SigningCredentials {
            alg,
            private_key_pem: read("signing key", key)?,
            cert_chain_pem: read("certificate chain", chain)?,
        })
    }
}

/// What the manifest says about one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAssertion {
    /// The generation job's id.
    pub job_id: String,
    /// The model backend that rendered it.
    pub model: String,
}

/// Signs MP4s with one key. Cheap to clone; clones share the key.
#[derive(Clone)]
pub struct ManifestSigner {
    signer: Arc<c2pa::BoxedSigner>,
    context: Arc<Context>,
}

impl std::fmt::Debug for ManifestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestSigner")
            .field("alg", &self.signer.alg())
            .finish_non_exhaustive()
    }
}

impl ManifestSigner {
    /// A signer over `credentials`; fails on a key or chain `c2pa` cannot use.
    pub fn new(credentials: &SigningCredentials) -> Result<Self, ProvenanceError> {
        let signer = c2pa::create_signer::from_keys(
            credentials.cert_chain_pem.as_bytes(),
            credentials.private_key_pem.as_bytes(),
            credentials.alg.c2pa(),
            // No time-stamp authority: the worker makes no outside calls.
            None,
        )
        .map_err(|e| ProvenanceError::Credentials(Box::new(e)))?;
        // Every signed file is read back and checked, hashes included, before
        // it leaves: a key that does not match its certificate fails here, not
        // at the viewer. Trust is the viewer's question, so the list is skipped.
        let settings = json!({
            "verify": {
                "verify_after_sign": true,
                "verify_after_sign_hash": true,
                "verify_trust": false,
                "verify_timestamp_trust": false,
                "remote_manifest_fetch": false,
                "ocsp_fetch": false,
            },
        });
        let context = Context::new()
            .with_settings(settings)
            .map_err(|e| ProvenanceError::Credentials(Box::new(e)))?;
        Ok(ManifestSigner {
            signer: Arc::new(signer),
            context: Arc::new(context),
        })
    }

    /// `mp4` with a signed manifest for `job` embedded.
    pub fn sign_mp4(&self, mp4: &[u8], job: &JobAssertion) -> Result<Vec<u8>, ProvenanceError> {
        let sign = |e| ProvenanceError::Sign(Box::new(e));
        let mut builder = Builder::from_shared_context(&self.context);
        builder.set_intent(BuilderIntent::Create(
            DigitalSourceType::TrainedAlgorithmicMedia,
        ));
        let mut generator = ClaimGeneratorInfo::new(GENERATOR);
        generator.set_version(env!("CARGO_PKG_VERSION"));
        builder.set_claim_generator_info(generator);
        builder.definition.title = Some(format!("Dreamreel video {}", job.job_id));
        builder
            .add_action(json!({
                "action": "c2pa.created",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": {"name": GENERATOR, "version": env!("CARGO_PKG_VERSION")},
            }))
            .map_err(sign)?;
        builder.add_assertion(JOB_ASSERTION, job).map_err(sign)?;
        let mut source = Cursor::new(mp4);
        // The manifest is a few kilobytes plus the certificate chain.
        let mut dest = Cursor::new(Vec::with_capacity(mp4.len() + 64 * 1024));
        builder
            .sign(&**self.signer, "video/mp4", &mut source, &mut dest)
            .map_err(sign)?;
        Ok(dest.into_inner())
    }
}

/// How a manifest validated, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The C2PA validation state.
    pub state: ValidationState,
    /// Failure status codes of the active manifest (e.g. [`UNTRUSTED`],
    /// `assertion.bmffHash.mismatch`).
    pub failures: Vec<String>,
    /// The claim generator's name.
    pub generator: Option<String>,
    /// The `c2pa.created` action's digital source type.
    pub created_source_type: Option<String>,
    /// The job assertion.
    pub job: Option<JobAssertion>,
}

/// The C2PA validation states, strongest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationState {
    /// Broken: a hash, signature or structure check failed.
    Invalid,
    /// Intact and correctly signed, by a certificate not in the trust list.
    Valid,
    /// Intact, signed, and chaining to a trust anchor.
    Trusted,
}

/// Reads and validates the manifest in `mp4`. `trust_anchors_pem`: root
/// certificates to trust (Dreamreel's root, or the C2PA trust list); without
/// them a good signature is [`ValidationState::Valid`] with [`UNTRUSTED`].
pub fn verify_mp4(
    mp4: &[u8],
    trust_anchors_pem: Option<&str>,
) -> Result<Verification, ProvenanceError> {
    let mut settings = json!({
        "verify": {"verify_trust": true, "remote_manifest_fetch": false, "ocsp_fetch": false},
    });
    if let Some(anchors) = trust_anchors_pem {
        settings["trust"] = json!({"trust_anchors": anchors});
    }
    let context = Context::new()
        .with_settings(settings)
        .map_err(|e| ProvenanceError::Read(Box::new(e)))?;
    let reader = Reader::from_context(context)
        .with_stream("video/mp4", Cursor::new(mp4))
        .map_err(|e| ProvenanceError::Read(Box::new(e)))?;
    let state = match reader.validation_state() {
        c2pa::ValidationState::Trusted => ValidationState::Trusted,
        c2pa::ValidationState::Valid => ValidationState::Valid,
        _ => ValidationState::Invalid,
    };
    let failures = reader
        .validation_results()
        .and_then(|results| results.active_manifest())
        .map(|codes| {
            codes
                .failure()
                .iter()
                .map(|s| s.code().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let manifest = reader.active_manifest();
    let generator = manifest
        .and_then(|m| m.claim_generator_info.as_ref())
        .and_then(|info| info.first())
        .map(|info| info.name.clone());
    let created_source_type = manifest
        .and_then(|m| m.find_assertion::<Actions>(Actions::LABEL).ok())
        .and_then(|actions| {
            actions
                .actions
                .iter()
                .find(|a| a.action() == "c2pa.created")
                .and_then(|a| a.source_type())
                .and_then(|t| serde_json::to_value(t).ok())
        })
        .and_then(|t| t.as_str().map(str::to_owned));
    let job = manifest.and_then(|m| m.find_assertion(JOB_ASSERTION).ok());
    Ok(Verification {
        state,
        failures,
        generator,
        created_source_type,
        job,
    })
}
