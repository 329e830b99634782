//! Lists as pages with compare-and-swap appends (no scans, bounded reads).
//!
//! A list is pages `0, 1, 2, ...`, each a JSON array of at most
//! [`PAGE_CAPACITY`] ids, oldest first, plus a `head` key holding the number
//! of the newest page. The head is only a hint: writers advance it after
//! opening a page, and readers probe past it, so a writer that stops between
//! the two leaves nothing inconsistent. Removing an entry blanks it (`""`) in
//! place, so positions never shift under a reader's cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;
use crate::keys;
use crate::store::{Store, decode_counter};

/// Most ids in one page.
pub const PAGE_CAPACITY: usize = 64;
/// Compare-and-swap attempts before giving up on a busy list or record.
pub const MAX_CAS_TRIES: usize = 32;
/// Pages a reader may look at past the head hint before deciding it is lost.
const MAX_PROBE: u64 = 8;

/// Which list: the keys of its head and pages.
#[derive(Debug, Clone, Copy)]
pub struct PagedList<'a> {
    owner: &'a str,
    head: fn(&str) -> String,
    page: fn(&str, u64) -> String,
}

impl<'a> PagedList<'a> {
    /// A list owned by `owner` whose head and page keys come from `head` and
    /// `page` (functions of [`crate::keys`]).
    pub fn new(owner: &'a str, head: fn(&str) -> String, page: fn(&str, u64) -> String) -> Self {
        Self { owner, head, page }
    }

    /// A member's drafts.
    pub fn drafts(user_id: &'a str) -> Self {
        Self {
            owner: user_id,
            head: keys::drafts_head,
            page: keys::drafts_page,
        }
    }

    /// The videos remixing a video.
    pub fn remixes(video_id: &'a str) -> Self {
        Self {
            owner: video_id,
            head: keys::remixes_head,
            page: keys::remixes_page,
        }
    }

    fn head_key(&self) -> String {
        (self.head)(self.owner)
    }

    fn page_key(&self, n: u64) -> String {
        (self.page)(self.owner, n)
    }
}

/// Where a newest-first read goes on: entries `[0, end)` of `page`, newest
/// last, then every earlier page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Page number.
    pub page: u64,
    /// Entries before this index are still to be read.
    pub end: usize,
}

impl Position {
    /// The opaque cursor clients send back.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("p1.{}.{}", self.page, self.end))
    }

    /// Reads a cursor; 400 `invalid_request` when it is not one of ours.
    pub fn decode(cursor: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::invalid_request("cursor is not valid; start again without it");
        let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let text = String::from_utf8(text).map_err(|_| bad())?;
        let mut parts = text.split('.');
        let (Some("p1"), Some(page), Some(end), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let page = page.parse().map_err(|_| bad())?;
        let end: usize = end.parse().map_err(|_| bad())?;
        let position = Self { page, end };
        // Only the exact text we issue: no "+1", "01" or other spellings.
        if end > PAGE_CAPACITY || position.encode() != cursor {
            return Err(bad());
        }
        Ok(position)
    }
}

/// 503 `busy`: too many writers at once on one record or list.
pub fn busy() -> ApiError {
    ApiError::unavailable(
        "busy",
        "too many changes at once to the same item; try again",
    )
}

fn unreadable() -> ApiError {
    ApiError::internal("a list page is unreadable")
}

async fn read_page<S: Store>(
    store: &S,
    key: &str,
) -> Result<Option<(Vec<u8>, Vec<String>)>, ApiError> {
    match store.get(key).await? {
        None => Ok(None),
        Some(bytes) => {
            let items = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
            Ok(Some((bytes, items)))
        }
    }
}

async fn head_hint<S: Store>(store: &S, list: &PagedList<'_>) -> Result<u64, ApiError> {
    Ok(match store.get(&list.head_key()).await? {
        Some(bytes) => decode_counter(&bytes)
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        None => 0,
    })
}

/// Moves the head hint forward to `page` (never back); losing a race is fine.
async fn advance_head<S: Store>(
    store: &S,
    list: &PagedList<'_>,
    page: u64,
) -> Result<(), ApiError> {
    let key = list.head_key();
    for _ in 0..4 {
        let current = store.get(&key).await?;
        let at = current
            .as_deref()
            .and_then(|b| decode_counter(b).ok())
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        if at >= page && (current.is_some() || page == 0) {
            return Ok(());
        }
        if store
            .compare_and_swap(&key, current.as_deref(), page.to_string().as_bytes())
            .await?
        {
            return Ok(());
        }
    }
    Ok(())
}

