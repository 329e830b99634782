//! `POST /v1/events`: batched viewing signals. A batch is checked whole
//! before anything is counted (bad input changes nothing); then per-video
//! counters move by atomic increments and the viewer's profile by one
//! compare-and-swap, so the next page already reflects the batch. A batch
//! with a `batch_id` counts once however often the client retries it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::store::Store;
use crate::studio::Video;
use crate::studio::validate::is_ulid;

use super::items::load_live;
use super::{profile, similar, stats, terms};

/// Most events in one call.
pub const MAX_EVENTS: usize = 100;
/// Most watch time one event may report (a 10-second clip looped for two minutes).
pub const MAX_WATCH_MS: u64 = 120_000;
/// Event kinds the feed understands.
pub const KINDS: [&str; 6] = [
    "impression",
    "watch",
    "complete",
    "skip",
    "replay",
    "not_interested",
];
/// What a like says about taste, against a completion's 1.0.
pub const LIKE_TASTE: f64 = 1.5;
/// Terms move by this share of a creator's change.
const TERM_SHARE: f64 = 0.5;

/// The request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// 1..=[`MAX_EVENTS`] events, oldest first.
    pub events: Vec<Event>,
    /// Optional client id of the batch (1–64 of `A-Z a-z 0-9 _ -`): a retry
    /// with the same id is not counted again.
    #[serde(default)]
    pub batch_id: Option<String>,
}

/// One viewing signal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// One of [`KINDS`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The video it is about.
    pub video_id: String,
    /// Milliseconds watched (required for `watch`).
    #[serde(default)]
    pub watch_ms: Option<u64>,
}

/// What became of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventOutcome {
    /// Events counted.
    pub accepted: usize,
    /// Events about videos that are unknown or no longer up.
    pub ignored: usize,
    /// The batch id was already counted; nothing changed.
    pub duplicate: bool,
}

fn invalid(message: String) -> ApiError {
    ApiError::invalid_request(message)
}

