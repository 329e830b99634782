//! Test harness: the local S3-compatible store as the worker's storage, and
//! a stand-in edge that verifies callback signatures and records every call.

#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dreamreel_core::cameo::cast::CastMember;
use dreamreel_core::jobs::callback::{NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use dreamreel_core::jobs::{CallbackAuth, JobSpec};
use dreamreel_local::objects::{ObjectStore, ObjectStoreConfig, serve};
use dreamreel_worker::{
    AwsSettings, FrameSink, GenerationSpec, JobControl, JobLedger, LocalModel, ModelError,
    ObjectStorage, RetryPolicy, S3Storage, Soundtrack, SqliteLedger, VideoModel, Worker,
    WorkerConfig,
};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub const KEY: &[u8] = b"test-callback-key-0123456789abcdef";
pub const BUCKET: &str = "media";
const ACCESS_KEY: &str = "AKIDWORKERTEST";
const SECRET_KEY: &str = "worker/secret+key";

/// A fresh job id: 26 upper-case alphanumerics, like a ULID.
pub fn job_id() -> String {
    format!(
        "01J{}",
        &dreamreel_worker::random_hex(12).to_uppercase()[..23]
    )
}

/// A valid one-second square spec for `job_id`.
pub fn spec(job_id: &str) -> JobSpec {
    JobSpec {
        job_id: job_id.to_owned(),
        owner: "01JUSER0000000000000000000".to_owned(),
        prompt: "a red fox running through fresh snow".to_owned(),
        duration_ms: 1_000,
        aspect: "1:1".to_owned(),
        seed: 7,
        remix_of: None,
        cameos: Vec::new(),
        cast: Vec::new(),
        request_id: format!("req-{job_id}"),
        created_at: "2024-11-01T12:00:00Z".to_owned(),
    }
}

/// One callback the edge received.
#[derive(Debug, Clone)]
pub struct Call {
    pub job_id: String,
    pub action: String,
    pub body: Value,
    /// Signature valid, fresh, and its nonce never seen before.
    pub signed: bool,
    pub request_id: Option<String>,
}

/// What the stand-in edge answers to `start`.
#[derive(Debug, Clone)]
pub enum StartReply {
    Proceed,
    Refuse(&'static str),
    Status(u16),
}

/// The stand-in edge.
pub struct Edge {
    pub url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    start: Arc<Mutex<StartReply>>,
    broken_fails: Arc<AtomicU32>,
    _shutdown: watch::Sender<bool>,
}

impl Edge {
    pub async fn start() -> Edge {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let start = Arc::new(Mutex::new(StartReply::Proceed));
        let nonces = Arc::new(Mutex::new(HashSet::new()));
        let (shutdown, rx) = watch::channel(false);
        let broken_fails = Arc::new(AtomicU32::new(0));
        let (c, s, b) = (calls.clone(), start.clone(), broken_fails.clone());
        tokio::spawn(dreamreel_local::server::accept_loop(
            listener,
            "test edge",
            rx,
            move |req: http::Request<hyper::body::Incoming>, _| {
                let (calls, start, nonces, broken) =
                    (c.clone(), s.clone(), nonces.clone(), b.clone());
                async move { answer(req, &calls, &start, &nonces, &broken).await }
            },
        ));
        Edge {
            url,
            calls,
            start,
            broken_fails,
            _shutdown: shutdown,
        }
    }

    pub fn reply_to_start(&self, reply: StartReply) {
        *self.start.lock().unwrap() = reply;
    }

    /// Answers the next `n` `fail` callbacks with 503.
    pub fn break_fail_route(&self, n: u32) {
        self.broken_fails.store(n, Ordering::SeqCst);
    }

    pub fn calls(&self, job_id: &str) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.job_id == job_id)
            .cloned()
            .collect()
    }

    /// The actions called for `job_id`, in order, with runs of progress collapsed.
    pub fn actions(&self, job_id: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for call in self.calls(job_id) {
            if out.last() != Some(&call.action) || call.action != "progress" {
                out.push(call.action);
            }
        }
        out
    }

    pub fn count(&self, job_id: &str, action: &str) -> usize {
        self.calls(job_id)
            .iter()
            .filter(|c| c.action == action)
            .count()
    }
}

