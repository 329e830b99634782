//! Shared helpers for the end-to-end tests: build the components once, start
//! the local stack on a free port with a private data folder, and talk HTTP.

pub mod http;
pub mod native;
pub mod openapi;

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

    /// Like [`TestApp::call`], and the response must match docs/openapi.json.
    pub fn api(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        let reply = self.call(method, path, token, body);
        openapi::assert_conforms(method, path, reply.status, &reply.body);
        reply
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            self.runtime.block_on(stack.stop());
        }
    }
}
