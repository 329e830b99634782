//! The fuzz checks of the generation worker's parsers (feature `worker`:
//! the worker crate is a long build, so the other targets skip it).

use dreamreel_core::cameo::verify::parse_recording_key;
use dreamreel_core::jobs::spec::job_id_from_key;
use dreamreel_worker::event::{decode_key, parse_event_bytes};
use dreamreel_worker::verification::probe_mp4;

/// The worker's S3 / SQS event parser.
pub fn s3_event(data: &[u8]) {
    if let Ok(parsed) = parse_event_bytes(data) {
        for job in &parsed.jobs {
            assert_eq!(job_id_from_key(&job.key), Some(job.job_id.as_str()));
        }
        for r in &parsed.recordings {
            let ids = parse_recording_key(&r.key);
            assert_eq!(ids, Some((r.user_id.as_str(), r.attempt_id.as_str())));
        }
    }
}

/// The worker's MP4 box reader, over members' uploads.
pub fn mp4_boxes(data: &[u8]) {
    let _ = probe_mp4(data);
}

/// S3 event keys, form-decoded: what decodes to one of our keys is exactly it.
pub fn event_key(data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    if let Some(key) = decode_key(&raw) {
        if let Some(id) = job_id_from_key(&key) {
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        if parse_recording_key(&key).is_some() {
            assert!(!key.contains("..") && !key.contains('\\') && !key.contains('\0'));
        }
    }
}
