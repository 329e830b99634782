//! Worker configuration, from code (the local stack) or `DREAMREEL_*`
//! environment variables (the Lambda binary).

use std::time::Duration;

use thiserror::Error;

use crate::callback::RetryPolicy;

/// Default attempts before a job is given up and reported failed.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default lease: renewed every third of it while the job runs, so it only
/// bounds how long a crashed worker's job waits before a retry may take it.
pub const DEFAULT_LEASE_MS: u64 = 60_000;
/// Default spacing of progress callbacks (at most two a second).
pub const DEFAULT_PROGRESS_INTERVAL_MS: u64 = 500;

/// The variable holding the OpenAI key (required when `DREAMREEL_MODEL=openai`).
pub const OPENAI_API_KEY_VAR: &str = "DREAMREEL_OPENAI_API_KEY";
/// The variable naming the weights directory of a local model (`DREAMREEL_MODEL=ltx`).
pub const MODEL_DIR_VAR: &str = "DREAMREEL_MODEL_DIR";
/// The variable naming an object-storage prefix (in the worker's bucket)
/// mirrored into the model directory at start (see [`crate::model_sync`]).
pub const MODEL_SOURCE_VAR: &str = "DREAMREEL_MODEL_SOURCE";

/// Settings of the model backends, one group per backend; only the chosen
/// backend's group must be filled.
#[derive(Debug, Clone, Default)]
pub struct ModelSettings {
    /// The remote OpenAI backend: `Some` once an API key is configured.
    pub openai: Option<crate::backends::openai::OpenAiSettings>,
    /// The `ltx` backend's exported model directory (`DREAMREEL_MODEL_DIR`).
    pub ltx_dir: Option<std::path::PathBuf>,
    /// Prefix synced into the model directory at start (`DREAMREEL_MODEL_SOURCE`).
    pub source: Option<String>,
}

/// What a [`crate::Worker`] needs to know.
#[derive(Clone)]
pub struct WorkerConfig {
    /// Bucket holding `jobs/` and `media/`; events from other buckets are skipped.
    pub bucket: String,
    /// The edge's base URL, e.g. `http://127.0.0.1:3000`.
    pub edge_base_url: String,
    /// The shared `callback_key` secret (its UTF-8 bytes, as the edge uses it).
    pub callback_key: Vec<u8>,
    /// Attempts before a failing job ends as failed (and the user's quota is refunded).
    pub max_attempts: u32,
    /// Lease length in milliseconds (renewed while the job runs).
    pub lease_ms: u64,
    /// This worker's name in the ledger (a lease token adds a random suffix).
    pub worker_id: String,
    /// Model backend name (see [`crate::backends::NAMES`]).
    pub model: String,
    /// Per-backend settings (keys, endpoints, weights).
    pub models: ModelSettings,
    /// Retries of transient callback failures.
    pub callback_retry: RetryPolicy,
    /// Least time between two progress callbacks.
    pub progress_interval: Duration,
    /// The all-MiniLM-L6-v2 model directory for the semantic prompt check
    /// (`None`: the check is skipped, with a warning at start-up).
    pub embedding_model: Option<std::path::PathBuf>,
    /// The frame policy directory (`None`: frame checks are off, with a
    /// warning at start-up). See [`crate::safety`].
    pub frame_policy: Option<std::path::PathBuf>,
    /// Signs the C2PA manifest embedded in every MP4. `None` uploads media
    /// unsigned (with a warning per job): only code-built test
    /// configurations choose that; [`WorkerConfig::from_env`] requires a key.
    pub c2pa: Option<crate::provenance::ManifestSigner>,
}

impl std::fmt::Debug for WorkerConfig {
    // The callback key is a secret: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("bucket", &self.bucket)
            .field("edge_base_url", &self.edge_base_url)
            .field("max_attempts", &self.max_attempts)
            .field("lease_ms", &self.lease_ms)
            .field("worker_id", &self.worker_id)
            .field("model", &self.model)
            .field("models", &self.models)
            .field("callback_retry", &self.callback_retry)
            .field("progress_interval", &self.progress_interval)
            .field("embedding_model", &self.embedding_model)
            .field("frame_policy", &self.frame_policy)
            .field("c2pa", &self.c2pa)
            .finish_non_exhaustive()
    }
}

