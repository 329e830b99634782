//! "Similar to what you engaged with", from stored text embeddings.
//!
//! The worker embeds each prompt (all-MiniLM-L6-v2, see
//! [`crate::jobs::embedding`]) and the edge stores it under the draft's id,
//! which becomes the video's. A caption is written at publish, where no
//! model runs: the studio hands it to the worker through object storage
//! ([`crate::jobs::caption`]) and its embedding comes back a moment later
//! ([`crate::studio::captions`]).
//!
//! - A video is found by its prompt **or** its caption: each vector is an
//!   entry of its own in the buckets, and a candidate scores the better of
//!   the two cosines. (A normalised sum of the two would let a caption many
//!   videos share, "new clip", pull every one of them to about 0.65 of each
//!   other; measured with this model, it drowned the prompts' signal.)
//!   Captions do not shape a viewer's taste, for the same reason; a video
//!   without a prompt embedding lends its caption's instead.
//!
//! - A viewer's **taste** is the direction of the decayed sum of the
//!   embeddings of videos they liked or watched to the end (stored in their
//!   [`Profile`], so a page reads nothing extra for it; it fades with the
//!   profile's half-life).
//! - At publish a video with an embedding joins one bucket per table of
//!   random-hyperplane LSH ([`TABLES`] tables of [`BITS`] hyperplanes): a
//!   capped list of the newest videos that hash there, each with its
//!   embedding (binary: 26-character id, then 388 bytes).
//! - A For You page reads, in each table, the taste's bucket and the
//!   buckets across its least certain hyperplanes ([`PROBES`] in all), one
//!   batched read of `TABLES × PROBES` keys (at most about 120 KB), and
//!   offers the unseen videos whose cosine to the taste reaches
//!   [`MIN_COSINE`], best first; ranking adds the cosine to affinity.
//!   Random hyperplanes separate this model's modest cosines only loosely,
//!   so the buckets are a bounded, similarity-enriched sample of recent
//!   videos and the exact cosine does the choosing. Videos without an
//!   embedding simply never enter this source. A caption entry is not added
//!   to a bucket that already holds [`MAX_ALIKE`] near-copies of it, so one
//!   caption shared by many videos cannot flood a bucket.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::jobs::embedding::{DIM, Quantized, STORED_BYTES, cosine};
use crate::keys;
use crate::pages::{MAX_CAS_TRIES, busy};
use crate::store::Store;
use crate::studio::Video;

use super::profile::Profile;

/// Hash tables (each gives a video one bucket).
pub const TABLES: usize = 4;
/// Hyperplanes per table: `2^BITS` buckets each.
pub const BITS: usize = 4;
/// Buckets a page reads per table: the taste's own and its neighbours
/// across the least certain hyperplanes.
pub const PROBES: usize = 3;
/// Newest videos one bucket keeps.
pub const BUCKET_CAP: usize = 24;
/// Least cosine to the taste for a video to be offered as similar. Sentence
/// embeddings of related topics score 0.2-0.8 with this model, unrelated
/// ones mostly below 0.15.
pub const MIN_COSINE: f32 = 0.2;
/// Similar candidates offered per page at most.
pub const MAX_SIMILAR: usize = 24;
/// What a like adds to the taste, against a completion's 1.0.
pub const LIKE_GAIN: f64 = 1.5;
/// The taste's weight is held at most here, so new signals still turn it.
pub const MAX_WEIGHT: f64 = 20.0;
/// Near-copies of a caption's vector (cosine at least [`ALIKE_COSINE`]) one
/// bucket keeps at most.
pub const MAX_ALIKE: usize = 2;
/// Cosine from which two caption vectors count as the same words.
const ALIKE_COSINE: f32 = 0.95;
/// Seed of the hyperplanes. Changing it re-buckets everything: buckets
/// written before would no longer be found.
const HYPERPLANE_SEED: u64 = 0x5EED_D8EA_3E11_0001;

/// A viewer's taste: a unit direction and how much engagement stands behind
/// it (decayed with the profile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Taste {
    /// The direction ([`Quantized::to_base64`]).
    pub v: String,
    /// Decayed total weight of what was folded in.
    pub weight: f64,
}

impl Taste {
    /// The direction as a unit vector; `None` when unreadable.
    pub fn unit(&self) -> Option<Vec<f32>> {
        Quantized::from_base64(&self.v).map(|q| q.to_unit())
    }
}

