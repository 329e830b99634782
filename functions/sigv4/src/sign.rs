//! Signing: the signing key, header authentication and presigned URLs.

use std::fmt;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::chunk::ChunkSigner;
use crate::encode::hex;
use crate::request::{Request, canonical_query, canonical_request};
use crate::time::UtcTime;

/// The only algorithm SigV4 defines for S3.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// `x-amz-content-sha256` value for a payload that is not hashed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Longest lifetime S3 accepts for a presigned URL: seven days.
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 7 * 24 * 3600;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// SigV4 requires the `host` header to be signed.
    #[error("the request has no host header")]
    MissingHost,
    /// Presigned URLs live between one second and seven days.
    #[error("presigned URL expiry must be 1..={MAX_PRESIGN_EXPIRES_SECS} seconds, got {0}")]
    InvalidExpiry(u64),
}

/// An access key pair, with an optional session token for temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The public half, e.g. `AKIAIOSFODNN7EXAMPLE`.
    pub access_key_id: String,
    /// The secret half; never printed.
    pub secret_access_key: String,
    /// STS session token, sent as `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl Credentials {
    /// Long-term credentials (no session token).
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Self {
        Credentials {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
        }
    }
}

impl fmt::Debug for Credentials {
    // Secrets end up in logs through Debug; print the key id only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The headers that carry header-based authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeaders {
    /// `Authorization` value.
    pub authorization: String,
    /// `x-amz-date` value.
    pub x_amz_date: String,
    /// `x-amz-content-sha256` value (the payload hash that was signed).
    pub x_amz_content_sha256: String,
    /// `x-amz-security-token`, when the credentials carry one.
    pub x_amz_security_token: Option<String>,
    /// The hex signature inside `authorization`; seeds a streaming upload's
    /// chunk signatures.
    pub signature: String,
}

impl AuthHeaders {
    /// Name/value pairs to add to the outgoing request.
    pub fn to_vec(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("authorization", self.authorization.clone()),
            ("x-amz-date", self.x_amz_date.clone()),
            ("x-amz-content-sha256", self.x_amz_content_sha256.clone()),
        ];
        if let Some(token) = &self.x_amz_security_token {
            out.push(("x-amz-security-token", token.clone()));
        }
        out
    }
}

/// Signs requests for one credential, region and service.
#[derive(Debug, Clone)]
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
    key: KeyCache,
}

/// The last day's derived signing key: four HMACs saved on every signature
/// after the first of a day (a feed page presigns some twenty links).
#[derive(Default)]
struct KeyCache(Mutex<Option<(String, [u8; 32])>>);

impl KeyCache {
    fn get_or_derive(&self, date: &str, derive: impl FnOnce() -> [u8; 32]) -> [u8; 32] {
        // A poisoned lock only means another signer panicked mid-update: derive afresh.
        let Ok(mut slot) = self.0.lock() else {
            return derive();
        };
        match &*slot {
            Some((day, key)) if day == date => *key,
            _ => {
                let key = derive();
                *slot = Some((date.to_owned(), key));
                key
            }
        }
    }
}

impl Clone for KeyCache {
    fn clone(&self) -> Self {
        // Each clone derives its own: the cache is an optimisation, not state.
        KeyCache::default()
    }
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyCache(..)")
    }
}

impl Signer {
    /// A signer for S3 in `region`.
    pub fn new(credentials: Credentials, region: &str) -> Self {
        Signer {
            credentials,
            region: region.to_owned(),
            service: "s3".to_owned(),
            key: KeyCache::default(),
        }
    }

    /// Signs for another service name than `s3`.
    pub fn with_service(mut self, service: &str) -> Self {
        self.service = service.to_owned();
        self.key = KeyCache::default();
        self
    }

    /// Signs with an `Authorization` header. Every header in `request` is
    /// signed (it must include `host`); `payload_hash` is the hex SHA-256 of
    /// the body or [`UNSIGNED_PAYLOAD`]. `now` is Unix seconds.
    pub fn sign(
        &self,
        request: &Request,
        payload_hash: &str,
        now: u64,
    ) -> Result<AuthHeaders, SignError> {
        let time = UtcTime::from_unix(now);
        let amz_date = time.amz_date();
        let mut req = request.clone();
        // The caller's copies would be signed twice otherwise.
        req.headers.retain(|(n, _)| {
            ![
                "x-amz-date",
                "x-amz-content-sha256",
                "x-amz-security-token",
                "authorization",
            ]
            .iter()
            .any(|h| n.eq_ignore_ascii_case(h))
        });
        req.headers.push(("x-amz-date".into(), amz_date.clone()));
        req.headers
            .push(("x-amz-content-sha256".into(), payload_hash.to_owned()));
        if let Some(token) = &self.credentials.session_token {
            req.headers
                .push(("x-amz-security-token".into(), token.clone()));
        }
        let signed = signed_header_names(&req)?;
        let query = canonical_query(&req.query, None);
        let canonical = canonical_request(&req, &query, &signed, payload_hash)
            .expect("every signed header comes from the request");
        let scope = self.scope(&time);
        let signature = self.signature(&time, &scope, &amz_date, &canonical);
        Ok(AuthHeaders {
            authorization: format!(
                "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
                self.credentials.access_key_id,
                signed.join(";")
            ),
            x_amz_date: amz_date,
            x_amz_content_sha256: payload_hash.to_owned(),
            x_amz_security_token: self.credentials.session_token.clone(),
            signature,
        })
    }

