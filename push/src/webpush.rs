//! Web Push: the payload encrypted for the browser (RFC 8291, `aes128gcm`
//! of RFC 8188) and the request signed for the push service with VAPID
//! (RFC 8292).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use dreamreel_core::notifications::NotificationView;
use hkdf::Hkdf;
use http_body_util::Full;
use p256::{PublicKey, SecretKey};
use serde_json::json;
use sha2::Sha256;

use crate::client::HttpsClient;
use crate::jwt::Es256Key;
use crate::{ConfigError, SendError, now_secs, payload};

/// Record size announced in the header; one record carries the payload.
const RECORD_SIZE: u32 = 4096;
/// Push services keep an undelivered message this long (seconds).
const TTL_SECS: u64 = 24 * 60 * 60;
/// VAPID tokens are valid this long (RFC 8292: at most 24 hours).
const VAPID_LIFETIME_SECS: u64 = 12 * 60 * 60;

/// The application server's VAPID identity.
#[derive(Debug, Clone)]
pub struct Vapid {
    /// Its P-256 key; the public half is what browsers subscribe with.
    pub key: Es256Key,
    /// A contact (`mailto:` or `https:`) push services may reach.
    pub subject: String,
}

/// A Web Push sender.
pub struct WebPush {
    vapid: Vapid,
    client: HttpsClient,
}

impl WebPush {
    /// A sender signing with `vapid`; `extra_ca_pem` for private endpoints and tests.
    pub fn new(vapid: Vapid, extra_ca_pem: Option<&str>) -> Result<Self, ConfigError> {
        Ok(Self {
            vapid,
            client: HttpsClient::new(extra_ca_pem, false)?,
        })
    }

    /// Encrypts `view` for the subscription and posts it to its endpoint.
    pub async fn send(
        &self,
        endpoint: &str,
        p256dh: &str,
        auth: &str,
        view: &NotificationView,
    ) -> Result<(), SendError> {
        let ua_public = URL_SAFE_NO_PAD
            .decode(p256dh)
            .map_err(|_| SendError::Gone("the subscription's key is not base64url".into()))?;
        let auth = URL_SAFE_NO_PAD
            .decode(auth)
            .map_err(|_| SendError::Gone("the subscription's secret is not base64url".into()))?;
        let plaintext = payload::webpush(view).to_string();
        let body = encrypt(plaintext.as_bytes(), &ua_public, &auth)
            .map_err(|e| SendError::Gone(format!("the subscription's keys are unusable: {e}")))?;
        let origin = origin(endpoint)
            .ok_or_else(|| SendError::Gone("the endpoint is not an https URL".into()))?;
        let token = self.vapid.key.sign(
            &json!({ "typ": "JWT", "alg": "ES256" }),
            &json!({ "aud": origin, "exp": now_secs() + VAPID_LIFETIME_SECS, "sub": self.vapid.subject }),
        );
        let req = http::Request::post(endpoint)
            .header(
                "authorization",
                format!(
                    "vapid t={token}, k={}",
                    URL_SAFE_NO_PAD.encode(self.vapid.key.public_key())
                ),
            )
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .header("ttl", TTL_SECS.to_string())
            .header("urgency", "normal")
            // A burst's newer state replaces the undelivered older one.
            .header("topic", &view.id)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::Rejected(format!("request: {e}")))?;
        let reply = self.client.send(req).await?;
        match reply.status {
            200..=202 => Ok(()),
            404 | 410 => Err(SendError::Gone(format!(
                "push service said {}",
                reply.status
            ))),
            429 | 500..=599 => Err(SendError::Retry(format!(
                "push service said {}",
                reply.status
            ))),
            status => Err(SendError::Rejected(format!("push service said {status}"))),
        }
    }
}

/// `scheme://host[:port]` of an https URL: VAPID's audience.
fn origin(endpoint: &str) -> Option<String> {
    let rest = endpoint.strip_prefix("https://")?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| format!("https://{host}"))
}

/// Encrypts `plaintext` for a browser with a fresh key and salt.
pub fn encrypt(plaintext: &[u8], ua_public: &[u8], auth: &[u8]) -> Result<Vec<u8>, String> {
    let as_secret = loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            break key;
        }
    };
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    encrypt_with(plaintext, ua_public, auth, &as_secret, salt)
}

/// RFC 8291 §3 with a given application-server key and salt (the RFC's
/// own example checks this in the tests).
pub fn encrypt_with(
    plaintext: &[u8],
    ua_public: &[u8],
    auth: &[u8],
    as_secret: &SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, String> {
    if auth.len() != 16 {
        return Err("the authentication secret must be 16 bytes".into());
    }
    let ua_key = PublicKey::from_sec1_bytes(ua_public).map_err(|_| "not a P-256 point")?;
    let as_public = as_secret.public_key().to_sec1_bytes();
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_key.as_affine());

    // IKM = HKDF(auth, ecdh, "WebPush: info" || 0 || ua_public || as_public, 32)
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(&as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|e| e.to_string())?;

    let prk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|e| e.to_string())?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|e| e.to_string())?;

    // One record: the plaintext, then the last-record delimiter.
    let mut record = plaintext.to_vec();
    record.push(2);
    if record.len() + 16 > RECORD_SIZE as usize {
        return Err("the payload is too large for one record".into());
    }
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|e| e.to_string())?;
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &record,
                aad: b"",
            },
        )
        .map_err(|e| e.to_string())?;

    // Header: salt, record size, key id length and the key id (our public key).
    let mut body = Vec::with_capacity(16 + 4 + 1 + as_public.len() + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    /// RFC 8291, Appendix A.
    #[test]
    fn the_rfc_example_encrypts_to_the_rfc_body() {
        let as_secret =
            SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        let ua_public = b64(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        );
        let auth = b64("BTBZMqHH6r4Tts7J_aSIgg");
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt_with(
            b"When I grow up, I want to be a watermelon",
            &ua_public,
            &auth,
            &as_secret,
            salt,
        )
        .unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn bad_subscriptions_are_refused() {
        let key = SecretKey::from_slice(&[7u8; 32]).unwrap();
        assert!(encrypt_with(b"x", &[4u8; 65], &[0u8; 16], &key, [0; 16]).is_err());
        let ua = key.public_key().to_sec1_bytes();
        assert!(encrypt_with(b"x", &ua, &[0u8; 15], &key, [0; 16]).is_err());
        assert!(encrypt_with(&[b'a'; 5000], &ua, &[0u8; 16], &key, [0; 16]).is_err());
    }

    #[test]
    fn the_audience_is_the_endpoint_origin() {
        assert_eq!(
            origin("https://push.example.net:8443/wpush/v2/abc").as_deref(),
            Some("https://push.example.net:8443")
        );
        assert_eq!(origin("http://push.example.net/x"), None);
    }
}
