//! A maker's drafts: one, a page of them, and deleting one. Drafts are
//! private: anyone else gets the same 404 as for a draft that never existed.

use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, PagedList, Position};
use crate::store::Store;
use crate::studio::record::{self, Change};
use crate::studio::validate::is_ulid;
use crate::studio::{Draft, DraftStatus};

/// Drafts per page when the client names no limit.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Most drafts per page.
pub const MAX_PAGE_SIZE: usize = 50;
/// Index pages one listing may read; deleted entries cost reads, so bound them.
const MAX_PAGES_PER_LISTING: usize = 4;

/// One page of drafts, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftList {
    /// Newest first.
    pub drafts: Vec<Draft>,
    /// Pass back as `cursor` for older drafts; `None` when there are none.
    pub next_cursor: Option<String>,
}

pub(crate) fn not_found() -> ApiError {
    ApiError::not_found("no such draft")
}

/// Draft `id`, for its maker or someone it casts (their likeness, their
/// right to see it); 404 for anyone else.
pub async fn get_draft<S: Store>(store: &S, user_id: &str, id: &str) -> Result<Draft, ApiError> {
    if !is_ulid(id) {
        return Err(not_found());
    }
    match record::load(store, id).await? {
        Some(d)
            if (d.owner == user_id || d.cameos.iter().any(|c| c == user_id)) && !d.is_deleted() =>
        {
            Ok(d)
        }
        _ => Err(not_found()),
    }
}

/// The caller's drafts, newest first, `limit` (text of the query parameter,
/// 1–50, default 20) at a time, continuing from `cursor`.
pub async fn list_drafts<S: Store>(
    store: &S,
    user_id: &str,
    cursor: Option<&str>,
    limit: Option<&str>,
) -> Result<DraftList, ApiError> {
    let limit = match limit {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| ApiError::invalid_request(format!("limit must be 1-{MAX_PAGE_SIZE}")))?,
    };
    let from = cursor.map(Position::decode).transpose()?;
    let list = PagedList::drafts(user_id);
    let (ids, next) =
        pages::read_newest_first(store, &list, from, limit, MAX_PAGES_PER_LISTING).await?;
    let keys: Vec<String> = ids.iter().map(|id| crate::keys::draft(id)).collect();
    let mut drafts = Vec::with_capacity(ids.len());
    for bytes in store.get_many(&keys).await?.into_iter().flatten() {
        let draft: Draft = serde_json::from_slice(&bytes).map_err(|_| record::unreadable())?;
        // An entry whose draft was deleted (or never written) is skipped.
        if draft.owner == user_id && !draft.is_deleted() {
            drafts.push(draft);
        }
    }
    Ok(DraftList {
        drafts,
        next_cursor: next.map(|p| p.encode()),
    })
}

/// Deletes the caller's draft. A queued draft gives its quota back (no work
/// was done); a draft being generated does not. What stays is a tombstone,
/// prompt erased, that refuses the worker's later callbacks. A published
/// video is not affected.
pub async fn delete_draft<S: Store>(
    store: &S,
    env: &dyn Env,
    user_id: &str,
    id: &str,
) -> Result<(), ApiError> {
    if !is_ulid(id) {
        return Err(not_found());
    }
    let now = env.now_ms();
    let outcome = record::update(store, id, |d| {
        if d.owner != user_id || d.is_deleted() {
            return Err(not_found());
        }
        let mut next = d.clone();
        next.deleted_at_ms = Some(now);
        next.updated_at_ms = now;
        next.prompt.clear();
        let refund = d.status == DraftStatus::Queued && !d.quota_refunded;
        next.quota_refunded |= refund;
        Ok(Change::Write(Box::new(next), refund))
    })
    .await?;
    let Some((draft, refund)) = outcome else {
        return Err(not_found());
    };
    if refund {
        record::refund(store, &draft).await?;
    }
    // The prompt's embedding goes with the prompt, unless a video still uses it.
    if draft.video_id.is_none() {
        store.delete(&keys::prompt_embedding(&draft.id)).await?;
    }
    pages::remove(
        store,
        &PagedList::drafts(user_id),
        draft.index_page,
        &draft.id,
    )
    .await
}
