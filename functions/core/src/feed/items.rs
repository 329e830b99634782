//! What a feed answers: items with the video, its counts, the viewer's
//! like, remix source, cameos and prefetch odds, built with a fixed number
//! of batched reads however long the page.

use serde::Serialize;

use crate::accounts::User;
use crate::error::ApiError;
use crate::keys;
use crate::social;
use crate::store::{Store, decode_counter};
use crate::studio::{MediaSigner, Video, VideoView};

use super::rank::{ScoreParts, Source};

/// How many liked, commented on, shared and remixed a video.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Likes.
    pub likes: u64,
    /// Comments and replies.
    pub comments: u64,
    /// Shares.
    pub shares: u64,
    /// Published remixes.
    pub remixes: u64,
}

/// A member cast in a video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cameo {
    /// User id.
    pub id: String,
    /// Handle.
    pub handle: String,
}

/// The video a remix started from, when it is still up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemixSource {
    /// Video id.
    pub id: String,
    /// Its maker's handle.
    pub owner_handle: String,
    /// Its caption.
    pub caption: String,
}

/// Why an item is on a For You page (`?explain=1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explain {
    /// Where the candidate came from.
    pub sources: Vec<Source>,
    /// Chosen for an exploration slot rather than by score.
    pub exploration: bool,
    /// The score and its parts.
    #[serde(flatten)]
    pub parts: ScoreParts,
}

/// One video of a feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedItem {
    /// The video, with signed media links.
    pub video: VideoView,
    /// Counts.
    pub counts: Counts,
    /// Whether the viewer likes it.
    pub liked_by_me: bool,
    /// The source of a remix, if it is still up.
    pub remix_source: Option<RemixSource>,
    /// Members cast in it.
    pub cameos: Vec<Cameo>,
    /// Chance (0..=1) the viewer plays it: prefetch the likely ones.
    pub prefetch: f64,
    /// Score breakdown, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

/// A page of a feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedPage {
    /// Items in viewing order.
    pub items: Vec<FeedItem>,
    /// Cursor of the next page; `None` at the end.
    pub next_cursor: Option<String>,
    /// For You only: everything unseen is used up, so these items were
    /// shown before (reset the feed or come back later).
    pub pool_exhausted: bool,
}

/// A video's remix lineage: the sources it comes from and what remixes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemixTree {
    /// The video asked about.
    pub video: FeedItem,
    /// Its sources, nearest first, up to the original (bounded).
    pub ancestors: Vec<FeedItem>,
    /// Its remixes, newest first.
    pub remixes: Vec<FeedItem>,
    /// Cursor for more remixes.
    pub next_cursor: Option<String>,
}

/// A video on its way to becoming an item.
pub(crate) struct Pending {
    pub video: Video,
    pub prefetch: f64,
    pub explain: Option<Explain>,
}

impl Pending {
    /// An item outside For You: prefetch odds from its position alone.
    pub fn plain(video: Video, position: usize) -> Self {
        let parts = ScoreParts {
            watch_chance: 0.5,
            ..ScoreParts::default()
        };
        Self {
            video,
            prefetch: super::rank::prefetch(&parts, position),
            explain: None,
        }
    }
}

fn counter(raw: &Option<Vec<u8>>) -> u64 {
    raw.as_deref()
        .and_then(|b| decode_counter(b).ok())
        .map_or(0, |n| n.max(0) as u64)
}

fn decode_video(raw: Option<Vec<u8>>) -> Option<Video> {
    raw.and_then(|b| serde_json::from_slice::<Video>(&b).ok())
        .filter(Video::is_live)
}

/// Turns videos into items for `viewer` in one batched read (counts, the
/// viewer's likes, remix counts, cameo members and remix sources), plus one
/// for the other counter shards of any wide video.
pub(crate) async fn build<S: Store>(
    store: &S,
    viewer: &str,
    pending: Vec<Pending>,
    signer: &dyn MediaSigner,
) -> Result<Vec<FeedItem>, ApiError> {
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let n = pending.len();
    let ids: Vec<String> = pending.iter().map(|p| p.video.id.clone()).collect();
    let mut cameo_ids: Vec<String> = pending
        .iter()
        .flat_map(|p| p.video.cameos.clone())
        .collect();
    cameo_ids.sort();
    cameo_ids.dedup();
    let mut source_ids: Vec<String> = pending
        .iter()
        .filter_map(|p| p.video.remix_of.clone())
        .collect();
    source_ids.sort();
    source_ids.dedup();

    // One batch, in sections: counts, likes, remix counts, users, sources.
    let mut wanted: Vec<String> =
        Vec::with_capacity(n * (social::FIRST_COUNT_KEYS + 2) + cameo_ids.len() + source_ids.len());
    wanted.extend(ids.iter().flat_map(|id| social::first_count_keys(id)));
    wanted.extend(ids.iter().map(|id| keys::like(id, viewer)));
    wanted.extend(ids.iter().map(|id| keys::remix_count(id)));
    wanted.extend(cameo_ids.iter().map(|id| keys::user(id)));
    wanted.extend(source_ids.iter().map(|id| keys::video(id)));
    let mut found = store.get_many(&wanted).await?;
    let sources: Vec<Option<Video>> = found
        .split_off(found.len() - source_ids.len())
        .into_iter()
        .map(decode_video)
        .collect();
    let users: Vec<Option<User>> = found
        .split_off(found.len() - cameo_ids.len())
        .into_iter()
        .map(|raw| raw.and_then(|b| serde_json::from_slice(&b).ok()))
        .collect();
    let remixes = found.split_off(found.len() - n);
    let liked = social::liked_from(&found.split_off(found.len() - n))?;
    let counts = social::finish_counts(store, &ids, &found).await?;

    let mut items = Vec::with_capacity(n);
    for (i, p) in pending.into_iter().enumerate() {
        let cameos = p
            .video
            .cameos
            .iter()
            .filter_map(|id| {
                let at = cameo_ids.binary_search(id).ok()?;
                let user = users[at].as_ref()?;
                Some(Cameo {
                    id: user.id.clone(),
                    handle: user.handle.clone(),
                })
            })
            .collect();
        let remix_source = p.video.remix_of.as_ref().and_then(|src| {
            let at = source_ids.binary_search(src).ok()?;
            sources[at].as_ref().map(|v| RemixSource {
                id: v.id.clone(),
                owner_handle: v.owner_handle.clone(),
                caption: v.caption.clone(),
            })
        });
        items.push(FeedItem {
            video: p.video.view(signer)?,
            counts: Counts {
                likes: counts[i].likes,
                comments: counts[i].comments,
                shares: counts[i].shares,
                remixes: counter(&remixes[i]),
            },
            liked_by_me: liked[i],
            remix_source,
            cameos,
            prefetch: p.prefetch,
            explain: p.explain,
        });
    }
    Ok(items)
}

/// The live videos among `ids`, in order (`None` for unknown, malformed or removed).
pub(crate) async fn load_live<S: Store>(
    store: &S,
    ids: &[String],
) -> Result<Vec<Option<Video>>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = ids.iter().map(|id| keys::video(id)).collect();
    Ok(store
        .get_many(&keys)
        .await?
        .into_iter()
        .map(decode_video)
        .collect())
}
