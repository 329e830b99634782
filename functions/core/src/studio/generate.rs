//! Asking for a generation: checks, the daily quota, `Idempotency-Key`
//! replays, and the draft the job belongs to.
//!
//! Order matters. Everything that can refuse without writing runs first
//! (input, cameos, remix source). Then the idempotency key is claimed by
//! compare-and-swap, the quota charged by atomic increment, the id appended
//! to the maker's index, and the draft written. A refusal or failure on the
//! way undoes what was done before it, so a refused request leaves the store
//! as it found it.

use crate::accounts::User;
use crate::env::{Env, random_bytes};
use crate::error::ApiError;
use crate::ids::new_ulid;
use crate::jobs::JobSpec;
use crate::keys;
use crate::notifications::{self, Actor, Kind, NewNotification, Subject};
use crate::pages::{self, PagedList};
use crate::store::{Store, decode_counter};
use crate::studio::record;
use crate::studio::validate::{self, Generation, MAX_SEED, is_ulid};
use crate::studio::{Draft, DraftStatus, GenerationRequest, IdempotencyRecord, StudioConfig};
use crate::time::rfc3339_from_ms;

/// An idempotency claim whose draft is still missing after this long was
/// abandoned (a crash mid-request) and may be taken over.
const ABANDONED_CLAIM_MS: u64 = 60_000;

/// A generation the edge took on.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The draft (`queued`, or further along for a replay).
    pub draft: Draft,
    /// The job spec to write to object storage: always for a new draft, and
    /// again for a replay whose draft is still queued (the first write may
    /// have been lost; writing the same spec twice is harmless).
    pub job: Option<JobSpec>,
    /// Whether an earlier request with the same `Idempotency-Key` made it.
    pub replayed: bool,
}

/// Checks a generation request, charges the quota and stores a queued draft.
/// The caller writes `job` to object storage, and calls
/// [`abandon_generation`] if that fails for a new draft.
pub async fn create_generation<S: Store>(
    store: &S,
    env: &dyn Env,
    cfg: &StudioConfig,
    user: &User,
    request_id: &str,
    idempotency_key: Option<&str>,
    req: GenerationRequest,
) -> Result<Accepted, ApiError> {
    let idempotency_hash = idempotency_key.map(validate::idempotency_key).transpose()?;
    let input = validate::generation(req)?;
    crate::safety::check_prompt(
        store,
        &input.prompt,
        input.remix_of.as_deref(),
        &input.cameos,
    )
    .await?;
    let cast =
        crate::cameo::cast::check(store, env.now_ms(), user, &input.prompt, &input.cameos).await?;
    if let Some(source) = &input.remix_of {
        check_remix_source(store, &user.id, source).await?;
    }

    let now = env.now_ms();
    let id = new_ulid(env);
    let fingerprint = input.fingerprint();
    let claim = match &idempotency_hash {
        None => None,
        Some(hash) => {
            let key = keys::generation_idempotency(&user.id, hash);
            let record = IdempotencyRecord {
                draft_id: id.clone(),
                fingerprint,
                created_at_ms: now,
            };
            match claim_key(store, now, &key, &record).await? {
                Claim::Ours => Some(key),
                Claim::Replay(draft) => {
                    let job = (draft.status == DraftStatus::Queued).then(|| draft.job_spec());
                    return Ok(Accepted {
                        draft: *draft,
                        job,
                        replayed: true,
                    });
                }
            }
        }
    };

    let quota_day = utc_day(now);
    let quota_key = keys::generation_quota(&user.id, &quota_day);
    if let Err(e) = charge(store, cfg, &quota_key).await {
        release_claim(store, claim.as_deref(), &id).await;
        return Err(e);
    }
    let page = match pages::append(store, &PagedList::drafts(&user.id), &id, false).await {
        Ok(page) => page,
        Err(e) => {
            let _ = store.increment(&quota_key, -1).await;
            release_claim(store, claim.as_deref(), &id).await;
            return Err(e);
        }
    };
    let mut draft = new_draft(
        env,
        user,
        request_id,
        input,
        id,
        quota_day,
        page,
        idempotency_hash,
    );
    draft.cameos = cast.iter().map(|c| c.user_id.clone()).collect();
    draft.cast = cast;
    if let Err(e) = store
        .set(&keys::draft(&draft.id), &record::encode(&draft))
        .await
    {
        let _ = abandon_generation(store, &draft).await;
        return Err(e.into());
    }
    if let Err(e) = tell_the_cast(store, env, user, &draft).await {
        let _ = abandon_generation(store, &draft).await;
        return Err(e);
    }
    Ok(Accepted {
        job: Some(draft.job_spec()),
        draft,
        replayed: false,
    })
}

