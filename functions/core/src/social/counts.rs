//! Exact counts of likes, comments and shares, kept in sharded counters so a
//! video going viral spreads its writes over many keys; a read sums the
//! shards of every video asked for in one batched read.

use crate::error::ApiError;
use crate::keys;
use crate::store::{Store, decode_counter};

use super::edge;

/// Shards of a video's like count (the hottest counter).
pub const LIKE_SHARDS: u32 = 16;
/// Shards of a video's comment count.
pub const COMMENT_SHARDS: u32 = 8;
/// Shards of a video's share count.
pub const SHARE_SHARDS: u32 = 8;

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

/// Which shard a member's changes go to: a stable hash (FNV-1a), so an
/// unlike lands on the shard its like did and no shard goes negative.
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

/// Adds `delta` to the shard of `video_id`'s `counter` that `user_id` writes to.
pub(crate) async fn add<S: Store>(
    store: &S,
    counter: Counter,
    video_id: &str,
    user_id: &str,
    delta: i64,
) -> Result<(), ApiError> {
    let key = counter.key(video_id, shard_of(user_id, counter.shards()));
    store.increment(&key, delta).await?;
    Ok(())
}

/// A counter's value; absent or unreadable counts as 0, negative as 0.
pub(crate) fn count(raw: Option<&[u8]>) -> u64 {
    raw.and_then(|b| decode_counter(b).ok())
        .map_or(0, |n| n.max(0) as u64)
}

/// The counts of each of `video_ids`, in order, in one batched read.
pub async fn video_counts<S: Store>(
    store: &S,
    video_ids: &[String],
) -> Result<Vec<VideoCounts>, ApiError> {
    let kinds = [Counter::Likes, Counter::Comments, Counter::Shares];
    let per_video: usize = kinds.iter().map(|k| k.shards() as usize).sum();
    let mut keys = Vec::with_capacity(video_ids.len() * per_video);
    for id in video_ids {
        for kind in kinds {
            keys.extend((0..kind.shards()).map(|s| kind.key(id, s)));
        }
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let found = store.get_many(&keys).await?;
    let sum = |raws: &[Option<Vec<u8>>]| -> u64 {
        // Shards are summed signed: a shard may dip below zero only in
        // between a like and its unlike landing (never with stable hashing).
        let total: i64 = raws
            .iter()
            .map(|r| {
                r.as_deref()
                    .and_then(|b| decode_counter(b).ok())
                    .unwrap_or(0)
            })
            .sum();
        total.max(0) as u64
    };
    Ok(found
        .chunks(per_video)
        .map(|chunk| {
            let (likes, rest) = chunk.split_at(LIKE_SHARDS as usize);
            let (comments, shares) = rest.split_at(COMMENT_SHARDS as usize);
            VideoCounts {
                likes: sum(likes),
                comments: sum(comments),
                shares: sum(shares),
            }
        })
        .collect())
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
    found
        .iter()
        .map(|raw| Ok(edge::decode(raw.as_deref())?.on))
        .collect()
}
