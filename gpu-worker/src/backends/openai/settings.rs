//! The remote backend's configuration, and how a spec maps to what the
//! provider offers.

use std::time::Duration;

use crate::spec::GenerationSpec;

/// Default API root.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// Default video model.
pub const DEFAULT_MODEL: &str = "sora-2";
/// Clip lengths the provider renders, in seconds.
pub const PROVIDER_SECONDS: [u32; 3] = [4, 8, 12];

/// How the backend reaches the provider and how long it waits. Debug hides the key.
#[derive(Clone)]
pub struct OpenAiSettings {
    /// Secret API key, sent as a bearer token.
    pub api_key: String,
    /// API root, e.g. `https://api.openai.com/v1` (`http://` for tests).
    pub base_url: String,
    /// Video model name (`sora-2`, `sora-2-pro`).
    pub model: String,
    /// Optional `OpenAI-Organization` header.
    pub organization: Option<String>,
    /// Optional `OpenAI-Project` header.
    pub project: Option<String>,
    /// Time between two status polls.
    pub poll_interval: Duration,
    /// Longest a job may take from create to downloaded video.
    pub max_wait: Duration,
    /// Bound on one API call, connect to last byte (not the download).
    pub request_timeout: Duration,
    /// Bound on downloading the finished MP4.
    pub download_timeout: Duration,
    /// Largest MP4 accepted.
    pub max_download_bytes: usize,
    /// Longest single wait a rate limit may ask for before the attempt gives up.
    pub max_rate_limit_wait: Duration,
    /// Tries of one call through rate limits and (for reads) server errors.
    pub tries: u32,
}

impl OpenAiSettings {
    /// Defaults around `api_key`: the public endpoint, `sora-2`, 5 s polls,
    /// 15 min total, 30 s calls, 2 min and 256 MiB for the download.
    pub fn new(api_key: impl Into<String>) -> Self {
        OpenAiSettings {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.into(),
            model: DEFAULT_MODEL.into(),
            organization: None,
            project: None,
            poll_interval: Duration::from_secs(5),
            max_wait: Duration::from_secs(15 * 60),
            request_timeout: Duration::from_secs(30),
            download_timeout: Duration::from_secs(120),
            max_download_bytes: 256 << 20,
            max_rate_limit_wait: Duration::from_secs(60),
            tries: 4,
        }
    }
}

impl std::fmt::Debug for OpenAiSettings {
    // The key is a secret: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("poll_interval", &self.poll_interval)
            .field("max_wait", &self.max_wait)
            .field("request_timeout", &self.request_timeout)
            .field("download_timeout", &self.download_timeout)
            .field("max_download_bytes", &self.max_download_bytes)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("tries", &self.tries)
            .finish_non_exhaustive()
    }
}

/// The provider size for a spec: its orientation at 720p. A square spec
/// asks for portrait (the feed's shape) and is centre-cropped.
pub fn provider_size(spec: &GenerationSpec) -> &'static str {
    match provider_dimensions(spec) {
        (1280, 720) => "1280x720",
        _ => "720x1280",
    }
}

/// [`provider_size`] as (width, height): what a reference image must measure.
pub fn provider_dimensions(spec: &GenerationSpec) -> (u32, u32) {
    if spec.width > spec.height {
        (1280, 720)
    } else {
        (720, 1280)
    }
}

/// The shortest provider length that covers the spec (the clip is cut, never stretched).
pub fn provider_seconds(spec: &GenerationSpec) -> u32 {
    let wanted = spec.rendered_duration_ms().div_ceil(1000);
    PROVIDER_SECONDS
        .into_iter()
        .find(|&s| s >= wanted)
        .unwrap_or(PROVIDER_SECONDS[PROVIDER_SECONDS.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Aspect;

    #[test]
    fn specs_map_to_the_nearest_covering_provider_shape() {
        let spec = |ms, aspect| GenerationSpec::new("x", ms, aspect, 0);
        assert_eq!(provider_size(&spec(1_000, Aspect::Portrait)), "720x1280");
        assert_eq!(provider_size(&spec(1_000, Aspect::Landscape)), "1280x720");
        assert_eq!(provider_size(&spec(1_000, Aspect::Square)), "720x1280");
        let seconds: Vec<u32> = [1_000, 4_000, 5_000, 8_000, 9_000, 10_000]
            .into_iter()
            .map(|ms| provider_seconds(&spec(ms, Aspect::Portrait)))
            .collect();
        assert_eq!(seconds, [4, 4, 8, 8, 12, 12]);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = OpenAiSettings::new("sk-very-secret");
        assert!(!format!("{s:?}").contains("sk-very-secret"));
    }
}
