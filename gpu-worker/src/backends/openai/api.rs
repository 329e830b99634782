//! The provider's video API: create (multipart), retrieve, download content,
//! delete. Every call is bounded in time and size; failures come back as
//! [`ModelError::Transient`] (worth another attempt) or
//! [`ModelError::Rejected`] (will never work), or
//! [`ModelError::ContentRefused`] (the provider's moderation said no).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use serde::Deserialize;

use super::multipart::{FilePart, form};
use super::reference::input_reference;
use super::settings::{OpenAiSettings, provider_dimensions, provider_seconds, provider_size};
use crate::model::{JobControl, ModelError};
use crate::spec::GenerationSpec;

/// Largest JSON answer read (video objects and errors are small).
const MAX_JSON_BYTES: usize = 256 * 1024;
/// First backoff after a server error or an unexplained rate limit.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// How often a wait looks at the cancel flag.
const CANCEL_CHECK: Duration = Duration::from_millis(50);

/// A video job as the provider reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Video {
    /// The provider's job id.
    pub id: String,
    /// `queued`, `in_progress`, `completed` or `failed`.
    pub status: String,
    /// Percent done, when the provider says.
    #[serde(default)]
    pub progress: Option<f64>,
    /// Why a `failed` job failed.
    #[serde(default)]
    pub error: Option<ProviderError>,
}

/// The provider's error object (in failed jobs and in 4xx/5xx bodies).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProviderError {
    /// Machine-readable code, e.g. `moderation_blocked`.
    #[serde(default)]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
}

impl ProviderError {
    /// "code: message", for errors and logs.
    pub fn describe(&self) -> String {
        format!(
            "{}: {}",
            self.code.as_deref().unwrap_or("no code"),
            self.message.as_deref().unwrap_or("no message")
        )
    }

    /// True for refusals on content grounds: the same prompt fails again.
    pub fn is_policy(&self) -> bool {
        let text = format!("{self:?}").to_ascii_lowercase();
        ["moderation", "policy", "safety", "content_filter"]
            .iter()
            .any(|word| text.contains(word))
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ProviderError,
}

/// One job's connection to the provider.
pub struct Api<'a> {
    settings: &'a OpenAiSettings,
    control: &'a JobControl<'a>,
    base: String,
    http: crate::util::HttpClient,
}

impl<'a> Api<'a> {
    /// A client for `settings.base_url`; fails on a URL that is not http(s).
    pub fn new(
        settings: &'a OpenAiSettings,
        control: &'a JobControl<'a>,
    ) -> Result<Self, ModelError> {
        let base = settings.base_url.trim_end_matches('/').to_owned();
        let https = base.starts_with("https://");
        if !https && !base.starts_with("http://") {
            return Err(ModelError::Rejected(format!(
                "the API base URL {base:?} is not http(s)"
            )));
        }
        let http = crate::util::http_client(https).map_err(|e| ModelError::Backend(e.into()))?;
        Ok(Api {
            settings,
            control,
            base,
            http,
        })
    }

    /// `POST /videos`: starts a job, with the spec's reference image as
    /// `input_reference` when it has one. Only rate limits are retried here:
    /// after a server error the job may exist, and a blind retry would pay twice.
    pub async fn create(&self, spec: &GenerationSpec) -> Result<Video, ModelError> {
        let seconds = provider_seconds(spec).to_string();
        let image = spec
            .reference
            .as_ref()
            .map(|r| input_reference(r, provider_dimensions(spec)))
            .transpose()?;
        let file = image.as_deref().map(|png| FilePart {
            name: "input_reference",
            filename: "reference.png",
            content_type: "image/png",
            body: png,
        });
        let fields = [
            ("model", self.settings.model.as_str()),
            ("prompt", spec.prompt.as_str()),
            ("seconds", seconds.as_str()),
            ("size", provider_size(spec)),
        ];
        let (content_type, body) = form(&fields, file);
        let answer = self
            .call(
                Method::POST,
                "/videos".into(),
                Some((content_type, body.into())),
                false,
            )
            .await?;
        parse_video(&answer)
    }

    /// `GET /videos/{id}`: the job's status.
    pub async fn retrieve(&self, id: &str) -> Result<Video, ModelError> {
        let answer = self
            .call(Method::GET, format!("/videos/{id}"), None, true)
            .await?;
        parse_video(&answer)
    }

    /// `GET /videos/{id}/content`: the finished MP4, bounded in size and time.
    pub async fn download(&self, id: &str) -> Result<Bytes, ModelError> {
        self.call(Method::GET, format!("/videos/{id}/content"), None, true)
            .await
    }

