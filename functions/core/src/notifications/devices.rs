//! Phones and browsers a member receives pushes on: APNs device tokens and
//! Web Push subscriptions. A device's id is derived from its token or
//! endpoint, so registering the same one again changes nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::pages::{self, PagedList};
use crate::store::{Store, decode_counter};

/// Most devices one member may register.
pub const MAX_DEVICES: usize = 10;

/// Where pushes for one device go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum Target {
    /// An iPhone app: the APNs device token, hex.
    Apns {
        /// 64–200 hex digits, as the app got it from APNs.
        token: String,
    },
    /// A browser: a Web Push subscription (RFC 8030 / 8291).
    Webpush {
        /// The push service URL (https).
        endpoint: String,
        /// The browser's P-256 public key, base64url (65 bytes, uncompressed).
        p256dh: String,
        /// The browser's authentication secret, base64url (16 bytes).
        auth: String,
    },
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Derived from the token or endpoint.
    pub id: String,
    /// Where pushes go.
    #[serde(flatten)]
    pub target: Target,
    /// Unix ms of registration.
    pub registered_at_ms: u64,
    /// The device's offset from UTC in minutes, for an under-18's nightly
    /// quiet hours (which are in the device's local time).
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Where its id sits in the member's device list.
    pub page: u64,
}

/// `POST /v1/devices` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    /// `apns` or `webpush`.
    pub platform: String,
    /// For `apns`: the device token.
    pub token: Option<String>,
    /// For `webpush`: the subscription as the browser's `PushSubscription.toJSON()` gives it.
    pub subscription: Option<Subscription>,
    /// The device's current offset from UTC in minutes (-720 to 840; default
    /// 0). Registering again updates it, e.g. after travel or a clock change.
    #[serde(default)]
    pub utc_offset_minutes: Option<i32>,
}

/// A browser's push subscription.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// The push service URL.
    pub endpoint: String,
    /// Its keys.
    pub keys: SubscriptionKeys,
    /// Browsers send it; unused.
    #[serde(default, rename = "expirationTime")]
    pub expiration_time: Option<serde_json::Value>,
}

/// A subscription's keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// base64url P-256 public key.
    pub p256dh: String,
    /// base64url 16-byte secret.
    pub auth: String,
}

fn bad(message: &str) -> ApiError {
    ApiError::invalid_request(message.to_owned())
}

/// Checks a registration and turns it into a target.
fn target(req: DeviceRequest) -> Result<Target, ApiError> {
    match (req.platform.as_str(), req.token, req.subscription) {
        ("apns", Some(token), None) => {
            let ok =
                (64..=200).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(bad(
                    "token must be the APNs device token: 64-200 hex digits",
                ));
            }
            Ok(Target::Apns {
                token: token.to_ascii_lowercase(),
            })
        }
        ("webpush", None, Some(sub)) => {
            let endpoint_ok = sub.endpoint.len() <= 1024
                && sub.endpoint.starts_with("https://")
                && !sub.endpoint.contains(char::is_whitespace);
            if !endpoint_ok {
                return Err(bad("subscription.endpoint must be an https URL"));
            }
            let key_len = |s: &str| {
                URL_SAFE_NO_PAD
                    .decode(s.trim_end_matches('='))
                    .map(|k| k.len())
            };
            if key_len(&sub.keys.p256dh) != Ok(65) {
                return Err(bad(
                    "subscription.keys.p256dh must be a base64url P-256 public key",
                ));
            }
            if key_len(&sub.keys.auth) != Ok(16) {
                return Err(bad(
                    "subscription.keys.auth must be a base64url 16-byte secret",
                ));
            }
            Ok(Target::Webpush {
                endpoint: sub.endpoint,
                p256dh: sub.keys.p256dh.trim_end_matches('=').to_owned(),
                auth: sub.keys.auth.trim_end_matches('=').to_owned(),
            })
        }
        ("apns", ..) => Err(bad("an apns device needs token, and nothing else")),
        ("webpush", ..) => Err(bad("a webpush device needs subscription, and nothing else")),
        _ => Err(bad("platform must be apns or webpush")),
    }
}

