//! The job spec: what `studio` writes to `jobs/{id}.json` and the worker reads.

use serde::{Deserialize, Serialize};

/// Object key prefix the worker listens on.
pub const JOBS_PREFIX: &str = "jobs/";
/// Object key prefix of finished media.
pub const MEDIA_PREFIX: &str = "media/";

/// One generation job. The id is the draft's id, so a job maps to exactly one draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The draft (and job) id, a ULID.
    pub job_id: String,
    /// The member who asked for it.
    pub owner: String,
    /// What to generate.
    pub prompt: String,
    /// Clip length, 1000..=10000 ms.
    pub duration_ms: u32,
    /// "9:16" (default), "16:9" or "1:1".
    pub aspect: String,
    /// Seed for a reproducible result.
    pub seed: u64,
    /// The published video this remixes, if any.
    #[serde(default)]
    pub remix_of: Option<String>,
    /// Cameo owners cast in the clip (user ids).
    #[serde(default)]
    pub cameos: Vec<String>,
    /// The cast as the model gets them: handles, written preferences
    /// ("always wearing glasses") and their verified reference recordings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cast: Vec<crate::cameo::cast::CastMember>,
    /// The request that created the job, so logs follow it from tap to MP4.
    pub request_id: String,
    /// When the edge accepted it (RFC 3339).
    pub created_at: String,
}

/// `jobs/{id}.json`.
pub fn job_key(job_id: &str) -> String {
    format!("{JOBS_PREFIX}{job_id}.json")
}

/// The job id of a `jobs/{id}.json` key, if it is one (ids are ULIDs).
pub fn job_id_from_key(key: &str) -> Option<&str> {
    let id = key.strip_prefix(JOBS_PREFIX)?.strip_suffix(".json")?;
    (id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(id)
}

/// `(video, thumbnail)` keys of a job's media: `media/{id}/video.mp4`, `media/{id}/thumb.jpg`.
pub fn media_keys(job_id: &str) -> (String, String) {
    (
        format!("{MEDIA_PREFIX}{job_id}/video.mp4"),
        format!("{MEDIA_PREFIX}{job_id}/thumb.jpg"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_reject_strangers() {
        let id = "01JD0000000000000000000000";
        assert_eq!(job_id_from_key(&job_key(id)), Some(id));
        assert_eq!(job_id_from_key("jobs/../x.json"), None);
        assert_eq!(
            job_id_from_key("media/01JD0000000000000000000000.json"),
            None
        );
        assert_eq!(media_keys(id).0, format!("media/{id}/video.mp4"));
    }

    #[test]
    fn spec_refuses_unknown_fields() {
        let json = r#"{"job_id":"a","owner":"b","prompt":"c","duration_ms":1000,"aspect":"9:16","seed":1,"request_id":"r","created_at":"t","evil":1}"#;
        assert!(serde_json::from_str::<JobSpec>(json).is_err());
    }
}
