//! Server-side verification of header-signed and presigned requests.

use hmac::Mac;

use crate::chunk::ChunkSigner;
use crate::encode::hex_array;
use crate::request::{Request, canonical_query, canonical_request};
use crate::sign::{
    ALGORITHM, Credentials, HmacSha256, MAX_PRESIGN_EXPIRES_SECS, UNSIGNED_PAYLOAD,
    credential_scope, signing_key, string_to_sign,
};
use crate::time::UtcTime;

/// How far a header-signed request's `x-amz-date` may be from the server's
/// clock (S3 allows 15 minutes), and how far in the future a presigned one.
pub const MAX_CLOCK_SKEW_SECS: u64 = 15 * 60;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `Authorization` header and no presigned query parameters.
    #[error("the request is not signed")]
    MissingAuth,
    /// Signing information is present but unusable (wrong scope, bad date,
    /// missing fields, unsigned `x-amz-*` headers, ...).
    #[error("malformed authentication: {0}")]
    Malformed(String),
    /// The access key id is not one the server knows.
    #[error("unknown access key id `{0}`")]
    UnknownAccessKey(String),
    /// The recomputed signature differs: wrong secret or a tampered request.
    #[error("the signature does not match")]
    SignatureMismatch,
    /// A presigned URL past its `X-Amz-Expires`.
    #[error("the presigned URL has expired")]
    Expired,
    /// `x-amz-date` is more than [`MAX_CLOCK_SKEW_SECS`] from the server's time.
    #[error("the request time is too far from the server's time")]
    TimeSkewed,
    /// The body's SHA-256 differs from the signed `x-amz-content-sha256`.
    #[error("the payload does not match x-amz-content-sha256")]
    PayloadMismatch,
}

fn malformed(msg: impl Into<String>) -> VerifyError {
    VerifyError::Malformed(msg.into())
}

/// Finds the secret for an access key id.
pub trait SecretLookup {
    /// The secret access key for `access_key_id`, if it is known.
    fn secret_for(&self, access_key_id: &str) -> Option<String>;
}

impl SecretLookup for [Credentials] {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self.iter()
            .find(|c| c.access_key_id == access_key_id)
            .map(|c| c.secret_access_key.clone())
    }
}

impl SecretLookup for Vec<Credentials> {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self.as_slice().secret_for(access_key_id)
    }
}

impl<F: Fn(&str) -> Option<String>> SecretLookup for F {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self(access_key_id)
    }
}

/// What the signed `x-amz-content-sha256` promises about the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `UNSIGNED-PAYLOAD` (always the case for presigned URLs).
    Unsigned,
    /// The body's hex SHA-256; check it with [`Verified::check_payload`].
    Sha256(String),
    /// An `aws-chunked` body: `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (each
    /// chunk signed), `STREAMING-UNSIGNED-PAYLOAD-TRAILER` and the like.
    Streaming(String),
}

impl Payload {
    fn parse(value: &str) -> Result<Self, VerifyError> {
        if value == UNSIGNED_PAYLOAD {
            Ok(Payload::Unsigned)
        } else if value.starts_with("STREAMING-") {
            Ok(Payload::Streaming(value.to_owned()))
        } else if hex_array::<32>(value).is_some() {
            Ok(Payload::Sha256(value.to_owned()))
        } else {
            Err(malformed(
                "x-amz-content-sha256 is not a SHA-256, UNSIGNED-PAYLOAD or STREAMING-*",
            ))
        }
    }
}

/// A request that passed verification.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The access key id that signed it.
    pub access_key_id: String,
    /// Whether it came through query parameters (a presigned URL).
    pub presigned: bool,
    /// When it was signed, in Unix seconds.
    pub signed_at: u64,
    /// What the signature says about the body.
    pub payload: Payload,
    chunks: ChunkSigner,
}

impl Verified {
    /// Compares the body's actual hex SHA-256 with the signed one.
    pub fn check_payload(&self, body_sha256_hex: &str) -> Result<(), VerifyError> {
        match &self.payload {
            Payload::Sha256(expected) if expected != body_sha256_hex => {
                Err(VerifyError::PayloadMismatch)
            }
            _ => Ok(()),
        }
    }