async fn answer(
    req: http::Request<hyper::body::Incoming>,
    calls: &Mutex<Vec<Call>>,
    start: &Mutex<StartReply>,
    nonces: &Mutex<HashSet<String>>,
    broken_fails: &AtomicU32,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let path = parts.uri.path().to_owned();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verified = CallbackAuth::new(KEY)
        .verify(
            parts.method.as_str(),
            &path,
            &body,
            (
                header(TIMESTAMP_HEADER),
                header(NONCE_HEADER),
                header(SIGNATURE_HEADER),
            ),
            now,
        )
        .is_ok();
    let fresh_nonce =
        header(NONCE_HEADER).is_some_and(|n| nonces.lock().unwrap().insert(n.to_owned()));
    let segments: Vec<&str> = path.split('/').collect();
    let (job_id, action) = match segments[..] {
        ["", "internal", "jobs", id, action] => (id.to_owned(), action.to_owned()),
        // Recorded under the video's id.
        ["", "internal", "videos", id, action] => (id.to_owned(), action.to_owned()),
        _ => return reply(404, json!({"error": "no route"})),
    };
    let call = Call {
        job_id,
        action: action.clone(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signed: verified && fresh_nonce,
        request_id: header("x-request-id").map(str::to_owned),
    };
    let signed = call.signed;
    calls.lock().unwrap().push(call);
    if !signed {
        return reply(401, json!({"error": "bad signature"}));
    }
    match (action.as_str(), start.lock().unwrap().clone()) {
        ("start", StartReply::Proceed) => reply(200, json!({"proceed": true})),
        ("start", StartReply::Refuse(reason)) => {
            reply(409, json!({"proceed": false, "reason": reason}))
        }
        ("start", StartReply::Status(status)) => reply(status, json!({"error": "edge trouble"})),
        ("fail", _)
            if broken_fails
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok() =>
        {
            reply(503, json!({"error": "unavailable"}))
        }
        _ => reply(200, json!({"ok": true})),
    }
}

fn reply(status: u16, body: Value) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// The local object store, served over HTTP like S3.
pub struct Objects {
    pub store: ObjectStore,
    pub aws: AwsSettings,
    pub events: mpsc::UnboundedReceiver<Value>,
    _dir: tempfile::TempDir,
    _shutdown: watch::Sender<bool>,
}

impl Objects {
    pub async fn start() -> Objects {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ObjectStoreConfig::new(dir.path());
        config.credentials = vec![dreamreel_sigv4::Credentials::new(ACCESS_KEY, SECRET_KEY)];
        config.buckets = vec![BUCKET.into()];
        let store = ObjectStore::open(config).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, events) = mpsc::unbounded_channel();
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(serve(listener, store.clone(), Arc::new(tx), rx));
        let mut aws = AwsSettings::new("us-east-1", ACCESS_KEY, SECRET_KEY);
        aws.s3_endpoint = Some(format!("http://{addr}"));
        Objects {
            store,
            aws,
            events,
            _dir: dir,
            _shutdown: shutdown,
        }
    }

    pub fn storage(&self) -> S3Storage {
        S3Storage::new(self.aws.s3_client(), BUCKET)
    }

    /// Writes `body` as `jobs/{id}.json` through the S3 API and returns the
    /// `ObjectCreated` event the store sent for it.
    pub async fn put_job(&mut self, job_id: &str, body: &[u8]) -> Value {
        let key = dreamreel_core::jobs::job_key(job_id);
        self.storage()
            .put(&key, body.to_vec(), "application/json")
            .await
            .expect("spec upload");
        loop {
            let event = tokio::time::timeout(Duration::from_secs(5), self.events.recv())
                .await
                .expect("an ObjectCreated event")
                .expect("the event channel is open");
            if event["Records"][0]["s3"]["object"]["key"] == key.as_str() {
                return event;
            }
        }
    }

    /// Writes a valid spec and returns its event.
    pub async fn put_spec(&mut self, job_id: &str) -> Value {
        let body = serde_json::to_vec(&spec(job_id)).unwrap();
        self.put_job(job_id, &body).await
    }

    /// The object at `key`: body and content type.
    pub async fn object(&self, key: &str) -> Option<(Bytes, String)> {
        self.store
            .get(BUCKET, key)
            .await
            .ok()
            .map(|(info, body)| (body, info.content_type))
    }
}

/// The local model, counting how many times it was asked to render.
#[derive(Default)]
pub struct Counting {
    pub renders: AtomicU32,
}

impl VideoModel for Counting {
    fn name(&self) -> &str {
        "counting-local"
    }

    fn generate(
        &self,
        spec: &GenerationSpec,
        sink: &mut dyn FrameSink,
        control: &JobControl<'_>,
    ) -> Result<Soundtrack, ModelError> {
        self.renders.fetch_add(1, Ordering::SeqCst);
        LocalModel.generate(spec, sink, control)
    }
}

