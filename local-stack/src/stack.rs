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

use dreamreel_sigv4::Credentials;

use crate::kv::{Faults, SqliteKv};
use crate::manifest::Manifest;
use crate::objects::{ObjectStore, ObjectStoreConfig};
use crate::push::PushSettings;
use crate::runtime::Runtime;
use crate::server;
use crate::variables::Variables;

/// The bucket when the manifest names none.
pub const DEFAULT_BUCKET: &str = "dreamreel";

/// Where and how to run the stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Path of `spin.toml`.
    pub manifest: PathBuf,
    /// Folder for the key-value file, compiled components and development secrets.
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Address of the S3-compatible object store; port 0 picks a free one.
    pub objects_listen: SocketAddr,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Where compiled components are cached (default: under the data folder).
    pub compiled_dir: PathBuf,
    /// Application variable values that win over the environment (tests, tools).
    pub variables: BTreeMap<String, String>,
    /// Push services to deliver notifications to (off by default).
    pub push: PushSettings,
    /// Faults the key-value file and the object store inject, for tests
    /// (none armed by default); clones of the config share them.
    pub faults: Faults,
    /// The worker's embedding model directory (semantic prompt check, prompt
    /// embeddings for the feed); off by default, since loading it takes
    /// seconds. `DREAMREEL_EMBEDDING_MODEL` also turns it on.
    pub embedding_model: Option<PathBuf>,
}

impl StackConfig {
    /// Defaults: `spin.toml` in `root`, data under `root/.dreamreel`, port 3000.
    pub fn new(root: &Path) -> Self {
        Self {
            manifest: root.join("spin.toml"),
            data_dir: root.join(".dreamreel"),
            compiled_dir: root.join(".dreamreel").join("compiled"),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            objects_listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            max_body_bytes: server::DEFAULT_MAX_BODY_BYTES,
            variables: BTreeMap::new(),
            push: PushSettings::default(),
            faults: Faults::default(),
            embedding_model: None,
        }
    }

    /// The SQLite file behind every key-value store.
    pub fn kv_path(&self) -> PathBuf {
        self.data_dir.join("kv.sqlite")
    }
}

/// A running stack; dropping it without [`Stack::stop`] leaves the servers running.
pub struct Stack {
    /// The address the app (HTTP trigger) is bound to.
    pub addr: SocketAddr,
    /// The address of the S3-compatible object store.
    pub objects_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    worker: Option<JoinHandle<()>>,
    push: Option<std::thread::JoinHandle<()>>,
}

impl Stack {
    /// Loads everything and starts serving: the app, the object store,
    /// (when the manifest uses object storage) the worker and (when
    /// configured) push delivery.
    pub async fn start(config: &StackConfig) -> anyhow::Result<Self> {
        let manifest = Manifest::load(&config.manifest)?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
        // Bind first: the app's variables and the worker need both addresses.
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let objects_listener = TcpListener::bind(config.objects_listen)
            .await
            .with_context(|| format!("binding {}", config.objects_listen))?;
        let addr = listener.local_addr()?;
        let objects_addr = objects_listener.local_addr()?;

        let variables = Arc::new(resolve_variables(config, &manifest, objects_addr)?);
        let objects = open_object_store(config, &variables)?;
        let kv = Arc::new(SqliteKv::open(&config.kv_path())?.with_faults(config.faults.clone()));
        let (shutdown, rx) = watch::channel(false);
        let push = crate::push::start(kv.clone(), &config.push, rx.clone())?;
        let runtime = {
            let compiled_dir = config.compiled_dir.clone();
            let manifest = manifest.clone();
            let variables = variables.clone();
            // Compiling is CPU-bound; keep it off the async workers.
            tokio::task::spawn_blocking(move || {
                Runtime::new(&manifest, variables, kv, &compiled_dir)
            })
            .await??
        };

        let (events, receiver) = tokio::sync::mpsc::unbounded_channel();
        let channel = crate::worker::EventChannel {
            sender: events.clone(),
            receiver,
        };
        let worker =
            crate::worker::start(config, &variables, addr, (objects_addr, &objects), channel)?;
        let tasks = vec![
            tokio::spawn(server::serve(
                listener,
                Arc::new(runtime),
                config.max_body_bytes,
                rx.clone(),
            )),
            tokio::spawn(crate::objects::serve(
                objects_listener,
                objects,
                Arc::new(events),
                rx,
            )),
        ];
        Ok(Self {
            addr,
            objects_addr,
            shutdown,
            tasks,
            worker,
            push,
        })
    }

    /// Stops accepting connections and waits for the accept loops to end.
    /// A job the worker is running is abandoned, as in a crash; the next
    /// start releases its lease and announces it again (see `worker`).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        if let Some(worker) = self.worker {
            worker.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
        if let Some(push) = self.push {
            let _ = tokio::task::spawn_blocking(move || push.join()).await;
        }
    }
}

/// Overrides, then `SPIN_VARIABLE_*`, then defaults, then generated development
/// secrets. `s3_endpoint` points at this stack's object store unless set.
fn resolve_variables(
    config: &StackConfig,
    manifest: &Manifest,
    objects_addr: SocketAddr,
) -> anyhow::Result<Variables> {
    let mut overrides = config.variables.clone();
    if manifest.variables.contains_key("s3_endpoint")
        && std::env::var("SPIN_VARIABLE_S3_ENDPOINT").is_err()
    {
        overrides
            .entry("s3_endpoint".to_owned())
            .or_insert_with(|| format!("http://{objects_addr}"));
    }
    let secrets = crate::secrets::DevSecrets::new(config.data_dir.join("dev-secrets.json"));
    Variables::resolve(
        manifest,
        |env_name| {
            let name = env_name
                .trim_start_matches("SPIN_VARIABLE_")
                .to_ascii_lowercase();
            overrides
                .get(&name)
                .cloned()
                .or_else(|| std::env::var(env_name).ok())
        },
        |name| secrets.get_or_create(name).ok(),
    )
}

/// The object store under the data folder, accepting the app's own S3
/// credentials (`s3_access_key_id` / `s3_secret_access_key`) and holding its bucket.
fn open_object_store(config: &StackConfig, variables: &Variables) -> anyhow::Result<ObjectStore> {
    let mut store = ObjectStoreConfig::new(config.data_dir.join("objects"));
    store.faults = config.faults.clone();
    if let Some(region) = variables.app("s3_region") {
        store.region = region.to_owned();
    }
    if let (Some(key), Some(secret)) = (
        variables.app("s3_access_key_id"),
        variables.app("s3_secret_access_key"),
    ) {
        store.credentials.push(Credentials::new(key, secret));
    }
    store.buckets.push(
        variables
            .app("s3_bucket")
            .unwrap_or(DEFAULT_BUCKET)
            .to_owned(),
    );
    Ok(ObjectStore::open(store)?)
}