    /// The chain that checks each chunk of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
    /// body; seeded with this request's signature.
    pub fn chunk_verifier(&self) -> ChunkSigner {
        self.chunks.clone()
    }
}

/// Verifies requests for one region and service against known credentials.
pub struct Verifier<L> {
    region: String,
    service: String,
    lookup: L,
}

/// The signing fields, from either the header or the query.
struct Claimed<'a> {
    access_key_id: &'a str,
    scope: &'a str,
    signed_headers: Vec<String>,
    signature: [u8; 32],
    amz_date: String,
    time: u64,
    payload_hash: String,
}

impl<L: SecretLookup> Verifier<L> {
    /// A verifier for S3 in `region`.
    pub fn new(region: &str, lookup: L) -> Self {
        Verifier {
            region: region.to_owned(),
            service: "s3".to_owned(),
            lookup,
        }
    }

    /// Verifies for another service name than `s3`.
    pub fn with_service(mut self, service: &str) -> Self {
        self.service = service.to_owned();
        self
    }

    /// Checks `request`'s signature (header or presigned) at time `now`
    /// (Unix seconds). A body hash must then be checked with
    /// [`Verified::check_payload`] once the body has been read.
    pub fn verify(&self, request: &Request, now: u64) -> Result<Verified, VerifyError> {
        let header = request.header("authorization");
        let query_auth = request
            .query
            .iter()
            .any(|(n, _)| n.starts_with("X-Amz-") || n == "Signature" || n == "AWSAccessKeyId");
        match (header, query_auth) {
            (None, false) => Err(VerifyError::MissingAuth),
            (Some(_), true) => Err(malformed(
                "use either the Authorization header or query authentication, not both",
            )),
            (Some(auth), false) => self.verify_header(request, &auth, now),
            (None, true) => self.verify_query(request, now),
        }
    }

