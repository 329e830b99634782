//! Model weights mirrored from the local object store into a model directory
//! (`DREAMREEL_MODEL_SOURCE`), then loaded by the LTX backend.
//!
//! The LTX test needs ONNX Runtime, like tests/ltx_parity.rs.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{BUCKET, KEY, Objects};
use dreamreel_worker::ledger::BoxFuture;
use dreamreel_worker::model_sync::{MANIFEST, SyncError, sync, sync_configured};
use dreamreel_worker::storage::ObjectEntry;
use dreamreel_worker::{
    GenerationSpec, JobLedger, ObjectStorage, S3Storage, SqliteLedger, StorageError, Worker,
    WorkerConfig, render_clip,
};

/// Counts streamed downloads, passing everything through.
struct Counting {
    inner: S3Storage,
    downloads: AtomicUsize,
}

impl Counting {
    fn new(objects: &Objects) -> Self {
        Counting {
            inner: objects.storage(),
            downloads: AtomicUsize::new(0),
        }
    }

    fn take(&self) -> usize {
        self.downloads.swap(0, Ordering::SeqCst)
    }
}

impl ObjectStorage for Counting {
    fn get<'a>(
        &'a self,
        key: &'a str,
        limit: u64,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StorageError>> {
        self.inner.get(key, limit)
    }
    fn put<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.put(key, body, content_type)
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.delete(key)
    }
    fn list<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ObjectEntry>, StorageError>> {
        self.inner.list(prefix)
    }
    fn get_to_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<Option<ObjectEntry>, StorageError>> {
        self.downloads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_to_file(key, path)
    }
}

async fn put(storage: &dyn ObjectStorage, key: &str, body: &[u8]) {
    storage
        .put(key, body.to_vec(), "application/octet-stream")
        .await
        .unwrap();
}

/// A body bigger than one network chunk, so streaming is exercised.
fn big_body() -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn a_prefix_is_mirrored_then_kept_in_step() {
    let objects = Objects::start().await;
    let storage = Counting::new(&objects);
    let big = big_body();
    put(&storage, "models/ltx/config.json", b"{\"steps\":3}").await;
    put(&storage, "models/ltx/transformer.onnx", b"graph").await;
    put(&storage, "models/ltx/transformer.onnx.data", &big).await;
    put(&storage, "models/ltx/tokenizer/spiece.model", b"spm").await;
    // Neighbours that share the prefix's text but not its folder.
    put(&storage, "models/ltx2/config.json", b"other").await;
    put(&storage, "models/ltxv", b"other").await;

    let dir = tempfile::tempdir().unwrap();
    // A file the operator put there: never touched.
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();

    let report = sync(&storage, "models/ltx/", dir.path()).await.unwrap();
    assert_eq!((report.objects, report.downloaded), (4, 4));
    assert_eq!(report.bytes, 11 + 5 + big.len() as u64 + 3);
    assert_eq!(storage.take(), 4);
    let read = |rel: &str| std::fs::read(dir.path().join(rel)).unwrap();
    assert_eq!(read("config.json"), b"{\"steps\":3}");
    assert_eq!(read("transformer.onnx"), b"graph");
    assert!(read("transformer.onnx.data") == big, "byte-exact");
    assert_eq!(read("tokenizer/spiece.model"), b"spm");
    assert!(!dir.path().join("ltx2").exists());
    assert!(dir.path().join(MANIFEST).is_file());
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            MANIFEST,
            "config.json",
            "notes.txt",
            "tokenizer",
            "transformer.onnx",
            "transformer.onnx.data"
        ],
        "no temporary files left"
    );

    // Unchanged: nothing downloaded (the prefix without its slash is the same).
    let report = sync(&storage, "models/ltx", dir.path()).await.unwrap();
    assert_eq!((report.objects, report.downloaded, report.bytes), (4, 0, 0));
    assert_eq!(storage.take(), 0);

    // A changed object is downloaded again; only it.
    put(&storage, "models/ltx/config.json", b"{\"steps\":8}").await;
    let report = sync(&storage, "models/ltx/", dir.path()).await.unwrap();
    assert_eq!((report.downloaded, report.bytes), (1, 11));
    assert_eq!(storage.take(), 1);
    assert_eq!(read("config.json"), b"{\"steps\":8}");

    // A file damaged on disk (another size) is repaired.
    std::fs::write(dir.path().join("transformer.onnx"), b"gra").unwrap();
    let report = sync(&storage, "models/ltx/", dir.path()).await.unwrap();
    assert_eq!(report.downloaded, 1);
    assert_eq!(read("transformer.onnx"), b"graph");

    // A deleted object's file goes (this sync wrote it); the operator's stays.
    storage
        .delete("models/ltx/tokenizer/spiece.model")
        .await
        .unwrap();
    let report = sync(&storage, "models/ltx/", dir.path()).await.unwrap();
    assert_eq!(
        (report.objects, report.downloaded, report.removed),
        (3, 0, 1)
    );
    assert!(!dir.path().join("tokenizer/spiece.model").exists());
    assert_eq!(read("notes.txt"), b"mine");
}

