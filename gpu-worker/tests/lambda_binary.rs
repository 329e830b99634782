//! The `gpu-worker` binary as Lambda runs it: configured only by the
//! environment, polling a stand-in for the Lambda Runtime API for S3 events,
//! answering each invocation with a result or (for a job to retry) an error.

#![cfg(feature = "lambda")]

mod common;

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{BUCKET, Edge, KEY, Objects, job_id};
use dreamreel_worker::{JobLedger, Lease, SqliteLedger};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// What the function answered to one invocation.
#[derive(Debug, Clone)]
struct Answer {
    request_id: String,
    ok: bool,
    body: Value,
}

#[derive(Default)]
struct RuntimeState {
    pending: Mutex<VecDeque<(String, Value)>>,
    answers: Mutex<Vec<Answer>>,
    wake: Notify,
}

/// Serves `/2018-06-01/runtime/...` like Lambda: `next` long-polls for an event.
async fn runtime_api(state: Arc<RuntimeState>) -> (String, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (shutdown, rx) = watch::channel(false);
    tokio::spawn(dreamreel_local::server::accept_loop(
        listener,
        "lambda runtime api",
        rx,
        move |req: http::Request<hyper::body::Incoming>, _| {
            let state = state.clone();
            async move {
                let path = req.uri().path().to_owned();
                if path.ends_with("/invocation/next") {
                    let (id, event) = loop {
                        let notified = state.wake.notified();
                        if let Some(next) = state.pending.lock().unwrap().pop_front() {
                            break next;
                        }
                        notified.await;
                    };
                    return http::Response::builder()
                        .header("lambda-runtime-aws-request-id", &id)
                        .header("lambda-runtime-deadline-ms", "4102444800000")
                        .header(
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:gpu-worker",
                        )
                        .body(Full::new(Bytes::from(event.to_string())))
                        .unwrap();
                }
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let parts: Vec<&str> = path.split('/').collect();
                if let ["", "2018-06-01", "runtime", "invocation", id, outcome] = parts[..] {
                    state.answers.lock().unwrap().push(Answer {
                        request_id: id.to_owned(),
                        ok: outcome == "response",
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                }
                http::Response::builder()
                    .status(202)
                    .body(Full::new(Bytes::from_static(b"{}")))
                    .unwrap()
            }
        },
    ));
    (addr, shutdown)
}

/// The worker process, killed when dropped.
struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_binary_runs_jobs_and_asks_for_retries() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("ledger.sqlite");
    // Production configuration requires a C2PA signing key and chain.
    dreamreel_worker::provenance::dev_keys::load_or_create(dir.path()).unwrap();
    let state = Arc::new(RuntimeState::default());
    let (runtime, _stop) = runtime_api(state.clone()).await;

    let done = job_id();
    let done_event = objects.put_spec(&done).await;
    // A job another (live) worker holds: this invocation must ask Lambda to retry.
    let busy = job_id();
    let busy_event = objects.put_spec(&busy).await;
    let ledger = SqliteLedger::open(&ledger_path).unwrap();
    let held = ledger
        .lease(&busy, "other-worker#1", dreamreel_worker::now_ms(), 600_000)
        .await
        .unwrap();
    assert!(matches!(held, Lease::Leased { .. }));

    let aws = &objects.aws;
    let _function = Function(
        Command::new(env!("CARGO_BIN_EXE_gpu-worker"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &runtime)
            .env("AWS_LAMBDA_FUNCTION_NAME", "gpu-worker")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2024/11/01/[$LATEST]test")
            .env("AWS_REGION", &aws.region)
            .env("AWS_ACCESS_KEY_ID", &aws.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &aws.secret_access_key)
            .env("DREAMREEL_S3_ENDPOINT", aws.s3_endpoint.as_deref().unwrap())
            .env("DREAMREEL_BUCKET", BUCKET)
            .env("DREAMREEL_EDGE_URL", &edge.url)
            .env("DREAMREEL_CALLBACK_KEY", std::str::from_utf8(KEY).unwrap())
            .env("DREAMREEL_LEDGER_SQLITE", &ledger_path)
            .env("DREAMREEL_C2PA_SIGN_KEY", dir.path().join("signer.key"))
            .env("DREAMREEL_C2PA_SIGN_CERT", dir.path().join("signer.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the gpu-worker binary"),
    );

    let invocations = [
        (
            "inv-test",
            json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}),
        ),
        ("inv-job", done_event.clone()),
        ("inv-duplicate", done_event),
        ("inv-busy", busy_event),
        ("inv-garbage", json!({"hello": "world"})),
    ];
    state.pending.lock().unwrap().extend(
        invocations
            .iter()
            .map(|(id, event)| (id.to_string(), event.clone())),
    );
    state.wake.notify_waiters();

    let answers = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let answers = state.answers.lock().unwrap().clone();
            if answers.len() == invocations.len() {
                return answers;
            }
            // Lambda's `next` long-poll may have started before the queue filled.
            state.wake.notify_waiters();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the function answers every invocation");

    let by_id = |id: &str| answers.iter().find(|a| a.request_id == id).unwrap().clone();
    assert!(by_id("inv-test").ok);
    assert_eq!(by_id("inv-test").body["test_event"], true);
    let job = by_id("inv-job");
    assert!(job.ok, "{job:?}");
    assert!(
        job.body["jobs"][0]["outcome"]
            .as_str()
            .unwrap()
            .contains("Completed")
    );
    let duplicate = by_id("inv-duplicate");
    assert!(duplicate.ok);
    assert!(
        duplicate.body["jobs"][0]["outcome"]
            .as_str()
            .unwrap()
            .contains("AlreadyDone")
    );
    let retry = by_id("inv-busy");
    assert!(
        !retry.ok,
        "a busy job must fail the invocation so Lambda retries it"
    );
    assert!(retry.body.to_string().contains(&busy), "{:?}", retry.body);
    // Unreadable input is acknowledged, not retried forever.
    assert!(by_id("inv-garbage").ok);

    assert_eq!(edge.actions(&done), ["start", "progress", "complete"]);
    assert!(edge.calls(&busy).is_empty());
    assert!(
        objects
            .object(&dreamreel_core::jobs::media_keys(&done).0)
            .await
            .is_some()
    );
}
