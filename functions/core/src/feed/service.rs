//! The feed's requests, each a bounded number of batched reads.

use std::collections::HashSet;

use crate::env::{Env, random_bytes};
use crate::error::ApiError;
use crate::graph;
use crate::keys;
use crate::store::Store;
use crate::studio::{self, MediaSigner, Video};

use super::candidates::{self, newest_by_creators};
use super::cursor;
use super::items::{self, Explain, FeedPage, Pending, RemixTree, load_live};
use super::rank::{self, Candidate};
use super::{profile, seen, stats, terms};

/// Items per page when the client does not say.
pub const DEFAULT_PAGE_SIZE: usize = 10;
/// Most items per page.
pub const MAX_PAGE_SIZE: usize = 30;
/// Followed creators the feeds read.
pub const MAX_FOLLOWED: usize = 200;
/// Newest videos per followed creator the Following feed reaches back over.
pub const FOLLOWING_DEPTH: usize = 128;
/// Remix sources followed upwards at most.
pub const MAX_ANCESTORS: usize = 10;
/// Liked creators whose videos For You reads.
const LIKED_CREATORS: usize = 10;

/// The page size from a `limit` query parameter: default 10, 1..=30.
pub fn page_size(limit: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = limit else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid_request(format!(
            "limit must be a number from 1 to {MAX_PAGE_SIZE}"
        ))),
    }
}

/// The viewer's For You page: candidates, scores, diversity, exploration;
/// what it shows joins the seen set. `explain` adds each item's score parts.
pub async fn for_you<S: Store>(
    store: &S,
    env: &dyn Env,
    viewer: &str,
    cursor: Option<&str>,
    limit: usize,
    explain: bool,
    signer: &dyn MediaSigner,
) -> Result<FeedPage, ApiError> {
    let page_no = cursor.map(cursor::parse_for_you).transpose()?.unwrap_or(0);
    super::budget::check(store, env, viewer).await?;
    let profile = profile::load(store, viewer).await?;
    let (seen_raw, seen_now) = seen::load_raw(store, viewer).await?;
    let followed = graph::following_ids(store, viewer, candidates::MAX_CREATORS).await?;
    let liked = profile.liked_creators(LIKED_CREATORS);
    let taste = profile.taste.as_ref();
    let gathered = candidates::gather(store, &seen_now, &followed, &liked, taste, limit).await?;

    let followed: HashSet<&String> = followed.iter().collect();
    let now = env.now_ms();
    let seed = u64::from_le_bytes(random_bytes::<8>(env));
    let ctx = Choice {
        viewer,
        profile: &profile,
        followed: &followed,
        limit,
        now,
        seed,
        similarity: &gathered.similarity,
    };
    let (pool, mut hidden) = live_not_own(store, viewer, &gathered.unseen).await?;
    let (mut cands, mut parts, mut picks, blocked) = choose(store, &ctx, pool).await?;
    hidden.extend(blocked);
    let exhausted = picks.is_empty() && !gathered.more_below && !gathered.seen_recent.is_empty();
    if exhausted {
        // Nothing unseen is left: show the best of what was seen, and say so.
        let again: Vec<(String, Vec<rank::Source>)> = gathered
            .seen_recent
            .iter()
            .map(|id| (id.clone(), vec![rank::Source::Trending]))
            .collect();
        let (pool, _) = live_not_own(store, viewer, &again).await?;
        (cands, parts, picks, _) = choose(store, &ctx, pool).await?;
    }

    let pending: Vec<Pending> = picks
        .iter()
        .enumerate()
        .map(|(position, p)| {
            let c = &cands[p.index];
            Pending {
                video: c.video.clone(),
                prefetch: rank::prefetch(&parts[p.index], position),
                explain: explain.then(|| Explain {
                    sources: c.sources.clone(),
                    exploration: p.explore,
                    parts: parts[p.index],
                }),
            }
        })
        .collect();
    let items = items::build(store, viewer, pending, signer).await?;
    // Recorded once the page is built, so nothing counts as shown that was not.
    let shown: Vec<String> = picks
        .iter()
        .map(|p| cands[p.index].video.id.clone())
        .collect();
    let deep_now = gathered.deep;
    seen::update_from(store, viewer, seen_raw, seen_now, |s| {
        s.add(&shown);
        // Never showable (removed, one's own, blocked): skipped from now on.
        s.add(&hidden);
        s.pages += 1;
        if let Some(at) = deep_now {
            s.deep = at.map(|p| p.encode());
            s.deep_done = at.is_none();
        }
    })
    .await?;

    let next_cursor =
        (!items.is_empty() || gathered.more_below).then(|| cursor::for_you(page_no + 1));
    Ok(FeedPage {
        items,
        next_cursor,
        pool_exhausted: exhausted,
    })
}

