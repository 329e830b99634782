//! Provenance after upload: a finished job's MP4, fetched back from object
//! storage, carries a C2PA manifest that verifies, names the job, and leaves
//! the file a fast-start H.264 + audio MP4 that ffprobe accepts.

mod common;

use std::sync::Arc;

use common::{Counting, Edge, Objects, config, job_id, worker};
use dreamreel_core::jobs::media_keys;
use dreamreel_worker::JobOutcome;
use dreamreel_worker::provenance::{
    JobAssertion, ManifestSigner, SigningAlg, ValidationState, dev_keys, verify_mp4,
};
use serde_json::Value;

/// Top-level box types in order.
fn box_order(mp4: &[u8]) -> Vec<String> {
    let mut order = Vec::new();
    let mut at = 0;
    while at + 8 <= mp4.len() {
        let size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
        order.push(String::from_utf8_lossy(&mp4[at + 4..at + 8]).into_owned());
        assert!(size >= 8);
        at += size;
    }
    order
}

fn ffprobe(mp4: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    std::fs::write(&path, mp4).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-of", "json"])
        .arg(&path)
        .output()
        .expect("ffprobe is installed (see README)");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn an_uploaded_video_carries_a_verifiable_manifest_naming_its_job() {
    let creds = dev_keys::generate(SigningAlg::Es256).unwrap();
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let mut settings = config(&edge);
    settings.c2pa = Some(ManifestSigner::new(&creds.signing).unwrap());
    let (worker, _ledger) = worker(&objects, settings, Arc::new(Counting::default()));
    let id = job_id();
    let event = objects.put_spec(&id).await;

    let report = worker.handle_event(&event).await.unwrap();
    assert!(matches!(
        report.jobs[0].result,
        Ok(JobOutcome::Completed { .. })
    ));
    let (video_key, _) = media_keys(&id);
    let (mp4, _) = objects.object(&video_key).await.expect("video uploaded");

    let trusted = verify_mp4(&mp4, Some(&creds.root_pem)).unwrap();
    assert_eq!(trusted.state, ValidationState::Trusted, "{trusted:?}");
    assert!(trusted.failures.is_empty(), "{trusted:?}");
    assert_eq!(
        trusted.job,
        Some(JobAssertion {
            job_id: id.clone(),
            model: "counting-local".into(),
        })
    );
    assert_eq!(trusted.generator.as_deref(), Some("Dreamreel"));
    assert_eq!(
        trusted.created_source_type.as_deref(),
        Some("http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia")
    );
    // The complete callback reports the signed file's size.
    let complete = edge.calls(&id).last().unwrap().body.clone();
    assert_eq!(complete["bytes"].as_u64(), Some(mp4.len() as u64));

    // Still one H.264 and one audio stream, and still fast start.
    let probe = ffprobe(&mp4);
    let codecs: Vec<(&str, &str)> = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap(),
                s["codec_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(codecs.len(), 2, "{codecs:?}");
    assert!(codecs.contains(&("video", "h264")), "{codecs:?}");
    assert!(codecs.iter().any(|c| c.0 == "audio"), "{codecs:?}");
    let order = box_order(&mp4);
    let pos = |name: &str| order.iter().position(|b| b == name).unwrap();
    assert!(pos("moov") < pos("mdat"), "{order:?}");
}

#[tokio::test]
async fn a_worker_without_a_signer_still_uploads_but_the_file_has_no_manifest() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let (worker, _ledger) = worker(&objects, config(&edge), Arc::new(Counting::default()));
    let id = job_id();
    let event = objects.put_spec(&id).await;
    worker.handle_event(&event).await.unwrap();
    let (mp4, _) = objects.object(&media_keys(&id).0).await.unwrap();
    assert!(verify_mp4(&mp4, None).is_err());
}
