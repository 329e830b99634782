//! Reading and changing cameo records by compare-and-swap.

use crate::error::ApiError;
use crate::keys;
use crate::pages::{MAX_CAS_TRIES, busy};
use crate::store::Store;

use super::model::{Cameo, CameoSettings, SettingsUpdate};
use super::rules::MAX_INSTRUCTIONS_CHARS;

/// A member's cameo; an unverified blank one when they never started.
pub async fn get_cameo<S: Store>(store: &S, user_id: &str) -> Result<Cameo, ApiError> {
    Ok(read(store, user_id).await?.0)
}

/// Several members' cameos in one read, in order.
pub(crate) async fn get_many<S: Store>(
    store: &S,
    user_ids: &[String],
) -> Result<Vec<Cameo>, ApiError> {
    let keys: Vec<String> = user_ids.iter().map(|id| keys::cameo(id)).collect();
    let found = store.get_many(&keys).await?;
    user_ids
        .iter()
        .zip(found)
        .map(|(id, bytes)| decode(id, bytes.as_deref()))
        .collect()
}

fn decode(user_id: &str, bytes: Option<&[u8]>) -> Result<Cameo, ApiError> {
    match bytes {
        Some(b) => serde_json::from_slice(b)
            .map_err(|_| ApiError::internal("a cameo record is unreadable")),
        None => Ok(Cameo {
            user_id: user_id.to_owned(),
            ..Cameo::default()
        }),
    }
}

async fn read<S: Store>(store: &S, user_id: &str) -> Result<(Cameo, Option<Vec<u8>>), ApiError> {
    let raw = store.get(&keys::cameo(user_id)).await?;
    Ok((decode(user_id, raw.as_deref())?, raw))
}

/// Reads the cameo, lets `change` edit a copy (or refuse), and writes it
/// only if nobody changed it in between; otherwise tries again.
pub(crate) async fn update<S, T, F>(
    store: &S,
    user_id: &str,
    mut change: F,
) -> Result<(Cameo, T), ApiError>
where
    S: Store,
    F: FnMut(&mut Cameo) -> Result<T, ApiError>,
{
    let key = keys::cameo(user_id);
    for _ in 0..MAX_CAS_TRIES {
        let (mut cameo, raw) = read(store, user_id).await?;
        let value = change(&mut cameo)?;
        let bytes = serde_json::to_vec(&cameo).expect("cameos serialise");
        if raw.as_deref() == Some(bytes.as_slice()) {
            return Ok((cameo, value));
        }
        if store.compare_and_swap(&key, raw.as_deref(), &bytes).await? {
            return Ok((cameo, value));
        }
    }
    Err(busy())
}

/// Applies `update` to the member's settings. An under-18 (`minor`) may
/// only keep their likeness to themselves or to people they approve.
pub async fn update_settings<S: Store>(
    store: &S,
    now_ms: u64,
    user_id: &str,
    minor: bool,
    req: SettingsUpdate,
) -> Result<CameoSettings, ApiError> {
    if let Some(text) = &req.instructions
        && text.chars().count() > MAX_INSTRUCTIONS_CHARS
    {
        return Err(ApiError::invalid_request(format!(
            "instructions: at most {MAX_INSTRUCTIONS_CHARS} characters"
        )));
    }
    if minor
        && matches!(
            req.permission,
            Some(super::Permission::Mutuals | super::Permission::Everyone)
        )
    {
        return Err(ApiError::forbidden(
            "cameo_permission_restricted",
            "members under 18 can keep their cameo to themselves or to people they approve",
        ));
    }
    let (cameo, ()) = update(store, user_id, |c| {
        if let Some(p) = req.permission {
            c.settings.permission = p;
        }
        if let Some(text) = &req.instructions {
            c.settings.instructions = text.trim().to_owned();
        }
        c.updated_at_ms = now_ms;
        Ok(())
    })
    .await?;
    Ok(cameo.settings)
}
