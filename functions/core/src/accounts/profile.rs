//! Profiles: the extras kept beside the user record (bio, birth date,
//! country, under-18 protections), the signed-in member's view and edits,
//! and public profiles with counts and the viewer's relation.

use serde::{Deserialize, Serialize};

use crate::accounts::age::{ADULT_AGE, Date};
use crate::accounts::service::load_user;
use crate::accounts::validate;
use crate::accounts::{MeView, MinorProtections, ProfileUpdate, ProfileView, RelationView, User};
use crate::env::Env;
use crate::error::ApiError;
use crate::graph;
use crate::keys;
use crate::pages::{MAX_CAS_TRIES, busy};
use crate::store::Store;
use crate::time::rfc3339_from_ms;

/// A member's profile extras, under [`crate::keys::profile`]. Members who
/// joined before profiles existed have none: every field defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Up to 160 characters.
    #[serde(default)]
    pub bio: String,
    /// `YYYY-MM-DD`, as given at sign-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// The sign-up country (ISO 3166-1 alpha-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Set at sign-up for an under-18; applies while they are under 18.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protections: Option<MinorProtections>,
    /// Object key of the confirmed avatar (`avatars/{user}/{upload}.{ext}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_key: Option<String>,
}

impl Profile {
    /// Under 18 at `now_ms` (unknown birth dates count as adult: only
    /// members from before the age gate lack one).
    pub fn minor(&self, now_ms: u64) -> bool {
        self.birth_date
            .as_deref()
            .and_then(Date::parse)
            .is_some_and(|born| born.age_on(Date::at_ms(now_ms)) < ADULT_AGE)
    }

    /// The protections in force at `now_ms`.
    pub fn protections_at(&self, now_ms: u64) -> Option<&MinorProtections> {
        self.protections.as_ref().filter(|_| self.minor(now_ms))
    }
}

/// The member's stored profile and its raw bytes (for compare-and-swap).
async fn read_profile<S: Store>(
    store: &S,
    user_id: &str,
) -> Result<(Profile, Option<Vec<u8>>), ApiError> {
    let raw = store.get(&keys::profile(user_id)).await?;
    let profile = match &raw {
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|_| ApiError::internal("a profile is unreadable"))?,
        None => Profile::default(),
    };
    Ok((profile, raw))
}

/// The member's profile (defaults when they have none).
pub async fn load_profile<S: Store>(store: &S, user_id: &str) -> Result<Profile, ApiError> {
    Ok(read_profile(store, user_id).await?.0)
}

/// The under-18 protections in force for `user_id` now, for the feed and
/// push to enforce; `None` for adults.
pub async fn protections<S: Store>(
    store: &S,
    env: &dyn Env,
    user_id: &str,
) -> Result<Option<MinorProtections>, ApiError> {
    let profile = load_profile(store, user_id).await?;
    Ok(profile.protections_at(env.now_ms()).cloned())
}

/// What the signed-in member sees of themselves.
pub fn me_view(user: &User, profile: &Profile, now_ms: u64) -> MeView {
    MeView {
        id: user.id.clone(),
        handle: user.handle.clone(),
        display_name: user.display_name.clone(),
        bio: profile.bio.clone(),
        created_at: rfc3339_from_ms(user.created_at_ms),
        minor: profile.minor(now_ms),
        protections: profile.protections_at(now_ms).cloned(),
        avatar_url: None,
        avatar_key: profile.avatar_key.clone(),
    }
}

/// Applies `update` to the member; every field is checked before anything
/// is written, so a refusal changes nothing.
pub async fn update_me<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &User,
    update: ProfileUpdate,
) -> Result<MeView, ApiError> {
    let display_name = match update.display_name.as_deref() {
        Some(name) => Some(validate::display_name(Some(name), &user.handle)?),
        None => None,
    };
    let bio = update.bio.as_deref().map(validate::bio).transpose()?;
    let user = match display_name {
        Some(name) => set_display_name(store, &user.id, &name).await?,
        None => user.clone(),
    };
    let profile = match bio {
        Some(bio) => set_bio(store, &user.id, &bio).await?,
        None => load_profile(store, &user.id).await?,
    };
    Ok(me_view(&user, &profile, env.now_ms()))
}