#[tokio::test]
async fn an_empty_or_unclean_source_is_an_error() {
    let objects = Objects::start().await;
    let storage = objects.storage();
    put(&storage, "models/ltx/config.json", b"{}").await;
    let dir = tempfile::tempdir().unwrap();
    let err = sync(&storage, "models/none/", dir.path())
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Empty(_)), "{err}");
    for bad in ["/models/ltx/", "models/../models/ltx/", ""] {
        let err = sync(&storage, bad, dir.path()).await.unwrap_err();
        assert!(matches!(err, SyncError::BadPrefix(_)), "{bad:?}: {err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A store listing whatever keys it is given (some stores accept `..` in keys).
struct Listing(Vec<&'static str>);

impl ObjectStorage for Listing {
    fn get<'a>(
        &'a self,
        _key: &'a str,
        _limit: u64,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StorageError>> {
        Box::pin(async { Ok(Some(b"x".to_vec())) })
    }
    fn put<'a>(
        &'a self,
        _key: &'a str,
        _body: Vec<u8>,
        _content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async { Ok(()) })
    }
    fn delete<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async { Ok(()) })
    }
    fn list<'a>(
        &'a self,
        _prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ObjectEntry>, StorageError>> {
        let entries = self
            .0
            .iter()
            .map(|key| ObjectEntry {
                key: key.to_string(),
                size: 1,
                etag: "\"e\"".into(),
            })
            .collect();
        Box::pin(async move { Ok(entries) })
    }
}

#[tokio::test]
async fn keys_escaping_the_directory_are_refused_before_anything_is_written() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("model");
    for bad in [
        "models/ltx/../../escape",
        "models/ltx/a/../b",
        "models/ltx//etc/passwd",
        "models/ltx/./x",
        "models/ltx/.dreamreel-sync.json",
    ] {
        let storage = Listing(vec!["models/ltx/config.json", bad]);
        let err = sync(&storage, "models/ltx/", &dir).await.unwrap_err();
        assert!(matches!(err, SyncError::BadKey(_)), "{bad}: {err}");
        assert!(!dir.exists(), "{bad}: nothing written");
        assert!(!root.path().join("escape").exists());
    }
    // The same store with clean keys works (through the trait's default download).
    let storage = Listing(vec!["models/ltx/config.json", "models/ltx/sub/a.bin"]);
    let report = sync(&storage, "models/ltx/", &dir).await.unwrap();
    assert_eq!(report.downloaded, 2);
    assert_eq!(std::fs::read(dir.join("sub/a.bin")).unwrap(), b"x");
}

fn tiny_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ltx/tiny")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_ltx_export_syncs_at_start_and_renders() {
    let objects = Objects::start().await;
    let storage = objects.storage();
    for entry in std::fs::read_dir(tiny_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let name = path.file_name().unwrap().to_str().unwrap();
            let body = std::fs::read(&path).unwrap();
            put(&storage, &format!("models/ltx/{name}"), &body).await;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("ltx");
    let mut config = WorkerConfig::new(BUCKET, "http://127.0.0.1:9", KEY);
    config.model = "ltx".into();
    config.models.ltx_dir = Some(model_dir.clone());
    config.models.source = Some("models/ltx/".into());

    // What the binary does: sync, then build the configured backend.
    let report = sync_configured(&config, &storage).unwrap().unwrap();
    assert!(report.downloaded >= 5, "{report:?}");
    let ledger: Arc<dyn JobLedger> = Arc::new(SqliteLedger::in_memory().unwrap());
    let worker = Worker::with_backend(config.clone(), ledger, Arc::new(storage.clone())).unwrap();
    assert_eq!(worker.config().model, "ltx");
    let again = sync_configured(&config, &storage).unwrap().unwrap();
    assert_eq!(again.downloaded, 0);

    let model = dreamreel_worker::backends::ltx::LtxModel::load(
        &model_dir,
        dreamreel_worker::backends::ltx::Device::Cpu,
    )
    .unwrap();
    let spec = GenerationSpec {
        width: 96,
        height: 64,
        ..GenerationSpec::new(
            "a red fox in the snow",
            1_000,
            dreamreel_worker::Aspect::Landscape,
            7,
        )
    };
    let progress = |_: dreamreel_worker::Progress| {};
    let clip = tokio::task::block_in_place(|| {
        render_clip(&model, &spec, &progress, &AtomicBool::new(false))
    })
    .expect("the synced model renders");
    assert_eq!((clip.width, clip.height), (96, 64));
    assert_eq!(&clip.thumbnail[..2], &[0xFF, 0xD8]);
}

#[test]
fn no_source_means_no_sync() {
    let config = WorkerConfig::new(BUCKET, "http://127.0.0.1:9", KEY);
    let storage = Listing(vec![]);
    assert_eq!(sync_configured(&config, &storage).unwrap(), None);
}
