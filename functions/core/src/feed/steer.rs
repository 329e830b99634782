//! Steering in plain words: "more cooking, less horror". Each clause that
//! asks for more or less of something weighs its topic words up or down in
//! the viewer's For You, beside what the feed learns from watching; the
//! viewer sees what was understood, and can change or clear it any time.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::store::Store;

use super::{profile, terms};

/// Longest preferences text accepted.
pub const MAX_TEXT_CHARS: usize = 300;
/// What a steered term weighs, against learned weights capped at
/// [`profile::WEIGHT_CAP`]: strong enough to show on the next page,
/// not so strong that watching cannot argue with it.
pub const STEER_WEIGHT: f64 = 4.0;

/// Openings that ask for more.
const MORE: [&str; 8] = [
    "more",
    "show me",
    "i like",
    "i love",
    "i want",
    "give me",
    "lots of",
    "plenty of",
];
/// Openings that ask for less.
const LESS: [&str; 11] = [
    "less",
    "fewer",
    "no more",
    "no",
    "not",
    "stop",
    "without",
    "hide",
    "don't show",
    "dont show",
    "never",
];

/// What the viewer asked for, as understood.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steering {
    /// The text as written.
    #[serde(default)]
    pub text: String,
    /// Topic words to show more of.
    #[serde(default)]
    pub more: Vec<String>,
    /// Topic words to show less of.
    #[serde(default)]
    pub less: Vec<String>,
    /// Clauses that asked for neither, so the client can say so.
    #[serde(default)]
    pub not_understood: Vec<String>,
}

impl Steering {
    /// The steered weight of `term`: up, down or nothing.
    pub fn weight(&self, term: &str) -> f64 {
        if self.less.iter().any(|t| t == term) {
            -STEER_WEIGHT
        } else if self.more.iter().any(|t| t == term) {
            STEER_WEIGHT
        } else {
            0.0
        }
    }
}

/// `PUT /v1/feed/preferences` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    /// Plain words; empty clears the steering.
    pub text: String,
}

/// Reads `text` clause by clause.
pub fn parse(text: &str) -> Steering {
    let mut out = Steering {
        text: text.trim().to_owned(),
        ..Steering::default()
    };
    let clauses = text
        .split([',', ';', '.', '!', '\n'])
        .flat_map(|c| c.split(" and "))
        .flat_map(|c| c.split(" but "))
        .map(str::trim)
        .filter(|c| !c.is_empty());
    for clause in clauses {
        let lower = clause.to_lowercase();
        let opening = |list: &[&'static str]| {
            list.iter()
                .filter(|o| lower == **o || lower.starts_with(&format!("{o} ")))
                .max_by_key(|o| o.len())
                .copied()
        };
        let (rest, more) = match (opening(&MORE), opening(&LESS)) {
            (Some(m), Some(l)) if l.len() > m.len() => (&lower[l.len()..], false),
            (Some(m), _) => (&lower[m.len()..], true),
            (None, Some(l)) => (&lower[l.len()..], false),
            (None, None) => {
                out.not_understood.push(clause.to_owned());
                continue;
            }
        };
        let words = terms::extract([rest]);
        if words.is_empty() {
            out.not_understood.push(clause.to_owned());
            continue;
        }
        for w in words {
            let (into, other) = if more {
                (&mut out.more, &mut out.less)
            } else {
                (&mut out.less, &mut out.more)
            };
            // The later wish wins.
            other.retain(|t| *t != w);
            if !into.contains(&w) {
                into.push(w);
            }
        }
    }
    out
}

/// Sets `viewer`'s steering from `text` (empty clears it); answers what
/// was understood.
pub async fn set_preferences<S: Store>(
    store: &S,
    viewer: &str,
    req: PreferencesRequest,
) -> Result<Steering, ApiError> {
    if req.text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::invalid_request(format!(
            "text: at most {MAX_TEXT_CHARS} characters"
        )));
    }
    let steering = parse(&req.text);
    profile::update(store, viewer, |p| p.steering = steering.clone()).await?;
    Ok(steering)
}

/// `viewer`'s steering as understood.
pub async fn preferences<S: Store>(store: &S, viewer: &str) -> Result<Steering, ApiError> {
    Ok(profile::load(store, viewer).await?.steering)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_ask_for_more_or_less() {
        let s = parse("More cooking, less horror and no spiders. Show me surfing; banana");
        assert_eq!(s.more, ["cooking", "surfing"]);
        assert_eq!(s.less, ["horror", "spiders"]);
        assert_eq!(s.not_understood, ["banana"]);
        assert_eq!(s.weight("cooking"), STEER_WEIGHT);
        assert_eq!(s.weight("horror"), -STEER_WEIGHT);
        assert_eq!(s.weight("jazz"), 0.0);
    }

    #[test]
    fn the_later_wish_wins_and_longer_openings_are_read_first() {
        let s = parse("more cats, no more cats");
        assert!(s.more.is_empty());
        assert_eq!(s.less, ["cats"]);
        let s = parse("no more horror");
        assert_eq!(s.less, ["horror"]);
        assert!(parse("").more.is_empty());
    }
}
