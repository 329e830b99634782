//! The worker end to end on real jobs: the local S3-compatible store as
//! object storage (specs written and media read back through the S3 API),
//! a stand-in edge that checks every callback's signature, SQLite ledgers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Broken, Counting, Edge, Objects, StartReply, config, job_id, worker};
use dreamreel_core::jobs::media_keys;
use dreamreel_worker::{JobError, JobLedger, JobOutcome, JobState, Lease, QueueOptions, fail_code};
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn quick_queue() -> QueueOptions {
    QueueOptions {
        concurrency: 2,
        retry_delay: Duration::from_millis(50),
        busy_slack: Duration::from_millis(50),
        max_deliveries: 10,
    }
}

/// Feeds `events` to a queue-mode worker and waits until every job settled.
async fn run_queue(worker: &dreamreel_worker::Worker, events: Vec<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    for event in events {
        tx.send(event).unwrap();
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(60), worker.run_queue(rx, quick_queue()))
        .await
        .expect("the queue settles");
}

#[tokio::test]
async fn a_job_becomes_a_video_with_callbacks_in_order() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let (worker, ledger) = worker(&objects, config(&edge), model.clone());
    let id = job_id();
    let event = objects.put_spec(&id).await;

    let report = worker.handle_event(&event).await.unwrap();
    assert_eq!(report.jobs.len(), 1);
    let outcome = report.jobs[0].result.as_ref().unwrap();
    let (video_key, thumb_key) = media_keys(&id);
    assert!(
        matches!(outcome, JobOutcome::Completed { attempt: 1, video_key: k, .. } if *k == video_key),
        "{outcome:?}"
    );
    assert_eq!(model.renders.load(Ordering::SeqCst), 1);

    // The media is in the store, typed, and looks like what it claims to be.
    let (mp4, mp4_type) = objects.object(&video_key).await.expect("video uploaded");
    assert_eq!(mp4_type, "video/mp4");
    assert!(mp4.len() > 1_000);
    assert_eq!(&mp4[4..8], b"ftyp");
    let (jpeg, jpeg_type) = objects
        .object(&thumb_key)
        .await
        .expect("thumbnail uploaded");
    assert_eq!(jpeg_type, "image/jpeg");
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);

    // start → progress… → complete, every one signed, carrying the request id.
    assert_eq!(edge.actions(&id), ["start", "progress", "complete"]);
    let calls = edge.calls(&id);
    assert!(calls.iter().all(|c| c.signed), "{calls:?}");
    let request_id = format!("req-{id}");
    assert!(
        calls
            .iter()
            .all(|c| c.request_id.as_deref() == Some(request_id.as_str()))
    );
    assert_eq!(calls[0].body, json!({"attempt": 1}));
    let progress: Vec<f64> = calls
        .iter()
        .filter(|c| c.action == "progress")
        .map(|c| c.body["progress"].as_f64().unwrap())
        .collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(progress.iter().all(|p| (0.0..=1.0).contains(p)));
    let last_progress = calls.iter().rfind(|c| c.action == "progress").unwrap();
    assert_eq!(last_progress.body["stage"], "uploading");
    let complete = &calls.last().unwrap().body;
    assert_eq!(complete["video_key"], video_key.as_str());
    assert_eq!(complete["thumbnail_key"], thumb_key.as_str());
    assert_eq!(complete["duration_ms"], 1_000);
    assert_eq!(
        (complete["width"].as_u64(), complete["height"].as_u64()),
        (Some(720), Some(720))
    );
    assert_eq!(complete["bytes"].as_u64(), Some(mp4.len() as u64));

    let record = ledger.get(&id).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Completed, 1));
}