fn device_id(target: &Target) -> String {
    let address = match target {
        Target::Apns { token } => format!("apns:{token}"),
        Target::Webpush { endpoint, .. } => format!("webpush:{endpoint}"),
    };
    let digest = Sha256::digest(address.as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

fn list_of(user: &str) -> PagedList<'_> {
    PagedList::new(user, keys::devices_head, keys::devices_page)
}

/// Registers a device for `user`; the same token again answers the same
/// device (`false`: nothing new). 409 `too_many_devices` past [`MAX_DEVICES`].
pub async fn register_device<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &str,
    req: DeviceRequest,
) -> Result<(Device, bool), ApiError> {
    let offset = req.utc_offset_minutes.unwrap_or(0);
    if !(-720..=840).contains(&offset) {
        return Err(bad("utc_offset_minutes must be between -720 and 840"));
    }
    let target = target(req)?;
    let id = device_id(&target);
    let key = keys::device(user, &id);
    if let Some(bytes) = store.get(&key).await?
        && !bytes.is_empty()
    {
        let known: Device = decode(&bytes)?;
        if known.utc_offset_minutes == offset {
            return Ok((known, false));
        }
        // Same device, new local time: keep it, with the new offset.
        let moved = Device {
            utc_offset_minutes: offset,
            ..known
        };
        if !store
            .compare_and_swap(&key, Some(&bytes), &encode(&moved))
            .await?
        {
            return Err(crate::pages::busy());
        }
        return Ok((moved, false));
    }
    if device_count(store, user).await? >= MAX_DEVICES as u64 {
        return Err(ApiError::conflict(
            "too_many_devices",
            format!("at most {MAX_DEVICES} devices; remove one first"),
        ));
    }
    let page = pages::append(store, &list_of(user), &id, true).await?;
    let device = Device {
        id,
        target,
        registered_at_ms: env.now_ms(),
        utc_offset_minutes: offset,
        page,
    };
    if !store.compare_and_swap(&key, None, &encode(&device)).await? {
        // Registered (or being removed) by a racing request.
        return match store.get(&key).await? {
            Some(bytes) if !bytes.is_empty() => Ok((decode(&bytes)?, false)),
            _ => Err(crate::pages::busy()),
        };
    }
    store.increment(&keys::devices_count(user), 1).await?;
    Ok((device, true))
}

/// The member's devices, newest first (at most [`MAX_DEVICES`] live ones).
pub async fn list_devices<S: Store>(store: &S, user: &str) -> Result<Vec<Device>, ApiError> {
    let (ids, _) =
        pages::read_newest_first(store, &list_of(user), None, MAX_DEVICES * 4, 4).await?;
    let keys: Vec<String> = ids.iter().map(|id| keys::device(user, id)).collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    // An empty record is a removal in progress.
    for raw in store.get_many(&keys).await?.into_iter().flatten() {
        if raw.is_empty() {
            continue;
        }
        let device = decode(&raw)?;
        if !out.iter().any(|d: &Device| d.id == device.id) {
            out.push(device);
        }
    }
    Ok(out)
}

/// Removes a device (the member's own choice, or the push service saying
/// the token is dead); true when this call removed it.
pub async fn remove_device<S: Store>(store: &S, user: &str, id: &str) -> Result<bool, ApiError> {
    let key = keys::device(user, id);
    let Some(bytes) = store.get(&key).await?.filter(|b| !b.is_empty()) else {
        return Ok(false);
    };
    let device = decode(&bytes)?;
    // Claim the removal: only the request that swaps the record out counts it.
    if !store.compare_and_swap(&key, Some(&bytes), b"").await? {
        return Ok(false);
    }
    store.delete(&key).await?;
    store.increment(&keys::devices_count(user), -1).await?;
    pages::remove(store, &list_of(user), device.page, id).await?;
    Ok(true)
}

/// How many devices the member has.
pub async fn device_count<S: Store>(store: &S, user: &str) -> Result<u64, ApiError> {
    Ok(match store.get(&keys::devices_count(user)).await? {
        Some(bytes) => decode_counter(&bytes).map_or(0, |n| n.max(0) as u64),
        None => 0,
    })
}

fn encode(device: &Device) -> Vec<u8> {
    serde_json::to_vec(device).expect("a device serialises")
}

fn decode(bytes: &[u8]) -> Result<Device, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::internal("a device record is unreadable"))
}
