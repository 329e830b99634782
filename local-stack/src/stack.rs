//! The whole local stack, assembled: manifest, variables, key-value file,
//! components and the HTTP server. Used by the binary and by the tests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::kv::SqliteKv;
use crate::manifest::Manifest;
use crate::runtime::Runtime;
use crate::server;
use crate::variables::Variables;

/// Where and how to run the stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Path of `spin.toml`.
    pub manifest: PathBuf,
    /// Folder for the key-value file, compiled components and development secrets.
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Where compiled components are cached (default: under the data folder).
    pub compiled_dir: PathBuf,
    /// Application variable values that win over the environment (tests, tools).
    pub variables: BTreeMap<String, String>,
}

impl StackConfig {
    /// Defaults: `spin.toml` in `root`, data under `root/.dreamreel`, port 3000.
    pub fn new(root: &Path) -> Self {
        Self {
            manifest: root.join("spin.toml"),
            data_dir: root.join(".dreamreel"),
            compiled_dir: root.join(".dreamreel").join("compiled"),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            max_body_bytes: server::DEFAULT_MAX_BODY_BYTES,
            variables: BTreeMap::new(),
        }
    }

    /// The SQLite file behind every key-value store.
    pub fn kv_path(&self) -> PathBuf {
        self.data_dir.join("kv.sqlite")
    }
}

/// A running stack; dropping it without [`Stack::stop`] leaves the server running.
pub struct Stack {
    /// The address actually bound.
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Stack {
    /// Loads everything and starts serving.
    pub async fn start(config: &StackConfig) -> anyhow::Result<Self> {
        let manifest = Manifest::load(&config.manifest)?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
        let secrets = crate::secrets::DevSecrets::new(config.data_dir.join("dev-secrets.json"));
        let variables = Arc::new(Variables::resolve(
            &manifest,
            |env_name| {
                let name = env_name
                    .trim_start_matches("SPIN_VARIABLE_")
                    .to_ascii_lowercase();
                config
                    .variables
                    .get(&name)
                    .cloned()
                    .or_else(|| std::env::var(env_name).ok())
            },
            |name| secrets.get_or_create(name).ok(),
        )?);
        let kv = Arc::new(SqliteKv::open(&config.kv_path())?);
        let runtime = {
            let compiled_dir = config.compiled_dir.clone();
            let manifest = manifest.clone();
            // Compiling is CPU-bound; keep it off the async workers.
            tokio::task::spawn_blocking(move || {
                Runtime::new(&manifest, variables, kv, &compiled_dir)
            })
            .await??
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(
            listener,
            Arc::new(runtime),
            config.max_body_bytes,
            rx,
        ));
        Ok(Self {
            addr,
            shutdown,
            task,
        })
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}
