//! Who may be cast, checked when a generation is asked for and again when
//! the worker starts it (consent can change in between).

use serde::{Deserialize, Serialize};

use crate::accounts::User;
use crate::error::ApiError;
use crate::keys;
use crate::store::Store;

use super::grants::is_approved;
use super::model::{Cameo, CameoStatus, Permission};
use super::store::{get_cameo, get_many};

/// A cast member as the job carries them to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CastMember {
    /// Their user id.
    pub user_id: String,
    /// Their handle.
    pub handle: String,
    /// Their preferences ("always wearing glasses"), for the model.
    #[serde(default)]
    pub preferences: Vec<String>,
    /// Their verified recording: the model's reference.
    #[serde(default)]
    pub reference_key: Option<String>,
}

/// Resolves `handles` (already normalised, lower case) and checks that
/// `maker` may cast each of them in `prompt` at `now_ms`.
pub async fn check<S: Store>(
    store: &S,
    now_ms: u64,
    maker: &User,
    prompt: &str,
    handles: &[String],
) -> Result<Vec<CastMember>, ApiError> {
    let mut cast = Vec::with_capacity(handles.len());
    for handle in handles {
        let owner = resolve(store, handle).await?;
        let cameo = get_cameo(store, &owner.id).await?;
        allowed(
            store,
            now_ms,
            &maker.id,
            &format!("@{}", owner.handle),
            &cameo,
            prompt,
        )
        .await?;
        cast.push(CastMember {
            user_id: owner.id.clone(),
            handle: owner.handle.clone(),
            preferences: cameo.settings.parsed().preferences,
            reference_key: cameo.reference_key.clone(),
        });
    }
    Ok(cast)
}

/// The same rules again for a queued job: `Some((code, reason))` when one
/// of `cast` may no longer be cast by `maker` in `prompt`.
pub async fn recheck<S: Store>(
    store: &S,
    now_ms: u64,
    maker: &str,
    prompt: &str,
    cast: &[String],
) -> Result<Option<(&'static str, String)>, ApiError> {
    if cast.is_empty() {
        return Ok(None);
    }
    let cameos = get_many(store, cast).await?;
    for cameo in &cameos {
        if let Err(e) = allowed(
            store,
            now_ms,
            maker,
            "someone this clip casts",
            cameo,
            prompt,
        )
        .await
        {
            if e.status >= 500 {
                return Err(e);
            }
            return Ok(Some((e.code, e.message)));
        }
    }
    Ok(None)
}

async fn resolve<S: Store>(store: &S, handle: &str) -> Result<User, ApiError> {
    let unknown = || {
        ApiError::new(
            422,
            "cameo_unknown",
            format!("there is no member @{handle} to cast"),
        )
    };
    let Some(id) = store.get(&keys::handle(&handle.to_lowercase())).await? else {
        return Err(unknown());
    };
    let id = String::from_utf8_lossy(&id).into_owned();
    let bytes = store.get(&keys::user(&id)).await?.ok_or_else(unknown)?;
    serde_json::from_slice(&bytes).map_err(|_| ApiError::internal("a user record is unreadable"))
}

/// Whether `maker` may cast `cameo`'s owner in `prompt`, and if not, why.
async fn allowed<S: Store>(
    store: &S,
    now_ms: u64,
    maker: &str,
    who: &str,
    cameo: &Cameo,
    prompt: &str,
) -> Result<(), ApiError> {
    match cameo.status_at(now_ms) {
        CameoStatus::Verified => {}
        CameoStatus::Expired => {
            return Err(ApiError::forbidden(
                "cameo_not_verified",
                format!("{who}'s cameo verification has lapsed; they must verify again"),
            ));
        }
        _ => {
            return Err(ApiError::forbidden(
                "cameo_not_verified",
                format!("{who} has not verified their cameo, so they cannot be cast"),
            ));
        }
    }
    if maker == cameo.user_id {
        return Ok(());
    }
    let refused = |why: &str| {
        ApiError::forbidden("cameo_not_allowed", format!("{who} cannot be cast: {why}"))
    };
    let relation = crate::graph::relation(store, maker, &cameo.user_id).await?;
    if relation.blocked() {
        return Err(refused("they are not available to you"));
    }
    let permitted = match cameo.settings.permission {
        Permission::OnlyMe => false,
        Permission::Approved => is_approved(store, &cameo.user_id, maker).await?,
        Permission::Mutuals => {
            relation.mutual() || is_approved(store, &cameo.user_id, maker).await?
        }
        Permission::Everyone => true,
    };
    if !permitted {
        return Err(refused(match cameo.settings.permission {
            Permission::OnlyMe => "they keep their cameo to themselves",
            Permission::Mutuals => {
                "they lend their cameo to mutual follows and people they approve; ask them first"
            }
            _ => "they lend their cameo to people they approve; ask them first",
        }));
    }
    if let Some(rule) = cameo.settings.parsed().broken_by(prompt) {
        return Err(ApiError::forbidden(
            "cameo_restricted",
            format!("{who} does not allow this prompt: \"{}\"", rule.text),
        ));
    }
    Ok(())
}
