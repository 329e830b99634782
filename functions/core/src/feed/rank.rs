//! Scoring and re-ranking, pure and explainable: every item keeps the parts
//! of its score, and the re-rank says which slots were exploration.
//!
//! Score = 0.20·freshness + 0.30·engagement + 0.40·affinity + 0.10·trust,
//! each part in 0..=1. Against the Loops baseline (0.25/0.35/0.30/0.10)
//! personalisation weighs more, because here it is learned within a session
//! from watch signals rather than from follows alone. One slot in five is
//! exploration (fresh or little-seen videos whose creator and terms the viewer
//! has not turned away from), then diversity: no creator twice in a row and no
//! creator or remix chain over 30% of a page, relaxed only when nothing
//! else is left.

use serde::Serialize;

use crate::studio::Video;

use super::profile::Profile;
use super::stats::VideoStats;

/// Part weights: freshness, engagement, affinity, trust.
pub const WEIGHTS: [f64; 4] = [0.20, 0.30, 0.40, 0.10];
/// Freshness halves every this many hours.
pub const FRESHNESS_HALF_LIFE_H: f64 = 24.0;
/// Every this-many-th slot is exploration.
pub const EXPLORE_EVERY: usize = 5;
/// Share of a page one creator or remix chain may take.
pub const MAX_SHARE: f64 = 0.3;
/// Exploration skips what the viewer turned away from (creator or terms).
const MIN_EXPLORE_AFFINITY: f64 = 0.45;
/// Affinity gained per unit of cosine to the viewer's taste.
const SIMILAR_GAIN: f64 = 2.5;
/// Chance the viewer moves on to the next slot, for prefetch odds.
const REACH_PER_SLOT: f64 = 0.95;

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Among the newest uploads.
    Fresh,
    /// In the recent window, ranked with time decay.
    Trending,
    /// Older catalogue, read as the viewer exhausts the top.
    Catalogue,
    /// By someone the viewer follows.
    Following,
    /// By a creator the viewer engaged with.
    Affinity,
    /// Its prompt embedding is close to the viewer's taste ([`super::similar`]).
    Similar,
}

/// A video to score, with what is known about it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The video.
    pub video: Video,
    /// Its prompt and caption terms.
    pub terms: Vec<String>,
    /// Its viewing counters.
    pub stats: VideoStats,
    /// Where it came from (at least one).
    pub sources: Vec<Source>,
    /// The viewer follows its creator.
    pub followed: bool,
    /// Cosine of its prompt embedding to the viewer's taste, when known.
    pub similarity: Option<f64>,
}

/// A score and its parts, each 0..=1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ScoreParts {
    /// Newness, halving daily.
    pub freshness: f64,
    /// Smoothed completion, replay and (inverse) skip rates.
    pub engagement: f64,
    /// Learned creator and term weights, and follows; 0.5 is neutral.
    pub affinity: f64,
    /// Few "not interested".
    pub trust: f64,
    /// The weighted sum.
    pub score: f64,
    /// Predicted chance the viewer watches it once it is on screen.
    pub watch_chance: f64,
    /// Cosine to the viewer's taste (similar source); it adds to affinity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
}

/// Scores one candidate for a viewer at `now_ms`.
pub fn score(c: &Candidate, profile: &Profile, now_ms: u64) -> ScoreParts {
    let age_h = now_ms.saturating_sub(c.video.published_at_ms) as f64 / 3_600_000.0;
    let freshness = 0.5f64.powf(age_h / FRESHNESS_HALF_LIFE_H);
    let s = &c.stats;
    let engagement = (0.45 * s.completion_rate()
        + 0.25 * (s.replay_rate() * 4.0).min(1.0)
        + 0.30 * (1.0 - s.skip_rate()))
    .clamp(0.0, 1.0);
    let term_signal = if c.terms.is_empty() {
        0.0
    } else {
        c.terms.iter().map(|t| profile.term(t)).sum::<f64>() / (c.terms.len() as f64).sqrt()
    };
    let follow = if c.followed { 1.0 } else { 0.0 };
    let similar = SIMILAR_GAIN * c.similarity.unwrap_or(0.0).max(0.0);
    let x = profile.creator(&c.video.owner) + term_signal + follow + similar;
    let affinity = 0.5 + 0.5 * (x / 2.0).tanh();
    let trust = 1.0 - (s.hide_rate() * 5.0).min(1.0);
    let score = WEIGHTS[0] * freshness
        + WEIGHTS[1] * engagement
        + WEIGHTS[2] * affinity
        + WEIGHTS[3] * trust;
    let watch_chance = (0.5 * s.completion_rate() + 0.5 * affinity).clamp(0.0, 1.0);
    ScoreParts {
        freshness,
        engagement,
        affinity,
        trust,
        score,
        watch_chance,
        similarity: c.similarity.map(|x| (x * 1000.0).round() / 1000.0),
    }
}

/// The chance the item at `position` (0-based) of a page gets watched:
/// reaching it, then watching it. Clients prefetch the likely ones.
pub fn prefetch(parts: &ScoreParts, position: usize) -> f64 {
    let p = parts.watch_chance * REACH_PER_SLOT.powi(position as i32);
    (p * 1000.0).round() / 1000.0
}

/// One chosen slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    /// Index into the candidates.
    pub index: usize,
    /// Chosen as exploration rather than by score.
    pub explore: bool,
}