#[tokio::test]
async fn the_same_event_twice_makes_one_video() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let (worker, _) = worker(&objects, config(&edge), model.clone());

    // One after the other: the second delivery finds the job done.
    let id = job_id();
    let event = objects.put_spec(&id).await;
    let first = worker.handle_event(&event).await.unwrap();
    assert!(matches!(
        first.jobs[0].result,
        Ok(JobOutcome::Completed { .. })
    ));
    let second = worker.handle_event(&event).await.unwrap();
    assert!(matches!(second.jobs[0].result, Ok(JobOutcome::AlreadyDone)));

    // At the same time, through the queue: one renders, the other is busy,
    // waits out the lease and then finds the job done.
    let id2 = job_id();
    let event2 = objects.put_spec(&id2).await;
    run_queue(&worker, vec![event2.clone(), event2]).await;

    assert_eq!(model.renders.load(Ordering::SeqCst), 2);
    for id in [&id, &id2] {
        assert_eq!(edge.count(id, "start"), 1, "{:?}", edge.actions(id));
        assert_eq!(edge.count(id, "complete"), 1);
    }
}

#[tokio::test]
async fn a_job_whose_worker_died_is_retried_after_the_lease_expires() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let mut config = config(&edge);
    config.lease_ms = 1_500;
    let (worker, ledger) = worker(&objects, config, model.clone());
    let id = job_id();
    let event = objects.put_spec(&id).await;

    // A worker took the lease and was killed: no renewal, no result.
    let lease = ledger
        .lease(&id, "killed-worker#1", dreamreel_worker::now_ms(), 1_500)
        .await
        .unwrap();
    assert!(matches!(lease, Lease::Leased { attempt: 1, .. }));
    let busy = worker.handle_event(&event).await.unwrap();
    assert!(matches!(busy.jobs[0].result, Err(JobError::Busy { .. })));
    assert!(busy.needs_retry());

    // Redelivered (as the queue does) once the dead lease runs out.
    run_queue(&worker, vec![event.clone()]).await;
    assert_eq!(model.renders.load(Ordering::SeqCst), 1);
    assert_eq!(edge.actions(&id), ["start", "progress", "complete"]);
    assert_eq!(edge.calls(&id)[0].body, json!({"attempt": 2}));
    let record = ledger.get(&id).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Completed, 2));
    // And a late duplicate of the original event changes nothing.
    let late = worker.handle_event(&event).await.unwrap();
    assert!(matches!(late.jobs[0].result, Ok(JobOutcome::AlreadyDone)));
    assert!(objects.object(&media_keys(&id).0).await.is_some());
}

#[tokio::test]
async fn a_worker_that_loses_its_lease_mid_render_stops_without_uploading() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    // A render slower than the lease: another worker takes the job over.
    struct Slow(AtomicU32);
    impl dreamreel_worker::VideoModel for Slow {
        fn name(&self) -> &str {
            "slow"
        }
        fn generate(
            &self,
            spec: &dreamreel_worker::GenerationSpec,
            sink: &mut dyn dreamreel_worker::FrameSink,
            control: &dreamreel_worker::JobControl<'_>,
        ) -> Result<dreamreel_worker::Soundtrack, dreamreel_worker::ModelError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            for _ in 0..100 {
                control.checkpoint()?;
                std::thread::sleep(Duration::from_millis(20));
            }
            dreamreel_worker::LocalModel.generate(spec, sink, control)
        }
    }
    let mut config = config(&edge);
    config.lease_ms = 600;
    let (worker, ledger) = worker(&objects, config, Arc::new(Slow(AtomicU32::new(0))));
    let id = job_id();
    let event = objects.put_spec(&id).await;

    let job = {
        let worker = worker.clone();
        let event = event.clone();
        tokio::spawn(async move { worker.handle_event(&event).await })
    };
    // Steal the lease: a clock far ahead makes it look expired.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stolen = ledger
        .lease(&id, "thief#1", dreamreel_worker::now_ms() + 10_000, 60_000)
        .await
        .unwrap();
    assert!(matches!(stolen, Lease::Leased { attempt: 2, .. }));
    let report = job.await.unwrap().unwrap();
    assert!(
        matches!(report.jobs[0].result, Err(JobError::LeaseLost)),
        "{:?}",
        report.jobs[0].result
    );
    assert!(objects.object(&media_keys(&id).0).await.is_none());
    assert_eq!(edge.count(&id, "complete"), 0);
    // The thief's lease is untouched.
    let record = ledger.get(&id).await.unwrap().unwrap();
    assert_eq!(record.holder.as_deref(), Some("thief#1"));
}