/// Appends `item` and returns the page it landed in. With `unique`, an item
/// already in a page the append passes through is not added twice (enough
/// for retries, which come soon after the first try).
pub async fn append<S: Store>(
    store: &S,
    list: &PagedList<'_>,
    item: &str,
    unique: bool,
) -> Result<u64, ApiError> {
    let mut n = head_hint(store, list).await?;
    for _ in 0..MAX_CAS_TRIES {
        let key = list.page_key(n);
        match read_page(store, &key).await? {
            None => {
                let new = serde_json::to_vec(&[item]).expect("strings serialise");
                if store.compare_and_swap(&key, None, &new).await? {
                    advance_head(store, list, n).await?;
                    return Ok(n);
                }
            }
            Some((bytes, mut items)) => {
                if unique && items.iter().any(|i| i == item) {
                    return Ok(n);
                }
                if items.len() >= PAGE_CAPACITY {
                    n += 1;
                    continue;
                }
                items.push(item.to_owned());
                let new = serde_json::to_vec(&items).expect("strings serialise");
                if store.compare_and_swap(&key, Some(&bytes), &new).await? {
                    return Ok(n);
                }
            }
        }
    }
    Err(busy())
}

/// Blanks `item` in page `page`, if it is there.
pub async fn remove<S: Store>(
    store: &S,
    list: &PagedList<'_>,
    page: u64,
    item: &str,
) -> Result<(), ApiError> {
    let key = list.page_key(page);
    for _ in 0..MAX_CAS_TRIES {
        let Some((bytes, mut items)) = read_page(store, &key).await? else {
            return Ok(());
        };
        let Some(slot) = items.iter_mut().find(|i| *i == item) else {
            return Ok(());
        };
        slot.clear();
        let new = serde_json::to_vec(&items).expect("strings serialise");
        if store.compare_and_swap(&key, Some(&bytes), &new).await? {
            return Ok(());
        }
    }
    Err(busy())
}

/// The newest page number, or `None` for an empty list.
async fn last_page<S: Store>(store: &S, list: &PagedList<'_>) -> Result<Option<u64>, ApiError> {
    let mut n = head_hint(store, list).await?;
    // One round trip usually settles it: the hinted page and the one after.
    for _ in 0..MAX_PROBE {
        let keys = [list.page_key(n), list.page_key(n + 1)];
        let found = store.get_many(&keys).await?;
        match (&found[0], &found[1]) {
            (_, Some(_)) => n += 1,
            (Some(_), None) => return Ok(Some(n)),
            (None, None) if n == 0 => return Ok(None),
            // The hint is ahead of the pages (never written that way); trust it.
            (None, None) => return Ok(Some(n)),
        }
    }
    Ok(Some(n))
}

/// Reads up to `want` ids newest first, from `from` (or the newest entry),
/// looking at no more than `max_pages` pages; returns them and where to go
/// on (`None` at the oldest entry). Blanked entries are skipped.
pub async fn read_newest_first<S: Store>(
    store: &S,
    list: &PagedList<'_>,
    from: Option<Position>,
    want: usize,
    max_pages: usize,
) -> Result<(Vec<String>, Option<Position>), ApiError> {
    let mut at = match from {
        Some(p) => p,
        None => match last_page(store, list).await? {
            Some(page) => Position {
                page,
                end: PAGE_CAPACITY,
            },
            None => return Ok((Vec::new(), None)),
        },
    };
    let mut out = Vec::new();
    for _ in 0..max_pages.max(1) {
        // Pages 0..=newest all exist, so a missing one is past the list's
        // end (a tampered or stale cursor): the walk stops there.
        let Some((_, items)) = read_page(store, &list.page_key(at.page)).await? else {
            return Ok((out, None));
        };
        let mut idx = at.end.min(items.len());
        while idx > 0 && out.len() < want {
            idx -= 1;
            if !items[idx].is_empty() {
                out.push(items[idx].clone());
            }
        }
        if idx > 0 {
            return Ok((
                out,
                Some(Position {
                    page: at.page,
                    end: idx,
                }),
            ));
        }
        if at.page == 0 {
            return Ok((out, None));
        }
        at = Position {
            page: at.page - 1,
            end: PAGE_CAPACITY,
        };
        if out.len() >= want {
            break;
        }
    }
    Ok((out, Some(at)))
}

