//! The indexes the feed reads, written when a video is published: the
//! global recent list, each creator's list, and remix counts.

use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, PagedList, Position};
use crate::store::Store;
use crate::studio::Video;

/// The scope of the global recent-videos list.
pub(crate) const ALL: &str = "all";

/// The list of every published video, oldest first.
pub(crate) fn recent() -> PagedList<'static> {
    PagedList::new(ALL, keys::recent_videos_head, keys::recent_videos_page)
}

/// A creator's published videos, oldest first.
pub(crate) fn by_creator(user_id: &str) -> PagedList<'_> {
    PagedList::new(
        user_id,
        keys::creator_videos_head,
        keys::creator_videos_page,
    )
}

/// Puts a just-published video into the feed's indexes. Appends are unique,
/// so a retried publish adds nothing; the remix count moves only for the
/// publish that created the video (`created`).
pub async fn on_published<S: Store>(
    store: &S,
    video: &Video,
    created: bool,
) -> Result<(), ApiError> {
    pages::append(store, &recent(), &video.id, true).await?;
    pages::append(store, &by_creator(&video.owner), &video.id, true).await?;
    if created && let Some(source) = &video.remix_of {
        store.increment(&keys::remix_count(source), 1).await?;
    }
    Ok(())
}

/// Up to `limit` of a creator's video ids, newest first, from `cursor`.
pub async fn creator_videos<S: Store>(
    store: &S,
    user_id: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let from = cursor.map(Position::decode).transpose()?;
    let (ids, next) = pages::read_newest_first(store, &by_creator(user_id), from, limit, 4).await?;
    Ok((ids, next.map(|p| p.encode())))
}