#[allow(clippy::too_many_arguments)]
fn new_draft(
    env: &dyn Env,
    user: &User,
    request_id: &str,
    input: Generation,
    id: String,
    quota_day: String,
    index_page: u64,
    idempotency_hash: Option<String>,
) -> Draft {
    let now = env.now_ms();
    let seed = input
        .seed
        .unwrap_or_else(|| u64::from_le_bytes(random_bytes::<8>(env)) & MAX_SEED);
    Draft {
        id,
        owner: user.id.clone(),
        prompt: input.prompt,
        duration_ms: input.duration_ms,
        aspect: input.aspect,
        seed,
        cameos: Vec::new(),
        cast: Vec::new(),
        remix_of: input.remix_of,
        status: DraftStatus::Queued,
        progress: 0.0,
        stage: None,
        attempt: 0,
        media: None,
        failure: None,
        video_id: None,
        request_id: request_id.to_owned(),
        idempotency_hash,
        quota_day,
        quota_refunded: false,
        index_page,
        created_at_ms: now,
        updated_at_ms: now,
        deleted_at_ms: None,
    }
}

/// Undoes an accepted generation whose job could not be written: the draft
/// goes, its index entry is blanked, the quota is given back and the
/// idempotency key freed, so a retry starts clean. Best effort throughout;
/// returns the first failure.
pub async fn abandon_generation<S: Store>(store: &S, draft: &Draft) -> Result<(), ApiError> {
    let mut first: Option<ApiError> = None;
    let mut note = |r: Result<(), ApiError>| {
        if let Err(e) = r {
            first.get_or_insert(e);
        }
    };
    note(
        store
            .delete(&keys::draft(&draft.id))
            .await
            .map_err(Into::into),
    );
    note(
        pages::remove(
            store,
            &PagedList::drafts(&draft.owner),
            draft.index_page,
            &draft.id,
        )
        .await,
    );
    if !draft.quota_refunded {
        note(record::refund(store, draft).await);
    }
    if let Some(hash) = &draft.idempotency_hash {
        release_claim(
            store,
            Some(&keys::generation_idempotency(&draft.owner, hash)),
            &draft.id,
        )
        .await;
    }
    first.map_or(Ok(()), Err)
}

/// `YYYY-MM-DD` of a Unix ms instant, in UTC.
pub(crate) fn utc_day(unix_ms: u64) -> String {
    rfc3339_from_ms(unix_ms)[..10].to_owned()
}

/// Lists the draft among each cast member's appearances and tells them,
/// the moment it is asked for, that their likeness is being used.
async fn tell_the_cast<S: Store>(
    store: &S,
    env: &dyn Env,
    maker: &User,
    draft: &Draft,
) -> Result<(), ApiError> {
    crate::cameo::appearances::record(store, &draft.cameos, &draft.id).await?;
    for member in draft.cameos.iter().filter(|c| **c != maker.id) {
        let new = NewNotification {
            kind: Kind::CameoRequested,
            actor: Some(Actor::of(maker)),
            subject: Subject {
                draft_id: Some(draft.id.clone()),
                ..Subject::default()
            },
            text: Some(draft.prompt.clone()),
        };
        notifications::notify(store, env, member, new).await?;
    }
    Ok(())
}