/// Checks a batch whole; the first problem names the event.
pub fn validate(batch: &EventBatch) -> Result<(), ApiError> {
    if batch.events.is_empty() || batch.events.len() > MAX_EVENTS {
        return Err(invalid(format!(
            "events must hold 1 to {MAX_EVENTS} events"
        )));
    }
    if let Some(id) = &batch.batch_id {
        let ok = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(invalid("batch_id must be 1-64 of A-Z a-z 0-9 _ -".into()));
        }
    }
    for (i, e) in batch.events.iter().enumerate() {
        if !KINDS.contains(&e.kind.as_str()) {
            return Err(invalid(format!(
                "events[{i}].type must be one of {}",
                KINDS.join(", ")
            )));
        }
        if !is_ulid(&e.video_id) {
            return Err(invalid(format!("events[{i}].video_id is not a video id")));
        }
        match e.watch_ms {
            None if e.kind == "watch" => {
                return Err(invalid(format!(
                    "events[{i}].watch_ms is required for watch"
                )));
            }
            Some(ms) if ms > MAX_WATCH_MS => {
                return Err(invalid(format!(
                    "events[{i}].watch_ms must be at most {MAX_WATCH_MS}"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// How much one event says about the viewer's taste for the video's creator.
fn taste(e: &Event, video: &Video) -> f64 {
    match e.kind.as_str() {
        "complete" | "replay" => 1.0,
        "skip" => -1.0,
        "not_interested" => -3.0,
        "watch" => {
            let length = f64::from(video.media.duration_ms.max(1));
            let ratio = (e.watch_ms.unwrap_or(0) as f64 / length).min(1.0);
            0.8 * (ratio - 0.3)
        }
        _ => 0.0,
    }
}

/// Counts a batch from `viewer`.
pub async fn record_events<S: Store>(
    store: &S,
    env: &dyn Env,
    viewer: &str,
    batch: EventBatch,
) -> Result<EventOutcome, ApiError> {
    validate(&batch)?;
    let mut ids: Vec<String> = batch.events.iter().map(|e| e.video_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let videos = load_live(store, &ids).await?;
    let find = |id: &str| {
        ids.binary_search_by(|x| x.as_str().cmp(id))
            .ok()
            .and_then(|i| videos[i].as_ref())
    };

    let claim = batch.batch_id.as_ref().map(|b| keys::feed_batch(viewer, b));
    if let Some(key) = &claim {
        let stamp = env.now_ms().to_string();
        if !store.compare_and_swap(key, None, stamp.as_bytes()).await? {
            return Ok(EventOutcome {
                accepted: 0,
                ignored: 0,
                duplicate: true,
            });
        }
    }
    let applied = apply(store, env, viewer, &batch.events, &find).await;
    if applied.is_err()
        && let Some(key) = &claim
    {
        // Give the retry its chance: nothing of a failed batch must be lost.
        let _ = store.delete(key).await;
    }
    let (accepted, ignored) = applied?;
    let watched: u64 = batch.events.iter().filter_map(|e| e.watch_ms).sum();
    super::budget::spend(store, env, viewer, watched).await?;
    Ok(EventOutcome {
        accepted,
        ignored,
        duplicate: false,
    })
}

async fn apply<'v, S: Store>(
    store: &S,
    env: &dyn Env,
    viewer: &str,
    events: &[Event],
    find: &impl Fn(&str) -> Option<&'v Video>,
) -> Result<(usize, usize), ApiError> {
    let mut counters: BTreeMap<(String, &'static str), i64> = BTreeMap::new();
    let mut creators: BTreeMap<String, f64> = BTreeMap::new();
    let mut words: BTreeMap<String, f64> = BTreeMap::new();
    let mut watched_through: BTreeMap<String, f64> = BTreeMap::new();
    let (mut accepted, mut ignored) = (0, 0);
    for e in events {
        let Some(video) = find(&e.video_id) else {
            ignored += 1;
            continue;
        };
        accepted += 1;
        let metric = match e.kind.as_str() {
            "impression" => Some("imp"),
            "complete" => Some("done"),
            "skip" => Some("skip"),
            "replay" => Some("replay"),
            "not_interested" => Some("hide"),
            _ => None,
        };
        if let Some(m) = metric {
            *counters.entry((video.id.clone(), m)).or_default() += 1;
        }
        if let Some(ms) = e.watch_ms {
            *counters.entry((video.id.clone(), "watch_ms")).or_default() += ms as i64;
        }
        // One's own videos teach nothing about taste.
        let delta = taste(e, video);
        if matches!(e.kind.as_str(), "complete" | "replay") && video.owner != viewer {
            *watched_through.entry(video.id.clone()).or_default() += 1.0;
        }
        if delta != 0.0 && video.owner != viewer {
            *creators.entry(video.owner.clone()).or_default() += delta;
            for t in terms::extract([video.prompt.as_str(), video.caption.as_str()]) {
                *words.entry(t).or_default() += delta * TERM_SHARE;
            }
        }
    }
    for ((id, metric), delta) in &counters {
        stats::add(store, id, metric, *delta).await?;
    }
    // What was watched through moves the taste (one batched read, bounded by the batch).
    let through: Vec<String> = watched_through.keys().cloned().collect();
    let vectors = similar::embeddings(store, &through).await?;
    if !creators.is_empty() {
        let now = env.now_ms();
        profile::update(store, viewer, |p| {
            p.decay_to(now);
            for (c, d) in &creators {
                p.nudge_creator(c, *d);
            }
            for (t, d) in &words {
                p.nudge_term(t, *d);
            }
            for (v, gain) in vectors.iter().zip(watched_through.values()) {
                if let Some(v) = v {
                    similar::learn(p, v, *gain);
                }
            }
        })
        .await?;
    }
    Ok((accepted, ignored))
}

/// Learns from a like (call it when a like flips on): the viewer's taste
/// for the video's creator and terms moves like a strong completion, so
/// the next For You page already leans that way. Liking one's own video
/// teaches nothing.
pub async fn record_like<S: Store>(
    store: &S,
    env: &dyn Env,
    viewer: &str,
    video: &Video,
) -> Result<(), ApiError> {
    if video.owner == viewer {
        return Ok(());
    }
    let words = terms::extract([video.prompt.as_str(), video.caption.as_str()]);
    let vector = similar::embeddings(store, std::slice::from_ref(&video.id))
        .await?
        .pop()
        .flatten();
    let now = env.now_ms();
    profile::update(store, viewer, |p| {
        p.decay_to(now);
        p.nudge_creator(&video.owner, LIKE_TASTE);
        for t in &words {
            p.nudge_term(t, LIKE_TASTE * TERM_SHARE);
        }
        if let Some(v) = &vector {
            similar::learn(p, v, similar::LIKE_GAIN);
        }
    })
    .await
}
