//! ES256 JSON Web Tokens: APNs provider tokens and VAPID both use them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use serde_json::Value;

use crate::ConfigError;

/// A P-256 signing key.
#[derive(Clone)]
pub struct Es256Key {
    key: SigningKey,
}

impl std::fmt::Debug for Es256Key {
    // The private key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Es256Key(..)")
    }
}

impl Es256Key {
    /// Loads a PKCS#8 PEM key (`-----BEGIN PRIVATE KEY-----`), the format of
    /// Apple's `.p8` files and of `openssl genpkey -algorithm EC`.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, ConfigError> {
        let key = SigningKey::from_pkcs8_pem(pem.trim())
            .map_err(|e| ConfigError(format!("not a PKCS#8 P-256 private key: {e}")))?;
        Ok(Self { key })
    }

    /// A fresh random key (a VAPID identity, a test's APNs key).
    pub fn generate() -> Result<Self, ConfigError> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| ConfigError(e.to_string()))?;
            // Almost every 32-byte string is a valid scalar; retry the rest.
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                return Ok(Self { key });
            }
        }
    }

    /// The public key, uncompressed (65 bytes): VAPID's `k`.
    pub fn public_key(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    /// `base64url(header).base64url(claims).base64url(r || s)`.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", encode(header), encode(claims));
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}