#[cfg(test)]
pub(crate) mod proptests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::testing::block_on;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("id{i:04}")).collect()
    }

    fn read_all(store: &MemoryStore, list: &PagedList<'_>, want: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut from = None;
        loop {
            let (page, next) = block_on(read_newest_first(store, list, from, want, 2)).unwrap();
            assert!(page.len() <= want);
            out.extend(page);
            match next {
                Some(p) => from = Some(p),
                None => return out,
            }
        }
    }

    #[test]
    fn appends_fill_pages_and_read_back_newest_first() {
        let store = MemoryStore::new();
        let list = PagedList::drafts("u1");
        let all = ids(PAGE_CAPACITY * 2 + 5);
        for (i, id) in all.iter().enumerate() {
            let page = block_on(append(&store, &list, id, false)).unwrap();
            assert_eq!(page, (i / PAGE_CAPACITY) as u64);
        }
        assert_eq!(
            store.snapshot().get("drafts:u1:head").map(Vec::as_slice),
            Some(&b"2"[..])
        );
        let mut expected = all.clone();
        expected.reverse();
        for want in [1, 7, 20, 64, 100] {
            assert_eq!(read_all(&store, &list, want), expected, "want {want}");
        }
    }

    #[test]
    fn an_empty_list_reads_empty() {
        let store = MemoryStore::new();
        let (items, next) = block_on(read_newest_first(
            &store,
            &PagedList::drafts("nobody"),
            None,
            10,
            4,
        ))
        .unwrap();
        assert!(items.is_empty() && next.is_none());
    }

    #[test]
    fn a_lagging_head_hint_is_walked_past() {
        let store = MemoryStore::new();
        let list = PagedList::remixes("v");
        for id in ids(PAGE_CAPACITY + 3) {
            block_on(append(&store, &list, &id, false)).unwrap();
        }
        // A writer that stopped before advancing the hint.
        block_on(store.delete("remixes:v:head")).unwrap();
        let (items, _) = block_on(read_newest_first(&store, &list, None, 1, 2)).unwrap();
        assert_eq!(items, [format!("id{:04}", PAGE_CAPACITY + 2)]);
        assert_eq!(block_on(append(&store, &list, "late", false)).unwrap(), 1);
    }

    #[test]
    fn removed_entries_are_skipped_and_cursors_stay_valid() {
        let store = MemoryStore::new();
        let list = PagedList::drafts("u");
        for id in ids(10) {
            block_on(append(&store, &list, &id, false)).unwrap();
        }
        let (first, next) = block_on(read_newest_first(&store, &list, None, 3, 2)).unwrap();
        assert_eq!(first, ["id0009", "id0008", "id0007"]);
        block_on(remove(&store, &list, 0, "id0008")).unwrap();
        block_on(remove(&store, &list, 0, "id0005")).unwrap();
        block_on(remove(&store, &list, 0, "absent")).unwrap();
        let (second, _) = block_on(read_newest_first(&store, &list, next, 3, 2)).unwrap();
        assert_eq!(second, ["id0006", "id0004", "id0003"]);
    }

    #[test]
    fn unique_appends_do_not_repeat() {
        let store = MemoryStore::new();
        let list = PagedList::remixes("v");
        block_on(append(&store, &list, "a", true)).unwrap();
        block_on(append(&store, &list, "a", true)).unwrap();
        block_on(append(&store, &list, "b", true)).unwrap();
        assert_eq!(read_all(&store, &list, 10), ["b", "a"]);
    }

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let p = Position { page: 3, end: 17 };
        assert_eq!(Position::decode(&p.encode()).unwrap(), p);
        let forged = [
            URL_SAFE_NO_PAD.encode("p1.1.999"),
            URL_SAFE_NO_PAD.encode("p2.1.1"),
            URL_SAFE_NO_PAD.encode("p1.1"),
            URL_SAFE_NO_PAD.encode("p1.x.1"),
        ];
        for bad in ["", "!!"]
            .into_iter()
            .chain(forged.iter().map(String::as_str))
        {
            let e = Position::decode(bad).unwrap_err();
            assert_eq!(e.code, "invalid_request", "{bad}");
        }
    }

    #[test]
    fn racing_appenders_lose_nothing() {
        // Interleave two writers by hand: both read the same full page and
        // race to open the next one.
        let store = MemoryStore::new();
        let list = PagedList::drafts("u");
        for id in ids(PAGE_CAPACITY) {
            block_on(append(&store, &list, &id, false)).unwrap();
        }
        // Writer A opens page 1 without advancing the hint (as if paused).
        block_on(store.compare_and_swap("drafts:u:1", None, br#"["a"]"#)).unwrap();
        // Writer B starts from the stale hint (0), finds it full, joins page 1.
        assert_eq!(block_on(append(&store, &list, "b", false)).unwrap(), 1);
        let (items, _) = block_on(read_newest_first(&store, &list, None, 2, 2)).unwrap();
        assert_eq!(items, ["b", "a"]);
    }
}
