//! Per-video viewing counters, kept by atomic increments (no
//! read-modify-write), and the rates ranking derives from them.

use crate::error::ApiError;
use crate::keys;
use crate::store::{Store, decode_counter};

/// The counters kept: impressions, watch time, completions, skips,
/// replays, "not interested".
pub const METRICS: [&str; 6] = ["imp", "watch_ms", "done", "skip", "replay", "hide"];
/// The counters ranking reads, in [`VideoStats`] order (total watch time is
/// kept for analytics; completions say more per key read).
pub const RANKED: [&str; 5] = ["imp", "done", "skip", "replay", "hide"];

/// What viewers did with one video.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VideoStats {
    /// Times it was on screen.
    pub impressions: u64,
    /// Plays to the end.
    pub completions: u64,
    /// Swiped away early.
    pub skips: u64,
    /// Watched again.
    pub replays: u64,
    /// Marked "not interested".
    pub hides: u64,
}

impl VideoStats {
    fn from_values(v: &[u64]) -> Self {
        Self {
            impressions: v[0],
            completions: v[1],
            skips: v[2],
            replays: v[3],
            hides: v[4],
        }
    }

    /// Completion rate, smoothed towards a prior of 0.4 over 5 views so a
    /// video with two views is not judged on them alone.
    pub fn completion_rate(&self) -> f64 {
        smoothed(self.completions, self.impressions, 0.4, 5.0)
    }

    /// Skip rate, smoothed towards 0.3.
    pub fn skip_rate(&self) -> f64 {
        smoothed(self.skips, self.impressions, 0.3, 5.0)
    }

    /// Replays per impression, smoothed towards 0.05.
    pub fn replay_rate(&self) -> f64 {
        smoothed(self.replays, self.impressions, 0.05, 5.0)
    }

    /// "Not interested" per impression, smoothed towards 0.01.
    pub fn hide_rate(&self) -> f64 {
        smoothed(self.hides, self.impressions, 0.01, 10.0)
    }
}

fn smoothed(hits: u64, trials: u64, prior: f64, weight: f64) -> f64 {
    let rate = (hits as f64 + prior * weight) / (trials as f64 + weight);
    rate.clamp(0.0, 1.0)
}

/// The counters of each of `video_ids`, in one batched read.
pub async fn read<S: Store>(store: &S, video_ids: &[String]) -> Result<Vec<VideoStats>, ApiError> {
    if video_ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = video_ids
        .iter()
        .flat_map(|id| RANKED.iter().map(move |m| keys::video_stat(id, m)))
        .collect();
    let found = store.get_many(&keys).await?;
    let values: Vec<u64> = found
        .iter()
        .map(|raw| {
            raw.as_deref()
                .and_then(|b| decode_counter(b).ok())
                .map_or(0, |n| n.max(0) as u64)
        })
        .collect();
    Ok(values
        .chunks(RANKED.len())
        .map(VideoStats::from_values)
        .collect())
}

/// Adds `delta` to counter `metric` (one of [`METRICS`]) of a video.
pub async fn add<S: Store>(
    store: &S,
    video_id: &str,
    metric: &str,
    delta: i64,
) -> Result<(), ApiError> {
    debug_assert!(METRICS.contains(&metric));
    if delta != 0 {
        store
            .increment(&keys::video_stat(video_id, metric), delta)
            .await?;
    }
    Ok(())
}