    /// `DELETE /videos/{id}`: one try; the caller only logs a failure.
    pub async fn delete(&self, id: &str) -> Result<(), ModelError> {
        let req = self.request(Method::DELETE, &format!("/videos/{id}"), None)?;
        // Runs after a cancellation, so it does not watch the flag.
        match self
            .send(req, MAX_JSON_BYTES, self.settings.request_timeout, false)
            .await
        {
            Ok((status, _, _)) if status.is_success() || status == StatusCode::NOT_FOUND => Ok(()),
            Ok((status, _, body)) => Err(ModelError::Transient(format!(
                "delete answered {status}: {}",
                error_text(&body)
            ))),
            Err(e) => Err(ModelError::Transient(e.to_string())),
        }
    }

    /// Sleeps `wait`, returning `Cancelled` soon after the job is cancelled.
    pub async fn nap(&self, wait: Duration) -> Result<(), ModelError> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            self.control.checkpoint()?;
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(());
            }
            tokio::time::sleep((until - now).min(CANCEL_CHECK)).await;
        }
    }

    /// Sends one call, through rate limits (always) and server errors and
    /// network failures (when `idempotent`), and returns a 2xx body.
    async fn call(
        &self,
        method: Method,
        path: String,
        body: Option<(String, Bytes)>,
        idempotent: bool,
    ) -> Result<Bytes, ModelError> {
        let download = path.ends_with("/content");
        let (limit, timeout) = if download {
            (
                self.settings.max_download_bytes,
                self.settings.download_timeout,
            )
        } else {
            (MAX_JSON_BYTES, self.settings.request_timeout)
        };
        let tries = self.settings.tries.max(1);
        let mut last = String::new();
        let mut made = 0;
        for try_number in 0..tries {
            made = try_number + 1;
            let more = try_number + 1 < tries;
            if try_number > 0 {
                self.control.checkpoint()?;
            }
            let req = self.request(method.clone(), &path, body.clone())?;
            let backoff = FIRST_BACKOFF
                .saturating_mul(1 << try_number.min(8))
                .min(self.settings.max_rate_limit_wait);
            let (status, headers, answer) = match self.send(req, limit, timeout, true).await {
                Ok(done) => done,
                Err(Failure::Cancelled) => return Err(ModelError::Cancelled),
                Err(Failure::TooLarge(e)) => return Err(ModelError::InvalidOutput(e)),
                Err(Failure::Other(e)) => {
                    last = format!("{method} {path}: {e}");
                    if !idempotent || !more {
                        break;
                    }
                    self.nap(backoff).await?;
                    continue;
                }
            };
            if status.is_success() {
                return Ok(answer);
            }
            let detail = format!("{method} {path} answered {status}: {}", error_text(&answer));
            if status == StatusCode::TOO_MANY_REQUESTS {
                if error_text(&answer).contains("insufficient_quota") {
                    // Billing, not load: waiting will not bring the quota back.
                    return Err(ModelError::Rejected(detail));
                }
                let wait = rate_limit_wait(&headers).unwrap_or(backoff);
                if wait > self.settings.max_rate_limit_wait || !more {
                    return Err(ModelError::Transient(format!(
                        "{detail} (asked to wait {} ms)",
                        wait.as_millis()
                    )));
                }
                self.nap(wait).await?;
                last = detail;
                continue;
            }
            if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
                last = detail;
                if !idempotent || !more {
                    break;
                }
                self.nap(backoff).await?;
                continue;
            }
            // 400, 401, 403, 404...: the same request fails the same way.
            let policy = serde_json::from_slice::<ErrorBody>(&answer)
                .is_ok_and(|body| body.error.is_policy());
            return Err(if policy {
                ModelError::ContentRefused(detail)
            } else {
                ModelError::Rejected(detail)
            });
        }
        Err(ModelError::Transient(format!("{last} ({made} tries)")))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<(String, Bytes)>,
    ) -> Result<Request<Full<Bytes>>, ModelError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.settings.api_key),
            )
            .header(header::USER_AGENT, "dreamreel-worker");
        if let Some(org) = &self.settings.organization {
            req = req.header("OpenAI-Organization", org);
        }
        if let Some(project) = &self.settings.project {
            req = req.header("OpenAI-Project", project);
        }
        let body = match body {
            Some((content_type, bytes)) => {
                req = req.header(header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        // The message names the path only: the key must not reach a log.
        req.body(Full::new(body))
            .map_err(|_| ModelError::Rejected(format!("cannot build a request for {path}")))
    }

    /// One exchange, bounded by `timeout` and `limit`; with `watch_cancel`
    /// it is dropped (connection closed) soon after the job is cancelled.
    async fn send(
        &self,
        req: Request<Full<Bytes>>,
        limit: usize,
        timeout: Duration,
        watch_cancel: bool,
    ) -> Result<(StatusCode, HeaderMap, Bytes), Failure> {
        let exchange = async {
            let response = self
                .http
                .request(req)
                .await
                .map_err(|e| Failure::Other(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Failure::TooLarge(format!("answer is larger than {limit} bytes"))
                    } else {
                        Failure::Other(e.to_string())
                    }
                })?
                .to_bytes();
            Ok((parts.status, parts.headers, bytes))
        };
        let bounded = async {
            tokio::time::timeout(timeout, exchange).await.map_err(|_| {
                Failure::Other(format!("no answer within {} ms", timeout.as_millis()))
            })?
        };
        if !watch_cancel {
            return bounded.await;
        }
        tokio::select! {
            done = bounded => done,
            () = self.until_cancelled() => Err(Failure::Cancelled),
        }
    }

    async fn until_cancelled(&self) {
        while !self.control.is_cancelled() {
            tokio::time::sleep(CANCEL_CHECK).await;
        }
    }
}

