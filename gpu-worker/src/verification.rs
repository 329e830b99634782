//! Cameo verification recordings: what an uploaded `cameo/{user}/{attempt}.mp4`
//! holds (size, length, picture, sound), reported to the edge, which judges
//! it against the challenge. The worker measures and never decides, so the
//! rules live in one place (`dreamreel_core::cameo::verify`).
//!
//! Whether the person said the digits and turned their head needs speech
//! and face models; those arrive with the worker's model backends.

use dreamreel_core::cameo::verify::{MAX_RECORDING_BYTES, RecordingReport};
use serde_json::json;

use crate::event::RecordingRef;
use crate::log::worker_event;
use crate::pipeline::Worker;
use crate::storage::StorageError;

/// What an MP4's boxes say about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mp4Facts {
    /// From the movie header.
    pub duration_ms: u64,
    /// The first video track's picture, if any.
    pub video: Option<(u32, u32)>,
    /// Whether a sound track is present.
    pub has_audio: bool,
}

/// Reads the `moov` box of an MP4: duration, picture size, sound.
pub fn probe_mp4(bytes: &[u8]) -> Result<Mp4Facts, String> {
    let top = boxes(bytes)?;
    if !top.iter().any(|(kind, _)| kind == b"ftyp") {
        return Err("not an MP4 (no ftyp box)".into());
    }
    let moov = find(&top, b"moov").ok_or("no moov box")?;
    let inner = boxes(moov)?;
    let mvhd = find(&inner, b"mvhd").ok_or("no movie header")?;
    let (timescale, duration) = match mvhd.first() {
        Some(1) => (be32(mvhd, 20)?, be64(mvhd, 24)?),
        Some(0) => (be32(mvhd, 12)?, u64::from(be32(mvhd, 16)?)),
        _ => return Err("unknown movie header version".into()),
    };
    if timescale == 0 {
        return Err("the movie header has no timescale".into());
    }
    let mut facts = Mp4Facts {
        duration_ms: duration.saturating_mul(1000) / u64::from(timescale),
        ..Mp4Facts::default()
    };
    for (_, trak) in inner.iter().filter(|(k, _)| k == b"trak") {
        let parts = boxes(trak)?;
        let handler = find(&parts, b"mdia")
            .map(boxes)
            .transpose()?
            .and_then(|mdia| {
                find(&mdia, b"hdlr").map(|h| h.get(8..12).unwrap_or_default().to_vec())
            });
        match handler.as_deref() {
            Some(b"vide") if facts.video.is_none() => {
                let tkhd = find(&parts, b"tkhd").ok_or("a video track has no header")?;
                let at = if tkhd.first() == Some(&1) { 88 } else { 76 };
                facts.video = Some((be32(tkhd, at)? >> 16, be32(tkhd, at + 4)? >> 16));
            }
            Some(b"soun") => facts.has_audio = true,
            _ => {}
        }
    }
    Ok(facts)
}

/// One MP4 box: its four-letter type and its body.
type Mp4Box<'a> = ([u8; 4], &'a [u8]);

/// Each box in `bytes`.
fn boxes(bytes: &[u8]) -> Result<Vec<Mp4Box<'_>>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u64::from(be32(bytes, at)?);
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().expect("four bytes");
        let (header, size) = match size {
            1 => (16, be64(bytes, at + 8)?),
            0 => (8, (bytes.len() - at) as u64),
            n => (8, n),
        };
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| at.checked_add(s))
            .filter(|end| *end <= bytes.len() && size >= header as u64)
            .ok_or_else(|| format!("box {} overruns the file", String::from_utf8_lossy(&kind)))?;
        out.push((kind, &bytes[at + header..end]));
        at = end;
    }
    Ok(out)
}

fn find<'a>(boxes: &[Mp4Box<'a>], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes.iter().find(|(k, _)| k == kind).map(|(_, b)| *b)
}

fn be32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes(s.try_into().expect("four bytes")))
        .ok_or_else(|| "a box is cut short".into())
}

fn be64(b: &[u8], at: usize) -> Result<u64, String> {
    b.get(at..at + 8)
        .map(|s| u64::from_be_bytes(s.try_into().expect("eight bytes")))
        .ok_or_else(|| "a box is cut short".into())
}