/// Folds a video's embedding (`unit`) into the profile's taste with `gain`.
pub fn learn(profile: &mut Profile, unit: &[f32], gain: f64) {
    if unit.len() != DIM || gain <= 0.0 {
        return;
    }
    let old = profile
        .taste
        .as_ref()
        .and_then(|t| Some((t.unit()?, t.weight)));
    let sum: Vec<f32> = match &old {
        Some((dir, w)) => dir
            .iter()
            .zip(unit)
            .map(|(d, e)| d * *w as f32 + e * gain as f32)
            .collect(),
        None => unit.iter().map(|e| e * gain as f32).collect(),
    };
    // Opposite signals can cancel out; then the old taste stands.
    let Some(q) = Quantized::from_f32(&sum) else {
        return;
    };
    let weight = (old.map_or(0.0, |(_, w)| w) + gain).min(MAX_WEIGHT);
    profile.taste = Some(Taste {
        v: q.to_base64(),
        weight,
    });
}

/// The unit embeddings that stand for videos `ids` in a taste: the
/// prompt's, else the caption's (`None` where neither is), one batched read.
pub async fn embeddings<S: Store>(
    store: &S,
    ids: &[String],
) -> Result<Vec<Option<Vec<f32>>>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut wanted: Vec<String> = ids.iter().map(|id| keys::prompt_embedding(id)).collect();
    wanted.extend(ids.iter().map(|id| keys::caption_embedding(id)));
    let got = store.get_many(&wanted).await?;
    let (prompts, captions) = got.split_at(ids.len());
    let unit = |raw: &Option<Vec<u8>>| Quantized::from_stored(raw.as_deref()?).map(|q| q.to_unit());
    Ok(prompts
        .iter()
        .zip(captions)
        .map(|(p, c)| unit(p).or_else(|| unit(c)))
        .collect())
}

/// The hyperplanes, `TABLES × BITS` normal vectors of [`DIM`] numbers,
/// Gaussian (so every direction is equally likely) from a fixed seed.
fn hyperplanes() -> &'static [f32] {
    static PLANES: OnceLock<Vec<f32>> = OnceLock::new();
    PLANES.get_or_init(|| {
        let mut state = HYPERPLANE_SEED;
        let mut uniform = || {
            // SplitMix64 to (0, 1].
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
        };
        (0..TABLES * BITS * DIM)
            .map(|_| {
                // Box-Muller.
                let (u1, u2) = (uniform(), uniform());
                ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
            })
            .collect()
    })
}

/// A vector's bucket in each table, with its hyperplane bits ordered from
/// least to most certain (the ones it lies closest to first).
pub fn buckets(unit: &[f32]) -> [(u32, [usize; BITS]); TABLES] {
    let planes = hyperplanes();
    let mut out = [(0u32, [0usize; BITS]); TABLES];
    for (t, slot) in out.iter_mut().enumerate() {
        let mut margin = [0f32; BITS];
        for (b, m) in margin.iter_mut().enumerate() {
            let at = (t * BITS + b) * DIM;
            let p = cosine(&planes[at..at + DIM], unit);
            if p >= 0.0 {
                slot.0 |= 1 << b;
            }
            *m = p.abs();
        }
        slot.1 = std::array::from_fn(|b| b);
        slot.1.sort_by(|&a, &b| margin[a].total_cmp(&margin[b]));
    }
    out
}

/// The bucket keys a taste reads: per table its own bucket and the
/// [`PROBES`]` - 1` buckets one uncertain bit away.
pub fn probe_keys(unit: &[f32]) -> Vec<String> {
    let mut keys = Vec::with_capacity(TABLES * PROBES);
    for (table, (bucket, unsure)) in buckets(unit).into_iter().enumerate() {
        keys.push(keys::sim_bucket(table, bucket));
        for bit in unsure.iter().take(PROBES - 1) {
            keys.push(keys::sim_bucket(table, bucket ^ (1 << bit)));
        }
    }
    keys
}

/// One bucket entry: a 26-character video id, then the stored embedding.
const ENTRY: usize = 26 + STORED_BYTES;

/// The entries of a bucket value (oldest first); a torn tail is ignored.
fn entries(raw: &[u8]) -> impl Iterator<Item = (&str, &[u8])> {
    raw.chunks_exact(ENTRY)
        .filter_map(|e| Some((std::str::from_utf8(&e[..26]).ok()?, &e[26..])))
}