/// Why the worker cannot be configured.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A required environment variable is unset or empty.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("environment variable {name} is invalid: {detail}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// No backend has that name.
    #[error("unknown model backend {0:?} (known: {known})", known = crate::backends::NAMES.join(", "))]
    UnknownModel(String),
    /// The edge URL cannot be used.
    #[error(transparent)]
    Edge(#[from] crate::callback::CallbackError),
    /// The job ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// The configured embedding model could not be loaded.
    #[error(transparent)]
    Semantic(#[from] crate::semantic::SemanticError),
    /// The configured frame policy could not be loaded.
    #[error(transparent)]
    FramePolicy(#[from] crate::safety::FrameSafetyError),
    /// The C2PA signing key or certificate chain is unusable.
    #[error(transparent)]
    Provenance(#[from] crate::provenance::ProvenanceError),
    /// The model could not be synced from object storage (`DREAMREEL_MODEL_SOURCE`).
    #[error("syncing the model from object storage: {0}")]
    ModelSync(#[from] crate::model_sync::SyncError),
}

impl WorkerConfig {
    /// Defaults for everything but the bucket, the edge and the key:
    /// 3 attempts, 60 s leases, the `local` model, a random worker id.
    pub fn new(bucket: &str, edge_base_url: &str, callback_key: &[u8]) -> Self {
        WorkerConfig {
            bucket: bucket.to_owned(),
            edge_base_url: edge_base_url.to_owned(),
            callback_key: callback_key.to_vec(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            lease_ms: DEFAULT_LEASE_MS,
            worker_id: format!("worker-{}", crate::random_hex(4)),
            model: crate::backends::local::LocalModel::NAME.to_owned(),
            models: ModelSettings::default(),
            callback_retry: RetryPolicy::default(),
            progress_interval: Duration::from_millis(DEFAULT_PROGRESS_INTERVAL_MS),
            embedding_model: None,
            frame_policy: None,
            c2pa: None,
        }
    }

    /// Reads `DREAMREEL_BUCKET`, `DREAMREEL_EDGE_URL`, `DREAMREEL_CALLBACK_KEY`
    /// (required; the key at least 32 bytes) and the optional
    /// `DREAMREEL_MAX_ATTEMPTS`, `DREAMREEL_LEASE_MS`, `DREAMREEL_WORKER_ID`
    /// (default: Lambda's log stream name, else random), `DREAMREEL_MODEL`,
    /// `DREAMREEL_PROGRESS_INTERVAL_MS`, `DREAMREEL_EMBEDDING_MODEL` (a directory),
    /// `DREAMREEL_FRAME_POLICY` (a frame policy directory), `DREAMREEL_MODEL_DIR`
    /// and `DREAMREEL_MODEL_SOURCE` (a bucket prefix synced into that directory at start).
    /// A worker must not publish unsigned media, so `DREAMREEL_C2PA_SIGN_KEY`
    /// (PKCS#8 PEM) and `DREAMREEL_C2PA_SIGN_CERT` (PEM chain, the signing
    /// certificate first), each PEM text or a file path, are required; `DREAMREEL_C2PA_SIGN_ALG` is
    /// `es256` (default) or `ed25519`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`WorkerConfig::from_env`] over any variable source (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let need = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let key = need("DREAMREEL_CALLBACK_KEY")?;
        if key.len() < 32 {
            return Err(ConfigError::Invalid {
                name: "DREAMREEL_CALLBACK_KEY",
                detail: "must be at least 32 bytes".into(),
            });
        }
        let mut config = WorkerConfig::new(
            &need("DREAMREEL_BUCKET")?,
            &need("DREAMREEL_EDGE_URL")?,
            key.as_bytes(),
        );
        if let Some(n) = number(&get, "DREAMREEL_MAX_ATTEMPTS")? {
            config.max_attempts =
                u32::try_from(n)
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "DREAMREEL_MAX_ATTEMPTS",
                        detail: "must be 1 or more".into(),
                    })?;
        }
        if let Some(ms) = number(&get, "DREAMREEL_LEASE_MS")? {
            if ms < 1_000 {
                return Err(ConfigError::Invalid {
                    name: "DREAMREEL_LEASE_MS",
                    detail: "must be at least 1000".into(),
                });
            }
            config.lease_ms = ms;
        }
        if let Some(ms) = number(&get, "DREAMREEL_PROGRESS_INTERVAL_MS")? {
            config.progress_interval = Duration::from_millis(ms);
        }
        if let Some(id) = get("DREAMREEL_WORKER_ID").or_else(|| get("AWS_LAMBDA_LOG_STREAM_NAME")) {
            config.worker_id = id;
        }
        if let Some(model) = get("DREAMREEL_MODEL") {
            config.model = model;
        }
        config.embedding_model = get("DREAMREEL_EMBEDDING_MODEL").map(Into::into);
        config.frame_policy = get("DREAMREEL_FRAME_POLICY").map(Into::into);
        config.models.openai = openai_settings(&get)?;
        config.models.ltx_dir = get(MODEL_DIR_VAR).map(Into::into);
        if config.model == crate::backends::ltx::LtxModel::NAME && config.models.ltx_dir.is_none() {
            return Err(ConfigError::Missing(MODEL_DIR_VAR));
        }
        if let Some(source) = get(MODEL_SOURCE_VAR) {
            let source = crate::model_sync::clean_prefix(source.trim()).map_err(|e| {
                ConfigError::Invalid {
                    name: MODEL_SOURCE_VAR,
                    detail: e.to_string(),
                }
            })?;
            if config.models.ltx_dir.is_none() {
                return Err(ConfigError::Missing(MODEL_DIR_VAR));
            }
            config.models.source = Some(source);
        }
        if config.model == crate::backends::openai::OpenAiModel::NAME
            && config.models.openai.is_none()
        {
            return Err(ConfigError::Missing(OPENAI_API_KEY_VAR));
        }
        config.c2pa = Some(c2pa_signer(&get)?);
        Ok(config)
    }
}

fn c2pa_signer(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<crate::provenance::ManifestSigner, ConfigError> {
    use crate::provenance::{ManifestSigner, SigningAlg, SigningCredentials};
    let key =
        get("DREAMREEL_C2PA_SIGN_KEY").ok_or(ConfigError::Missing("DREAMREEL_C2PA_SIGN_KEY"))?;
    let chain =
        get("DREAMREEL_C2PA_SIGN_CERT").ok_or(ConfigError::Missing("DREAMREEL_C2PA_SIGN_CERT"))?;
    let alg = get("DREAMREEL_C2PA_SIGN_ALG")
        .map(|name| SigningAlg::parse(&name))
        .transpose()?
        .unwrap_or_default();
    let credentials = SigningCredentials::from_settings(&key, &chain, alg)?;
    Ok(ManifestSigner::new(&credentials)?)
}

/// The OpenAI group: `DREAMREEL_OPENAI_API_KEY` turns it on; `_BASE_URL`,
/// `_MODEL`, `_ORGANIZATION`, `_PROJECT`, `_MAX_WAIT_S` and `_POLL_MS` tune it.
fn openai_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<crate::backends::openai::OpenAiSettings>, ConfigError> {
    let Some(key) = get(OPENAI_API_KEY_VAR) else {
        return Ok(None);
    };
    let mut s = crate::backends::openai::OpenAiSettings::new(key.trim());
    if let Some(url) = get("DREAMREEL_OPENAI_BASE_URL") {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "DREAMREEL_OPENAI_BASE_URL",
                detail: "must be an http(s) URL".into(),
            });
        }
        s.base_url = url;
    }
    if let Some(model) = get("DREAMREEL_OPENAI_MODEL") {
        s.model = model;
    }
    s.organization = get("DREAMREEL_OPENAI_ORGANIZATION");
    s.project = get("DREAMREEL_OPENAI_PROJECT");
    if let Some(secs) = number(get, "DREAMREEL_OPENAI_MAX_WAIT_S")? {
        s.max_wait = Duration::from_secs(secs);
    }
    if let Some(ms) = number(get, "DREAMREEL_OPENAI_POLL_MS")? {
        s.poll_interval = Duration::from_millis(ms.max(100));
    }
    Ok(Some(s))
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<u64>, ConfigError> {
    get(name)
        .map(|v| {
            v.trim().parse::<u64>().map_err(|e| ConfigError::Invalid {
                name,
                detail: e.to_string(),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    /// Development C2PA credentials in a folder: (folder, key path, chain path).
    fn c2pa_files() -> (tempfile::TempDir, String, String) {
        let dir = tempfile::tempdir().unwrap();
        crate::provenance::dev_keys::load_or_create(dir.path()).unwrap();
        let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        let (key, chain) = (path("signer.key"), path("signer.pem"));
        (dir, key, chain)
    }

    /// Everything a worker needs to start, choosing backend `model`.
    fn backend_vars<'a>(
        sign_key: &'a str,
        sign_cert: &'a str,
        model: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("DREAMREEL_BUCKET", "media"),
            ("DREAMREEL_EDGE_URL", "http://e"),
            ("DREAMREEL_CALLBACK_KEY", KEY),
            ("DREAMREEL_C2PA_SIGN_KEY", sign_key),
            ("DREAMREEL_C2PA_SIGN_CERT", sign_cert),
            ("DREAMREEL_MODEL", model),
        ]
    }

    #[test]
    fn env_config_has_defaults_and_overrides() {
        let (_dir, sign_key, sign_cert) = c2pa_files();
        let base = [
            ("DREAMREEL_BUCKET", "media"),
            ("DREAMREEL_EDGE_URL", "http://127.0.0.1:3000"),
            ("DREAMREEL_CALLBACK_KEY", KEY),
            ("DREAMREEL_C2PA_SIGN_KEY", sign_key.as_str()),
            ("DREAMREEL_C2PA_SIGN_CERT", sign_cert.as_str()),
        ];
        let c = WorkerConfig::from_lookup(lookup(&base)).unwrap();
        assert!(c.c2pa.is_some());
        assert_eq!((c.max_attempts, c.lease_ms), (3, 60_000));
        assert_eq!(c.model, "local");
        assert_eq!(c.callback_key, KEY.as_bytes());
        assert!(!format!("{c:?}").contains(KEY));

        let mut vars = base.to_vec();
        vars.extend([
            ("DREAMREEL_MAX_ATTEMPTS", "5"),
            ("DREAMREEL_LEASE_MS", "30000"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2024/11/01/[$LATEST]abc"),
        ]);
        let c = WorkerConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!((c.max_attempts, c.lease_ms), (5, 30_000));
        assert_eq!(c.worker_id, "2024/11/01/[$LATEST]abc");
        assert_eq!(c.embedding_model, None);
        vars.push(("DREAMREEL_EMBEDDING_MODEL", "/models/minilm"));
        let c = WorkerConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(c.embedding_model, Some("/models/minilm".into()));
    }

    #[test]
    fn the_ltx_backend_needs_its_model_dir() {
        let (_dir, sign_key, sign_cert) = c2pa_files();
        let mut vars = backend_vars(&sign_key, &sign_cert, "ltx");
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&vars)),
            Err(ConfigError::Missing(MODEL_DIR_VAR))
        ));
        vars.push((MODEL_DIR_VAR, "/models/ltx"));
        let c = WorkerConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(c.models.ltx_dir, Some("/models/ltx".into()));
        assert_eq!(c.models.source, None);
        vars.push((MODEL_SOURCE_VAR, "models/ltx"));
        let c = WorkerConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(c.models.source.as_deref(), Some("models/ltx/"));
        vars.pop();
        vars.push((MODEL_SOURCE_VAR, "models/../jobs/"));
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&vars)),
            Err(ConfigError::Invalid {
                name: MODEL_SOURCE_VAR,
                ..
            })
        ));
        // A source needs somewhere to land.
        let mut vars = backend_vars(&sign_key, &sign_cert, "local");
        vars.push((MODEL_SOURCE_VAR, "models/ltx/"));
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&vars)),
            Err(ConfigError::Missing(MODEL_DIR_VAR))
        ));
    }

    #[test]
    fn the_openai_backend_needs_its_key_and_never_shows_it() {
        let (_dir, sign_key, sign_cert) = c2pa_files();
        let mut vars = backend_vars(&sign_key, &sign_cert, "openai");
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&vars)),
            Err(ConfigError::Missing(OPENAI_API_KEY_VAR))
        ));
        vars.push((OPENAI_API_KEY_VAR, "sk-proj-secret-value"));
        let c = WorkerConfig::from_lookup(lookup(&vars)).unwrap();
        let openai = c.models.openai.as_ref().unwrap();
        assert_eq!(
            (openai.base_url.as_str(), openai.model.as_str()),
            ("https://api.openai.com/v1", "sora-2")
        );
        assert!(!format!("{c:?}").contains("sk-proj-secret-value"));
        vars.extend([
            ("DREAMREEL_OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
            ("DREAMREEL_OPENAI_MODEL", "sora-2-pro"),
            ("DREAMREEL_OPENAI_MAX_WAIT_S", "60"),
        ]);
        let c = WorkerConfig::from_lookup(lookup(&vars)).unwrap();
        let openai = c.models.openai.unwrap();
        assert_eq!(openai.model, "sora-2-pro");
        assert_eq!(openai.max_wait, Duration::from_secs(60));
        vars.push(("DREAMREEL_OPENAI_BASE_URL", "ftp://x"));
        let vars: Vec<_> = vars
            .into_iter()
            .filter(|(k, v)| *k != "DREAMREEL_OPENAI_BASE_URL" || *v == "ftp://x")
            .collect();
        assert!(WorkerConfig::from_lookup(lookup(&vars)).is_err());
    }

    #[test]
    fn bad_env_config_is_refused() {
        let short_key = [
            ("DREAMREEL_BUCKET", "media"),
            ("DREAMREEL_EDGE_URL", "http://e"),
            ("DREAMREEL_CALLBACK_KEY", "short"),
        ];
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&short_key)),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("DREAMREEL_CALLBACK_KEY"))
        ));
        let zero = [
            ("DREAMREEL_BUCKET", "media"),
            ("DREAMREEL_EDGE_URL", "http://e"),
            ("DREAMREEL_CALLBACK_KEY", KEY),
            ("DREAMREEL_MAX_ATTEMPTS", "0"),
        ];
        assert!(WorkerConfig::from_lookup(lookup(&zero)).is_err());
    }

    #[test]
    fn a_worker_without_a_usable_c2pa_key_does_not_start() {
        let (_dir, sign_key, sign_cert) = c2pa_files();
        let mut vars = vec![
            ("DREAMREEL_BUCKET", "media"),
            ("DREAMREEL_EDGE_URL", "http://e"),
            ("DREAMREEL_CALLBACK_KEY", KEY),
        ];
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&vars)),
            Err(ConfigError::Missing("DREAMREEL_C2PA_SIGN_KEY"))
        ));
        vars.push(("DREAMREEL_C2PA_SIGN_KEY", sign_key.as_str()));
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&vars)),
            Err(ConfigError::Missing("DREAMREEL_C2PA_SIGN_CERT"))
        ));
        vars.push(("DREAMREEL_C2PA_SIGN_CERT", "/nonexistent/chain.pem"));
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&vars)),
            Err(ConfigError::Provenance(_))
        ));
        vars.pop();
        vars.push(("DREAMREEL_C2PA_SIGN_CERT", sign_cert.as_str()));
        vars.push(("DREAMREEL_C2PA_SIGN_ALG", "rs256"));
        assert!(matches!(
            WorkerConfig::from_lookup(lookup(&vars)),
            Err(ConfigError::Provenance(_))
        ));
        // PEM text straight from a secret store works as well as a path.
        vars.pop();
        let key_pem = std::fs::read_to_string(&sign_key).unwrap();
        vars.retain(|(name, _)| *name != "DREAMREEL_C2PA_SIGN_KEY");
        vars.push(("DREAMREEL_C2PA_SIGN_KEY", key_pem.as_str()));
        assert!(
            WorkerConfig::from_lookup(lookup(&vars))
                .unwrap()
                .c2pa
                .is_some()
        );
    }
}
