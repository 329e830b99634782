//! What the feed has learned about a viewer: signed weights for creators
//! and prompt terms, and a taste direction in embedding space. Bounded (the strongest weights are kept), decaying
//! (old tastes fade), and changed by compare-and-swap, one swap per batch
//! of events, so signals shape the very next page.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::keys;
use crate::pages::{MAX_CAS_TRIES, busy};
use crate::store::Store;

/// Creators remembered per viewer.
pub const MAX_CREATORS: usize = 64;
/// Terms remembered per viewer.
pub const MAX_TERMS: usize = 128;
/// Weights stay within ±this.
pub const WEIGHT_CAP: f64 = 10.0;
/// Weights halve over this many milliseconds without reinforcement.
pub const HALF_LIFE_MS: f64 = 3.0 * 24.0 * 3600.0 * 1000.0;

/// A viewer's learned affinities, stored under [`keys::feed_profile`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// `(creator user id, weight)`.
    #[serde(default)]
    pub creators: Vec<(String, f64)>,
    /// `(term, weight)`.
    #[serde(default)]
    pub terms: Vec<(String, f64)>,
    /// Unix ms of the last change (decay runs from here).
    #[serde(default)]
    pub updated_ms: u64,
    /// What the viewer asked for in plain words; it does not decay.
    #[serde(default)]
    pub steering: super::steer::Steering,
    /// The direction of what they liked and watched through, in prompt
    /// embedding space ([`super::similar`]); its weight decays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taste: Option<super::similar::Taste>,
}

impl Profile {
    /// The weight of a creator (0 when unknown).
    pub fn creator(&self, id: &str) -> f64 {
        self.creators
            .iter()
            .find(|(c, _)| c == id)
            .map_or(0.0, |(_, w)| *w)
    }

    /// The weight of a term: what was learned plus what the viewer asked for.
    pub fn term(&self, term: &str) -> f64 {
        let learned = self
            .terms
            .iter()
            .find(|(t, _)| t == term)
            .map_or(0.0, |(_, w)| *w);
        learned + self.steering.weight(term)
    }

    /// Creators with a positive weight, strongest first, at most `n`.
    pub fn liked_creators(&self, n: usize) -> Vec<String> {
        let mut liked: Vec<&(String, f64)> =
            self.creators.iter().filter(|(_, w)| *w > 0.0).collect();
        liked.sort_by(|a, b| b.1.total_cmp(&a.1));
        liked.into_iter().take(n).map(|(c, _)| c.clone()).collect()
    }

    /// Fades every weight for the time since the last change.
    pub fn decay_to(&mut self, now_ms: u64) {
        let dt = now_ms.saturating_sub(self.updated_ms) as f64;
        if self.updated_ms != 0 && dt > 0.0 {
            let factor = 0.5f64.powf(dt / HALF_LIFE_MS);
            for (_, w) in self.creators.iter_mut().chain(self.terms.iter_mut()) {
                *w *= factor;
            }
            if let Some(t) = &mut self.taste {
                t.weight *= factor;
            }
        }
        self.updated_ms = self.updated_ms.max(now_ms);
    }

    /// Adds `delta` to a creator's weight.
    pub fn nudge_creator(&mut self, id: &str, delta: f64) {
        nudge(&mut self.creators, id, delta, MAX_CREATORS);
    }

    /// Adds `delta` to a term's weight.
    pub fn nudge_term(&mut self, term: &str, delta: f64) {
        nudge(&mut self.terms, term, delta, MAX_TERMS);
    }
}

fn nudge(weights: &mut Vec<(String, f64)>, name: &str, delta: f64, cap: usize) {
    match weights.iter_mut().find(|(n, _)| n == name) {
        Some((_, w)) => *w = (*w + delta).clamp(-WEIGHT_CAP, WEIGHT_CAP),
        None => weights.push((name.to_owned(), delta.clamp(-WEIGHT_CAP, WEIGHT_CAP))),
    }
    if weights.len() > cap {
        // Keep the strongest opinions, liked or disliked.
        weights.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        weights.truncate(cap);
    }
}

fn decode(raw: Option<&[u8]>) -> Result<Profile, ApiError> {
    match raw {
        None => Ok(Profile::default()),
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|_| ApiError::internal("a feed profile is unreadable")),
    }
}

/// The viewer's profile (empty for a new viewer).
pub async fn load<S: Store>(store: &S, user_id: &str) -> Result<Profile, ApiError> {
    decode(store.get(&keys::feed_profile(user_id)).await?.as_deref())
}

/// Applies `change` to the stored profile by compare-and-swap, retrying on conflict.
pub async fn update<S: Store>(
    store: &S,
    user_id: &str,
    change: impl Fn(&mut Profile),
) -> Result<(), ApiError> {
    let key = keys::feed_profile(user_id);
    for _ in 0..MAX_CAS_TRIES {
        let raw = store.get(&key).await?;
        let mut profile = decode(raw.as_deref())?;
        change(&mut profile);
        let bytes = serde_json::to_vec(&profile).expect("profiles serialise");
        if store.compare_and_swap(&key, raw.as_deref(), &bytes).await? {
            return Ok(());
        }
    }
    Err(busy())
}
