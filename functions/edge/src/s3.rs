//! Object storage over the S3 REST API: SigV4-signed `PutObject` through
//! Spin's outbound HTTP, and presigned `GetObject` URLs for clients.
//!
//! Path-style addressing (`{endpoint}/{bucket}/{key}`), which AWS, MinIO
//! and the local stack's store all accept. The endpoint must be listed in
//! the component's `allowed_outbound_hosts`.

use bytes::Bytes;
use dreamreel_core::ApiError;
use dreamreel_core::studio::MediaSigner;
use dreamreel_sigv4::{Credentials, Request as SigRequest, Signer, encode_path, sha256_hex};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, Request, send};

use crate::RequestLog;
use crate::config::{misconfigured, optional};

/// Lifetime of the media links handed to clients.
pub const MEDIA_URL_TTL_SECS: u64 = 600;
/// Bucket when `s3_bucket` is empty.
pub const DEFAULT_BUCKET: &str = "dreamreel";
/// Region when `s3_region` is empty.
pub const DEFAULT_REGION: &str = "us-east-1";

/// `scheme://authority` of an S3 endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://127.0.0.1:9000`, without a trailing slash.
    pub base: String,
    /// `127.0.0.1:9000`: what the `host` header carries and SigV4 signs.
    pub authority: String,
}

impl Endpoint {
    /// Parses `http(s)://host[:port]` (a trailing `/` is allowed; a path is not).
    pub fn parse(url: &str) -> Option<Self> {
        let url = url.trim().trim_end_matches('/');
        let (scheme, authority) = url.split_once("://")?;
        let ok = matches!(scheme, "http" | "https")
            && !authority.is_empty()
            && !authority.contains(['/', '?', '#', '@', ' ']);
        ok.then(|| Endpoint {
            base: format!("{scheme}://{authority}"),
            authority: authority.to_owned(),
        })
    }
}

/// Where the bucket is and how to sign for it.
#[derive(Clone)]
pub struct S3Config {
    /// Where the component sends its own requests.
    pub endpoint: Endpoint,
    /// What presigned URLs point at (clients may reach the store by another name).
    pub public_endpoint: Endpoint,
    /// The bucket holding `jobs/` and `media/`.
    pub bucket: String,
    signer: Signer,
}

impl std::fmt::Debug for S3Config {
    // The signer holds the secret key; keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("public_endpoint", &self.public_endpoint)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// From explicit values (`public_endpoint` empty = `endpoint`).
    pub fn new(
        endpoint: &str,
        public_endpoint: &str,
        bucket: &str,
        region: &str,
        credentials: Credentials,
    ) -> Result<Self, String> {
        let endpoint = Endpoint::parse(endpoint)
            .ok_or_else(|| format!("s3_endpoint {endpoint:?} is not http(s)://host[:port]"))?;
        let public_endpoint = if public_endpoint.trim().is_empty() {
            endpoint.clone()
        } else {
            Endpoint::parse(public_endpoint).ok_or_else(|| {
                format!("s3_public_endpoint {public_endpoint:?} is not http(s)://host[:port]")
            })?
        };
        let bucket = match bucket.trim() {
            "" => DEFAULT_BUCKET,
            b => b,
        };
        let region = match region.trim() {
            "" => DEFAULT_REGION,
            r => r,
        };
        Ok(Self {
            endpoint,
            public_endpoint,
            bucket: bucket.to_owned(),
            signer: Signer::new(credentials, region),
        })
    }

    /// From the variables `s3_endpoint`, `s3_public_endpoint`, `s3_bucket`,
    /// `s3_region`, `s3_access_key_id` and `s3_secret_access_key`.
    pub async fn from_variables(log: &RequestLog) -> Result<Self, ApiError> {
        let endpoint = text("s3_endpoint", log).await?;
        let public = text("s3_public_endpoint", log).await?;
        let bucket = text("s3_bucket", log).await?;
        let region = text("s3_region", log).await?;
        let key_id = text("s3_access_key_id", log).await?;
        let secret = text("s3_secret_access_key", log).await?;
        if key_id.is_empty() || secret.is_empty() {
            return Err(misconfigured("s3 credentials are not set", log));
        }
        Self::new(
            &endpoint,
            &public,
            &bucket,
            &region,
            Credentials::new(&key_id, &secret),
        )
        .map_err(|detail| misconfigured(&detail, log))
    }

    fn path(&self, key: &str) -> String {
        format!("/{}/{key}", self.bucket)
    }