/// What [`choose`] ranks for.
struct Choice<'a> {
    viewer: &'a str,
    profile: &'a profile::Profile,
    followed: &'a HashSet<&'a String>,
    limit: usize,
    now: u64,
    seed: u64,
    /// Cosine to the viewer's taste of the similar candidates.
    similarity: &'a std::collections::HashMap<String, f64>,
}

/// Candidates, their scores, the picks, and the ids found to be by blocked creators.
type Chosen = (
    Vec<Candidate>,
    Vec<rank::ScoreParts>,
    Vec<rank::Pick>,
    Vec<String>,
);

/// Candidates kept for full scoring: a multiple of the page, at least this many.
const SHORTLIST_MIN: usize = 30;
/// Rounds of "pick, then check blocks" before blocked picks are just dropped.
const BLOCK_ROUNDS: usize = 3;

/// Ranks `pool` in two stages and picks a page. Stage one scores every
/// candidate on what needs no extra read (freshness, affinity, prior
/// engagement) and keeps a shortlist plus fresh uploads for exploration;
/// stage two reads the shortlist's counters and scores it fully. Blocks are
/// checked on the picks only (two keys per creator), re-picking without
/// blocked creators until the page is clean.
async fn choose<S: Store>(
    store: &S,
    ctx: &Choice<'_>,
    pool: Vec<(Video, Vec<rank::Source>)>,
) -> Result<Chosen, ApiError> {
    let mut cands: Vec<Candidate> = pool
        .into_iter()
        .map(|(video, sources)| Candidate {
            terms: terms::extract([video.prompt.as_str(), video.caption.as_str()]),
            followed: ctx.followed.contains(&video.owner),
            similarity: ctx.similarity.get(&video.id).copied(),
            video,
            stats: stats::VideoStats::default(),
            sources,
        })
        .collect();
    let shortlist = (ctx.limit * 3).max(SHORTLIST_MIN);
    if cands.len() > shortlist {
        let prelim: Vec<f64> = cands
            .iter()
            .map(|c| rank::score(c, ctx.profile, ctx.now).score)
            .collect();
        let mut order: Vec<usize> = (0..cands.len()).collect();
        order.sort_by(|&a, &b| prelim[b].total_cmp(&prelim[a]));
        let mut keep = vec![false; cands.len()];
        order.iter().take(shortlist).for_each(|&i| keep[i] = true);
        // Fresh uploads stay in play for the exploration slots.
        order
            .iter()
            .filter(|&&i| cands[i].sources.contains(&rank::Source::Fresh))
            .take(ctx.limit)
            .for_each(|&i| keep[i] = true);
        let mut at = 0;
        cands.retain(|_| {
            at += 1;
            keep[at - 1]
        });
    }
    let ids: Vec<String> = cands.iter().map(|c| c.video.id.clone()).collect();
    for (c, s) in cands.iter_mut().zip(stats::read(store, &ids).await?) {
        c.stats = s;
    }
    let parts: Vec<rank::ScoreParts> = cands
        .iter()
        .map(|c| rank::score(c, ctx.profile, ctx.now))
        .collect();

    let mut blocked: HashSet<String> = HashSet::new();
    let mut checked: HashSet<String> = HashSet::new();
    let mut picks = Vec::new();
    for round in 0..=BLOCK_ROUNDS {
        let allowed: Vec<usize> = (0..cands.len())
            .filter(|&i| !blocked.contains(&cands[i].video.owner))
            .collect();
        // Copies only once someone is left out (rare): the first round ranks in place.
        let ranked = if blocked.is_empty() {
            rank::rerank(&cands, &parts, ctx.limit, ctx.seed)
        } else {
            let sub: Vec<Candidate> = allowed.iter().map(|&i| cands[i].clone()).collect();
            let sub_parts: Vec<rank::ScoreParts> = allowed.iter().map(|&i| parts[i]).collect();
            rank::rerank(&sub, &sub_parts, ctx.limit, ctx.seed)
        };
        picks = ranked
            .into_iter()
            .map(|p| rank::Pick {
                index: allowed[p.index],
                explore: p.explore,
            })
            .collect();
        let unchecked: Vec<String> = picks
            .iter()
            .map(|p| cands[p.index].video.owner.clone())
            .filter(|o| !checked.contains(o))
            .collect();
        if unchecked.is_empty() {
            break;
        }
        let found = graph::blocked_among(store, ctx.viewer, &unchecked).await?;
        checked.extend(unchecked);
        if found.is_empty() {
            break;
        }
        blocked.extend(found);
        if round == BLOCK_ROUNDS {
            picks.retain(|p| !blocked.contains(&cands[p.index].video.owner));
        }
    }
    let hidden = cands
        .iter()
        .filter(|c| blocked.contains(&c.video.owner))
        .map(|c| c.video.id.clone())
        .collect();
    Ok((cands, parts, picks, hidden))
}