/// Picks up to `limit` candidates: best score first, exploration every
/// [`EXPLORE_EVERY`]th slot, under the diversity rules. `seed` varies which
/// fresh videos each viewer explores.
pub fn rerank(cands: &[Candidate], parts: &[ScoreParts], limit: usize, seed: u64) -> Vec<Pick> {
    let cap = ((limit as f64 * MAX_SHARE).ceil() as usize).max(1);
    let mut taken = vec![false; cands.len()];
    let mut picks: Vec<Pick> = Vec::with_capacity(limit);
    let mut by_score: Vec<usize> = (0..cands.len()).collect();
    by_score.sort_by(|&a, &b| {
        parts[b]
            .score
            .total_cmp(&parts[a].score)
            .then_with(|| cands[b].video.id.cmp(&cands[a].video.id))
    });
    let explore_value = |i: usize| {
        let c = &cands[i];
        let novelty = 1.0 / (1.0 + c.stats.impressions as f64 / 10.0);
        0.5 * parts[i].freshness + 0.5 * novelty + 0.2 * jitter(seed, &c.video.id)
    };
    while picks.len() < limit {
        let fits = |i: usize, strict: bool| {
            if taken[i] {
                return false;
            }
            if !strict {
                return true;
            }
            let c = &cands[i];
            let chain = chain_of(&c.video);
            let same_creator = picks
                .iter()
                .filter(|p| cands[p.index].video.owner == c.video.owner)
                .count();
            let same_chain = picks
                .iter()
                .filter(|p| chain_of(&cands[p.index].video) == chain)
                .count();
            let after_same = picks
                .last()
                .is_some_and(|p| cands[p.index].video.owner == c.video.owner);
            same_creator < cap && same_chain < cap && !after_same
        };
        let slot = picks.len();
        let mut chosen = None;
        if slot % EXPLORE_EVERY == EXPLORE_EVERY - 1 {
            chosen = (0..cands.len())
                .filter(|&i| fits(i, true) && parts[i].affinity >= MIN_EXPLORE_AFFINITY)
                .filter(|&i| {
                    cands[i].stats.impressions < 50 || cands[i].sources.contains(&Source::Fresh)
                })
                .max_by(|&a, &b| explore_value(a).total_cmp(&explore_value(b)))
                .map(|index| Pick {
                    index,
                    explore: true,
                });
        }
        if chosen.is_none() {
            chosen = by_score
                .iter()
                .copied()
                .find(|&i| fits(i, true))
                .or_else(|| by_score.iter().copied().find(|&i| fits(i, false)))
                .map(|index| Pick {
                    index,
                    explore: false,
                });
        }
        let Some(pick) = chosen else { break };
        taken[pick.index] = true;
        picks.push(pick);
    }
    picks
}

/// The remix chain a video belongs to: its source, or itself.
fn chain_of(video: &Video) -> &str {
    video.remix_of.as_deref().unwrap_or(&video.id)
}

/// A repeatable value in 0..1 from a seed and an id (FNV-1a).
fn jitter(seed: u64, id: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::DraftMedia;

    fn cand(id: &str, owner: &str, published_at_ms: u64) -> Candidate {
        Candidate {
            video: Video {
                id: id.into(),
                owner: owner.into(),
                owner_handle: owner.into(),
                caption: String::new(),
                prompt: "pasta".into(),
                aspect: "9:16".into(),
                seed: 1,
                media: DraftMedia {
                    video_key: String::new(),
                    thumbnail_key: String::new(),
                    duration_ms: 5000,
                    width: 1,
                    height: 1,
                    bytes: 1,
                },
                remix_of: None,
                cameos: vec![],
                generated_at_ms: published_at_ms,
                published_at_ms,
                removed: None,
            },
            terms: vec!["pasta".into()],
            stats: VideoStats::default(),
            sources: vec![Source::Trending],
            followed: false,
            similarity: None,
        }
    }

    #[test]
    fn parts_stay_in_range_and_affinity_follows_the_profile() {
        let now = 100 * 3_600_000;
        let c = cand("v", "ann", now - 24 * 3_600_000);
        let neutral = score(&c, &Profile::default(), now);
        assert!((neutral.freshness - 0.5).abs() < 1e-9, "halves in a day");
        assert!((neutral.affinity - 0.5).abs() < 1e-9);
        let mut likes = Profile::default();
        likes.nudge_creator("ann", 4.0);
        let mut dislikes = Profile::default();
        dislikes.nudge_term("pasta", -4.0);
        let liked = score(&c, &likes, now);
        let disliked = score(&c, &dislikes, now);
        assert!(liked.score > neutral.score && neutral.score > disliked.score);
        for p in [neutral, liked, disliked] {
            for x in [
                p.freshness,
                p.engagement,
                p.affinity,
                p.trust,
                p.score,
                p.watch_chance,
            ] {
                assert!((0.0..=1.0).contains(&x));
            }
            assert!(prefetch(&p, 0) >= prefetch(&p, 5));
        }
    }

    #[test]
    fn diversity_yields_only_when_nothing_else_is_left() {
        let cands: Vec<Candidate> = (0..6)
            .map(|i| cand(&format!("a{i}"), "ann", 1000 + i))
            .chain((0..2).map(|i| cand(&format!("b{i}"), "bob", i)))
            .collect();
        let parts: Vec<ScoreParts> = cands
            .iter()
            .map(|c| score(c, &Profile::default(), 2000))
            .collect();
        let picks = rerank(&cands, &parts, 6, 1);
        let owners: Vec<&str> = picks
            .iter()
            .map(|p| cands[p.index].video.owner.as_str())
            .collect();
        assert_eq!(owners.len(), 6);
        // Bob's two fill the slots between Ann's until they run out.
        assert_eq!(&owners[..4], ["ann", "bob", "ann", "bob"]);
        let distinct: std::collections::HashSet<usize> = picks.iter().map(|p| p.index).collect();
        assert_eq!(distinct.len(), 6);
    }
}