#[tokio::test]
async fn a_job_that_always_fails_ends_failed_after_max_attempts() {
    // The edge's start route is broken for good.
    let edge = Edge::start().await;
    edge.reply_to_start(StartReply::Status(500));
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let (worker, ledger) = worker(&objects, config(&edge), model.clone());
    let id = job_id();
    let event = objects.put_spec(&id).await;
    run_queue(&worker, vec![event.clone()]).await;

    assert_eq!(model.renders.load(Ordering::SeqCst), 0);
    // 3 attempts × 2 tries each, then one fail callback.
    assert_eq!(edge.count(&id, "start"), 6);
    assert_eq!(edge.count(&id, "fail"), 1);
    let fail = edge.calls(&id).last().unwrap().clone();
    assert_eq!(fail.action, "fail");
    assert!(fail.signed);
    assert_eq!(fail.body["code"], fail_code::GENERATION_FAILED);
    assert_eq!(fail.body["attempts"], 3);
    assert!(fail.body["reason"].as_str().unwrap().contains("500"));
    let record = ledger.get(&id).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Failed, 3));
    let again = worker.handle_event(&event).await.unwrap();
    assert!(matches!(again.jobs[0].result, Ok(JobOutcome::AlreadyDone)));

    // A model that always errors: same ending, one render per attempt.
    let edge = Edge::start().await;
    let broken = Arc::new(Broken {
        calls: AtomicU32::new(0),
    });
    let (worker, _) = common::worker(&objects, config(&edge), broken.clone());
    let id = job_id();
    let event = objects.put_spec(&id).await;
    run_queue(&worker, vec![event]).await;
    assert_eq!(broken.calls.load(Ordering::SeqCst), 3);
    assert_eq!(edge.count(&id, "start"), 3);
    assert_eq!(edge.count(&id, "fail"), 1);
    assert_eq!(edge.count(&id, "complete"), 0);
    let fail = edge.calls(&id).last().unwrap().body.clone();
    assert!(
        fail["reason"].as_str().unwrap().contains("out of memory"),
        "{fail}"
    );
}

#[tokio::test]
async fn a_fail_callback_that_does_not_get_through_is_sent_on_a_later_delivery() {
    let edge = Edge::start().await;
    // Both tries of the first `fail` callback hit a down edge.
    edge.break_fail_route(2);
    let mut objects = Objects::start().await;
    let broken = Arc::new(Broken {
        calls: AtomicU32::new(0),
    });
    let mut config = config(&edge);
    config.max_attempts = 1;
    let (worker, ledger) = worker(&objects, config, broken.clone());
    let id = job_id();
    let event = objects.put_spec(&id).await;

    let first = worker.handle_event(&event).await.unwrap();
    assert!(first.needs_retry(), "the refund must not be lost");
    run_queue(&worker, vec![event]).await;

    // One render; the failure reported once it could be, with its real cause.
    assert_eq!(broken.calls.load(Ordering::SeqCst), 1);
    assert_eq!(edge.count(&id, "fail"), 3);
    let fail = edge.calls(&id).last().unwrap().body.clone();
    assert_eq!(fail["code"], fail_code::GENERATION_FAILED);
    assert_eq!(fail["attempts"], 1);
    assert!(
        fail["reason"].as_str().unwrap().contains("out of memory"),
        "{fail}"
    );
    let record = ledger.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Failed);
}

