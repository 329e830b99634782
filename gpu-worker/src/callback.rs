//! Signed callbacks to the edge: `POST {edge}/internal/jobs/{id}/{action}`.
//!
//! Every call carries `x-dreamreel-timestamp`, `-nonce` and `-signature`
//! from [`dreamreel_core::jobs::CallbackAuth`]; a retry is signed afresh
//! (new nonce), since the edge refuses a nonce it has seen. Connection
//! failures, timeouts, 408/429 and 5xx are retried with backoff; other
//! answers are returned to the pipeline, which decides what they mean.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dreamreel_core::jobs::caption::CaptionEmbedding;
use dreamreel_core::jobs::{CallbackAuth, WireEmbedding};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde::{Deserialize, Serialize};
use serde_json::json;
use thiserror::Error;

/// Largest edge answer read; they are tiny JSON objects.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How transient callback failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Wait before the second try; doubles each time.
    pub first_backoff: Duration,
    /// Longest wait between tries.
    pub max_backoff: Duration,
    /// Bound on one try, connect to last byte.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// The pipeline stage named in a progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackStage {
    /// The model is making frames (and they are being encoded).
    Generating,
    /// Audio, muxing and thumbnail.
    Encoding,
    /// Media going to object storage.
    Uploading,
}

/// What the edge said to `start` (or `progress`): go on, or stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Carry on.
    Proceed,
    /// Stop without a video: consent revoked, draft deleted...
    Refuse {
        /// The edge's reason.
        reason: String,
    },
}

/// What the edge said to a caption embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptionAnswer {
    /// Stored with the video.
    Stored,
    /// Nothing to store it for: the video is gone (404) or carries another
    /// caption (409). Retrying will not change that.
    Stale,
}

/// Body of the `complete` callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// `media/{id}/video.mp4`.
    pub video_key: String,
    /// `media/{id}/thumb.jpg`.
    pub thumbnail_key: String,
    /// Real clip length.
    pub duration_ms: u32,
    /// Video width in pixels.
    pub width: u32,
    /// Video height in pixels.
    pub height: u32,
    /// MP4 size in bytes.
    pub bytes: u64,
    /// The prompt's embedding, when the worker has the embedding model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_embedding: Option<WireEmbedding>,
}