    fn verify_header(&self, req: &Request, auth: &str, now: u64) -> Result<Verified, VerifyError> {
        let fields = auth
            .strip_prefix(ALGORITHM)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| {
                malformed(format!(
                    "the Authorization header must start with {ALGORITHM}"
                ))
            })?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in fields.split(',') {
            let (name, value) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| malformed(format!("bad Authorization component `{part}`")))?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => {
                    return Err(malformed(format!(
                        "unknown Authorization component `{name}`"
                    )));
                }
            };
            *slot = Some(value);
        }
        let amz_date = req
            .header("x-amz-date")
            .ok_or_else(|| malformed("x-amz-date header is missing"))?;
        let payload_hash = req
            .header("x-amz-content-sha256")
            .ok_or_else(|| malformed("x-amz-content-sha256 header is missing"))?;
        let claimed = claimed(
            credential.ok_or_else(|| malformed("Credential is missing"))?,
            signed.ok_or_else(|| malformed("SignedHeaders is missing"))?,
            signature.ok_or_else(|| malformed("Signature is missing"))?,
            amz_date,
            payload_hash,
        )?;
        let payload = Payload::parse(&claimed.payload_hash)?;
        let verified = self.check(req, &claimed, None, payload, false)?;
        if now.abs_diff(claimed.time) > MAX_CLOCK_SKEW_SECS {
            return Err(VerifyError::TimeSkewed);
        }
        Ok(verified)
    }

    fn verify_query(&self, req: &Request, now: u64) -> Result<Verified, VerifyError> {
        let param = |name: &str| {
            req.query_param(name)
                .ok_or_else(|| malformed(format!("query parameter {name} is missing")))
        };
        if req.query_param("X-Amz-Algorithm").is_none()
            && req.query_param("AWSAccessKeyId").is_some()
        {
            return Err(malformed(
                "Signature Version 2 query authentication is not supported; presign with SigV4",
            ));
        }
        if param("X-Amz-Algorithm")? != ALGORITHM {
            return Err(malformed(format!("X-Amz-Algorithm must be {ALGORITHM}")));
        }
        let expires: u64 = param("X-Amz-Expires")?
            .parse()
            .ok()
            .filter(|e| (1..=MAX_PRESIGN_EXPIRES_SECS).contains(e))
            .ok_or_else(|| {
                malformed(format!(
                    "X-Amz-Expires must be 1..={MAX_PRESIGN_EXPIRES_SECS}"
                ))
            })?;
        let claimed = claimed(
            param("X-Amz-Credential")?,
            param("X-Amz-SignedHeaders")?,
            param("X-Amz-Signature")?,
            param("X-Amz-Date")?.to_owned(),
            UNSIGNED_PAYLOAD.to_owned(),
        )?;
        let verified = self.check(
            req,
            &claimed,
            Some("X-Amz-Signature"),
            Payload::Unsigned,
            true,
        )?;
        if claimed.time > now + MAX_CLOCK_SKEW_SECS {
            return Err(VerifyError::TimeSkewed);
        }
        if now > claimed.time + expires {
            return Err(VerifyError::Expired);
        }
        Ok(verified)
    }

    /// Scope checks, then the signature itself.
    fn check(
        &self,
        req: &Request,
        claimed: &Claimed<'_>,
        skip_param: Option<&str>,
        payload: Payload,
        presigned: bool,
    ) -> Result<Verified, VerifyError> {
        let date = UtcTime::from_unix(claimed.time).date_stamp();
        let expected_scope = credential_scope(&date, &self.region, &self.service);
        if claimed.scope != expected_scope {
            return Err(malformed(format!(
                "credential scope `{}` should be `{expected_scope}`",
                claimed.scope
            )));
        }
        if !claimed.signed_headers.iter().any(|h| h == "host") {
            return Err(malformed("the host header must be signed"));
        }
        // An unsigned x-amz-* header (metadata, storage class, ...) could be
        // changed in flight without breaking the signature.
        if let Some((name, _)) = req.headers.iter().find(|(n, _)| {
            let n = n.to_ascii_lowercase();
            n.starts_with("x-amz-") && !claimed.signed_headers.contains(&n)
        }) {
            return Err(malformed(format!(
                "header `{name}` is present but not signed"
            )));
        }
        let secret = self
            .lookup
            .secret_for(claimed.access_key_id)
            .ok_or_else(|| VerifyError::UnknownAccessKey(claimed.access_key_id.to_owned()))?;
        let query = canonical_query(&req.query, skip_param);
        let canonical =
            canonical_request(req, &query, &claimed.signed_headers, &claimed.payload_hash)
                .map_err(VerifyError::Malformed)?;
        let key = signing_key(&secret, &date, &self.region, &self.service);
        let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(string_to_sign(&claimed.amz_date, claimed.scope, &canonical).as_bytes());
        // verify_slice compares in constant time.
        mac.verify_slice(&claimed.signature)
            .map_err(|_| VerifyError::SignatureMismatch)?;
        Ok(Verified {
            access_key_id: claimed.access_key_id.to_owned(),
            presigned,
            signed_at: claimed.time,
            payload,
            chunks: ChunkSigner::new(key, &claimed.amz_date, claimed.scope, claimed.signature),
        })
    }
}

fn claimed<'a>(
    credential: &'a str,
    signed_headers: &str,
    signature: &str,
    amz_date: String,
    payload_hash: String,
) -> Result<Claimed<'a>, VerifyError> {
    let (access_key_id, scope) = credential
        .split_once('/')
        .ok_or_else(|| malformed("Credential must be `key/date/region/service/aws4_request`"))?;
    let time = UtcTime::parse_amz_date(&amz_date)
        .and_then(|t| t.to_unix())
        .ok_or_else(|| malformed("the request date must be YYYYMMDDTHHMMSSZ"))?;
    let signed_headers: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if signed_headers
        .iter()
        .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(malformed(
            "SignedHeaders must be lower-case names separated by `;`",
        ));
    }
    let signature = hex_array::<32>(signature)
        .ok_or_else(|| malformed("Signature must be 64 lower-case hex digits"))?;
    Ok(Claimed {
        access_key_id,
        scope,
        signed_headers,
        signature,
        amz_date,
        time,
        payload_hash,
    })
}
