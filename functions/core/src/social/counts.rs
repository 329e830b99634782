//! Exact counts of likes, comments and shares, with adaptive sharding: a
//! video starts with one counter per kind (shard 0), and only a video whose
//! counters get hot (many writes within seconds) spreads its writes over
//! [`LIKE_SHARDS`] / [`COMMENT_SHARDS`] / [`SHARE_SHARDS`] shards from then
//! on. A read takes a video's wide mark and shard 0 of each kind in the same
//! batched read as the rest of a feed item, and the other shards only for
//! the few wide videos.
//!
//! Exactness: every change is one atomic increment, and a video never goes
//! back to narrow, so a reader that sees the mark sums every shard a write
//! ever reached. An unlike may land on another shard than its like (the
//! video widened in between): single shards may then dip below zero, the sum
//! stays exact.

use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::store::{Store, decode_counter};

use super::edge;

/// Shards of a wide video's like count (the hottest counter).
pub const LIKE_SHARDS: u32 = 16;
/// Shards of a wide video's comment count.
pub const COMMENT_SHARDS: u32 = 8;
/// Shards of a wide video's share count.
pub const SHARE_SHARDS: u32 = 8;
/// Counter writes within one heat window at which a video goes wide (about
/// 20 a second: far below a key's write limit, yet reached within a second
/// by a video going viral).
pub const HOT_WRITES: i64 = 200;
/// Length of a heat window.
pub const HEAT_WINDOW_MS: u64 = 10_000;
/// One narrow write in this many is tallied (by that many) in the heat counter.
const HEAT_SAMPLE: u32 = 8;

/// How many likes, comments (replies included) and shares a video has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VideoCounts {
    /// Members who like it.
    pub likes: u64,
    /// Live comments and replies.
    pub comments: u64,
    /// Members who shared it.
    pub shares: u64,
}

/// Which shard a member's changes go to on a wide video: a stable hash
/// (FNV-1a), so a member's like and unlike meet on one shard.
pub(crate) fn shard_of(user_id: &str, shards: u32) -> u32 {
    let hash = user_id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % shards
}

/// The counter kinds, each a key function and a shard count.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    Likes,
    Comments,
    Shares,
}

/// The kinds, in [`VideoCounts`] order.
const KINDS: [Counter; 3] = [Counter::Likes, Counter::Comments, Counter::Shares];

impl Counter {
    fn shards(self) -> u32 {
        match self {
            Counter::Likes => LIKE_SHARDS,
            Counter::Comments => COMMENT_SHARDS,
            Counter::Shares => SHARE_SHARDS,
        }
    }

    fn key(self, video_id: &str, shard: u32) -> String {
        match self {
            Counter::Likes => keys::like_count(video_id, shard),
            Counter::Comments => keys::comment_count(video_id, shard),
            Counter::Shares => keys::share_count(video_id, shard),
        }
    }
}

/// Whether a `counts_wide` value marks the video wide.
fn is_wide(raw: Option<&[u8]>) -> bool {
    raw.and_then(|b| decode_counter(b).ok())
        .is_some_and(|n| n > 0)
}

/// Adds `delta` to `video_id`'s `counter` for a change by `user_id`: shard 0
/// while the video is narrow, the member's shard once it is wide. A narrow
/// write may find the video hot and widen it.
pub(crate) async fn add<S: Store>(
    store: &S,
    env: &dyn Env,
    counter: Counter,
    video_id: &str,
    user_id: &str,
    delta: i64,
) -> Result<(), ApiError> {
    let wide_key = keys::counts_wide(video_id);
    let wide = is_wide(store.get(&wide_key).await?.as_deref());
    let shard = if wide {
        shard_of(user_id, counter.shards())
    } else {
        0
    };
    store
        .increment(&counter.key(video_id, shard), delta)
        .await?;
    // Heat is sampled (a different eighth of members each second) so a
    // narrow video pays one extra write per eight changes, not one each.
    let now = env.now_ms();
    let second = u32::try_from(now / 1000 % u64::from(HEAT_SAMPLE)).unwrap_or(0);
    if !wide && shard_of(user_id, HEAT_SAMPLE) == second {
        // Best effort: the count is already right, and callers undo their
        // change on an error, so a failure here must not surface.
        let window = now / HEAT_WINDOW_MS;
        let heat = store
            .increment(&keys::counts_heat(video_id, window), i64::from(HEAT_SAMPLE))
            .await;
        if heat.is_ok_and(|h| h >= HOT_WRITES) {
            // An increment, not a set: racing writers can only agree.
            let _ = store.increment(&wide_key, 1).await;
        }
    }
    Ok(())
}