/// A remix must start from a published video. The maker's own unpublished
/// draft gets 409; anything else that is not a published video is 404, so
/// other members' drafts stay invisible.
async fn check_remix_source<S: Store>(
    store: &S,
    user_id: &str,
    source: &str,
) -> Result<(), ApiError> {
    let missing =
        || ApiError::not_found(format!("there is no published video {source:?} to remix"));
    if !is_ulid(source) {
        return Err(missing());
    }
    if store.get(&keys::video(source)).await?.is_some() {
        return Ok(());
    }
    match record::load(store, source).await? {
        Some(d) if d.owner == user_id && !d.is_deleted() => Err(ApiError::conflict(
            "remix_source_unpublished",
            "that draft is not published; publish it before remixing it",
        )),
        _ => Err(missing()),
    }
}

/// Counts one generation, refusing (and taking nothing) past the quota.
async fn charge<S: Store>(store: &S, cfg: &StudioConfig, quota_key: &str) -> Result<(), ApiError> {
    let quota = i64::from(cfg.daily_generation_quota);
    let used = match store.get(quota_key).await? {
        Some(bytes) => decode_counter(&bytes)?,
        None => 0,
    };
    if used >= quota {
        return Err(quota_exceeded(cfg));
    }
    // Two requests can both pass the read; the increment settles who wins.
    if store.increment(quota_key, 1).await? > quota {
        store.increment(quota_key, -1).await?;
        return Err(quota_exceeded(cfg));
    }
    Ok(())
}

fn quota_exceeded(cfg: &StudioConfig) -> ApiError {
    ApiError::new(
        429,
        "quota_exceeded",
        format!(
            "you have used all {} generations for today; the quota resets at 00:00 UTC",
            cfg.daily_generation_quota
        ),
    )
}

enum Claim {
    /// This request holds the key and makes the draft.
    Ours,
    /// An earlier request with the key made this draft.
    Replay(Box<Draft>),
}

async fn claim_key<S: Store>(
    store: &S,
    now: u64,
    key: &str,
    ours: &IdempotencyRecord,
) -> Result<Claim, ApiError> {
    let bytes = serde_json::to_vec(ours).expect("records serialise");
    for _ in 0..4 {
        if store.compare_and_swap(key, None, &bytes).await? {
            return Ok(Claim::Ours);
        }
        let Some(existing_bytes) = store.get(key).await? else {
            continue; // Released in between: try again.
        };
        let existing: IdempotencyRecord = serde_json::from_slice(&existing_bytes)
            .map_err(|_| ApiError::internal("an idempotency record is unreadable"))?;
        if existing.fingerprint != ours.fingerprint {
            return Err(ApiError::new(
                422,
                "idempotency_mismatch",
                "this Idempotency-Key was already used with a different request; use a new key",
            ));
        }
        match record::load(store, &existing.draft_id).await? {
            Some(draft) if draft.is_deleted() => {
                return Err(ApiError::not_found(
                    "the draft made with this Idempotency-Key was deleted",
                ));
            }
            Some(draft) => return Ok(Claim::Replay(Box::new(draft))),
            None if now.saturating_sub(existing.created_at_ms) > ABANDONED_CLAIM_MS => {
                if store
                    .compare_and_swap(key, Some(&existing_bytes), &bytes)
                    .await?
                {
                    return Ok(Claim::Ours);
                }
            }
            None => {
                return Err(ApiError::conflict(
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still being handled; retry in a moment",
                ));
            }
        }
    }
    Err(pages::busy())
}

/// Frees an idempotency key if it still names `draft_id`.
async fn release_claim<S: Store>(store: &S, key: Option<&str>, draft_id: &str) {
    let Some(key) = key else { return };
    if let Ok(Some(bytes)) = store.get(key).await
        && serde_json::from_slice::<IdempotencyRecord>(&bytes).is_ok_and(|r| r.draft_id == draft_id)
    {
        let _ = store.delete(key).await;
    }
}