/// Loads candidate videos, dropping removed ones and the viewer's own;
/// returns those dropped too.
async fn live_not_own<S: Store>(
    store: &S,
    viewer: &str,
    ids: &[(String, Vec<rank::Source>)],
) -> Result<(Vec<(Video, Vec<rank::Source>)>, Vec<String>), ApiError> {
    let just_ids: Vec<String> = ids.iter().map(|(id, _)| id.clone()).collect();
    let videos = load_live(store, &just_ids).await?;
    let mut kept = Vec::with_capacity(ids.len());
    let mut dropped = Vec::new();
    for (v, (id, sources)) in videos.into_iter().zip(ids) {
        match v {
            Some(v) if v.owner != viewer => kept.push((v, sources.clone())),
            _ => dropped.push(id.clone()),
        }
    }
    Ok((kept, dropped))
}

/// The Following feed: videos of the people the viewer follows, newest
/// first (by id, which is time-ordered), older than the cursor's.
pub async fn following<S: Store>(
    store: &S,
    env: &dyn Env,
    viewer: &str,
    cursor: Option<&str>,
    limit: usize,
    signer: &dyn MediaSigner,
) -> Result<FeedPage, ApiError> {
    let before = cursor.map(cursor::parse_following).transpose()?;
    super::budget::check(store, env, viewer).await?;
    let followed = graph::following_ids(store, viewer, MAX_FOLLOWED).await?;
    let blocked = graph::blocked_among(store, viewer, &followed).await?;
    let creators: Vec<String> = followed
        .into_iter()
        .filter(|c| !blocked.contains(c))
        .collect();
    let mut ids: Vec<String> = newest_by_creators(store, &creators, FOLLOWING_DEPTH)
        .await?
        .into_iter()
        .flatten()
        .filter(|id| before.as_ref().is_none_or(|b| id < b))
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();

    let mut chosen: Vec<Video> = Vec::with_capacity(limit);
    let mut last: Option<String> = None;
    let mut rest = ids.as_slice();
    // Removed videos leave gaps; read a few more batches to fill the page.
    for _ in 0..3 {
        if chosen.len() >= limit || rest.is_empty() {
            break;
        }
        let take = ((limit - chosen.len()) * 2).min(rest.len());
        let (batch, tail) = rest.split_at(take);
        rest = tail;
        for (id, video) in batch.iter().zip(load_live(store, batch).await?) {
            if chosen.len() == limit {
                break;
            }
            last = Some(id.clone());
            if let Some(v) = video {
                chosen.push(v);
            }
        }
    }
    let more = last.as_ref().is_some_and(|l| ids.last() != Some(l));
    let pending = chosen
        .into_iter()
        .enumerate()
        .map(|(i, v)| Pending::plain(v, i))
        .collect();
    Ok(FeedPage {
        items: items::build(store, viewer, pending, signer).await?,
        next_cursor: if more {
            last.map(|l| cursor::following(&l))
        } else {
            None
        },
        pool_exhausted: false,
    })
}

fn no_such_user() -> ApiError {
    ApiError::not_found("no such member")
}

