//! Worker → edge callbacks, signed with HMAC-SHA256 over the timestamp, a
//! nonce, the method, the path and the body's hash. The edge refuses a call
//! that is unsigned, wrongly signed, stale (more than five minutes from its
//! clock) or replayed (a nonce it has seen; see `keys::callback_nonce`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-dreamreel-timestamp";
/// Header carrying a single-use random nonce (hex).
pub const NONCE_HEADER: &str = "x-dreamreel-nonce";
/// Header carrying the hex HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "x-dreamreel-signature";
/// Largest accepted clock difference between worker and edge.
pub const MAX_SKEW_SECS: u64 = 300;

/// The three headers a signed callback carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Unix seconds at signing.
    pub timestamp: String,
    /// Random single-use value.
    pub nonce: String,
    /// Hex signature.
    pub signature: String,
}

impl SignedHeaders {
    /// As `(name, value)` pairs, ready to add to a request.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (TIMESTAMP_HEADER, &self.timestamp),
            (NONCE_HEADER, &self.nonce),
            (SIGNATURE_HEADER, &self.signature),
        ]
    }
}

/// Why a callback was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// A signing header is missing or malformed.
    #[error("the callback is not signed")]
    Unsigned,
    /// The signature does not match.
    #[error("the callback signature does not match")]
    BadSignature,
    /// The timestamp is too far from now.
    #[error("the callback is stale")]
    Stale,
}

impl From<CallbackError> for ApiError {
    fn from(e: CallbackError) -> Self {
        let code = match e {
            CallbackError::Unsigned => "callback_unsigned",
            CallbackError::BadSignature => "callback_bad_signature",
            CallbackError::Stale => "callback_stale",
        };
        ApiError::unauthorized(code, e.to_string())
    }
}

/// Signs and verifies callbacks with the shared `callback_key`.
pub struct CallbackAuth<'a> {
    key: &'a [u8],
}

impl<'a> CallbackAuth<'a> {
    /// Uses `key` (the `callback_key` secret, at least 32 bytes in production).
    pub fn new(key: &'a [u8]) -> Self {
        Self { key }
    }

    /// Signs a call made at `now_secs` with a fresh `nonce`.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        now_secs: u64,
        nonce: &str,
    ) -> SignedHeaders {
        let timestamp = now_secs.to_string();
        let signature = hex(&self.mac(&timestamp, nonce, method, path, body));
        SignedHeaders {
            timestamp,
            nonce: nonce.to_owned(),
            signature,
        }
    }

    /// Checks signature and freshness; the caller must still refuse a nonce it has seen.
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        headers: (Option<&str>, Option<&str>, Option<&str>),
        now_secs: u64,
    ) -> Result<(), CallbackError> {
        let (Some(timestamp), Some(nonce), Some(signature)) = headers else {
            return Err(CallbackError::Unsigned);
        };
        let valid_nonce =
            (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_hexdigit());
        let (Ok(ts), true, Some(given)) = (timestamp.parse::<u64>(), valid_nonce, unhex(signature))
        else {
            return Err(CallbackError::Unsigned);
        };
        // Constant-time comparison, through the MAC's own verifier.
        self.mac_state(timestamp, nonce, method, path, body)
            .verify_slice(&given)
            .map_err(|_| CallbackError::BadSignature)?;
        if now_secs.abs_diff(ts) > MAX_SKEW_SECS {
            return Err(CallbackError::Stale);
        }
        Ok(())
    }

    fn mac(&self, timestamp: &str, nonce: &str, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
        self.mac_state(timestamp, nonce, method, path, body)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    fn mac_state(
        &self,
        timestamp: &str,
        nonce: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key).expect("HMAC takes any key length");
        let body_hash = hex(&Sha256::digest(body));
        mac.update(format!("{timestamp}\n{nonce}\n{method}\n{path}\n{body_hash}").as_bytes());
        mac
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NONCE: &str = "00112233445566778899aabbccddeeff";

    fn headers(h: &SignedHeaders) -> (Option<&str>, Option<&str>, Option<&str>) {
        (Some(&h.timestamp), Some(&h.nonce), Some(&h.signature))
    }

    #[test]
    fn a_signed_call_verifies() {
        let auth = CallbackAuth::new(KEY);
        let h = auth.sign("POST", "/internal/jobs/x/complete", b"{}", 1000, NONCE);
        assert_eq!(
            auth.verify(
                "POST",
                "/internal/jobs/x/complete",
                b"{}",
                headers(&h),
                1100
            ),
            Ok(())
        );
    }

    #[test]
    fn tampering_with_anything_signed_is_refused() {
        let auth = CallbackAuth::new(KEY);
        let h = auth.sign("POST", "/internal/jobs/x/complete", b"{}", 1000, NONCE);
        let bad = CallbackError::BadSignature;
        assert_eq!(
            auth.verify(
                "POST",
                "/internal/jobs/y/complete",
                b"{}",
                headers(&h),
                1000
            ),
            Err(bad.clone())
        );
        assert_eq!(
            auth.verify(
                "POST",
                "/internal/jobs/x/complete",
                b"{ }",
                headers(&h),
                1000
            ),
            Err(bad.clone())
        );
        assert_eq!(
            auth.verify("PUT", "/internal/jobs/x/complete", b"{}", headers(&h), 1000),
            Err(bad.clone())
        );
        let other = CallbackAuth::new(b"another key of at least 32 bytes!!");
        assert_eq!(
            other.verify(
                "POST",
                "/internal/jobs/x/complete",
                b"{}",
                headers(&h),
                1000
            ),
            Err(bad)
        );
    }

    #[test]
    fn stale_and_unsigned_calls_are_refused() {
        let auth = CallbackAuth::new(KEY);
        let h = auth.sign("POST", "/p", b"", 1000, NONCE);
        assert_eq!(
            auth.verify("POST", "/p", b"", headers(&h), 1000 + MAX_SKEW_SECS + 1),
            Err(CallbackError::Stale)
        );
        assert_eq!(
            auth.verify("POST", "/p", b"", (None, None, None), 1000),
            Err(CallbackError::Unsigned)
        );
        assert_eq!(
            auth.verify(
                "POST",
                "/p",
                b"",
                (Some("x"), Some(NONCE), Some(&h.signature)),
                1000
            ),
            Err(CallbackError::Unsigned)
        );
    }
}
