//! The consent rules end to end in the core: verification, each permission
//! level against each kind of caster, revocation between request and start,
//! appearances and take-downs, and the notifications every use sends.

use super::grants::{self, GrantState};
use super::verify::{self, RecordingReport};
use super::*;
use crate::accounts::User;
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::notifications;
use crate::store::{MemoryStore, Store};
use crate::studio::callbacks::{self, StartRequest};
use crate::studio::{self, DraftStatus, GenerationRequest, StudioConfig};
use crate::testing::{FixedEnv, block_on};

struct World {
    store: MemoryStore,
    env: FixedEnv,
}

impl World {
    fn new() -> Self {
        Self {
            store: MemoryStore::new(),
            env: FixedEnv::default(),
        }
    }

    fn member(&self, handle: &str) -> User {
        let mut random = [0u8; 10];
        for (slot, b) in random.iter_mut().zip(handle.bytes()) {
            *slot = b;
        }
        let user = User {
            id: crate::ids::ulid_from_parts(1_700_000_000_000, random),
            handle: handle.to_owned(),
            display_name: handle.to_owned(),
            password_hash: String::new(),
            created_at_ms: 0,
            invite_code: "X".into(),
        };
        block_on(async {
            let store = &self.store;
            store
                .set(&keys::user(&user.id), &serde_json::to_vec(&user).unwrap())
                .await
                .unwrap();
            store
                .set(&keys::handle(handle), user.id.as_bytes())
                .await
                .unwrap();
        });
        user
    }

    fn report(&self, attempt: &Attempt) -> RecordingReport {
        RecordingReport {
            attempt_id: attempt.id.clone(),
            object_key: attempt.upload_key.clone(),
            bytes: 2_000_000,
            uploaded_at_ms: attempt.issued_at_ms + 60_000,
            duration_ms: Some(6_000),
            width: Some(720),
            height: Some(1280),
            has_audio: true,
            problem: None,
        }
    }

    /// A member with a verified cameo lent on `permission` terms.
    fn verified(&self, handle: &str, permission: Permission, instructions: &str) -> User {
        let user = self.member(handle);
        let attempt = block_on(verify::start(&self.store, &self.env, &user.id)).unwrap();
        let cameo = block_on(verify::finish(
            &self.store,
            &self.env,
            &user.id,
            &self.report(&attempt),
        ))
        .unwrap();
        assert_eq!(cameo.status, CameoStatus::Verified);
        let settings = SettingsUpdate {
            permission: Some(permission),
            instructions: Some(instructions.into()),
        };
        block_on(update_settings(&self.store, 0, &user.id, false, settings)).unwrap();
        user
    }

    fn cast(
        &self,
        maker: &User,
        prompt: &str,
        handles: &[&str],
    ) -> Result<studio::Draft, ApiError> {
        let req = GenerationRequest {
            prompt: prompt.into(),
            duration_seconds: Some(2),
            aspect: None,
            seed: None,
            cameos: handles.iter().map(|h| h.to_string()).collect(),
            remix_of: None,
        };
        let cfg = StudioConfig {
            daily_generation_quota: 100,
        };
        block_on(studio::create_generation(
            &self.store,
            &self.env,
            &cfg,
            maker,
            "req",
            None,
            req,
        ))
        .map(|a| a.draft)
    }

    fn kinds(&self, user: &User) -> Vec<String> {
        let inbox = block_on(notifications::list(&self.store, &user.id, None, None)).unwrap();
        inbox.items.into_iter().map(|n| n.kind).collect()
    }
}

#[test]
fn only_a_verified_likeness_can_be_cast() {
    let w = World::new();
    let (ana, bruno) = (w.member("ana"), w.member("bruno"));
    let e = w.cast(&ana, "a walk", &["bruno"]).unwrap_err();
    assert_eq!((e.status, e.code), (403, "cameo_not_verified"));
    let e = w.cast(&ana, "a walk", &["nobody"]).unwrap_err();
    assert_eq!((e.status, e.code), (422, "cameo_unknown"));

    // A challenge alone verifies nothing; a bad recording is refused.
    let attempt = block_on(verify::start(&w.store, &w.env, &bruno.id)).unwrap();
    assert_eq!(attempt.digits.len(), 4);
    assert_eq!(attempt.turns.len(), 3);
    assert_eq!(
        verify::parse_recording_key(&attempt.upload_key),
        Some((bruno.id.as_str(), attempt.id.as_str()))
    );
    let silent = RecordingReport {
        has_audio: false,
        ..w.report(&attempt)
    };
    let cameo = block_on(verify::finish(&w.store, &w.env, &bruno.id, &silent)).unwrap();
    assert_eq!(cameo.status, CameoStatus::Refused);
    assert!(cameo.refusal.unwrap().contains("sound"));
    // The answered challenge is closed: the same report again is stale.
    let e = block_on(verify::finish(
        &w.store,
        &w.env,
        &bruno.id,
        &w.report(&attempt),
    ))
    .unwrap_err();
    assert_eq!((e.status, e.code), (409, "stale_attempt"));
}