/// A creator's videos by handle, newest first. 404 for unknown handles and
/// for creators either side blocked.
pub async fn user_videos<S: Store>(
    store: &S,
    viewer: &str,
    handle: &str,
    cursor: Option<&str>,
    limit: usize,
    signer: &dyn MediaSigner,
) -> Result<FeedPage, ApiError> {
    let lower = handle.to_lowercase();
    if lower.is_empty()
        || lower.len() > 64
        || !lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        return Err(no_such_user());
    }
    let Some(raw) = store.get(&keys::handle(&lower)).await? else {
        return Err(no_such_user());
    };
    let owner =
        String::from_utf8(raw).map_err(|_| ApiError::internal("a handle record is unreadable"))?;
    if graph::is_blocked_either(store, viewer, &owner).await? {
        return Err(no_such_user());
    }
    let (ids, next) = super::creator_videos(store, &owner, cursor, limit).await?;
    let videos = load_live(store, &ids).await?;
    let pending = videos
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, v)| Pending::plain(v, i))
        .collect();
    Ok(FeedPage {
        items: items::build(store, viewer, pending, signer).await?,
        next_cursor: next,
        pool_exhausted: false,
    })
}

/// One live video the viewer may see (404 otherwise).
async fn visible<S: Store>(store: &S, viewer: &str, id: &str) -> Result<Video, ApiError> {
    let video = studio::get_video(store, id).await?;
    if graph::is_blocked_either(store, viewer, &video.owner).await? {
        return Err(ApiError::not_found("no such video"));
    }
    Ok(video)
}

/// `GET /v1/videos/{id}` as a feed item.
pub async fn video<S: Store>(
    store: &S,
    viewer: &str,
    id: &str,
    signer: &dyn MediaSigner,
) -> Result<items::FeedItem, ApiError> {
    let v = visible(store, viewer, id).await?;
    let mut built = items::build(store, viewer, vec![Pending::plain(v, 0)], signer).await?;
    Ok(built.remove(0))
}

/// A video's remix tree: its sources up to the original, and a page of its remixes.
pub async fn remix_tree<S: Store>(
    store: &S,
    viewer: &str,
    id: &str,
    cursor: Option<&str>,
    limit: usize,
    signer: &dyn MediaSigner,
) -> Result<RemixTree, ApiError> {
    let v = visible(store, viewer, id).await?;
    let mut ancestors = Vec::new();
    let mut next_up = v.remix_of.clone();
    while let Some(up) = next_up.take() {
        if ancestors.len() >= MAX_ANCESTORS {
            break;
        }
        let Some(src) = load_live(store, std::slice::from_ref(&up))
            .await?
            .pop()
            .flatten()
        else {
            break;
        };
        next_up = src.remix_of.clone();
        ancestors.push(src);
    }
    let listed = studio::list_remixes(store, id, cursor, Some(limit)).await?;
    let remixes = load_live(store, &listed.video_ids).await?;
    let mut all: Vec<Video> = vec![v];
    let n_up = ancestors.len();
    all.extend(ancestors);
    all.extend(remixes.into_iter().flatten());
    let owners: Vec<String> = all.iter().map(|v| v.owner.clone()).collect();
    let blocked = graph::blocked_among(store, viewer, &owners).await?;
    let keep: Vec<bool> = all
        .iter()
        .enumerate()
        .map(|(i, v)| i == 0 || !blocked.contains(&v.owner))
        .collect();
    let pending = all
        .into_iter()
        .enumerate()
        .map(|(i, v)| Pending::plain(v, i))
        .collect();
    let mut built: Vec<Option<items::FeedItem>> = items::build(store, viewer, pending, signer)
        .await?
        .into_iter()
        .zip(keep)
        .map(|(item, k)| k.then_some(item))
        .collect();
    let video = built.remove(0).expect("the video itself is kept");
    let remixes = built.split_off(n_up);
    Ok(RemixTree {
        video,
        ancestors: built.into_iter().flatten().collect(),
        remixes: remixes.into_iter().flatten().collect(),
        next_cursor: listed.next_cursor,
    })
}

/// Starts the viewer's For You over: forgets what it showed and learned.
pub async fn reset<S: Store>(store: &S, viewer: &str) -> Result<(), ApiError> {
    store.delete(&keys::feed_seen(viewer)).await?;
    store.delete(&keys::feed_profile(viewer)).await?;
    Ok(())
}
