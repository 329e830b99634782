//! Liveness verification: a random challenge, a recording uploaded straight
//! to object storage, the worker's report on it, and the edge's verdict.
//!
//! The worker only measures (size, duration, tracks, when it arrived); the
//! rules that decide live here, so the edge stays the one authority.

use serde::{Deserialize, Serialize};

use crate::env::{Env, random_bytes};
use crate::error::ApiError;
use crate::ids::new_ulid;
use crate::store::Store;

use super::model::{Attempt, Cameo, CameoStatus};
use super::store::update;

/// Object key prefix of liveness recordings.
pub const RECORDINGS_PREFIX: &str = "cameo/";
/// How long a challenge may be answered.
pub const CHALLENGE_TTL_MS: u64 = 10 * 60 * 1000;
/// Largest recording accepted.
pub const MAX_RECORDING_BYTES: u64 = 50 << 20;
/// Shortest and longest recording: long enough to say the digits and turn.
pub const RECORDING_MS: std::ops::RangeInclusive<u64> = 3_000..=30_000;
/// Smallest picture side in which a face can be checked.
pub const MIN_SIDE: u32 = 240;
/// The one upload type accepted.
pub const RECORDING_TYPE: &str = "video/mp4";

const TURNS: [&str; 4] = ["left", "right", "up", "down"];

/// `cameo/{user_id}/{attempt_id}.mp4`.
pub fn recording_key(user_id: &str, attempt_id: &str) -> String {
    format!("{RECORDINGS_PREFIX}{user_id}/{attempt_id}.mp4")
}

/// `(user_id, attempt_id)` of a recording key.
pub fn parse_recording_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(RECORDINGS_PREFIX)?.strip_suffix(".mp4")?;
    let (user, attempt) = rest.split_once('/')?;
    let ulid = |s: &str| s.len() == 26 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (ulid(user) && ulid(attempt)).then_some((user, attempt))
}

/// Issues a new challenge for `user_id`. A verified likeness stays usable
/// until the new recording is judged; the verdict then replaces it.
pub async fn start<S: Store>(store: &S, env: &dyn Env, user_id: &str) -> Result<Attempt, ApiError> {
    let now = env.now_ms();
    let id = new_ulid(env);
    let rolls = random_bytes::<7>(env);
    let attempt = Attempt {
        digits: rolls[..4]
            .iter()
            .map(|b| char::from(b'0' + b % 10))
            .collect(),
        turns: rolls[4..]
            .iter()
            .map(|b| TURNS[*b as usize % TURNS.len()].to_owned())
            .collect(),
        upload_key: recording_key(user_id, &id),
        id,
        issued_at_ms: now,
        expires_at_ms: now + CHALLENGE_TTL_MS,
    };
    update(store, user_id, |c| {
        c.user_id = user_id.to_owned();
        c.attempt = Some(attempt.clone());
        // A member verified now stays castable while they verify again.
        if !c.is_verified_at(now) {
            c.status = CameoStatus::Pending;
        }
        c.updated_at_ms = now;
        Ok(())
    })
    .await?;
    Ok(attempt)
}

/// What the worker measured of an uploaded recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingReport {
    /// The challenge it answers.
    pub attempt_id: String,
    /// Where it was uploaded.
    pub object_key: String,
    /// Its size.
    pub bytes: u64,
    /// Unix ms the upload completed (the storage event's time).
    pub uploaded_at_ms: u64,
    /// Its length, when it could be read as an MP4.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Picture size, when it has a video track.
    #[serde(default)]
    pub width: Option<u32>,
    /// Picture size, when it has a video track.
    #[serde(default)]
    pub height: Option<u32>,
    /// Whether it has sound (the digits are said aloud).
    #[serde(default)]
    pub has_audio: bool,
    /// Why it could not be read, if it could not.
    #[serde(default)]
    pub problem: Option<String>,
}

/// The verdict on a recording: `Ok` or the reason it is refused.
pub fn judge(attempt: &Attempt, report: &RecordingReport) -> Result<(), String> {
    if let Some(problem) = &report.problem {
        return Err(format!("the recording could not be read: {problem}"));
    }
    if report.object_key != attempt.upload_key {
        return Err("the recording is not where the challenge asked for it".into());
    }
    if report.uploaded_at_ms < attempt.issued_at_ms || report.uploaded_at_ms > attempt.expires_at_ms
    {
        return Err(
            "the recording arrived outside the challenge's ten minutes; start again".into(),
        );
    }
    if report.bytes > MAX_RECORDING_BYTES {
        return Err(format!(
            "the recording is larger than {} MiB",
            MAX_RECORDING_BYTES >> 20
        ));
    }
    match report.duration_ms {
        Some(ms) if RECORDING_MS.contains(&ms) => {}
        Some(ms) => {
            return Err(format!(
                "the recording lasts {:.1} s; it must last {}-{} s",
                ms as f64 / 1000.0,
                RECORDING_MS.start() / 1000,
                RECORDING_MS.end() / 1000
            ));
        }
        None => return Err("the recording has no duration".into()),
    }
    match (report.width, report.height) {
        (Some(w), Some(h)) if w.min(h) >= MIN_SIDE => {}
        (Some(_), Some(_)) => {
            return Err(format!(
                "the picture is smaller than {MIN_SIDE} pixels on a side"
            ));
        }
        _ => return Err("the recording has no picture".into()),
    }
    if !report.has_audio {
        return Err("the recording has no sound: say the digits aloud".into());
    }
    Ok(())
}

/// Applies the worker's report to `user_id`'s cameo. A report for a
/// challenge that is no longer the current one is refused with 409
/// `stale_attempt` and changes nothing.
pub async fn finish<S: Store>(
    store: &S,
    env: &dyn Env,
    user_id: &str,
    report: &RecordingReport,
) -> Result<Cameo, ApiError> {
    let now = env.now_ms();
    let (cameo, ()) = update(store, user_id, |c| {
        let Some(attempt) = c.attempt.clone().filter(|a| a.id == report.attempt_id) else {
            return Err(ApiError::conflict(
                "stale_attempt",
                "this recording answers a challenge that is no longer open",
            ));
        };
        match judge(&attempt, report) {
            Ok(()) => {
                c.status = CameoStatus::Verified;
                c.reference_key = Some(report.object_key.clone());
                c.verified_at_ms = Some(now);
                c.refusal = None;
            }
            Err(reason) => {
                // The new verdict replaces the old likeness either way.
                c.status = CameoStatus::Refused;
                c.reference_key = None;
                c.verified_at_ms = None;
                c.refusal = Some(reason);
            }
        }
        c.attempt = None;
        c.updated_at_ms = now;
        Ok(())
    })
    .await?;
    Ok(cameo)
}
