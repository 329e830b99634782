//! The follower, following and block lists, and the follow counts.

use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, PagedList, Position};
use crate::store::{Store, decode_counter};

use super::FollowCounts;
use super::edge;

/// Most ids one listing answers.
pub const MAX_PAGE_SIZE: usize = 100;
/// Size of a listing when the client does not say.
const DEFAULT_PAGE_SIZE: usize = 30;
/// Index pages one listing may read (unfollowed entries are blanks).
const MAX_INDEX_PAGES: usize = 4;

pub(crate) fn following(user: &str) -> PagedList<'_> {
    PagedList::new(user, keys::following_head, keys::following_page)
}

pub(crate) fn followers(user: &str) -> PagedList<'_> {
    PagedList::new(user, keys::followers_head, keys::followers_page)
}

pub(crate) fn blocks(user: &str) -> PagedList<'_> {
    PagedList::new(user, keys::blocks_head, keys::blocks_page)
}

/// One page of user ids, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPage {
    /// User ids, newest relation first.
    pub user_ids: Vec<String>,
    /// Opaque cursor for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// Which edge proves an entry of a list still stands.
type EdgeKey = fn(&str, &str) -> String;

async fn page<S: Store>(
    store: &S,
    list: PagedList<'_>,
    owner: &str,
    edge_key: EdgeKey,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<IdPage, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::invalid_request(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let from = cursor.map(Position::decode).transpose()?;
    let (ids, next) = pages::read_newest_first(store, &list, from, limit, MAX_INDEX_PAGES).await?;
    // An entry outlives its edge when a writer stopped half-way; the edge decides.
    let edges: Vec<String> = ids.iter().map(|id| edge_key(owner, id)).collect();
    let found = store.get_many(&edges).await?;
    let mut user_ids = Vec::with_capacity(ids.len());
    for (id, raw) in ids.into_iter().zip(found) {
        if edge::decode(raw.as_deref())?.on && !user_ids.contains(&id) {
            user_ids.push(id);
        }
    }
    Ok(IdPage {
        user_ids,
        next_cursor: next.map(|p| p.encode()),
    })
}

fn follows_of(owner: &str, other: &str) -> String {
    keys::follow(owner, other)
}

fn follows_to(owner: &str, other: &str) -> String {
    keys::follow(other, owner)
}

/// People `user` follows, newest first.
pub async fn following_page<S: Store>(
    store: &S,
    user: &str,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<IdPage, ApiError> {
    page(store, following(user), user, follows_of, cursor, limit).await
}

/// People following `user`, newest first.
pub async fn followers_page<S: Store>(
    store: &S,
    user: &str,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<IdPage, ApiError> {
    page(store, followers(user), user, follows_to, cursor, limit).await
}

/// People `user` blocked, newest first (only ever shown to `user`).
pub async fn blocks_page<S: Store>(
    store: &S,
    user: &str,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<IdPage, ApiError> {
    page(store, blocks(user), user, keys::block, cursor, limit).await
}

/// Up to `max` of the people `user` follows, newest first: the Following
/// feed's sources. Reads at most `max / 64 + 2` index pages and one batch.
pub async fn following_ids<S: Store>(
    store: &S,
    user: &str,
    max: usize,
) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..max / MAX_PAGE_SIZE + 2 {
        if out.len() >= max {
            break;
        }
        let want = (max - out.len()).min(MAX_PAGE_SIZE);
        let got = following_page(store, user, cursor.as_deref(), Some(want)).await?;
        out.extend(got.user_ids);
        match got.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.truncate(max);
    Ok(out)
}

/// Follow counts of each of `users`, in one batched read.
pub async fn counts<S: Store>(store: &S, users: &[&str]) -> Result<Vec<FollowCounts>, ApiError> {
    let keys: Vec<String> = users
        .iter()
        .flat_map(|u| [keys::followers_count(u), keys::following_count(u)])
        .collect();
    let found = store.get_many(&keys).await?;
    let count = |raw: &Option<Vec<u8>>| -> u64 {
        raw.as_deref()
            .and_then(|b| decode_counter(b).ok())
            .map_or(0, |n| n.max(0) as u64)
    };
    Ok(found
        .chunks(2)
        .map(|pair| FollowCounts {
            followers: count(&pair[0]),
            following: count(&pair[1]),
        })
        .collect())
}