/// What `bytes` (an upload of `recording`) is, as the edge wants to hear it.
pub fn measure(recording: &RecordingRef, bytes: Option<&[u8]>, size: u64) -> RecordingReport {
    let mut report = RecordingReport {
        attempt_id: recording.attempt_id.clone(),
        object_key: recording.key.clone(),
        bytes: size,
        uploaded_at_ms: recording.uploaded_at_ms,
        duration_ms: None,
        width: None,
        height: None,
        has_audio: false,
        problem: None,
    };
    let Some(bytes) = bytes else {
        report.problem = Some(format!("larger than {} MiB", MAX_RECORDING_BYTES >> 20));
        return report;
    };
    match probe_mp4(bytes) {
        Ok(facts) => {
            report.duration_ms = Some(facts.duration_ms);
            report.width = facts.video.map(|v| v.0);
            report.height = facts.video.map(|v| v.1);
            report.has_audio = facts.has_audio;
        }
        Err(problem) => report.problem = Some(problem),
    }
    report
}

impl Worker {
    /// Fetches a verification recording, measures it and reports to the
    /// edge. A recording that is gone or answers a closed challenge is
    /// dropped; `Err` when storage or the edge could not be reached.
    pub async fn check_recording(&self, recording: &RecordingRef) -> Result<(), String> {
        let fetched = self
            .storage()
            .get(&recording.key, MAX_RECORDING_BYTES)
            .await;
        let report = match fetched {
            Ok(Some(bytes)) => measure(recording, Some(&bytes), bytes.len() as u64),
            Ok(None) => {
                worker_event(
                    "warn",
                    "recording vanished",
                    json!({ "key": recording.key }),
                );
                return Ok(());
            }
            Err(StorageError::TooLarge { size, .. }) => measure(recording, None, size),
            Err(e) => return Err(e.to_string()),
        };
        let answer = self
            .edge()
            .report_recording(&report)
            .await
            .map_err(|e| e.to_string())?;
        worker_event(
            "info",
            "recording reported",
            json!({ "key": recording.key, "problem": report.problem, "answer": answer }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::{Aspect, GenerationSpec, LocalModel, render_clip};

    fn recording() -> RecordingRef {
        RecordingRef {
            user_id: "01USER0000000000000000000A".into(),
            attempt_id: "01ATTEMPT00000000000000000".into(),
            bucket: "b".into(),
            key: "cameo/01USER0000000000000000000A/01ATTEMPT00000000000000000.mp4".into(),
            uploaded_at_ms: 42,
        }
    }

    #[test]
    fn a_rendered_clip_measures_as_what_it_is() {
        let spec = GenerationSpec::new("a face turning left", 3_000, Aspect::Portrait, 5);
        let clip = render_clip(&LocalModel, &spec, &|_| {}, &AtomicBool::new(false)).unwrap();
        let facts = probe_mp4(&clip.mp4).unwrap();
        assert_eq!(facts.video, Some((clip.width, clip.height)));
        assert!(facts.has_audio);
        assert!(facts.duration_ms.abs_diff(3_000) <= 100, "{facts:?}");

        let report = measure(&recording(), Some(&clip.mp4), clip.mp4.len() as u64);
        assert_eq!(report.problem, None);
        assert_eq!(report.uploaded_at_ms, 42);
        assert_eq!(report.width, Some(clip.width));
    }

    #[test]
    fn anything_else_is_reported_as_unreadable() {
        for junk in [
            &b""[..],
            b"hello world",
            &[0, 0, 0, 200, b'f', b't', b'y', b'p', 1, 2],
        ] {
            let report = measure(&recording(), Some(junk), junk.len() as u64);
            assert!(report.problem.is_some(), "{junk:?}");
            assert_eq!(report.duration_ms, None);
        }
        let huge = measure(&recording(), None, MAX_RECORDING_BYTES + 1);
        assert!(huge.problem.unwrap().contains("larger"));
        assert_eq!(huge.bytes, MAX_RECORDING_BYTES + 1);
    }
}
