//! Session bearer tokens: `v1.<payload>.<signature>`, where payload is the
//! base64url (no padding) JSON `{sub, sid, iat, exp, epoch}` and signature is
//! the base64url HMAC-SHA256 of `v1.<payload>`. Signed, so sessions survive
//! restarts; ending them early (log-out, log-out everywhere, refresh) is a
//! small record read in the same batch as the user.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

const VERSION: &str = "v1";
/// Real tokens are ~200 characters; anything far longer is not worth parsing.
const MAX_TOKEN_LEN: usize = 2048;

/// What a session token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    /// The user id.
    pub sub: String,
    /// The session id (a ULID), so a session can be named in logs or revoked later.
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// The member's session epoch when issued; log-out-everywhere moves it on.
    #[serde(default)]
    pub epoch: u64,
}

/// 401 `invalid_token`.
pub fn invalid_token() -> ApiError {
    ApiError::unauthorized(
        "invalid_token",
        "the session token is malformed or has been tampered with",
    )
}

/// 401 `token_expired`.
pub fn token_expired() -> ApiError {
    ApiError::unauthorized("token_expired", "the session has expired; log in again")
}

fn sign(key: &[u8], signed_part: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(signed_part.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Signs `claims` with `key`.
pub fn issue(key: &[u8], claims: &TokenClaims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialise");
    let signed_part = format!("{VERSION}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = URL_SAFE_NO_PAD.encode(sign(key, &signed_part));
    format!("{signed_part}.{signature}")
}

/// Checks the signature (in constant time), then the expiry against `now_ms`.
pub fn verify(key: &[u8], token: &str, now_ms: u64) -> Result<TokenClaims, ApiError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid_token());
    }
    let (signed_part, signature) = token.rsplit_once('.').ok_or_else(invalid_token)?;
    let (version, payload) = signed_part.split_once('.').ok_or_else(invalid_token)?;
    if version != VERSION {
        return Err(invalid_token());
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| invalid_token())?;
    let expected = sign(key, signed_part);
    // `ct_eq` on slices of different lengths is false, also in constant time.
    if !bool::from(expected.as_slice().ct_eq(&signature)) {
        return Err(invalid_token());
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| invalid_token())?;
    let claims: TokenClaims = serde_json::from_slice(&payload).map_err(|_| invalid_token())?;
    if now_ms >= claims.exp.saturating_mul(1000) {
        return Err(token_expired());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims() -> TokenClaims {
        TokenClaims {
            sub: "01USER".into(),
            sid: "01SESSION".into(),
            iat: 1_000,
            exp: 2_000,
            epoch: 0,
        }
    }

    fn code(token: &str, now_ms: u64) -> &'static str {
        verify(KEY, token, now_ms).unwrap_err().code
    }

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let token = issue(KEY, &claims());
        assert!(token.starts_with("v1.") && token.matches('.').count() == 2);
        assert_eq!(verify(KEY, &token, 1_999_999).unwrap(), claims());
        assert_eq!(code(&token, 2_000_000), "token_expired");
    }

    #[test]
    fn any_changed_character_is_invalid() {
        let token = issue(KEY, &claims());
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(code(&tampered, 1_500_000), "invalid_token", "position {i}");
        }
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid() {
        let token = issue(b"another key, also at least 32 bytes", &claims());
        assert_eq!(code(&token, 1_500_000), "invalid_token");
    }

    #[test]
    fn forged_expiry_is_invalid_not_expired() {
        // Changing the payload (say, to extend exp) breaks the signature.
        let token = issue(KEY, &claims());
        let (_, sig) = token.rsplit_once('.').unwrap();
        let mut forged = claims();
        forged.exp = 9_999_999;
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            code(&format!("v1.{payload}.{sig}"), 3_000_000),
            "invalid_token"
        );
    }

    #[test]
    fn garbage_is_invalid() {
        for token in [
            "",
            "not-a-token",
            "v1.",
            "v1..",
            "v2.e30.AAAA",
            "a.b.c.d",
            &"x".repeat(5000),
        ] {
            assert_eq!(code(token, 0), "invalid_token", "{token:?}");
        }
    }
}