/// A counter's value; absent or unreadable counts as 0, negative as 0.
pub(crate) fn count(raw: Option<&[u8]>) -> u64 {
    raw.and_then(|b| decode_counter(b).ok())
        .map_or(0, |n| n.max(0) as u64)
}

fn signed(raw: Option<&[u8]>) -> i64 {
    raw.and_then(|b| decode_counter(b).ok()).unwrap_or(0)
}

/// Keys read first for each video's counts.
pub(crate) const FIRST_KEYS: usize = 4;

/// The keys to read first for `video_id`'s counts, in one batch with
/// whatever else the caller reads: the wide mark, then shard 0 of likes,
/// comments and shares.
pub(crate) fn first_keys(video_id: &str) -> [String; FIRST_KEYS] {
    [
        keys::counts_wide(video_id),
        Counter::Likes.key(video_id, 0),
        Counter::Comments.key(video_id, 0),
        Counter::Shares.key(video_id, 0),
    ]
}

/// The counts of `video_ids` from the values of their [`first_keys`]
/// (`first`, [`FIRST_KEYS`] per video, in order), reading the other shards
/// of wide videos in one more batched read (none when all are narrow).
pub(crate) async fn finish<S: Store>(
    store: &S,
    video_ids: &[String],
    first: &[Option<Vec<u8>>],
) -> Result<Vec<VideoCounts>, ApiError> {
    debug_assert_eq!(first.len(), video_ids.len() * FIRST_KEYS);
    let mut totals: Vec<[i64; 3]> = first
        .chunks(FIRST_KEYS)
        .map(|c| {
            [
                signed(c[1].as_deref()),
                signed(c[2].as_deref()),
                signed(c[3].as_deref()),
            ]
        })
        .collect();
    let wide: Vec<usize> = (0..video_ids.len())
        .filter(|&i| is_wide(first[i * FIRST_KEYS].as_deref()))
        .collect();
    if !wide.is_empty() {
        let mut more = Vec::new();
        let mut owner = Vec::new();
        for &i in &wide {
            for (k, kind) in KINDS.iter().enumerate() {
                for s in 1..kind.shards() {
                    more.push(kind.key(&video_ids[i], s));
                    owner.push((i, k));
                }
            }
        }
        let found = store.get_many(&more).await?;
        for ((i, k), raw) in owner.into_iter().zip(found) {
            totals[i][k] += signed(raw.as_deref());
        }
    }
    let positive = |n: i64| n.max(0) as u64;
    Ok(totals
        .into_iter()
        .map(|[likes, comments, shares]| VideoCounts {
            likes: positive(likes),
            comments: positive(comments),
            shares: positive(shares),
        })
        .collect())
}

/// The counts of each of `video_ids`, in order: one batched read, plus one
/// for the other shards of the wide ones.
pub async fn video_counts<S: Store>(
    store: &S,
    video_ids: &[String],
) -> Result<Vec<VideoCounts>, ApiError> {
    if video_ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = video_ids.iter().flat_map(|id| first_keys(id)).collect();
    let first = store.get_many(&keys).await?;
    finish(store, video_ids, &first).await
}

/// Whether `viewer` likes each of `video_ids`, in order, in one batched read.
pub async fn liked_by<S: Store>(
    store: &S,
    viewer: &str,
    video_ids: &[String],
) -> Result<Vec<bool>, ApiError> {
    if video_ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = video_ids.iter().map(|v| keys::like(v, viewer)).collect();
    let found = store.get_many(&keys).await?;
    liked_from(&found)
}

/// Whether each `like:` edge value stands.
pub(crate) fn liked_from(found: &[Option<Vec<u8>>]) -> Result<Vec<bool>, ApiError> {
    found
        .iter()
        .map(|raw| Ok(edge::decode(raw.as_deref())?.on))
        .collect()
}

#[cfg(test)]
mod tests;
