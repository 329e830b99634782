//! Apple Push Notification service: the HTTP/2 provider API with token
//! authentication (an ES256 JWT naming the team and key, reused for up to
//! 50 minutes as Apple asks).

use std::sync::Mutex;

use bytes::Bytes;
use dreamreel_core::notifications::NotificationView;
use http_body_util::Full;
use serde_json::json;

use crate::client::HttpsClient;
use crate::jwt::Es256Key;
use crate::{ConfigError, SendError, now_secs, payload};

/// Apple's production endpoint.
pub const PRODUCTION: &str = "https://api.push.apple.com";
/// A provider token is reused this long (Apple: at most an hour, at least
/// 20 minutes between refreshes).
const TOKEN_LIFETIME_SECS: u64 = 50 * 60;

/// Where and as whom to talk to APNs.
#[derive(Debug, Clone)]
pub struct ApnsConfig {
    /// Base URL (`https://api.push.apple.com`, the sandbox, or a test server).
    pub endpoint: String,
    /// The 10-character Team ID.
    pub team_id: String,
    /// The 10-character Key ID of the `.p8` signing key.
    pub key_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// The `.p8` signing key.
    pub key: Es256Key,
    /// Extra CA certificates (PEM) to trust, for a private endpoint or tests.
    pub extra_ca_pem: Option<String>,
}

/// An APNs sender.
pub struct Apns {
    config: ApnsConfig,
    client: HttpsClient,
    token: Mutex<Option<(String, u64)>>,
}

impl Apns {
    /// A sender for `config`.
    pub fn new(config: ApnsConfig) -> Result<Self, ConfigError> {
        if !config.endpoint.starts_with("https://") {
            return Err(ConfigError("the APNs endpoint must be https".into()));
        }
        let client = HttpsClient::new(config.extra_ca_pem.as_deref(), true)?;
        Ok(Self {
            config,
            client,
            token: Mutex::new(None),
        })
    }

    /// The provider token, made anew when old or when `stale` says Apple
    /// refused it.
    fn provider_token(&self, stale: bool) -> String {
        let now = now_secs();
        let mut cached = self.token.lock().unwrap_or_else(|e| e.into_inner());
        match cached.as_ref() {
            Some((token, issued)) if !stale && now < issued + TOKEN_LIFETIME_SECS => token.clone(),
            _ => {
                let token = self.config.key.sign(
                    &json!({ "alg": "ES256", "kid": self.config.key_id }),
                    &json!({ "iss": self.config.team_id, "iat": now }),
                );
                *cached = Some((token.clone(), now));
                token
            }
        }
    }

    /// Sends `view` to the device with `device_token`.
    pub async fn send(&self, device_token: &str, view: &NotificationView) -> Result<(), SendError> {
        let body = payload::apns(view).to_string();
        let mut stale = false;
        for _ in 0..2 {
            let req = self.request(device_token, view, &body, self.provider_token(stale))?;
            let reply = self.client.send(req).await?;
            let reason = serde_json::from_slice::<serde_json::Value>(&reply.body)
                .ok()
                .and_then(|v| v["reason"].as_str().map(str::to_owned))
                .unwrap_or_default();
            match (reply.status, reason.as_str()) {
                (200, _) => return Ok(()),
                (410, _) | (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => {
                    return Err(SendError::Gone(reason));
                }
                (403, "ExpiredProviderToken") if !stale => stale = true,
                (429 | 500 | 503, _) => {
                    return Err(SendError::Retry(format!("{} {reason}", reply.status)));
                }
                (status, _) => return Err(SendError::Rejected(format!("{status} {reason}"))),
            }
        }
        Err(SendError::Retry(
            "the provider token was refused twice".into(),
        ))
    }

    fn request(
        &self,
        device_token: &str,
        view: &NotificationView,
        body: &str,
        token: String,
    ) -> Result<http::Request<Full<Bytes>>, SendError> {
        let uri = format!(
            "{}/3/device/{device_token}",
            self.config.endpoint.trim_end_matches('/')
        );
        http::Request::post(uri)
            .header("authorization", format!("bearer {token}"))
            .header("apns-topic", &self.config.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            // A burst's newer state replaces the older one on screen.
            .header("apns-collapse-id", &view.id)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| SendError::Rejected(format!("request: {e}")))
    }
}