    /// Writes `body` to `key` with a SigV4 `Authorization` header that
    /// covers the body's SHA-256. `Err` carries a detail for the log.
    pub async fn put_object(
        &self,
        key: &str,
        content_type: &str,
        body: Vec<u8>,
        now_secs: u64,
    ) -> Result<(), String> {
        let path = self.path(key);
        let signed = SigRequest::new("PUT", &path)
            .with_header("host", &self.endpoint.authority)
            .with_header("content-type", content_type);
        let auth = self
            .signer
            .sign(&signed, &sha256_hex(&body), now_secs)
            .map_err(|e| e.to_string())?;
        let mut builder = Request::<()>::builder()
            .method("PUT")
            .uri(format!("{}{}", self.endpoint.base, encode_path(&path)))
            .header("content-type", content_type)
            .header("content-length", body.len());
        for (name, value) in auth.to_vec() {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(FullBody::new(Bytes::from(body)))
            .map_err(|e| format!("building the request: {e}"))?;
        let response = send(request).await.map_err(|e| format!("sending: {e:?}"))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text = response.into_body().bytes().await.unwrap_or_default();
        let snippet: String = String::from_utf8_lossy(&text).chars().take(300).collect();
        Err(format!("HTTP {status}: {snippet}"))
    }

    /// Looks `key` up with a SigV4-signed `HEAD`: its size and content type,
    /// `None` when there is no such object. `Err` carries a detail for the log.
    pub async fn head_object(
        &self,
        key: &str,
        now_secs: u64,
    ) -> Result<Option<dreamreel_core::accounts::avatar::ObjectFacts>, String> {
        let path = self.path(key);
        let signed = SigRequest::new("HEAD", &path).with_header("host", &self.endpoint.authority);
        let auth = self
            .signer
            .sign(&signed, &sha256_hex(b""), now_secs)
            .map_err(|e| e.to_string())?;
        let mut builder = Request::<()>::builder().method("HEAD").uri(format!(
            "{}{}",
            self.endpoint.base,
            encode_path(&path)
        ));
        for (name, value) in auth.to_vec() {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(FullBody::new(Bytes::new()))
            .map_err(|e| format!("building the request: {e}"))?;
        let response = send(request).await.map_err(|e| format!("sending: {e:?}"))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match response.status().as_u16() {
            404 => Ok(None),
            200 => Ok(Some(dreamreel_core::accounts::avatar::ObjectFacts {
                bytes: header("content-length")
                    .and_then(|n| n.parse().ok())
                    .ok_or("HEAD answered no content-length")?,
                content_type: header("content-type"),
            })),
            status => Err(format!("HEAD answered HTTP {status}")),
        }
    }

    /// A presigned `GET` URL for `key` against the public endpoint.
    pub fn presigned_get(
        &self,
        key: &str,
        expires_secs: u64,
        now_secs: u64,
    ) -> Result<String, String> {
        let request = SigRequest::new("GET", &self.path(key))
            .with_header("host", &self.public_endpoint.authority);
        self.signer
            .presigned_url(&self.public_endpoint.base, &request, expires_secs, now_secs)
            .map_err(|e| e.to_string())
    }

    /// A presigned `PUT` URL for `key` against the public endpoint: the
    /// client uploads straight to storage, with exactly `content_type`
    /// (signed, so another type is refused).
    pub fn presigned_put(
        &self,
        key: &str,
        content_type: &str,
        expires_secs: u64,
        now_secs: u64,
    ) -> Result<String, String> {
        let request = SigRequest::new("PUT", &self.path(key))
            .with_header("host", &self.public_endpoint.authority)
            .with_header("content-type", content_type);
        self.signer
            .presigned_url(&self.public_endpoint.base, &request, expires_secs, now_secs)
            .map_err(|e| e.to_string())
    }

    /// Media links valid for [`MEDIA_URL_TTL_SECS`] from `now_ms`.
    pub fn media_signer(&self, now_ms: u64) -> MediaLinks<'_> {
        MediaLinks {
            config: self,
            now_secs: now_ms / 1000,
        }
    }
}

/// A variable's text; empty when undefined.
async fn text(name: &str, log: &RequestLog) -> Result<String, ApiError> {
    Ok(optional(name, log).await?.unwrap_or_default())
}

/// Presigns media URLs for draft and video views.
#[derive(Debug)]
pub struct MediaLinks<'a> {
    config: &'a S3Config,
    now_secs: u64,
}

impl MediaSigner for MediaLinks<'_> {
    fn url(&self, key: &str) -> Result<String, ApiError> {
        self.config
            .presigned_get(key, MEDIA_URL_TTL_SECS, self.now_secs)
            .map_err(|_| ApiError::internal("a media link could not be made"))
    }

    fn expires_at_ms(&self) -> u64 {
        (self.now_secs + MEDIA_URL_TTL_SECS) * 1000
    }
}
