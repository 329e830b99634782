//! The studio component over HTTP, without a worker: generation requests,
//! quota, idempotency, drafts, the worker's signed callbacks (driven by
//! hand here) and publishing. Each app writes its jobs to an S3-compatible
//! object store this test starts itself, so no worker ever sees them; every
//! response is checked against docs/openapi.json.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use dreamreel_core::jobs::{CallbackAuth, JobSpec, job_key, media_keys};
use dreamreel_e2e::openapi::assert_conforms;
use dreamreel_e2e::{Reply, TestApp};
use dreamreel_local::objects::{ListQuery, ObjectStore, ObjectStoreConfig, serve};
use dreamreel_sigv4::{Credentials, Request as SigRequest, Signer, sha256_hex};
use serde_json::{Value, json};

const INVITES: &str = "STUDIO-00001,STUDIO-00002,STUDIO-00003";
const CALLBACK_KEY: &str = "studio-test-callback-key-0123456789abcdef";
const KEY_ID: &str = "studio-test-key";
const SECRET: &str = "studio-test-secret-0123456789";
const BUCKET: &str = "dreamreel";

/// The app plus an object store of its own, both stopped on drop.
struct Studio {
    app: TestApp,
    store: ObjectStore,
    objects: SocketAddr,
    runtime: tokio::runtime::Runtime,
    shutdown: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Drop for Studio {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn studio(extra: &[(&str, &str)]) -> Studio {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ObjectStoreConfig::new(dir.path().join("objects"));
    config.credentials.push(Credentials::new(KEY_ID, SECRET));
    config.buckets.push(BUCKET.to_owned());
    let store = ObjectStore::open(config).expect("object store opens");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let objects = listener.local_addr().unwrap();
    let (shutdown, rx) = tokio::sync::watch::channel(false);
    runtime.spawn(serve(listener, store.clone(), Arc::new(()), rx));

    let endpoint = format!("http://{objects}");
    let mut variables = vec![
        ("bootstrap_invites", INVITES),
        ("callback_key", CALLBACK_KEY),
        ("s3_endpoint", endpoint.as_str()),
        ("s3_access_key_id", KEY_ID),
        ("s3_secret_access_key", SECRET),
    ];
    for (name, value) in extra {
        variables.retain(|(n, _)| n != name);
        variables.push((name, value));
    }
    let app = TestApp::start(&variables);
    Studio {
        app,
        store,
        objects,
        runtime,
        shutdown,
        _dir: dir,
    }
}

impl Studio {
    fn sign_up(&self, code: &str, handle: &str) -> String {
        let body = dreamreel_e2e::sign_up_body(code, handle);
        let reply = self
            .app
            .api("POST", "/v1/auth/signup", None, Some(&body.to_string()));
        assert_eq!(reply.status, 201, "{}", reply.json());
        reply.json()["token"].as_str().unwrap().to_owned()
    }

    /// Any request, checked against the OpenAPI description.
    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(auth) = &auth {
            all.push(("authorization", auth));
        }
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        let reply = self
            .app
            .raw(method, path, &all, body.unwrap_or("").as_bytes());
        assert_conforms(method, path, reply.status, &reply.body);
        reply
    }

    fn generate(&self, token: &str, key: Option<&str>, body: Value) -> Reply {
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        self.send(
            "POST",
            "/v1/generations",
            Some(token),
            &headers,
            Some(&body.to_string()),
        )
    }

    fn queued(&self, token: &str, prompt: &str) -> String {
        let reply = self.generate(
            token,
            None,
            json!({ "prompt": prompt, "duration_seconds": 4 }),
        );
        assert_eq!(reply.status, 202, "{}", reply.json());
        reply.json()["id"].as_str().unwrap().to_owned()
    }

    fn draft(&self, token: &str, id: &str) -> Reply {
        self.send("GET", &format!("/v1/drafts/{id}"), Some(token), &[], None)
    }

    fn drafts(&self, token: &str, query: &str) -> Value {
        let reply = self.send("GET", &format!("/v1/drafts{query}"), Some(token), &[], None);
        assert_eq!(reply.status, 200, "{}", reply.json());
        reply.json()
    }

    /// A worker callback signed with `key`, `age_secs` in the past, with a fresh nonce.
    fn callback_as(
        &self,
        key: &str,
        id: &str,
        action: &str,
        body: &Value,
        age_secs: u64,
    ) -> (Reply, Vec<(String, String)>) {
        let path = format!("/internal/jobs/{id}/{action}");
        let body = body.to_string();
        let signed = CallbackAuth::new(key.as_bytes()).sign(
            "POST",
            &path,
            body.as_bytes(),
            now_secs() - age_secs,
            &nonce(),
        );
        let headers: Vec<(String, String)> = signed
            .pairs()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .chain([("content-type".to_owned(), "application/json".to_owned())])
            .collect();
        (self.raw_callback(&path, &headers, &body), headers)
    }

    fn raw_callback(&self, path: &str, headers: &[(String, String)], body: &str) -> Reply {
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let reply = self.app.raw("POST", path, &borrowed, body.as_bytes());
        assert_conforms("POST", path, reply.status, &reply.body);
        reply
    }

    fn callback(&self, id: &str, action: &str, body: Value) -> Reply {
        self.callback_as(CALLBACK_KEY, id, action, &body, 0).0
    }

    fn complete(&self, id: &str) -> Reply {
        let (video_key, thumbnail_key) = media_keys(id);
        self.callback(
            id,
            "complete",
            json!({ "video_key": video_key, "thumbnail_key": thumbnail_key,
                    "duration_ms": 4000, "width": 720, "height": 1280, "bytes": 19 }),
        )
    }

    /// Uploads an object the way the worker would: a SigV4-signed PUT.
    fn put_object(&self, key: &str, body: &[u8]) {
        let path = format!("/{BUCKET}/{key}");
        let host = self.objects.to_string();
        let request = SigRequest::new("PUT", &path).with_header("host", &host);
        let auth = Signer::new(Credentials::new(KEY_ID, SECRET), "us-east-1")
            .sign(&request, &sha256_hex(body), now_secs())
            .unwrap();
        let headers: Vec<(&'static str, String)> = auth.to_vec();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = dreamreel_e2e::http::send(self.objects, "PUT", &path, &headers, body).unwrap();
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }

    /// Keys under `jobs/` in the test's object store.
    fn jobs(&self) -> Vec<String> {
        let query = ListQuery {
            prefix: "jobs/".into(),
            ..ListQuery::default()
        };
        let page = self
            .runtime
            .block_on(self.store.list(BUCKET, &query))
            .unwrap();
        page.objects.into_iter().map(|o| o.key).collect()
    }

    fn job(&self, id: &str) -> JobSpec {
        let (_, bytes) = self
            .runtime
            .block_on(self.store.get(BUCKET, &job_key(id)))
            .expect("the job spec was written");
        serde_json::from_slice(&bytes).expect("a job spec")
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!(
        "{nanos:016x}{:016x}",
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// GETs an absolute URL (a presigned object-store link).
fn fetch(url: &str) -> Reply {
    let rest = url
        .strip_prefix("http://")
        .expect("local URLs are plain HTTP");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    dreamreel_e2e::http::send(host.parse().unwrap(), "GET", path, &[], b"").unwrap()
}

#[test]
fn requests_are_checked_before_anything_is_queued() {
    let s = studio(&[]);
    let body = json!({ "prompt": "a fox" }).to_string();
    let anonymous = s.send("POST", "/v1/generations", None, &[], Some(&body));
    assert_eq!(
        (anonymous.status, anonymous.error_code().as_str()),
        (401, "unauthorized")
    );
    assert_eq!(s.send("GET", "/v1/drafts", None, &[], None).status, 401);
    assert_eq!(
        s.send(
            "GET",
            "/v1/drafts/01JD0000000000000000000000",
            Some("v1.bad.token"),
            &[],
            None
        )
        .error_code(),
        "invalid_token"
    );

    let token = s.sign_up("STUDIO-00001", "ana");
    let eleven = s.generate(
        &token,
        None,
        json!({ "prompt": "a fox", "duration_seconds": 11 }),
    );
    assert_eq!(
        (eleven.status, eleven.error_code().as_str()),
        (400, "invalid_request")
    );
    let message = eleven.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("10 seconds"), "{message}");

    let cases = [
        (json!({ "prompt": "   " }), 400, "invalid_request"),
        (
            json!({ "prompt": "a fox", "aspect": "4:3" }),
            400,
            "invalid_request",
        ),
        (
            json!({ "prompt": "a fox", "colour": "red" }),
            400,
            "invalid_request",
        ),
        (
            json!({ "prompt": "a fox", "cameos": ["nobody_here"] }),
            422,
            "cameo_unknown",
        ),
        (
            json!({ "prompt": "a fox", "remix_of": "01JD0000000000000000000000" }),
            404,
            "not_found",
        ),
    ];
    for (body, status, code) in cases {
        let reply = s.generate(&token, None, body.clone());
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (status, code),
            "{body}"
        );
    }
    let long_key = "k".repeat(101);
    let reply = s.generate(&token, Some(&long_key), json!({ "prompt": "a fox" }));
    assert_eq!(reply.status, 400);

    // Nothing was queued, listed or charged.
    assert!(s.jobs().is_empty());
    assert_eq!(s.drafts(&token, "")["drafts"], json!([]));
}

#[test]
fn a_draft_goes_ready_through_signed_callbacks_and_is_published() {
    let s = studio(&[]);
    let token = s.sign_up("STUDIO-00001", "ana");
    let accepted = s.generate(
        &token,
        None,
        json!({ "prompt": "a red fox running through snow", "duration_seconds": 4, "aspect": "1:1", "seed": 7 }),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.json());
    let draft = accepted.json();
    let id = draft["id"].as_str().unwrap().to_owned();
    assert_eq!(draft["status"], "queued");
    assert_eq!(
        accepted.header("location"),
        Some(format!("/v1/drafts/{id}").as_str())
    );

    // The job spec is in object storage, as the worker will read it.
    assert_eq!(s.jobs(), [job_key(&id)]);
    let job = s.job(&id);
    assert_eq!(
        (
            job.prompt.as_str(),
            job.duration_ms,
            job.aspect.as_str(),
            job.seed
        ),
        ("a red fox running through snow", 4000, "1:1", 7)
    );
    assert!(!job.request_id.is_empty() && job.request_id != "-");

    let early = s.send(
        "POST",
        &format!("/v1/drafts/{id}/publish"),
        Some(&token),
        &[],
        Some("{}"),
    );
    assert_eq!(
        (early.status, early.error_code().as_str()),
        (409, "draft_not_ready")
    );

    let start = s.callback(&id, "start", json!({ "attempt": 1 }));
    assert_eq!(
        (start.status, start.json()["proceed"].clone()),
        (200, json!(true))
    );
    assert_eq!(s.draft(&token, &id).json()["status"], "running");
    let progress = s.callback(
        &id,
        "progress",
        json!({ "progress": 0.5, "stage": "generating" }),
    );
    assert_eq!(progress.status, 200);
    let running = s.draft(&token, &id).json();
    assert_eq!(
        (running["progress"].as_f64(), running["stage"].as_str()),
        (Some(0.5), Some("generating"))
    );

    let (video_key, thumbnail_key) = media_keys(&id);
    let mp4 = b"not really an mp4!!";
    let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0];
    s.put_object(&video_key, mp4);
    s.put_object(&thumbnail_key, &jpeg);
    assert_eq!(s.complete(&id).status, 200);

    let ready = s.draft(&token, &id).json();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["progress"].as_f64(), Some(1.0));
    let media = &ready["media"];
    assert_eq!(
        (media["width"].as_u64(), media["height"].as_u64()),
        (Some(720), Some(1280))
    );
    let video = fetch(media["video_url"].as_str().unwrap());
    assert_eq!((video.status, video.body.as_slice()), (200, &mp4[..]));
    let thumb = fetch(media["thumbnail_url"].as_str().unwrap());
    assert_eq!((thumb.status, thumb.body.as_slice()), (200, &jpeg[..]));
    // A tampered link is refused by the store.
    let forged = media["video_url"]
        .as_str()
        .unwrap()
        .replace("video.mp4", "thumb.jpg");
    assert_eq!(fetch(&forged).status, 403);

    // Late and repeated news changes nothing.
    assert_eq!(
        s.callback(&id, "progress", json!({ "progress": 0.9 }))
            .status,
        200
    );
    assert_eq!(s.complete(&id).status, 200);
    let fail = s.callback(
        &id,
        "fail",
        json!({ "code": "generation_failed", "reason": "late" }),
    );
    assert_eq!(fail.status, 409);
    assert_eq!(s.draft(&token, &id).json()["status"], "ready");

    let caption = json!({ "caption": "first light" }).to_string();
    let published = s.send(
        "POST",
        &format!("/v1/drafts/{id}/publish"),
        Some(&token),
        &[],
        Some(&caption),
    );
    assert_eq!(published.status, 201, "{}", published.json());
    let video = published.json();
    assert_eq!(
        (video["id"].as_str(), video["caption"].as_str()),
        (Some(id.as_str()), Some("first light"))
    );
    assert_eq!(video["owner_handle"], "ana");
    let again = s.send(
        "POST",
        &format!("/v1/drafts/{id}/publish"),
        Some(&token),
        &[],
        None,
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["caption"], "first light");
    assert_eq!(s.draft(&token, &id).json()["video_id"], id.as_str());

    // A remix starts from the published video and carries the lineage into its job.
    let remix = s.generate(
        &token,
        None,
        json!({ "prompt": "the same fox, at night", "remix_of": id }),
    );
    assert_eq!(remix.status, 202, "{}", remix.json());
    let remix_id = remix.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(s.job(&remix_id).remix_of.as_deref(), Some(id.as_str()));
}

#[test]
fn retries_with_an_idempotency_key_count_once_and_failures_refund() {
    let s = studio(&[("daily_generation_quota", "1")]);
    let token = s.sign_up("STUDIO-00001", "ana");
    let body = json!({ "prompt": "a fox", "duration_seconds": 3 });
    let first = s.generate(&token, Some("gen-1"), body.clone());
    assert_eq!(first.status, 202, "{}", first.json());
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = s.generate(&token, Some("gen-1"), body.clone());
    assert_eq!(retry.status, 202, "{}", retry.json());
    assert_eq!(retry.json()["id"], first.json()["id"]);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));

    let other_body = s.generate(&token, Some("gen-1"), json!({ "prompt": "a cat" }));
    assert_eq!(
        (other_body.status, other_body.error_code().as_str()),
        (422, "idempotency_mismatch")
    );

    let over = s.generate(&token, Some("gen-2"), body.clone());
    assert_eq!(
        (over.status, over.error_code().as_str()),
        (429, "quota_exceeded")
    );
    assert_eq!(s.jobs().len(), 1);
    assert_eq!(s.drafts(&token, "")["drafts"].as_array().unwrap().len(), 1);

    // The worker gives up: the draft fails and the generation is given back, once.
    let id = first.json()["id"].as_str().unwrap().to_owned();
    s.callback(&id, "start", json!({ "attempt": 1 }));
    for _ in 0..2 {
        let fail = s.callback(
            &id,
            "fail",
            json!({ "code": "generation_failed", "reason": "the model crashed", "attempts": 3 }),
        );
        assert_eq!(
            (fail.status, fail.json()["proceed"].clone()),
            (200, json!(false))
        );
    }
    let failed = s.draft(&token, &id).json();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure"]["code"], "generation_failed");
    assert_eq!(s.generate(&token, Some("gen-2"), body.clone()).status, 202);
    assert_eq!(s.generate(&token, Some("gen-3"), body).status, 429);
}

