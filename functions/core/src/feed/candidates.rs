//! Candidate ids for For You, from bounded sources: the recent window of
//! the global index (newest = `fresh`, the rest `trending`), the newest
//! videos of followed and liked creators (two batched reads for all of
//! them), videos close to the viewer's taste (`similar`, one batched read),
//! and a walk deeper into the catalogue when the unseen top runs low.

use std::collections::HashMap;

use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, Position};
use crate::store::{Store, decode_counter};

use super::index;
use super::rank::Source;
use super::seen::Seen;
use super::similar::{self, Taste};

/// Ids read from the top of the global index.
pub const RECENT_WINDOW: usize = 128;
/// The newest of those count as fresh uploads.
pub const FRESH: usize = 32;
/// Ids one catalogue step reads.
pub const DEEP_STEP: usize = 64;
/// Catalogue steps per request at most.
pub const DEEP_STEPS: usize = 2;
/// Creators (followed, then liked) whose newest videos are read.
pub const MAX_CREATORS: usize = 20;
/// Newest videos taken per creator.
pub const PER_CREATOR: usize = 2;
/// Unseen candidates the recent window contributes at most.
pub const FROM_WINDOW: usize = 40;
/// Unseen candidates scored per request at most (each costs a record and
/// five counters to read).
pub const MAX_CANDIDATES: usize = 150;

/// What the sources produced.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Unseen ids and where each came from, in source priority order.
    pub unseen: Vec<(String, Vec<Source>)>,
    /// Seen ids of the recent window, for when the pool is exhausted.
    pub seen_recent: Vec<String>,
    /// Where the catalogue walk stands now (`None`: not moved).
    pub deep: Option<Option<Position>>,
    /// The catalogue walk has older videos left to offer.
    pub more_below: bool,
    /// Cosine to the viewer's taste of the `similar` candidates.
    pub similarity: HashMap<String, f64>,
}

#[derive(Default)]
struct Pool {
    at: HashMap<String, usize>,
    items: Vec<(String, Vec<Source>)>,
}

impl Pool {
    fn add(&mut self, id: String, source: Source) {
        match self.at.get(&id) {
            Some(&i) => {
                if !self.items[i].1.contains(&source) {
                    self.items[i].1.push(source);
                }
            }
            None => {
                self.at.insert(id.clone(), self.items.len());
                self.items.push((id, vec![source]));
            }
        }
    }
}

/// Gathers candidates for a viewer, given what For You already showed them
/// and how far their catalogue walk got (`seen`).
pub async fn gather<S: Store>(
    store: &S,
    seen_state: &Seen,
    followed: &[String],
    liked: &[String],
    taste: Option<&Taste>,
    want: usize,
) -> Result<Gathered, ApiError> {
    let seen = &seen_state.set();
    // A mark that no longer decodes restarts the walk below the window.
    let deep = seen_state
        .deep
        .as_deref()
        .and_then(|d| Position::decode(d).ok());
    let deep_done = seen_state.deep_done;
    let mut pool = Pool::default();
    let mut out = Gathered::default();

    let mut creators: Vec<(&String, Source)> =
        followed.iter().map(|c| (c, Source::Following)).collect();
    for c in liked {
        if !followed.contains(c) {
            creators.push((c, Source::Affinity));
        }
    }
    creators.truncate(MAX_CREATORS);
    let owners: Vec<String> = creators.iter().map(|(c, _)| (*c).clone()).collect();
    let newest = newest_by_creators(store, &owners, PER_CREATOR).await?;
    for ((_, source), ids) in creators.iter().zip(newest) {
        for id in ids.into_iter().filter(|id| !seen.contains(id.as_str())) {
            pool.add(id, *source);
        }
    }
    if let Some(taste) = taste {
        for (id, cosine) in similar::candidates(store, taste, seen).await? {
            out.similarity.insert(id.clone(), cosine);
            pool.add(id, Source::Similar);
        }
    }

    let (recent, below) =
        pages::read_newest_first(store, &index::recent(), None, RECENT_WINDOW, 3).await?;
    let mut from_window = 0;
    for (i, id) in recent.into_iter().enumerate() {
        if seen.contains(id.as_str()) {
            out.seen_recent.push(id);
        } else if from_window < FROM_WINDOW {
            from_window += 1;
            let source = if i < FRESH {
                Source::Fresh
            } else {
                Source::Trending
            };
            pool.add(id, source);
        }
    }

    // Walk on below the window while the unseen pool is thin. The stored
    // mark only passes steps whose videos were all seen already, so what a
    // step offered but this page did not show is offered again next time.
    if !deep_done && below.is_some() {
        let mut mark = deep.or(below);
        let mut at = mark;
        let mut all_seen_so_far = true;
        let mut steps = 0;
        while pool.items.len() < want * 3 && steps < DEEP_STEPS {
            let Some(from) = at else { break };
            let (ids, next) =
                pages::read_newest_first(store, &index::recent(), Some(from), DEEP_STEP, 2).await?;
            let unseen: Vec<String> = ids
                .into_iter()
                .filter(|id| !seen.contains(id.as_str()))
                .collect();
            // Removed, own and blocked videos join the seen set as hidden
            // once met (see `service`), so they hold the mark back only once.
            let unseen_here = !unseen.is_empty();
            for id in unseen {
                pool.add(id, Source::Catalogue);
            }
            all_seen_so_far &= !unseen_here;
            if all_seen_so_far {
                mark = next;
            }
            at = next;
            steps += 1;
        }
        if steps > 0 {
            out.deep = Some(mark);
        }
        out.more_below = mark.is_some();
    }
    pool.items.truncate(MAX_CANDIDATES);
    out.unseen = pool.items;
    Ok(out)
}

/// The newest `per_list` video ids of each creator, newest first, in two
/// batched reads whatever the number of creators: the head hints, then the
/// hinted page with its neighbours (a lagging hint is covered by the next page).
pub async fn newest_by_creators<S: Store>(
    store: &S,
    creators: &[String],
    per_list: usize,
) -> Result<Vec<Vec<String>>, ApiError> {
    if creators.is_empty() {
        return Ok(Vec::new());
    }
    let heads = store
        .get_many(
            &creators
                .iter()
                .map(|c| keys::creator_videos_head(c))
                .collect::<Vec<_>>(),
        )
        .await?;
    let hints: Vec<u64> = heads
        .iter()
        .map(|raw| {
            raw.as_deref()
                .and_then(|b| decode_counter(b).ok())
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0)
        })
        .collect();
    let mut wanted = Vec::with_capacity(creators.len() * 3);
    for (c, &h) in creators.iter().zip(&hints) {
        wanted.push(keys::creator_videos_page(c, h.saturating_sub(1)));
        wanted.push(keys::creator_videos_page(c, h));
        wanted.push(keys::creator_videos_page(c, h + 1));
    }
    let found = store.get_many(&wanted).await?;
    let mut out = Vec::with_capacity(creators.len());
    for (i, &h) in hints.iter().enumerate() {
        let mut ids = Vec::new();
        // Newest page first; page h-1 only matters when it differs from h.
        let pages: &[usize] = if h == 0 { &[2, 1] } else { &[2, 1, 0] };
        for &p in pages {
            let Some(raw) = &found[i * 3 + p] else {
                continue;
            };
            let items: Vec<String> = serde_json::from_slice(raw)
                .map_err(|_| ApiError::internal("a list page is unreadable"))?;
            ids.extend(items.into_iter().rev().filter(|id| !id.is_empty()));
            if ids.len() >= per_list {
                break;
            }
        }
        ids.truncate(per_list);
        out.push(ids);
    }
    Ok(out)
}
