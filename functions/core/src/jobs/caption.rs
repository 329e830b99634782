//! Caption embedding jobs: at publish the studio writes
//! `captions/{video_id}.json` ([`CaptionJob`]); the worker embeds the caption
//! with the model it already runs for prompts and posts a
//! [`CaptionEmbedding`] to `/internal/videos/{id}/caption-embedding`, then
//! deletes the object. Both sides use these types and key functions.

use serde::{Deserialize, Serialize};

use super::embedding::WireEmbedding;

/// Object key prefix of caption jobs.
pub const CAPTIONS_PREFIX: &str = "captions/";
/// Largest caption job the worker reads: a 300-character caption and an id
/// take well under 2 KiB, so more is not one.
pub const MAX_CAPTION_JOB_BYTES: u64 = 16 * 1024;

/// What `captions/{id}.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptionJob {
    /// The published video (a ULID).
    pub video_id: String,
    /// Its caption, as published (never empty).
    pub caption: String,
    /// When it was published (RFC 3339).
    pub published_at: String,
}

/// The worker's `caption-embedding` callback body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionEmbedding {
    /// The caption that was embedded: the edge stores the vector only while
    /// the video still carries exactly this caption.
    pub caption: String,
    /// Its all-MiniLM-L6-v2 embedding.
    pub embedding: WireEmbedding,
}

/// `captions/{video_id}.json`.
pub fn caption_key(video_id: &str) -> String {
    format!("{CAPTIONS_PREFIX}{video_id}.json")
}

/// The video id of a `captions/{id}.json` key, if it is one (ids are ULIDs).
pub fn caption_id_from_key(key: &str) -> Option<&str> {
    let id = key.strip_prefix(CAPTIONS_PREFIX)?.strip_suffix(".json")?;
    (id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caption_keys_round_trip_and_reject_strangers() {
        let id = "01JD0000000000000000000000";
        assert_eq!(caption_id_from_key(&caption_key(id)), Some(id));
        assert_eq!(caption_id_from_key(&format!("jobs/{id}.json")), None);
        assert_eq!(caption_id_from_key("captions/../etc.json"), None);
        assert_eq!(caption_id_from_key(&format!("captions/{id}.txt")), None);
    }
}