async fn set_display_name<S: Store>(
    store: &S,
    user_id: &str,
    name: &str,
) -> Result<User, ApiError> {
    let key = keys::user(user_id);
    for _ in 0..MAX_CAS_TRIES {
        let raw = store.get(&key).await?.ok_or_else(gone)?;
        let mut user: User = serde_json::from_slice(&raw)
            .map_err(|_| ApiError::internal("a user record is unreadable"))?;
        user.display_name = name.to_owned();
        let bytes = serde_json::to_vec(&user).expect("users serialise");
        if store.compare_and_swap(&key, Some(&raw), &bytes).await? {
            return Ok(user);
        }
    }
    Err(busy())
}

async fn set_bio<S: Store>(store: &S, user_id: &str, bio: &str) -> Result<Profile, ApiError> {
    update_profile(store, user_id, |p| p.bio = bio.to_owned()).await
}

/// Applies `change` to the member's profile by compare-and-swap.
pub(crate) async fn update_profile<S: Store>(
    store: &S,
    user_id: &str,
    change: impl Fn(&mut Profile),
) -> Result<Profile, ApiError> {
    let key = keys::profile(user_id);
    for _ in 0..MAX_CAS_TRIES {
        let (mut profile, raw) = read_profile(store, user_id).await?;
        change(&mut profile);
        let bytes = serde_json::to_vec(&profile).expect("profiles serialise");
        if store.compare_and_swap(&key, raw.as_deref(), &bytes).await? {
            return Ok(profile);
        }
    }
    Err(busy())
}

fn gone() -> ApiError {
    ApiError::unauthorized("invalid_token", "this account no longer exists")
}

/// 404 for a handle nobody holds (or someone who blocked the viewer).
pub fn no_such_user() -> ApiError {
    ApiError::not_found("no member has this handle")
}

/// The member holding `handle` (any case); `None` when nobody does or it
/// cannot be a handle.
pub async fn user_by_handle<S: Store>(store: &S, handle: &str) -> Result<Option<User>, ApiError> {
    let Ok(lower) = validate::handle(handle.trim_start_matches('@')) else {
        return Ok(None);
    };
    match store.get(&keys::handle(&lower)).await? {
        Some(id) => load_user(store, &String::from_utf8_lossy(&id)).await,
        None => Ok(None),
    }
}

/// The member holding `handle` as `viewer` may see them: 404 when nobody
/// does or they blocked the viewer. Also returns the viewer's relation.
pub async fn visible_user<S: Store>(
    store: &S,
    viewer: Option<&User>,
    handle: &str,
) -> Result<(User, Option<graph::Relation>), ApiError> {
    let user = user_by_handle(store, handle)
        .await?
        .ok_or_else(no_such_user)?;
    let relation = match viewer {
        Some(v) if v.id != user.id => Some(graph::relation(store, &v.id, &user.id).await?),
        _ => None,
    };
    if relation.is_some_and(|r| r.blocked_by) {
        return Err(no_such_user());
    }
    Ok((user, relation))
}

/// A public profile with counts, and the relation for a signed-in viewer.
pub async fn view<S: Store>(
    store: &S,
    viewer: Option<&User>,
    handle: &str,
) -> Result<ProfileView, ApiError> {
    let (user, relation) = visible_user(store, viewer, handle).await?;
    profile_view(store, &user, relation).await
}

/// `user`'s public profile as someone standing in `relation` sees it.
pub async fn profile_view<S: Store>(
    store: &S,
    user: &User,
    relation: Option<graph::Relation>,
) -> Result<ProfileView, ApiError> {
    let profile = load_profile(store, &user.id).await?;
    let counts = graph::counts(store, &[user.id.as_str()]).await?[0];
    Ok(ProfileView {
        id: user.id.clone(),
        handle: user.handle.clone(),
        display_name: user.display_name.clone(),
        bio: profile.bio,
        created_at: rfc3339_from_ms(user.created_at_ms),
        followers_count: counts.followers,
        following_count: counts.following,
        avatar_url: None,
        avatar_key: profile.avatar_key,
        relation: relation.map(|r| RelationView {
            following: r.following,
            followed_by: r.followed_by,
            mutual: r.mutual(),
            blocked: r.blocking,
        }),
    })
}