#[tokio::test]
async fn the_edge_can_refuse_a_job() {
    let edge = Edge::start().await;
    edge.reply_to_start(StartReply::Refuse("consent revoked"));
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let (worker, ledger) = worker(&objects, config(&edge), model.clone());
    let id = job_id();
    let event = objects.put_spec(&id).await;

    let report = worker.handle_event(&event).await.unwrap();
    assert_eq!(
        report.jobs[0].result.as_ref().unwrap(),
        &JobOutcome::Refused {
            reason: "consent revoked".into()
        }
    );
    assert_eq!(model.renders.load(Ordering::SeqCst), 0);
    assert_eq!(edge.actions(&id), ["start"]);
    assert_eq!(
        ledger.get(&id).await.unwrap().unwrap().state,
        JobState::Failed
    );
    let again = worker.handle_event(&event).await.unwrap();
    assert!(matches!(again.jobs[0].result, Ok(JobOutcome::AlreadyDone)));
}

#[tokio::test]
async fn bad_specs_and_strange_events_are_reported_not_crashes() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let (worker, _) = worker(&objects, config(&edge), model.clone());

    // Not JSON: ends failed, and the edge is not told (nothing names the job).
    let garbage = job_id();
    let event = objects.put_job(&garbage, b"{not json").await;
    let report = worker.handle_event(&event).await.unwrap();
    assert!(
        matches!(
            &report.jobs[0].result,
            Ok(JobOutcome::Failed { code, reported: false, .. }) if *code == fail_code::INVALID_SPEC
        ),
        "{:?}",
        report.jobs[0].result
    );
    assert!(edge.calls(&garbage).is_empty());

    // Names the job but asks for 11 seconds: failed, and the edge is told.
    let too_long = job_id();
    let mut spec = common::spec(&too_long);
    spec.duration_ms = 11_000;
    let event = objects
        .put_job(&too_long, &serde_json::to_vec(&spec).unwrap())
        .await;
    let report = worker.handle_event(&event).await.unwrap();
    assert!(matches!(
        &report.jobs[0].result,
        Ok(JobOutcome::Failed { reported: true, .. })
    ));
    assert_eq!(edge.actions(&too_long), ["fail"]);
    let fail = edge.calls(&too_long)[0].body.clone();
    assert_eq!(fail["code"], fail_code::INVALID_SPEC);
    assert!(fail["reason"].as_str().unwrap().contains("11000"), "{fail}");

    // Names the job, has a field the contract does not know: told too.
    let unknown = job_id();
    let mut value = serde_json::to_value(common::spec(&unknown)).unwrap();
    value["evil"] = json!(1);
    let event = objects
        .put_job(&unknown, value.to_string().as_bytes())
        .await;
    worker.handle_event(&event).await.unwrap();
    assert_eq!(edge.actions(&unknown), ["fail"]);

    // An event for a job whose spec is not there (an unknown job).
    let missing = job_id();
    let mut ghost = objects.put_spec(&job_id()).await;
    ghost["Records"][0]["s3"]["object"]["key"] = json!(format!("jobs/{missing}.json"));
    let report = worker.handle_event(&ghost).await.unwrap();
    assert!(matches!(
        &report.jobs[0].result,
        Ok(JobOutcome::Failed {
            reported: false,
            ..
        })
    ));

    // S3's test event, a removal, a media key and unreadable input.
    let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "media"});
    let report = worker.handle_event(&test).await.unwrap();
    assert!(report.test_event && report.jobs.is_empty());
    let mut media = ghost.clone();
    media["Records"][0]["s3"]["object"]["key"] = json!("media/x/video.mp4");
    let mut other_bucket = ghost.clone();
    other_bucket["Records"][0]["s3"]["bucket"]["name"] = json!("elsewhere");
    for event in [media, other_bucket] {
        let report = worker.handle_event(&event).await.unwrap();
        assert!(
            report.jobs.is_empty() && report.skipped.len() == 1,
            "{report:?}"
        );
    }
    assert!(
        worker
            .handle_event(&json!(["not", "an", "event"]))
            .await
            .is_err()
    );
    assert!(
        worker
            .handle_event(&json!({"Records": [{"eventName": 5}]}))
            .await
            .unwrap()
            .jobs
            .is_empty()
    );

    assert_eq!(model.renders.load(Ordering::SeqCst), 0);
}