#[test]
fn drafts_are_private_listed_newest_first_and_deletable() {
    let s = studio(&[]);
    let ana = s.sign_up("STUDIO-00001", "ana");
    let bruno = s.sign_up("STUDIO-00002", "bruno");
    let mine: Vec<String> = (0..3)
        .map(|i| s.queued(&ana, &format!("clip {i}")))
        .collect();
    let theirs = s.queued(&bruno, "bruno's clip");

    let page = s.drafts(&ana, "?limit=2");
    let ids = |v: &Value| -> Vec<String> {
        v["drafts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&page), [mine[2].clone(), mine[1].clone()]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = s.drafts(&ana, &format!("?limit=2&cursor={cursor}"));
    assert_eq!(ids(&rest), [mine[0].clone()]);
    assert_eq!(rest["next_cursor"], Value::Null);
    assert_eq!(ids(&s.drafts(&bruno, "")), [theirs]);
    let bad = s.send("GET", "/v1/drafts?limit=500", Some(&ana), &[], None);
    assert_eq!(
        (bad.status, bad.error_code().as_str()),
        (400, "invalid_request")
    );

    // Someone else's draft does not exist, for reading or deleting.
    assert_eq!(s.draft(&bruno, &mine[0]).error_code(), "not_found");
    let path = format!("/v1/drafts/{}", mine[0]);
    assert_eq!(s.send("DELETE", &path, Some(&bruno), &[], None).status, 404);
    let publish = s.send(
        "POST",
        &format!("{path}/publish"),
        Some(&bruno),
        &[],
        Some("{}"),
    );
    assert_eq!(publish.status, 404);

    assert_eq!(s.send("DELETE", &path, Some(&ana), &[], None).status, 204);
    assert_eq!(s.draft(&ana, &mine[0]).status, 404);
    assert_eq!(s.send("DELETE", &path, Some(&ana), &[], None).status, 404);
    assert_eq!(ids(&s.drafts(&ana, "")), [mine[2].clone(), mine[1].clone()]);

    // The worker hears the draft is gone.
    let start = s.callback(&mine[0], "start", json!({ "attempt": 1 }));
    assert_eq!(start.status, 409);
    assert_eq!(
        start.json(),
        json!({ "proceed": false, "reason": "draft_deleted" })
    );
    let unknown = s.callback(
        "01JD0000000000000000000000",
        "start",
        json!({ "attempt": 1 }),
    );
    assert_eq!(unknown.json()["reason"], "unknown_job");
}

#[test]
fn callbacks_that_are_unsigned_forged_stale_or_replayed_are_refused() {
    let s = studio(&[]);
    let token = s.sign_up("STUDIO-00001", "ana");
    let id = s.queued(&token, "a fox");
    let path = format!("/internal/jobs/{id}/start");
    let body = json!({ "attempt": 1 });

    let unsigned = s.raw_callback(&path, &[], &body.to_string());
    assert_eq!(
        (unsigned.status, unsigned.error_code().as_str()),
        (401, "callback_unsigned")
    );
    assert_eq!(unsigned.header("www-authenticate"), None);
    let (forged, _) = s.callback_as(
        "not the key, but just as long as it",
        &id,
        "start",
        &body,
        0,
    );
    assert_eq!(forged.error_code(), "callback_bad_signature");
    let (stale, _) = s.callback_as(CALLBACK_KEY, &id, "start", &body, 3600);
    assert_eq!(stale.error_code(), "callback_stale");
    assert_eq!(s.draft(&token, &id).json()["status"], "queued");

    let (ok, headers) = s.callback_as(CALLBACK_KEY, &id, "start", &body, 0);
    assert_eq!(ok.status, 200, "{}", ok.json());
    let replayed = s.raw_callback(&path, &headers, &body.to_string());
    assert_eq!(
        (replayed.status, replayed.error_code().as_str()),
        (401, "callback_replayed")
    );

    // A signature covers the body: the same headers with another body do not pass.
    let (_, headers) = s.callback_as(
        CALLBACK_KEY,
        &id,
        "progress",
        &json!({ "progress": 0.1 }),
        0,
    );
    let tampered = s.raw_callback(
        &format!("/internal/jobs/{id}/progress"),
        &headers,
        r#"{"progress":0.9}"#,
    );
    assert_eq!(tampered.error_code(), "callback_bad_signature");
    assert_eq!(s.app.call("GET", &path, None, None).status, 405);
}

#[test]
fn a_job_that_cannot_be_written_leaves_nothing_and_costs_nothing() {
    // Nothing listens on this port: every job write fails.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let endpoint = format!("http://{dead}");
    let s = studio(&[("s3_endpoint", &endpoint), ("daily_generation_quota", "1")]);
    let token = s.sign_up("STUDIO-00001", "ana");
    for _ in 0..2 {
        // With a quota of one, a second 503 (not 429) shows the first was refunded.
        let reply = s.generate(&token, Some("same-key"), json!({ "prompt": "a fox" }));
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (503, "generation_unavailable")
        );
    }
    assert_eq!(s.drafts(&token, "")["drafts"], json!([]));
}
