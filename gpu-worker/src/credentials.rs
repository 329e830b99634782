//! Role credentials from the container credentials endpoint (ECS tasks).
//!
//! ECS does not put a task role's keys in the environment: the task fetches
//! them over HTTP from `http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`,
//! or from `AWS_CONTAINER_CREDENTIALS_FULL_URI` with an optional
//! authorization token. They expire after a few hours, so they are cached
//! and fetched again a while before they run out.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::ConfigError;
use crate::util::HttpClient;

/// ECS's credentials host, for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const ECS_CREDENTIALS_HOST: &str = "http://169.254.170.2";
/// Fetch again this long before the credentials expire (the SDK's own
/// cache refreshes only seconds before, which a slow endpoint could miss).
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// One fetch's time limit: the endpoint is link-local and answers at once.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The answer is a few hundred bytes; anything far larger is not it.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A refreshing credentials provider for the container credentials endpoint.
/// Clones share one cache.
#[derive(Clone)]
pub struct ContainerCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    uri: http::Uri,
    token: Option<String>,
    margin: Duration,
    http: HttpClient,
    cached: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for ContainerCredentials {
    // The token is a secret; the URI is not.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerCredentials")
            .field("uri", &self.inner.uri)
            .finish_non_exhaustive()
    }
}

/// The endpoint's answer (extra fields such as `RoleArn` are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    expiration: Option<String>,
}

impl ContainerCredentials {
    /// A provider for `uri`, sending `token` as the `Authorization` header.
    pub fn new(uri: &str, token: Option<String>) -> Result<Self, ConfigError> {
        Self::with_refresh_margin(uri, token, REFRESH_MARGIN)
    }

    /// Like [`ContainerCredentials::new`], fetching again `margin` before expiry.
    pub fn with_refresh_margin(
        uri: &str,
        token: Option<String>,
        margin: Duration,
    ) -> Result<Self, ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid {
            name: "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            detail,
        };
        let parsed: http::Uri = uri.parse().map_err(|e| invalid(format!("{e}")))?;
        let https = match parsed.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid(format!("{uri:?} is not an http(s) URL"))),
        };
        let http = crate::util::http_client(https).map_err(|e| invalid(format!("TLS: {e}")))?;
        Ok(ContainerCredentials {
            inner: Arc::new(Inner {
                uri: parsed,
                token,
                margin,
                http,
                cached: Mutex::new(None),
            }),
        })
    }

    /// The provider the environment describes, if any:
    /// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS) or
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the token from
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN` or the file named by
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_vars(&|name| std::env::var(name).ok())
    }

    /// [`ContainerCredentials::from_env`] over any variable lookup.
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        let uri = match (
            get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        ) {
            (Some(relative), _) => format!("{ECS_CREDENTIALS_HOST}{relative}"),
            (None, Some(full)) => full,
            (None, None) => return Ok(None),
        };
        let token = match get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            Some(path) => Some(
                std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError::Invalid {
                        name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                        detail: format!("{path}: {e}"),
                    })?
                    .trim()
                    .to_owned(),
            ),
            None => get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        };
        Self::new(&uri, token).map(Some)
    }

    /// The cached credentials, or fresh ones when they are missing or
    /// expire within the refresh margin. One fetch at a time: callers
    /// waiting on the lock get the credentials the first one fetched.
    pub async fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let mut cached = self.inner.cached.lock().await;
        if let Some(creds) = cached.as_ref().filter(|c| self.still_fresh(c)) {
            return Ok(creds.clone());
        }
        let fresh = tokio::time::timeout(FETCH_TIMEOUT, self.fetch())
            .await
            .map_err(|_| CredentialsError::provider_timed_out(FETCH_TIMEOUT))??;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    fn still_fresh(&self, creds: &Credentials) -> bool {
        creds
            .expiry()
            .is_none_or(|expiry| SystemTime::now() + self.inner.margin < expiry)
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let mut request = http::Request::get(self.inner.uri.clone());
        if let Some(token) = &self.inner.token {
            request = request.header(http::header::AUTHORIZATION, token);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(CredentialsError::invalid_configuration)?;
        let response = self
            .inner
            .http
            .request(request)
            .await
            .map_err(CredentialsError::provider_error)?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| CredentialsError::provider_error(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            let snippet = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(CredentialsError::provider_error(format!(
                "the credentials endpoint answered HTTP {}: {snippet}",
                status.as_u16()
            )));
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            CredentialsError::unhandled(format!("unreadable credentials answer: {e}"))
        })?;
        let expiry = match answer.expiration {
            Some(text) => Some(
                DateTime::from_str(&text, DateTimeFormat::DateTime)
                    .ok()
                    .and_then(|t| SystemTime::try_from(t).ok())
                    .ok_or_else(|| {
                        CredentialsError::unhandled(format!("unreadable Expiration {text:?}"))
                    })?,
            ),
            None => None,
        };
        Ok(Credentials::new(
            answer.access_key_id,
            answer.secret_access_key,
            answer.token,
            expiry,
            "dreamreel-container",
        ))
    }
}

impl ProvideCredentials for ContainerCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

#[cfg(test)]
mod tests;