/// A model that keeps the reference image each render was given.
#[derive(Default)]
struct Conditioned {
    seen: std::sync::Mutex<Vec<Option<dreamreel_worker::ReferenceImage>>>,
}

impl dreamreel_worker::VideoModel for Conditioned {
    fn name(&self) -> &str {
        "conditioned"
    }

    fn generate(
        &self,
        spec: &dreamreel_worker::GenerationSpec,
        sink: &mut dyn dreamreel_worker::FrameSink,
        control: &dreamreel_worker::JobControl<'_>,
    ) -> Result<dreamreel_worker::Soundtrack, dreamreel_worker::ModelError> {
        self.seen.lock().unwrap().push(spec.reference.clone());
        dreamreel_worker::LocalModel.generate(spec, sink, control)
    }
}

/// The mean RGB of a picture.
fn mean_colour(rgb: &[u8]) -> [f64; 3] {
    let mut sum = [0f64; 3];
    for px in rgb.chunks_exact(3) {
        for (s, &c) in sum.iter_mut().zip(px) {
            *s += f64::from(c);
        }
    }
    sum.map(|s| s / (rgb.len() / 3) as f64)
}

#[tokio::test]
async fn the_first_cast_member_with_a_recording_conditions_the_model() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Conditioned::default());
    let (worker, _) = worker(&objects, config(&edge), model.clone());
    let green = common::recording(|_, _| [40, 180, 90]);
    let red = common::recording(|_, _| [210, 30, 30]);
    let ana = common::put_recording(&objects, "01JUSERANA0000000000000000", green).await;
    let carla = common::put_recording(&objects, "01JUSERCARLA00000000000000", red).await;

    // Bruno has no verified recording; Ana comes before Carla.
    let id = job_id();
    let mut spec = common::spec(&id);
    spec.cast = vec![
        common::cast_member("bruno", None),
        common::cast_member("ana", Some(ana)),
        common::cast_member("carla", Some(carla)),
    ];
    let event = objects
        .put_job(&id, &serde_json::to_vec(&spec).unwrap())
        .await;
    let report = worker.handle_event(&event).await.unwrap();
    assert!(
        matches!(report.jobs[0].result, Ok(JobOutcome::Completed { .. })),
        "{:?}",
        report.jobs[0].result
    );

    let image = model.seen.lock().unwrap()[0]
        .clone()
        .expect("a reference frame");
    assert_eq!(
        (image.handle.as_str(), image.width, image.height),
        ("ana", 720, 720)
    );
    assert_eq!(image.rgb.len(), 720 * 720 * 3);
    // Her recording's colour, through H.264 and back (the watermark is small).
    let [r, g, b] = mean_colour(&image.rgb);
    assert!(
        (r - 40.0).abs() < 16.0 && (g - 180.0).abs() < 16.0 && (b - 90.0).abs() < 16.0,
        "mean colour {r:.0},{g:.0},{b:.0}"
    );

    // No cast, no reference.
    let plain = job_id();
    let event = objects.put_spec(&plain).await;
    worker.handle_event(&event).await.unwrap();
    assert_eq!(model.seen.lock().unwrap()[1..], [None]);
}