/// Puts a just-published video into its buckets, by each embedding it has
/// (prompt; caption too when a retried publish finds it already embedded).
/// Appends are unique and capped (the oldest leaves), so a retried publish
/// adds nothing.
pub async fn on_published<S: Store>(store: &S, video: &Video) -> Result<(), ApiError> {
    if video.id.len() != 26 {
        return Ok(());
    }
    let wanted = [
        keys::prompt_embedding(&video.id),
        keys::caption_embedding(&video.id),
    ];
    let got = store.get_many(&wanted).await?;
    for (n, raw) in got.iter().enumerate() {
        if let Some(q) = raw.as_deref().and_then(Quantized::from_stored) {
            file(store, &video.id, &q, n == 1).await?;
        }
    }
    Ok(())
}

/// Puts a published video's caption embedding into its buckets (the
/// worker's answer to the caption job). Unique, so a repeat adds nothing.
pub async fn on_caption<S: Store>(
    store: &S,
    video_id: &str,
    q: &Quantized,
) -> Result<(), ApiError> {
    if video_id.len() != 26 {
        return Ok(());
    }
    file(store, video_id, q, true).await
}

/// Adds `id`'s entry for vector `q` to its bucket in every table; a
/// caption's (`caption`) is held back where near-copies already fill it.
async fn file<S: Store>(store: &S, id: &str, q: &Quantized, caption: bool) -> Result<(), ApiError> {
    let mut entry = id.as_bytes().to_vec();
    entry.extend(q.to_stored());
    let unit = q.to_unit();
    let alike = caption.then_some(unit.as_slice());
    for (table, (bucket, _)) in buckets(&unit).into_iter().enumerate() {
        add(store, &keys::sim_bucket(table, bucket), &entry, alike).await?;
    }
    Ok(())
}

/// How many entries of bucket value `old` are near-copies of `unit`.
fn alike_count(old: &[u8], unit: &[f32]) -> usize {
    entries(old)
        .filter_map(|(_, stored)| Quantized::from_stored(stored))
        .filter(|q| cosine(unit, &q.to_unit()) >= ALIKE_COSINE)
        .count()
}

async fn add<S: Store>(
    store: &S,
    key: &str,
    entry: &[u8],
    alike: Option<&[f32]>,
) -> Result<(), ApiError> {
    for _ in 0..MAX_CAS_TRIES {
        let raw = store.get(key).await?;
        let old = raw.as_deref().unwrap_or_default();
        if old.chunks_exact(ENTRY).any(|e| e == entry) {
            return Ok(());
        }
        if alike.is_some_and(|unit| alike_count(old, unit) >= MAX_ALIKE) {
            return Ok(());
        }
        let whole = old.len() / ENTRY * ENTRY;
        let keep = whole.min((BUCKET_CAP - 1) * ENTRY);
        let mut next = old[whole - keep..whole].to_vec();
        next.extend_from_slice(entry);
        if store.compare_and_swap(key, raw.as_deref(), &next).await? {
            return Ok(());
        }
    }
    Err(busy())
}

/// Videos similar to the taste, not in `seen`: `(id, cosine)`, best first,
/// at most [`MAX_SIMILAR`], each at least [`MIN_COSINE`] (a video's better
/// entry, prompt or caption, counts). One batched read of
/// `TABLES × PROBES` keys, at most [`BUCKET_CAP`] entries each.
pub async fn candidates<S: Store>(
    store: &S,
    taste: &Taste,
    seen: &HashSet<&str>,
) -> Result<Vec<(String, f64)>, ApiError> {
    let Some(unit) = taste.unit() else {
        return Ok(Vec::new());
    };
    let got = store.get_many(&probe_keys(&unit)).await?;
    // An entry sits in one bucket per table: score each once.
    let mut met: HashSet<&[u8]> = HashSet::new();
    let mut best: HashMap<&str, f32> = HashMap::new();
    for raw in got.iter().flatten() {
        for entry in raw.chunks_exact(ENTRY) {
            let Ok(id) = std::str::from_utf8(&entry[..26]) else {
                continue;
            };
            if seen.contains(id) || !met.insert(entry) {
                continue;
            }
            let Some(q) = Quantized::from_stored(&entry[26..]) else {
                continue;
            };
            let c = cosine(&unit, &q.to_unit());
            if c >= MIN_COSINE {
                let b = best.entry(id).or_insert(c);
                *b = b.max(c);
            }
        }
    }
    let mut out: Vec<(String, f64)> = best
        .into_iter()
        .map(|(id, c)| (id.to_owned(), f64::from(c)))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    out.truncate(MAX_SIMILAR);
    Ok(out)
}

#[cfg(test)]
#[path = "similar_tests.rs"]
mod tests;