/// Why one exchange gave no answer.
enum Failure {
    Cancelled,
    TooLarge(String),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Cancelled => f.write_str("cancelled"),
            Failure::TooLarge(e) | Failure::Other(e) => f.write_str(e),
        }
    }
}

fn parse_video(body: &[u8]) -> Result<Video, ModelError> {
    let video: Video = serde_json::from_slice(body)
        .map_err(|e| ModelError::Transient(format!("unreadable video object: {e}")))?;
    // The id goes into later paths: anything but a plain token is refused.
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if video.id.is_empty() || video.id.len() > 128 || !video.id.chars().all(plain) {
        return Err(ModelError::Transient(format!(
            "the provider returned an unusable video id {:?}",
            video.id.chars().take(40).collect::<String>()
        )));
    }
    Ok(video)
}

/// The provider's error object as text, or the start of a non-JSON body.
fn error_text(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.error.describe(),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// How long a 429 asks the client to wait: `retry-after-ms`, `Retry-After`
/// (seconds or an HTTP date), else the longest `x-ratelimit-reset-*`
/// ("1s", "6m0s", "20ms"). The caller bounds the answer.
pub fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    rate_limit_wait_at(headers, SystemTime::now())
}

/// [`rate_limit_wait`] with the clock given: a date is read against `now`.
fn rate_limit_wait_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    if let Some(value) = text("retry-after").map(str::trim) {
        if let Ok(s) = value.parse::<f64>() {
            return Duration::try_from_secs_f64(s).ok();
        }
        // RFC 9110's HTTP-date (IMF-fixdate, and the obsolete RFC 850 and
        // asctime forms); a date already past means "now".
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
        .iter()
        .filter_map(|name| text(name).and_then(go_duration))
        .max()
}

/// Parses Go-style durations such as "1h2m3.5s" or "20ms".
fn go_duration(text: &str) -> Option<Duration> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers_are_understood() {
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(&h), None);
        h.insert("x-ratelimit-reset-requests", "6m0s".parse().unwrap());
        h.insert("x-ratelimit-reset-tokens", "20ms".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(360)));
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_millis(150)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));

        // Retry-After as an HTTP date, in all three of RFC 9110's forms.
        let now = httpdate::parse_http_date("Tue, 01 Dec 2026 12:00:00 GMT").unwrap();
        for date in [
            "Tue, 01 Dec 2026 12:00:07 GMT",
            "Tuesday, 01-Dec-26 12:00:07 GMT",
            "Tue Dec  1 12:00:07 2026",
        ] {
            let mut h = HeaderMap::new();
            h.insert("retry-after", date.parse().unwrap());
            assert_eq!(
                rate_limit_wait_at(&h, now),
                Some(Duration::from_secs(7)),
                "{date}"
            );
        }
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "Mon, 30 Nov 2026 12:00:00 GMT".parse().unwrap(),
        );
        assert_eq!(rate_limit_wait_at(&h, now), Some(Duration::ZERO));
        // A date a year away is returned as such: the caller's bound refuses it.
        h.insert(
            "retry-after",
            "Wed, 01 Dec 2027 12:00:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            rate_limit_wait_at(&h, now),
            Some(Duration::from_secs(365 * 86_400))
        );
        // Neither a number nor a date: the reset headers decide.
        h.insert("retry-after", "soon".parse().unwrap());
        h.insert("x-ratelimit-reset-requests", "3s".parse().unwrap());
        assert_eq!(rate_limit_wait_at(&h, now), Some(Duration::from_secs(3)));
        assert_eq!(go_duration("1h2m"), Some(Duration::from_secs(3720)));
        for bad in ["", "s", "3x", "1s2"] {
            assert_eq!(go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn policy_failures_are_recognised_and_ids_checked() {
        let moderation = ProviderError {
            code: Some("moderation_blocked".into()),
            message: Some("Your request was blocked by our moderation system.".into()),
        };
        assert!(moderation.is_policy());
        let internal = ProviderError {
            code: Some("internal_error".into()),
            message: Some("try again".into()),
        };
        assert!(!internal.is_policy());
        assert!(parse_video(br#"{"id":"video_123","status":"queued"}"#).is_ok());
        assert!(parse_video(br#"{"id":"../../x","status":"queued"}"#).is_err());
        assert!(parse_video(b"<html>").is_err());
    }
}
