//! The GPU host's queue consumer against a real SQS-compatible server:
//! moto's (`pip install "moto[server]"`), one request at a time. Jobs go
//! through the local S3-compatible store and a stand-in edge, as in
//! tests/pipeline.rs; the queue carries the store's S3 notifications.

mod common;
mod moto;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use common::{Broken, Counting, Edge, Objects, config, job_id, worker};
use dreamreel_worker::{AwsSettings, JobLedger, JobState, Lease, SqsOptions, Worker};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A fresh queue on `moto` and a client for it.
async fn queue(moto: &moto::Moto, name: &str) -> (aws_sdk_sqs::Client, String) {
    let mut aws = AwsSettings::new("us-east-1", "testing", "testing");
    aws.sqs_endpoint = Some(moto.url.clone());
    let sqs = aws.sqs_client();
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("a queue URL");
    (sqs, url)
}

/// Messages in the queue, visible and in flight.
async fn messages_left(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("queue attributes");
    let attrs = out.attributes.unwrap_or_default();
    let count =
        |name: QueueAttributeName| -> u64 { attrs.get(&name).map_or(0, |v| v.parse().unwrap()) };
    (
        count(QueueAttributeName::ApproximateNumberOfMessages),
        count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

fn quick(url: &str) -> SqsOptions {
    let mut options = SqsOptions::new(url);
    options.concurrency = 2;
    options.wait = Duration::from_secs(1);
    options.retry_delay = Duration::ZERO;
    options.busy_slack = Duration::from_millis(500);
    options.error_backoff = Duration::from_millis(200);
    options
}

/// The consumer, running until the returned sender fires (or is dropped).
fn consume(
    worker: &Worker,
    sqs: &aws_sdk_sqs::Client,
    options: SqsOptions,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let (worker, sqs) = (worker.clone(), sqs.clone());
    let task = tokio::spawn(async move {
        worker
            .run_sqs(sqs, options, async move {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
}

/// Waits (up to 60 s) until `done` holds.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stop(consumer: (oneshot::Sender<()>, JoinHandle<()>)) {
    let _ = consumer.0.send(());
    tokio::time::timeout(Duration::from_secs(30), consumer.1)
        .await
        .expect("the consumer stops")
        .expect("the consumer did not panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_are_rendered_and_their_messages_deleted() {
    let moto = moto::start();
    let (sqs, url) = queue(&moto, "jobs-ok").await;
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let (worker, ledger) = worker(&objects, config(&edge), model.clone());
    let id = job_id();
    let event = objects.put_spec(&id).await;
    for body in [
        event.to_string(),
        "not json".into(),
        r#"{"hello":"world"}"#.into(),
    ] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(messages_left(&sqs, &url).await, (3, 0));

    let consumer = consume(&worker, &sqs, quick(&url));
    until("the job settled and the queue empty", async || {
        edge.count(&id, "complete") == 1 && messages_left(&sqs, &url).await == (0, 0)
    })
    .await;
    stop(consumer).await;

    assert_eq!(model.renders.load(Ordering::SeqCst), 1);
    assert_eq!(edge.actions(&id), ["start", "progress", "complete"]);
    let record = ledger.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsettled_job_keeps_its_message_until_it_settles() {
    let moto = moto::start();
    let (sqs, url) = queue(&moto, "jobs-busy").await;
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let (worker, ledger) = worker(&objects, config(&edge), model.clone());
    let id = job_id();
    let event = objects.put_spec(&id).await;

    // Another worker holds the job (then dies): the message must survive.
    let lease = ledger
        .lease(&id, "killed-worker#1", dreamreel_worker::now_ms(), 3_000)
        .await
        .unwrap();
    assert!(matches!(lease, Lease::Leased { attempt: 1, .. }));
    sqs.send_message()
        .queue_url(&url)
        .message_body(event.to_string())
        .send()
        .await
        .unwrap();
    let consumer = consume(&worker, &sqs, quick(&url));
    until("the message received and put back", async || {
        messages_left(&sqs, &url).await == (0, 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(model.renders.load(Ordering::SeqCst), 0);
    assert_eq!(
        messages_left(&sqs, &url).await,
        (0, 1),
        "not deleted while busy"
    );

    // Received again once the dead lease ran out: rendered, then deleted.
    until("the job settled and the queue empty", async || {
        edge.count(&id, "complete") == 1 && messages_left(&sqs, &url).await == (0, 0)
    })
    .await;
    assert_eq!(model.renders.load(Ordering::SeqCst), 1);
    assert_eq!(edge.calls(&id)[0].body["attempt"], 2);

    // A job that fails every attempt: its message comes back once per
    // attempt and is deleted when the ledger gives up.
    let broken = Arc::new(Broken {
        calls: AtomicU32::new(0),
    });
    let (worker, ledger) = common::worker(&objects, config(&edge), broken.clone());
    stop(consumer).await;
    let id = job_id();
    let event = objects.put_spec(&id).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body(event.to_string())
        .send()
        .await
        .unwrap();
    let consumer = consume(&worker, &sqs, quick(&url));
    until("the failing job ended and the queue empty", async || {
        edge.count(&id, "fail") == 1 && messages_left(&sqs, &url).await == (0, 0)
    })
    .await;
    stop(consumer).await;
    assert_eq!(broken.calls.load(Ordering::SeqCst), 3);
    assert_eq!(edge.count(&id, "start"), 3);
    let record = ledger.get(&id).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Failed, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_stops_while_polling() {
    let moto = moto::start();
    let (sqs, url) = queue(&moto, "jobs-idle").await;
    let edge = Edge::start().await;
    let objects = Objects::start().await;
    let (worker, _) = worker(&objects, config(&edge), Arc::new(Counting::default()));
    let mut options = quick(&url);
    options.wait = Duration::from_secs(20);
    let consumer = consume(&worker, &sqs, options);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    stop(consumer).await;
    assert!(started.elapsed() < Duration::from_secs(5));
}