    /// The chunk signer for a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` upload
    /// whose headers [`Signer::sign`] produced at time `now`.
    pub fn chunk_signer(&self, headers: &AuthHeaders, now: u64) -> ChunkSigner {
        let time = UtcTime::from_unix(now);
        let key = signing_key(
            &self.credentials.secret_access_key,
            &time.date_stamp(),
            &self.region,
            &self.service,
        );
        let seed = crate::encode::hex_array::<32>(&headers.signature)
            .expect("sign() writes 64 hex digits");
        ChunkSigner::new(key, &headers.x_amz_date, &self.scope(&time), seed)
    }

    /// Presigns `request` for `expires_secs` from `now`: returns the full,
    /// encoded query string (the request's own parameters plus the `X-Amz-*`
    /// ones) to put after `?`. The headers in `request` (at least `host`)
    /// are signed and must be sent as they are.
    pub fn presign(
        &self,
        request: &Request,
        expires_secs: u64,
        now: u64,
    ) -> Result<String, SignError> {
        if expires_secs == 0 || expires_secs > MAX_PRESIGN_EXPIRES_SECS {
            return Err(SignError::InvalidExpiry(expires_secs));
        }
        let time = UtcTime::from_unix(now);
        let amz_date = time.amz_date();
        let scope = self.scope(&time);
        let signed = signed_header_names(request)?;
        let mut req = request.clone();
        let mut add = |name: &str, value: String| req.query.push((name.to_owned(), value));
        add("X-Amz-Algorithm", ALGORITHM.to_owned());
        add(
            "X-Amz-Credential",
            format!("{}/{scope}", self.credentials.access_key_id),
        );
        add("X-Amz-Date", amz_date.clone());
        add("X-Amz-Expires", expires_secs.to_string());
        if let Some(token) = &self.credentials.session_token {
            add("X-Amz-Security-Token", token.clone());
        }
        add("X-Amz-SignedHeaders", signed.join(";"));
        let query = canonical_query(&req.query, None);
        let canonical = canonical_request(&req, &query, &signed, UNSIGNED_PAYLOAD)
            .expect("every signed header comes from the request");
        let signature = self.signature(&time, &scope, &amz_date, &canonical);
        Ok(format!("{query}&X-Amz-Signature={signature}"))
    }

    /// Presigns and returns a whole URL: `base` is `scheme://host[:port]`.
    pub fn presigned_url(
        &self,
        base: &str,
        request: &Request,
        expires_secs: u64,
        now: u64,
    ) -> Result<String, SignError> {
        let query = self.presign(request, expires_secs, now)?;
        Ok(format!(
            "{}{}?{query}",
            base.trim_end_matches('/'),
            crate::encode::encode_path(&request.path)
        ))
    }

    fn scope(&self, time: &UtcTime) -> String {
        credential_scope(&time.date_stamp(), &self.region, &self.service)
    }

    fn signature(&self, time: &UtcTime, scope: &str, amz_date: &str, canonical: &str) -> String {
        let date = time.date_stamp();
        let key = self.key.get_or_derive(&date, || {
            signing_key(
                &self.credentials.secret_access_key,
                &date,
                &self.region,
                &self.service,
            )
        });
        let mac = hmac(&key, string_to_sign(amz_date, scope, canonical).as_bytes());
        hex(&mac)
    }
}

/// `YYYYMMDD/region/service/aws4_request`.
pub(crate) fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign: algorithm, time, scope and the canonical request's hash.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    )
}

/// Derives the per-day, per-region, per-service signing key from a secret.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-cased, sorted, de-duplicated header names; `host` is mandatory.
fn signed_header_names(req: &Request) -> Result<Vec<String>, SignError> {
    let mut names: Vec<String> = req
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(SignError::MissingHost);
    }
    Ok(names)
}