#[test]
fn recordings_are_judged_on_time_size_length_picture_and_sound() {
    let w = World::new();
    let attempt = block_on(verify::start(
        &w.store,
        &w.env,
        "01BRUNO0000000000000000000",
    ))
    .unwrap();
    let good = w.report(&attempt);
    assert_eq!(verify::judge(&attempt, &good), Ok(()));
    let bad = [
        RecordingReport {
            uploaded_at_ms: attempt.expires_at_ms + 1,
            ..good.clone()
        },
        RecordingReport {
            bytes: verify::MAX_RECORDING_BYTES + 1,
            ..good.clone()
        },
        RecordingReport {
            duration_ms: Some(1_000),
            ..good.clone()
        },
        RecordingReport {
            width: Some(100),
            ..good.clone()
        },
        RecordingReport {
            object_key: "cameo/other.mp4".into(),
            ..good.clone()
        },
        RecordingReport {
            problem: Some("not an MP4".into()),
            ..good.clone()
        },
    ];
    for report in bad {
        assert!(verify::judge(&attempt, &report).is_err(), "{report:?}");
    }
}

/// Who may cast the owner, for each permission level.
#[test]
fn each_permission_level_allows_exactly_whom_it_should() {
    let w = World::new();
    let owner_handles = ["only", "appr", "mutu", "every"];
    let levels = [
        Permission::OnlyMe,
        Permission::Approved,
        Permission::Mutuals,
        Permission::Everyone,
    ];
    let owners: Vec<User> = owner_handles
        .iter()
        .zip(levels)
        .map(|(h, p)| w.verified(h, p, ""))
        .collect();
    let approved = w.member("approved");
    let mutual = w.member("mutual");
    let stranger = w.member("stranger");
    let blocked = w.member("blocked");
    let revoked = w.member("revoked");
    for owner in &owners {
        for asker in [&approved, &revoked] {
            if owner.handle != "only" {
                block_on(grants::ask(&w.store, &w.env, asker, owner, None)).unwrap();
                block_on(grants::answer(&w.store, &w.env, owner, asker, true)).unwrap();
            }
        }
        block_on(grants::revoke(&w.store, &w.env, &owner.id, &revoked.id)).unwrap();
        block_on(crate::graph::follow(
            &w.store, &w.env, &mutual.id, &owner.id,
        ))
        .unwrap();
        block_on(crate::graph::follow(
            &w.store, &w.env, &owner.id, &mutual.id,
        ))
        .unwrap();
        block_on(crate::graph::block(
            &w.store,
            &w.env,
            &owner.id,
            &blocked.id,
        ))
        .unwrap();
    }
    // (caster, [only_me, approved, mutuals, everyone])
    let matrix: [(&User, [bool; 4]); 5] = [
        (&approved, [false, true, true, true]),
        (&mutual, [false, false, true, true]),
        (&stranger, [false, false, false, true]),
        (&blocked, [false, false, false, false]),
        (&revoked, [false, false, false, true]),
    ];
    for (caster, expected) in matrix {
        for (owner, allowed) in owners.iter().zip(expected) {
            let outcome = w.cast(caster, "a picnic", &[&owner.handle]);
            assert_eq!(
                outcome.is_ok(),
                allowed,
                "@{} casting @{}: {outcome:?}",
                caster.handle,
                owner.handle
            );
            if let Err(e) = outcome {
                assert_eq!((e.status, e.code), (403, "cameo_not_allowed"));
            }
        }
    }
    // Everyone may cast themselves.
    for owner in &owners {
        assert!(w.cast(owner, "me, on a boat", &[&owner.handle]).is_ok());
    }
}

#[test]
fn restrictions_refuse_prompts_and_preferences_reach_the_job() {
    let w = World::new();
    let maker = w.member("maker");
    w.verified(
        "ana",
        Permission::Everyone,
        "Never in political content. Always wearing glasses",
    );
    let e = w
        .cast(&maker, "@ana at an election rally", &["ana"])
        .unwrap_err();
    assert_eq!((e.status, e.code), (403, "cameo_restricted"));
    assert!(
        e.message.contains("Never in political content"),
        "{}",
        e.message
    );

    let draft = w.cast(&maker, "@ana feeding ducks", &["ana"]).unwrap();
    let job = draft.job_spec();
    assert_eq!(job.cast.len(), 1);
    assert_eq!(job.cast[0].handle, "ana");
    assert_eq!(job.cast[0].preferences, ["Always wearing glasses"]);
    assert!(
        job.cast[0]
            .reference_key
            .as_deref()
            .unwrap()
            .starts_with("cameo/")
    );
}