/// A model whose backend always breaks.
pub struct Broken {
    pub calls: AtomicU32,
}

impl VideoModel for Broken {
    fn name(&self) -> &str {
        "broken"
    }

    fn generate(
        &self,
        _: &GenerationSpec,
        _: &mut dyn FrameSink,
        _: &JobControl<'_>,
    ) -> Result<Soundtrack, ModelError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(ModelError::Backend("CUDA error: out of memory".into()))
    }
}

/// A model that paints every frame the same picture, `colour(x, y)` in RGB.
pub struct Painted(pub fn(u32, u32) -> [u8; 3]);

impl VideoModel for Painted {
    fn name(&self) -> &str {
        "painted"
    }

    fn generate(
        &self,
        spec: &GenerationSpec,
        sink: &mut dyn FrameSink,
        control: &JobControl<'_>,
    ) -> Result<Soundtrack, ModelError> {
        let (w, h) = (spec.width, spec.height);
        let mut frame = dreamreel_worker::YuvFrame::new(w, h);
        let (y, u, v) = frame.planes_mut();
        for row in 0..h {
            for col in 0..w {
                let [l, cb, cr] = yuv709(self.0(col, row));
                y[(row * w + col) as usize] = l;
                if row % 2 == 0 && col % 2 == 0 {
                    let at = ((row / 2) * (w / 2) + col / 2) as usize;
                    (u[at], v[at]) = (cb, cr);
                }
            }
        }
        for _ in 0..spec.frame_count() {
            control.checkpoint()?;
            sink.push(&frame)?;
        }
        Ok(Soundtrack {
            samples: vec![0.0; spec.audio_samples() * 2],
        })
    }
}

/// RGB to BT.709 limited-range YUV, as the worker's frames are.
pub fn yuv709([r, g, b]: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (f64::from(r), f64::from(g), f64::from(b));
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let q = |x: f64| x.round().clamp(0.0, 255.0) as u8;
    [
        q(16.0 + 219.0 * y / 255.0),
        q(128.0 + 224.0 * (b - y) / 1.8556 / 255.0),
        q(128.0 + 224.0 * (r - y) / 1.5748 / 255.0),
    ]
}

/// A 2-second 320x240 cameo recording (H.264 + sound, the worker's own
/// encoder) whose every frame is `colour(x, y)`.
pub fn recording(colour: fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let spec = GenerationSpec {
        width: 320,
        height: 240,
        ..GenerationSpec::new(
            "a verification recording",
            2_000,
            dreamreel_worker::Aspect::Landscape,
            1,
        )
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    dreamreel_worker::render_clip(&Painted(colour), &spec, &|_| {}, &cancel)
        .expect("a recording")
        .mp4
}

/// Stores `mp4` as a verification recording of `user_id`; returns its key.
pub async fn put_recording(objects: &Objects, user_id: &str, mp4: Vec<u8>) -> String {
    let key = dreamreel_core::cameo::verify::recording_key(user_id, &job_id());
    objects
        .storage()
        .put(&key, mp4, "video/mp4")
        .await
        .expect("recording upload");
    key
}

/// A cast member as the edge writes them into a job.
pub fn cast_member(handle: &str, reference_key: Option<String>) -> CastMember {
    CastMember {
        user_id: format!("01JUSER{:0>19}", handle.to_uppercase()),
        handle: handle.to_owned(),
        preferences: Vec::new(),
        reference_key,
    }
}

/// Test settings: quick retries, short leases, frequent progress.
pub fn config(edge: &Edge) -> WorkerConfig {
    let mut config = WorkerConfig::new(BUCKET, &edge.url, KEY);
    config.lease_ms = 3_000;
    config.progress_interval = Duration::from_millis(50);
    config.callback_retry = RetryPolicy {
        attempts: 2,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
    };
    config
}

/// A worker on the local store and an in-memory SQLite ledger.
pub fn worker(
    objects: &Objects,
    config: WorkerConfig,
    model: Arc<dyn VideoModel>,
) -> (Worker, Arc<SqliteLedger>) {
    let ledger = Arc::new(SqliteLedger::in_memory().unwrap());
    let ledger_dyn: Arc<dyn JobLedger> = ledger.clone();
    let worker = Worker::new(config, ledger_dyn, Arc::new(objects.storage()), model).unwrap();
    (worker, ledger)
}