/// Why a callback did not get a usable answer.
#[derive(Debug, Error)]
pub enum CallbackError {
    /// The edge URL is not an absolute http(s) URL.
    #[error("invalid edge URL {0:?}")]
    InvalidUrl(String),
    /// No answer after every retry (connect error, timeout, 408/429/5xx).
    #[error("{action} callback failed after {tries} tries: {last}")]
    Unreachable {
        /// Which callback.
        action: &'static str,
        /// Tries made.
        tries: u32,
        /// The last failure.
        last: String,
    },
    /// The edge refused the call with a status that retrying will not change.
    #[error("{action} callback refused with {status}: {body}")]
    Rejected {
        /// Which callback.
        action: &'static str,
        /// HTTP status.
        status: u16,
        /// Start of the answer's body.
        body: String,
    },
    /// The edge answered 2xx/409 with a body that is not the expected JSON.
    #[error("{action} callback answered unreadable JSON: {detail}")]
    BadAnswer {
        /// Which callback.
        action: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl CallbackError {
    /// True when a later delivery might get through.
    pub fn is_transient(&self) -> bool {
        matches!(self, CallbackError::Unreachable { .. })
    }
}

/// Talks to the edge's `/internal/jobs/...` routes. Cheap to clone.
#[derive(Clone)]
pub struct EdgeClient {
    /// `scheme://authority` of the edge.
    origin: String,
    /// Path prefix of the edge URL without a trailing `/` (usually empty).
    prefix: String,
    key: Arc<[u8]>,
    http: crate::util::HttpClient,
    retry: RetryPolicy,
}

impl std::fmt::Debug for EdgeClient {
    // The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeClient")
            .field("origin", &self.origin)
            .field("prefix", &self.prefix)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct DecisionBody {
    proceed: bool,
    #[serde(default)]
    reason: Option<String>,
}

impl EdgeClient {
    /// A client for the edge at `base_url` (`http://` or `https://`, any
    /// path prefix), signing with `key` (the shared `callback_key`).
    pub fn new(base_url: &str, key: &[u8], retry: RetryPolicy) -> Result<Self, CallbackError> {
        let invalid = || CallbackError::InvalidUrl(base_url.to_owned());
        let uri: Uri = base_url.parse().map_err(|_| invalid())?;
        let scheme = uri.scheme_str().ok_or_else(invalid)?;
        let authority = uri.authority().ok_or_else(invalid)?;
        if !matches!(scheme, "http" | "https") || uri.query().is_some() {
            return Err(invalid());
        }
        let http = crate::util::http_client(scheme == "https").map_err(|_| invalid())?;
        Ok(EdgeClient {
            origin: format!("{scheme}://{authority}"),
            prefix: uri.path().trim_end_matches('/').to_owned(),
            key: Arc::from(key),
            http,
            retry,
        })
    }

    /// `start`: may the job run? The edge re-checks consent and the draft.
    pub async fn start(
        &self,
        job_id: &str,
        attempt: u32,
        request_id: Option<&str>,
    ) -> Result<Decision, CallbackError> {
        let (status, body) = self
            .post(
                job_id,
                "start",
                &json!({ "attempt": attempt }),
                request_id,
                None,
            )
            .await?;
        decision("start", status, &body)
    }

    /// `progress`: how far along the job is, tried once (it is advisory and
    /// the next report supersedes it). The edge may answer 409 to stop the job.
    pub async fn progress(
        &self,
        job_id: &str,
        progress: f32,
        stage: CallbackStage,
        request_id: Option<&str>,
    ) -> Result<Decision, CallbackError> {
        // Round so the edge stores tidy numbers; clamp so it never sees >1.
        let progress = (f64::from(progress.clamp(0.0, 1.0)) * 1000.0).round() / 1000.0;
        let body = json!({ "progress": progress, "stage": stage });
        let (status, answer) = self
            .post(job_id, "progress", &body, request_id, Some(1))
            .await?;
        if status == StatusCode::CONFLICT {
            return decision("progress", status, &answer);
        }
        Ok(Decision::Proceed)
    }

    /// `complete`: the media is uploaded. 409 means the edge no longer wants it.
    pub async fn complete(
        &self,
        job_id: &str,
        completion: &Completion,
        request_id: Option<&str>,
    ) -> Result<Decision, CallbackError> {
        let body = serde_json::to_value(completion).expect("plain struct serialises");
        let (status, answer) = self
            .post(job_id, "complete", &body, request_id, None)
            .await?;
        if status == StatusCode::CONFLICT {
            return decision("complete", status, &answer);
        }
        Ok(Decision::Proceed)
    }

    /// `fail`: the job ended without a video (the edge refunds the quota).
    pub async fn fail(
        &self,
        job_id: &str,
        code: &str,
        reason: &str,
        attempts: u32,
        request_id: Option<&str>,
    ) -> Result<(), CallbackError> {
        let body = json!({ "code": code, "reason": reason, "attempts": attempts });
        self.post(job_id, "fail", &body, request_id, None).await?;
        Ok(())
    }

    /// `cameo verification`: what a recording holds. Answers the edge's
    /// verdict (`verified` / `refused`), or `stale` when the challenge it
    /// answers is closed (nothing to do).
    pub async fn report_recording(
        &self,
        report: &dreamreel_core::cameo::verify::RecordingReport,
    ) -> Result<String, CallbackError> {
        let body = serde_json::to_value(report).expect("plain struct serialises");
        let path = format!("{}/internal/cameo/verifications", self.prefix);
        let (status, answer) = self
            .post_path(path, "verification", &body, None, None)
            .await?;
        if status == StatusCode::CONFLICT {
            return Ok("stale".into());
        }
        let verdict: serde_json::Value =
            serde_json::from_slice(&answer).map_err(|e| CallbackError::BadAnswer {
                action: "verification",
                detail: e.to_string(),
            })?;
        Ok(verdict["status"].as_str().unwrap_or_default().to_owned())
    }

    /// `caption-embedding`: the embedding of a published video's caption.
    pub async fn caption_embedding(
        &self,
        video_id: &str,
        body: &CaptionEmbedding,
    ) -> Result<CaptionAnswer, CallbackError> {
        let body = serde_json::to_value(body).expect("plain struct serialises");
        let path = format!(
            "{}/internal/videos/{video_id}/caption-embedding",
            self.prefix
        );
        match self
            .post_path(path, "caption-embedding", &body, None, None)
            .await
        {
            Ok((StatusCode::CONFLICT, _)) | Err(CallbackError::Rejected { status: 404, .. }) => {
                Ok(CaptionAnswer::Stale)
            }
            Ok(_) => Ok(CaptionAnswer::Stored),
            Err(e) => Err(e),
        }
    }

    /// POSTs a job callback; see [`EdgeClient::post_path`].
    async fn post(
        &self,
        job_id: &str,
        action: &'static str,
        body: &serde_json::Value,
        request_id: Option<&str>,
        tries: Option<u32>,
    ) -> Result<(StatusCode, Bytes), CallbackError> {
        let path = format!("{}/internal/jobs/{job_id}/{action}", self.prefix);
        self.post_path(path, action, body, request_id, tries).await
    }

    /// POSTs `body` to `path`, signed, retrying transient failures (`tries`
    /// overrides the policy's count); returns a 2xx or 409 answer.
    async fn post_path(
        &self,
        path: String,
        action: &'static str,
        body: &serde_json::Value,
        request_id: Option<&str>,
        tries: Option<u32>,
    ) -> Result<(StatusCode, Bytes), CallbackError> {
        let tries = tries.unwrap_or(self.retry.attempts).max(1);
        let url = format!("{}{path}", self.origin);
        let body = Bytes::from(body.to_string());
        let auth = CallbackAuth::new(&self.key);
        let mut last = String::new();
        for try_no in 0..tries {
            if try_no > 0 {
                tokio::time::sleep(self.retry.backoff(try_no - 1)).await;
            }
            let nonce = crate::random_hex(16);
            let signed = auth.sign("POST", &path, &body, crate::now_ms() / 1000, &nonce);
            let mut request = Request::builder()
                .method(Method::POST)
                .uri(&url)
                .header(http::header::CONTENT_TYPE, "application/json");
            for (name, value) in signed.pairs() {
                request = request.header(name, value);
            }
            if let Some(id) = request_id {
                request = request.header("x-request-id", id);
            }
            let request = request
                .body(Full::new(body.clone()))
                .map_err(|_| CallbackError::InvalidUrl(url.clone()))?;
            match tokio::time::timeout(self.retry.timeout, self.send(request)).await {
                Err(_) => last = format!("no answer within {:?}", self.retry.timeout),
                Ok(Err(e)) => last = e,
                Ok(Ok((status, answer))) => {
                    let retryable = status.is_server_error()
                        || status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::REQUEST_TIMEOUT;
                    if status.is_success() || status == StatusCode::CONFLICT {
                        return Ok((status, answer));
                    }
                    if !retryable {
                        return Err(CallbackError::Rejected {
                            action,
                            status: status.as_u16(),
                            body: snippet(&answer),
                        });
                    }
                    last = format!("HTTP {}: {}", status.as_u16(), snippet(&answer));
                }
            }
        }
        Err(CallbackError::Unreachable {
            action,
            tries,
            last,
        })
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), String> {
        let response = self.http.request(request).await.map_err(|e| {
            // hyper-util's error hides the cause (refused, reset...) in its source.
            let cause = std::error::Error::source(&e).map(|s| format!(": {s}"));
            format!("{e}{}", cause.unwrap_or_default())
        })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
}

/// Reads `{"proceed": bool, "reason": ...}`; a 2xx without a body means proceed.
fn decision(
    action: &'static str,
    status: StatusCode,
    body: &[u8],
) -> Result<Decision, CallbackError> {
    if status.is_success() && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Decision::Proceed);
    }
    let parsed: DecisionBody =
        serde_json::from_slice(body).map_err(|e| CallbackError::BadAnswer {
            action,
            detail: e.to_string(),
        })?;
    if parsed.proceed && status.is_success() {
        Ok(Decision::Proceed)
    } else {
        Ok(Decision::Refuse {
            reason: parsed
                .reason
                .unwrap_or_else(|| "refused by the edge".to_owned()),
        })
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_follow_the_contract() {
        let ok = StatusCode::OK;
        assert_eq!(
            decision("start", ok, br#"{"proceed":true}"#).unwrap(),
            Decision::Proceed
        );
        assert_eq!(decision("start", ok, b"").unwrap(), Decision::Proceed);
        assert_eq!(
            decision(
                "start",
                StatusCode::CONFLICT,
                br#"{"proceed":false,"reason":"consent revoked"}"#
            )
            .unwrap(),
            Decision::Refuse {
                reason: "consent revoked".into()
            }
        );
        assert!(decision("start", ok, b"<html>").is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        let waits: Vec<_> = (0..4).map(|i| policy.backoff(i).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
        assert_eq!(policy.backoff(40), Duration::from_millis(350));
    }

    #[test]
    fn edge_urls_are_checked() {
        let key = b"k";
        assert!(EdgeClient::new("ftp://x", key, RetryPolicy::default()).is_err());
        assert!(EdgeClient::new("/relative", key, RetryPolicy::default()).is_err());
        let edge =
            EdgeClient::new("http://127.0.0.1:3000/app/", key, RetryPolicy::default()).unwrap();
        assert_eq!(
            (edge.origin.as_str(), edge.prefix.as_str()),
            ("http://127.0.0.1:3000", "/app")
        );
    }

    #[tokio::test]
    async fn a_dead_edge_is_unreachable_after_retries() {
        // Bind then drop: nothing listens on that port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let policy = RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let edge = EdgeClient::new(&format!("http://127.0.0.1:{port}"), b"k", policy).unwrap();
        let err = edge
            .start("01JD0000000000000000000000", 1, None)
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(matches!(err, CallbackError::Unreachable { tries: 3, .. }));
    }
}