#[tokio::test]
async fn a_cast_members_missing_or_broken_recording_fails_the_job_once() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let (worker, ledger) = worker(&objects, config(&edge), model.clone());
    // Expired (a lifecycle rule removed it), and an upload that is no video.
    let gone =
        dreamreel_core::cameo::verify::recording_key("01JUSERANA0000000000000000", &job_id());
    let junk = common::put_recording(
        &objects,
        "01JUSERANA0000000000000000",
        b"not a video".to_vec(),
    )
    .await;

    for key in [gone, junk] {
        let id = job_id();
        let mut spec = common::spec(&id);
        spec.cast = vec![common::cast_member("ana", Some(key.clone()))];
        let event = objects
            .put_job(&id, &serde_json::to_vec(&spec).unwrap())
            .await;
        let report = worker.handle_event(&event).await.unwrap();
        assert!(
            matches!(
                &report.jobs[0].result,
                Ok(JobOutcome::Failed { attempts: 1, code, reported: true, .. })
                    if *code == fail_code::CAMEO_REFERENCE_UNAVAILABLE
            ),
            "{key}: {:?}",
            report.jobs[0].result
        );
        // Consent was rechecked first; then the failure, never a render.
        assert_eq!(edge.actions(&id), ["start", "fail"]);
        let fail = edge.calls(&id)[1].body.clone();
        assert_eq!(fail["code"], fail_code::CAMEO_REFERENCE_UNAVAILABLE);
        let reason = fail["reason"].as_str().unwrap();
        assert!(
            reason.contains("@ana must verify their cameo again"),
            "{reason}"
        );
        assert!(!reason.contains(&key), "the reason names no storage key");
        let record = ledger.get(&id).await.unwrap().unwrap();
        assert_eq!((record.state, record.attempts), (JobState::Failed, 1));
        let again = worker.handle_event(&event).await.unwrap();
        assert!(matches!(again.jobs[0].result, Ok(JobOutcome::AlreadyDone)));
    }
    assert_eq!(model.renders.load(Ordering::SeqCst), 0);
}

/// The local store, but reading cameo recordings fails the first `n` times.
struct FlakyRecordings {
    inner: dreamreel_worker::S3Storage,
    failures: AtomicU32,
}

impl dreamreel_worker::ObjectStorage for FlakyRecordings {
    fn get<'a>(
        &'a self,
        key: &'a str,
        limit: u64,
    ) -> dreamreel_worker::ledger::BoxFuture<
        'a,
        Result<Option<Vec<u8>>, dreamreel_worker::StorageError>,
    > {
        let fail = key.starts_with("cameo/")
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if fail {
            return Box::pin(async move {
                Err(dreamreel_worker::StorageError::Service {
                    op: "GetObject",
                    key: key.to_owned(),
                    detail: "SlowDown: please reduce your request rate".into(),
                })
            });
        }
        self.inner.get(key, limit)
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        content_type: &'a str,
    ) -> dreamreel_worker::ledger::BoxFuture<'a, Result<(), dreamreel_worker::StorageError>> {
        self.inner.put(key, body, content_type)
    }

    fn delete<'a>(
        &'a self,
        key: &'a str,
    ) -> dreamreel_worker::ledger::BoxFuture<'a, Result<(), dreamreel_worker::StorageError>> {
        self.inner.delete(key)
    }
}

#[tokio::test]
async fn storage_trouble_reading_a_recording_is_retried() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Conditioned::default());
    let storage = FlakyRecordings {
        inner: objects.storage(),
        failures: AtomicU32::new(1),
    };
    let ledger = Arc::new(dreamreel_worker::SqliteLedger::in_memory().unwrap());
    let worker = dreamreel_worker::Worker::new(
        config(&edge),
        ledger.clone(),
        Arc::new(storage),
        model.clone(),
    )
    .unwrap();
    let mp4 = common::recording(|_, _| [40, 180, 90]);
    let key = common::put_recording(&objects, "01JUSERANA0000000000000000", mp4).await;
    let id = job_id();
    let mut spec = common::spec(&id);
    spec.cast = vec![common::cast_member("ana", Some(key))];
    let event = objects
        .put_job(&id, &serde_json::to_vec(&spec).unwrap())
        .await;

    let first = worker.handle_event(&event).await.unwrap();
    assert!(
        matches!(&first.jobs[0].result, Err(JobError::AttemptFailed { attempt: 1, reason }) if reason.contains("SlowDown")),
        "{:?}",
        first.jobs[0].result
    );
    run_queue(&worker, vec![event]).await;
    let record = ledger.get(&id).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Completed, 2));
    assert_eq!(edge.count(&id, "fail"), 0);
    let seen = model.seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "one render, on the attempt that read it");
    assert_eq!(seen[0].as_ref().map(|r| r.handle.as_str()), Some("ana"));
}
