//! Objects on local disk.
//!
//! Layout: `root/{bucket}/{sha256(key)}` holds one object: the body, then its
//! metadata as JSON, then the JSON's length (u32 LE) and a 4-byte magic.
//! One file per object means one rename publishes body and metadata
//! together, so a crash leaves either the old object or the new one, never a
//! mix. Hashed names keep any key (up to 1024 bytes, any characters) a short,
//! safe file name. New objects are written under `root/.tmp/` first.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dreamreel_sigv4::{Credentials, Verifier, hex};
use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ObjectError;
use super::list::{ListPage, ListQuery};
use super::names::{check_bucket, check_key};

/// Default limit on one object's size: 256 MiB.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 256 << 20;
/// S3's limit on user metadata (names and values together).
pub const MAX_METADATA_BYTES: usize = 2048;

const MAGIC: &[u8; 4] = b"DRO1";
const TMP_DIR: &str = ".tmp";
/// Temp files older than this are left over from a crash.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// How the store is set up.
#[derive(Debug, Clone)]
pub struct ObjectStoreConfig {
    /// Directory holding one sub-directory per bucket.
    pub root: PathBuf,
    /// Region that signatures must be scoped to and events report.
    pub region: String,
    /// Access keys allowed to use the store.
    pub credentials: Vec<Credentials>,
    /// Buckets created at start if missing.
    pub buckets: Vec<String>,
    /// Largest object accepted.
    pub max_object_bytes: u64,
    /// `configurationId` in event notifications.
    pub notification_id: String,
    /// Faults to inject (object PUTs refused with 503), for tests; none by default.
    pub faults: crate::kv::Faults,
}

impl ObjectStoreConfig {
    /// Defaults: `us-east-1`, no credentials, no buckets, 256 MiB objects.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ObjectStoreConfig {
            root: root.into(),
            region: "us-east-1".to_owned(),
            credentials: Vec::new(),
            buckets: Vec::new(),
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            notification_id: "dreamreel-local".to_owned(),
            faults: crate::kv::Faults::default(),
        }
    }
}

/// A stored object's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// The object key.
    pub key: String,
    /// Body length in bytes.
    pub size: u64,
    /// Quoted hex MD5 of the body, as S3 returns for single-part uploads.
    pub etag: String,
    /// When it was written, Unix milliseconds.
    pub last_modified_ms: u64,
    /// `Content-Type` given at upload (S3's default otherwise).
    pub content_type: String,
    /// Other standard headers given at upload and returned on reads
    /// (`cache-control`, `content-disposition`, ...), lower-case names.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// User metadata: `x-amz-meta-{name}` without the prefix, lower-case names.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// What to store alongside a body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// `Content-Type`; S3 stores `binary/octet-stream` when absent.
    pub content_type: Option<String>,
    /// Standard headers to return on reads, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// User metadata, names without `x-amz-meta-`.
    pub metadata: BTreeMap<String, String>,
}

/// Integrity checks on an upload's body.
#[derive(Debug, Clone, Default)]
pub(crate) struct PutChecks {
    /// Signed hex SHA-256 the body must match.
    pub sha256_hex: Option<String>,
    /// `Content-MD5` the body must match.
    pub md5: Option<[u8; 16]>,
}

/// An S3-compatible object store rooted in a local directory. Cheap to clone.
#[derive(Clone)]
pub struct ObjectStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: ObjectStoreConfig,
    verifier: Verifier<Vec<Credentials>>,
    /// Feeds event `sequencer`s; seeded from the clock so they keep rising
    /// across restarts.
    sequence: AtomicU64,
}

impl ObjectStore {
    /// Creates the root, the configured buckets and clears stale temp files.
    pub fn open(config: ObjectStoreConfig) -> Result<Self, ObjectError> {
        let tmp = config.root.join(TMP_DIR);
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let entry = entry?;
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| t.elapsed().unwrap_or_default() > STALE_TMP)
                .unwrap_or(false);
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
        for bucket in &config.buckets {
            check_bucket(bucket)?;
            fs::create_dir_all(config.root.join(bucket))?;
        }
        Ok(ObjectStore {
            inner: Arc::new(Inner {
                verifier: Verifier::new(&config.region, config.credentials.clone()),
                config,
                sequence: AtomicU64::new(unix_nanos()),
            }),
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &ObjectStoreConfig {
        &self.inner.config
    }

    /// Stores `body` under `bucket`/`key`, replacing any previous object atomically.
    pub async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        options: PutOptions,
    ) -> Result<ObjectInfo, ObjectError> {
        let (store, bucket, key) = (self.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || {
            let mut put = store.begin_put(&bucket, &key, options, PutChecks::default())?;
            put.write(&body)?;
            put.commit()
        })
        .await
    }

    /// Reads a whole object.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<(ObjectInfo, Bytes), ObjectError> {
        let (store, bucket, key) = (self.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || {
            let (mut file, info) = store.open_object(&bucket, &key)?;
            let mut body = vec![0; info.size as usize];
            file.read_exact(&mut body)?;
            Ok((info, Bytes::from(body)))
        })
        .await
    }