#[test]
fn revoking_between_request_and_start_stops_the_job() {
    let w = World::new();
    let ana = w.verified("ana", Permission::Approved, "");
    let bruno = w.member("bruno");
    block_on(grants::ask(
        &w.store,
        &w.env,
        &bruno,
        &ana,
        Some("for a birthday clip"),
    ))
    .unwrap();
    let grant = block_on(grants::answer(&w.store, &w.env, &ana, &bruno, true)).unwrap();
    assert_eq!(grant.state, GrantState::Approved);
    let draft = w
        .cast(&bruno, "@ana blowing out candles", &["ana"])
        .unwrap();

    block_on(grants::revoke(&w.store, &w.env, &ana.id, &bruno.id)).unwrap();
    let answer = block_on(callbacks::start(
        &w.store,
        &w.env,
        &draft.id,
        StartRequest { attempt: 1 },
    ))
    .unwrap();
    assert_eq!(answer.status, 409);
    assert_eq!(
        answer.decision.reason.as_deref(),
        Some("cameo_consent_withdrawn")
    );
    let after = block_on(studio::get_draft(&w.store, &bruno.id, &draft.id)).unwrap();
    assert_eq!(after.status, DraftStatus::Refused);
    // And new generations are refused at once.
    assert_eq!(
        w.cast(&bruno, "@ana again", &["ana"]).unwrap_err().code,
        "cameo_not_allowed"
    );
}

#[test]
fn a_verification_lapses_with_its_recording_and_can_be_renewed() {
    let w = World::new();
    let ana = w.verified("ana", Permission::Everyone, "");
    let bruno = w.member("bruno");
    let queued = w.cast(&bruno, "@ana on a bike", &["ana"]).unwrap();
    let cameo = || block_on(get_cameo(&w.store, &ana.id)).unwrap();
    let view = cameo().view(w.env.now_ms());
    assert_eq!(view.status, CameoStatus::Verified);
    assert!(view.expires_at.is_some());

    // A day before the bucket drops the recording, the likeness stops being castable.
    w.env.advance_ms(VERIFICATION_TTL_MS - 1);
    w.cast(&bruno, "@ana still", &["ana"]).unwrap();
    w.env.advance_ms(1);
    assert_eq!(cameo().view(w.env.now_ms()).status, CameoStatus::Expired);
    let e = w.cast(&bruno, "@ana later", &["ana"]).unwrap_err();
    assert_eq!((e.status, e.code), (403, "cameo_not_verified"));
    assert!(e.message.contains("verify again"), "{}", e.message);
    // A job queued before the lapse does not run on a recording that may be gone.
    let answer = block_on(callbacks::start(
        &w.store,
        &w.env,
        &queued.id,
        StartRequest { attempt: 1 },
    ))
    .unwrap();
    assert_eq!(
        (answer.status, answer.decision.reason.as_deref()),
        (409, Some("cameo_consent_withdrawn"))
    );

    // Verifying again renews it: pending meanwhile, verified after.
    let attempt = block_on(verify::start(&w.store, &w.env, &ana.id)).unwrap();
    assert_eq!(cameo().view(w.env.now_ms()).status, CameoStatus::Pending);
    block_on(verify::finish(
        &w.store,
        &w.env,
        &ana.id,
        &w.report(&attempt),
    ))
    .unwrap();
    assert_eq!(cameo().view(w.env.now_ms()).status, CameoStatus::Verified);
    w.cast(&bruno, "@ana renewed", &["ana"]).unwrap();
}

#[test]
fn every_use_is_listed_notified_and_can_be_taken_down() {
    let w = World::new();
    let ana = w.verified("ana", Permission::Everyone, "");
    let bruno = w.member("bruno");
    let draft = w.cast(&bruno, "@ana on a swing", &["ana"]).unwrap();
    assert_eq!(w.kinds(&ana), ["cameo_requested"]);
    // Ana may see the draft that uses her; a stranger may not.
    assert!(block_on(studio::get_draft(&w.store, &ana.id, &draft.id)).is_ok());
    let carla = w.member("carla");
    assert_eq!(
        block_on(studio::get_draft(&w.store, &carla.id, &draft.id))
            .unwrap_err()
            .status,
        404
    );

    let page = block_on(appearances::list(&w.store, &ana.id, None, 20)).unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, draft.id);
    assert_eq!(page.items[0].maker_handle, "bruno");
    assert_eq!(page.items[0].state, "queued");

    let down = block_on(appearances::take_down(&w.store, &w.env, &ana, &draft.id)).unwrap();
    assert_eq!(down.state, "deleted");
    assert_eq!(
        block_on(studio::get_draft(&w.store, &bruno.id, &draft.id))
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(w.kinds(&bruno)[0], "moderation");
    // Someone not cast cannot take it down.
    let e = block_on(appearances::take_down(&w.store, &w.env, &carla, &draft.id)).unwrap_err();
    assert_eq!(e.status, 404);
}

#[test]
fn minors_keep_their_cameo_close() {
    let w = World::new();
    let teen = w.member("teen");
    let open = SettingsUpdate {
        permission: Some(Permission::Everyone),
        instructions: None,
    };
    let e = block_on(update_settings(&w.store, 0, &teen.id, true, open)).unwrap_err();
    assert_eq!((e.status, e.code), (403, "cameo_permission_restricted"));
    assert_eq!(
        block_on(get_cameo(&w.store, &teen.id))
            .unwrap()
            .settings
            .permission,
        Permission::OnlyMe
    );
}
