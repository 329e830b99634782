//! Avatars: the member asks for an upload slot (a presigned `PUT` the edge
//! makes for `avatars/{user}/{ulid}.{jpg|png}`), uploads straight to object
//! storage, then confirms; the edge looks the object up (size and type) and
//! the key lands on the profile. Views carry a short-lived `GET` link.
//!
//! One upload is pending at a time (a new request replaces it), so an old
//! slot can never be confirmed after a newer one was asked for.

use serde::{Deserialize, Serialize};

use crate::accounts::Profile;
use crate::accounts::profile::update_profile;
use crate::env::Env;
use crate::error::ApiError;
use crate::ids::new_ulid;
use crate::keys;
use crate::store::Store;

/// Object key prefix of avatars.
pub const AVATARS_PREFIX: &str = "avatars/";
/// Largest avatar accepted.
pub const MAX_AVATAR_BYTES: u64 = 5 << 20;
/// How long the presigned upload URL works.
pub const UPLOAD_URL_SECS: u64 = 600;
/// How long after asking an upload may be confirmed (a slow phone network).
pub const CONFIRM_WITHIN_MS: u64 = 60 * 60 * 1000;
/// Accepted content types and the key's extension for each.
pub const TYPES: [(&str, &str); 2] = [("image/jpeg", "jpg"), ("image/png", "png")];

/// The member's pending upload, under [`crate::keys::avatar_upload`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvatarUpload {
    /// ULID; the client confirms with it.
    pub id: String,
    /// `avatars/{user}/{id}.{ext}`.
    pub key: String,
    /// The signed content type.
    pub content_type: String,
    /// Unix ms.
    pub issued_at_ms: u64,
}

impl AvatarUpload {
    /// When the upload URL stops working, Unix ms.
    pub fn url_expires_at_ms(&self) -> u64 {
        self.issued_at_ms + UPLOAD_URL_SECS * 1000
    }
}

/// `POST /v1/me/avatar` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvatarRequest {
    /// `image/jpeg` (default) or `image/png`.
    #[serde(default)]
    pub content_type: Option<String>,
}

/// `PUT /v1/me/avatar` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvatarConfirm {
    /// The `upload_id` `POST /v1/me/avatar` answered.
    pub upload_id: String,
}

/// What object storage says of an uploaded object (a `HEAD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFacts {
    /// Size in bytes.
    pub bytes: u64,
    /// The stored content type, if any.
    pub content_type: Option<String>,
}

/// `avatars/{user}/{upload}.{ext}`.
pub fn avatar_key(user_id: &str, upload_id: &str, ext: &str) -> String {
    format!("{AVATARS_PREFIX}{user_id}/{upload_id}.{ext}")
}

/// Opens an upload slot for `user_id`, replacing any pending one.
pub async fn start<S: Store>(
    store: &S,
    env: &dyn Env,
    user_id: &str,
    req: AvatarRequest,
) -> Result<AvatarUpload, ApiError> {
    let wanted = req.content_type.as_deref().unwrap_or("image/jpeg").trim();
    let (content_type, ext) = TYPES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(wanted))
        .ok_or_else(|| ApiError::invalid_request("content_type must be image/jpeg or image/png"))?;
    let id = new_ulid(env);
    let upload = AvatarUpload {
        key: avatar_key(user_id, &id, ext),
        id,
        content_type: (*content_type).to_owned(),
        issued_at_ms: env.now_ms(),
    };
    let bytes = serde_json::to_vec(&upload).expect("uploads serialise");
    store.set(&keys::avatar_upload(user_id), &bytes).await?;
    Ok(upload)
}

/// What confirming `upload_id` still needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Already confirmed (a retry): the profile as it stands.
    Done(Profile),
    /// Look this upload's object up, then call [`confirm`].
    Check(AvatarUpload),
}

fn unknown_upload() -> ApiError {
    ApiError::not_found("no such avatar upload; ask for a new one")
}

/// Which upload `upload_id` names for `user_id`: 404 when it is not their
/// pending one, 409 `avatar_upload_expired` when asked for too long ago.
pub async fn pending<S: Store>(
    store: &S,
    env: &dyn Env,
    user_id: &str,
    upload_id: &str,
) -> Result<Confirmation, ApiError> {
    let found = store
        .get_many(&[keys::avatar_upload(user_id), keys::profile(user_id)])
        .await?;
    let profile: Profile = match &found[1] {
        Some(raw) => serde_json::from_slice(raw)
            .map_err(|_| ApiError::internal("a profile is unreadable"))?,
        None => Profile::default(),
    };
    let upload: Option<AvatarUpload> = found[0]
        .as_deref()
        .map(serde_json::from_slice)
        .transpose()
        .map_err(|_| ApiError::internal("an avatar upload is unreadable"))?;
    match upload {
        Some(u) if u.id == upload_id => {
            if env.now_ms().saturating_sub(u.issued_at_ms) > CONFIRM_WITHIN_MS {
                return Err(ApiError::conflict(
                    "avatar_upload_expired",
                    "this upload is too old to confirm; ask for a new one",
                ));
            }
            Ok(Confirmation::Check(u))
        }
        _ if confirmed(&profile, user_id, upload_id) => Ok(Confirmation::Done(profile)),
        _ => Err(unknown_upload()),
    }
}

fn confirmed(profile: &Profile, user_id: &str, upload_id: &str) -> bool {
    TYPES.iter().any(|(_, ext)| {
        profile.avatar_key.as_deref() == Some(avatar_key(user_id, upload_id, ext).as_str())
    })
}

/// Checks what storage holds for `upload` (`found`, `None` when nothing was
/// uploaded: 409 `avatar_not_uploaded`; too big or another type: 422) and
/// makes it the member's avatar.
pub async fn confirm<S: Store>(
    store: &S,
    user_id: &str,
    upload: &AvatarUpload,
    found: Option<ObjectFacts>,
) -> Result<Profile, ApiError> {
    let facts = found.ok_or_else(|| {
        ApiError::conflict(
            "avatar_not_uploaded",
            "nothing was uploaded to this slot yet; upload, then confirm",
        )
    })?;
    if facts.bytes == 0 || facts.bytes > MAX_AVATAR_BYTES {
        return Err(ApiError::new(
            422,
            "avatar_too_large",
            format!("an avatar must be 1 to {MAX_AVATAR_BYTES} bytes"),
        ));
    }
    let same_type = facts
        .content_type
        .as_deref()
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(&upload.content_type));
    if !same_type {
        return Err(ApiError::new(
            422,
            "avatar_wrong_type",
            format!("the upload must be {}", upload.content_type),
        ));
    }
    let key = upload.key.clone();
    let profile = update_profile(store, user_id, |p| p.avatar_key = Some(key.clone())).await?;
    // Only this upload's record (a newer slot asked for meanwhile stays,
    // but for a race in this instant, which costs the client a new ask).
    let record = keys::avatar_upload(user_id);
    if let Some(raw) = store.get(&record).await?
        && serde_json::from_slice::<AvatarUpload>(&raw).is_ok_and(|u| u.id == upload.id)
    {
        store.delete(&record).await?;
    }
    Ok(profile)
}

/// Removes the member's avatar (idempotent).
pub async fn remove<S: Store>(store: &S, user_id: &str) -> Result<Profile, ApiError> {
    update_profile(store, user_id, |p| p.avatar_key = None).await
}

#[cfg(test)]
mod tests;