    /// An object's metadata.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, ObjectError> {
        let (store, bucket, key) = (self.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || store.open_object(&bucket, &key).map(|(_, info)| info)).await
    }

    /// Deletes an object; deleting a missing key succeeds, as in S3.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), ObjectError> {
        let (store, bucket, key) = (self.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || store.delete_object(&bucket, &key)).await
    }

    /// One page of a bucket's keys, in key order.
    pub async fn list(&self, bucket: &str, query: &ListQuery) -> Result<ListPage, ObjectError> {
        let (store, bucket, query) = (self.clone(), bucket.to_owned(), query.clone());
        blocking(move || super::list::page(&store.scan(&bucket)?, &query)).await
    }

    /// Creates a bucket; `false` when it already existed.
    pub async fn create_bucket(&self, bucket: &str) -> Result<bool, ObjectError> {
        check_bucket(bucket)?;
        let dir = self.inner.config.root.join(bucket);
        blocking(move || {
            if dir.is_dir() {
                return Ok(false);
            }
            fs::create_dir_all(&dir)?;
            Ok(true)
        })
        .await
    }

    /// Names of all buckets, sorted.
    pub async fn buckets(&self) -> Result<Vec<String>, ObjectError> {
        let root = self.inner.config.root.clone();
        blocking(move || {
            let mut names = Vec::new();
            for entry in fs::read_dir(root)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type()?.is_dir() && check_bucket(&name).is_ok() {
                    names.push(name);
                }
            }
            names.sort();
            Ok(names)
        })
        .await
    }

    /// Whether a bucket exists.
    pub fn bucket_exists(&self, bucket: &str) -> bool {
        self.bucket_dir(bucket).is_ok()
    }

    /// Checks requests against the configured credentials and region.
    pub(crate) fn verifier(&self) -> &Verifier<Vec<Credentials>> {
        &self.inner.verifier
    }

    /// The next event `sequencer`: upper-case hex that sorts in write order.
    pub(crate) fn next_sequencer(&self) -> String {
        format!(
            "{:016X}",
            self.inner.sequence.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, ObjectError> {
        check_bucket(bucket)?;
        let dir = self.inner.config.root.join(bucket);
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(ObjectError::NoSuchBucket(bucket.to_owned()))
        }
    }

    /// Starts an upload into a temp file; nothing is visible until `commit`.
    pub(crate) fn begin_put(
        &self,
        bucket: &str,
        key: &str,
        options: PutOptions,
        checks: PutChecks,
    ) -> Result<PendingPut, ObjectError> {
        check_key(key)?;
        let metadata_bytes: usize = options
            .metadata
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if metadata_bytes > MAX_METADATA_BYTES {
            return Err(ObjectError::MetadataTooLarge);
        }
        let dir = self.bucket_dir(bucket)?;
        let temp = self
            .inner
            .config
            .root
            .join(TMP_DIR)
            .join(format!("{}.part", random_hex(12)));
        let file = BufWriter::with_capacity(256 << 10, File::create_new(&temp)?);
        Ok(PendingPut {
            file: Some(file),
            target: object_path(&dir, key),
            dir,
            temp,
            key: key.to_owned(),
            options,
            md5: Md5::new(),
            sha256: checks.sha256_hex.as_ref().map(|_| Sha256::new()),
            checks,
            size: 0,
            limit: self.inner.config.max_object_bytes,
        })
    }

    /// Opens an object for reading; the handle keeps reading this version
    /// even if the key is overwritten meanwhile.
    pub(crate) fn open_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(File, ObjectInfo), ObjectError> {
        check_key(key)?;
        let path = object_path(&self.bucket_dir(bucket)?, key);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ObjectError::NoSuchKey(key.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let info = read_info(&mut file)?;
        if info.key != key {
            return Err(ObjectError::Corrupt(format!(
                "{} holds `{}`",
                path.display(),
                info.key
            )));
        }
        file.seek(SeekFrom::Start(0))?;
        Ok((file, info))
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ObjectError> {
        check_key(key)?;
        match fs::remove_file(object_path(&self.bucket_dir(bucket)?, key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Every object's metadata in a bucket, sorted by key. A local store
    /// holds few objects, so reading each file's footer beats keeping an
    /// index that could drift from the files.
    pub(crate) fn scan(&self, bucket: &str) -> Result<Vec<ObjectInfo>, ObjectError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.bucket_dir(bucket)?)? {
            let path = entry?.path();
            // Deleted since read_dir, or not ours: not part of the listing.
            let Ok(mut file) = File::open(&path) else {
                continue;
            };
            if let Ok(info) = read_info(&mut file) {
                out.push(info);
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// An upload in progress. Dropping it without `commit` deletes the temp file.
pub(crate) struct PendingPut {
    file: Option<BufWriter<File>>,
    temp: PathBuf,
    target: PathBuf,
    dir: PathBuf,
    key: String,
    options: PutOptions,
    md5: Md5,
    sha256: Option<Sha256>,
    checks: PutChecks,
    size: u64,
    limit: u64,
}

impl PendingPut {
    /// Appends body bytes, refusing to grow past the size limit.
    pub fn write(&mut self, data: &[u8]) -> Result<(), ObjectError> {
        self.size += data.len() as u64;
        if self.size > self.limit {
            return Err(ObjectError::EntityTooLarge(self.limit));
        }
        self.md5.update(data);
        if let Some(sha) = &mut self.sha256 {
            sha.update(data);
        }
        self.file
            .as_mut()
            .expect("open until commit")
            .write_all(data)?;
        Ok(())
    }

    /// Checks the body, writes the metadata footer, syncs and publishes the
    /// object with one rename.
    pub fn commit(mut self) -> Result<ObjectInfo, ObjectError> {
        if let (Some(sha), Some(expected)) = (self.sha256.take(), &self.checks.sha256_hex)
            && hex(&sha.finalize()) != *expected
        {
            return Err(ObjectError::ContentSha256Mismatch);
        }
        let md5: [u8; 16] = std::mem::take(&mut self.md5).finalize().into();
        if self.checks.md5.is_some_and(|expected| expected != md5) {
            return Err(ObjectError::BadDigest);
        }
        let options = std::mem::take(&mut self.options);
        let info = ObjectInfo {
            key: self.key.clone(),
            size: self.size,
            etag: format!("\"{}\"", hex(&md5)),
            last_modified_ms: unix_nanos() / 1_000_000,
            content_type: options
                .content_type
                .unwrap_or_else(|| "binary/octet-stream".to_owned()),
            headers: options.headers,
            metadata: options.metadata,
        };
        let json = serde_json::to_vec(&info).map_err(io::Error::other)?;
        let mut file = self.file.take().expect("open until commit");
        file.write_all(&json)?;
        file.write_all(&(json.len() as u32).to_le_bytes())?;
        file.write_all(MAGIC)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        // The data must be on disk before the rename makes it the object.
        file.sync_all()?;
        fs::rename(&self.temp, &self.target)?;
        // Persist the rename itself; not every platform can open a directory.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(info)
    }
}

impl Drop for PendingPut {
    fn drop(&mut self) {
        // After a successful rename the temp path is gone and this is a no-op.
        self.file = None;
        let _ = fs::remove_file(&self.temp);
    }
}

fn object_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(hex(&Sha256::digest(key.as_bytes())))
}

/// Reads the metadata footer and checks it against the file's length.
fn read_info(file: &mut File) -> Result<ObjectInfo, ObjectError> {
    let corrupt = |why: &str| ObjectError::Corrupt(why.to_owned());
    let len = file.metadata()?.len();
    if len < 8 {
        return Err(corrupt("shorter than its footer"));
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::Start(len - 8))?;
    file.read_exact(&mut tail)?;
    if &tail[4..] != MAGIC {
        return Err(corrupt("no footer magic"));
    }
    let json_len = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
    let size = len
        .checked_sub(8 + json_len)
        .ok_or_else(|| corrupt("footer longer than the file"))?;
    let mut json = vec![0; json_len as usize];
    file.seek(SeekFrom::Start(size))?;
    file.read_exact(&mut json)?;
    let info: ObjectInfo =
        serde_json::from_slice(&json).map_err(|e| corrupt(&format!("metadata: {e}")))?;
    if info.size != size {
        return Err(corrupt("size does not match the file"));
    }
    Ok(info)
}

/// Runs file-system work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ObjectError> + Send + 'static,
) -> Result<T, ObjectError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ObjectError::Io(io::Error::other(e)))?
}

/// `n` random bytes as hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    hex(&bytes)
}

pub(crate) fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
