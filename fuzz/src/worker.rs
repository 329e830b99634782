//! The fuzz checks of the generation worker's parsers (feature `worker`:
//! the worker crate is a long build, so the other targets skip it).

use std::sync::atomic::AtomicBool;

use dreamreel_core::cameo::verify::parse_recording_key;
use dreamreel_core::jobs::spec::job_id_from_key;
use dreamreel_worker::backends::openai::audio;
use dreamreel_worker::event::{decode_key, parse_event_bytes};
use dreamreel_worker::media::mp4;
use dreamreel_worker::verification::probe_mp4;
use dreamreel_worker::{Aspect, GenerationSpec, JobControl};

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

/// The remote backend's MP4 reader and AAC decoder, over a provider's download.
pub fn provider_mp4(data: &[u8]) {
    let Ok(movie) = mp4::read(data) else {
        return;
    };
    for (i, range) in movie.video.samples.iter().enumerate() {
        assert!(range.start <= range.end && range.end <= data.len());
        let _ = mp4::annex_b(&movie.video, &data[range.clone()], i == 0);
    }
    let Some(Ok(track)) = movie.audio else {
        return;
    };
    assert!(track.packets.iter().all(|r| r.end <= data.len()));
    // A tenth of a second keeps each run quick; the decoder sees every packet it needs.
    let spec = GenerationSpec {
        duration_ms: 100,
        ..GenerationSpec::new("fuzz", 1_000, Aspect::Portrait, 1)
    };
    let cancel = AtomicBool::new(false);
    let progress = |_| {};
    let control = JobControl::new(&cancel, &progress);
    if let Ok(sound) = audio::soundtrack(data, &track, &spec, &control) {
        assert_eq!(sound.samples.len(), spec.audio_samples() * 2);
        assert!(sound.samples.iter().all(|s| s.abs() <= 1.0));
    }
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
