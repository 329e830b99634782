//! Account deletion: everything goes, the handle stays reserved, big
//! accounts finish over several calls, and nothing resolves them afterwards.

use super::*;
use crate::accounts::policy::PolicyVars;
use crate::accounts::profile::{load_profile, update_profile};
use crate::accounts::{
    AccessPolicy, LoginRequest, Session, SignupRequest, User, authenticate, login, signup,
};
use crate::ids::ulid_from_parts;
use crate::store::MemoryStore;
use crate::studio::{DraftMedia, GenerationRequest, StudioConfig, Video};
use crate::testing::{FixedEnv, block_on};

const PW: &str = "correct horse battery";

struct World {
    store: MemoryStore,
    env: FixedEnv,
    cfg: AccountsConfig,
}

impl World {
    fn new() -> Self {
        let cfg = AccountsConfig::from_vars("0123456789abcdef0123456789abcdef", "3600", "")
            .unwrap()
            .with_policy(AccessPolicy::from_vars(&PolicyVars::default()).unwrap());
        Self {
            store: MemoryStore::new(),
            env: FixedEnv::default(),
            cfg,
        }
    }

    /// Signs `handle` up with `code` (an operator's when `None`).
    fn join_with(&self, handle: &str, code: Option<String>) -> (User, String) {
        let code = code.unwrap_or_else(|| {
            block_on(invites::mint(&self.store, &self.env, "operator", 1))
                .unwrap()
                .remove(0)
        });
        let req = SignupRequest {
            invite_code: code,
            handle: handle.into(),
            password: PW.into(),
            display_name: None,
            birth_date: "1990-06-15".into(),
            country: Some("US".into()),
        };
        let Session { token, .. } = block_on(signup(
            &self.store,
            &self.env,
            &self.cfg,
            &Client::default(),
            req,
        ))
        .unwrap();
        (self.auth(&token).unwrap(), token)
    }

    fn join(&self, handle: &str) -> (User, String) {
        self.join_with(handle, None)
    }

    fn auth(&self, token: &str) -> Result<User, ApiError> {
        let header = format!("Bearer {token}");
        block_on(authenticate(
            &self.store,
            &self.env,
            &self.cfg,
            Some(&header),
        ))
    }

    fn delete(&self, token: &str, password: &str) -> Result<DeletionView, ApiError> {
        let header = format!("Bearer {token}");
        let body = serde_json::json!({ "password": password }).to_string();
        block_on(delete_account(
            &self.store,
            &self.env,
            &self.cfg,
            &Client::default(),
            Some(&header),
            body.as_bytes(),
        ))
    }

    fn publish(&self, owner: &User, n: u8) -> String {
        let now = self.env.now_ms();
        let id = ulid_from_parts(now, [n; 10]);
        let video = Video {
            id: id.clone(),
            owner: owner.id.clone(),
            owner_handle: owner.handle.clone(),
            caption: String::new(),
            prompt: "a lake".into(),
            aspect: "9:16".into(),
            seed: 1,
            media: DraftMedia {
                video_key: format!("media/{id}/video.mp4"),
                thumbnail_key: format!("media/{id}/thumb.jpg"),
                duration_ms: 5000,
                width: 720,
                height: 1280,
                bytes: 1000,
            },
            remix_of: None,
            cameos: vec![],
            generated_at_ms: now,
            published_at_ms: now,
            removed: None,
        };
        block_on(
            self.store
                .set(&keys::video(&id), &serde_json::to_vec(&video).unwrap()),
        )
        .unwrap();
        block_on(feed::on_published(&self.store, &video, true)).unwrap();
        id
    }

    fn draft(&self, owner: &User) -> String {
        let cfg = StudioConfig {
            daily_generation_quota: 100,
        };
        let req = GenerationRequest {
            prompt: "a fox in snow".into(),
            duration_seconds: Some(5),
            aspect: None,
            seed: None,
            cameos: vec![],
            remix_of: None,
        };
        let accepted = block_on(studio::create_generation(
            &self.store,
            &self.env,
            &cfg,
            owner,
            "req",
            None,
            req,
        ))
        .unwrap();
        accepted.draft.id
    }
}

fn other(n: u16) -> String {
    let mut random = [7u8; 10];
    random[..2].copy_from_slice(&n.to_be_bytes());
    ulid_from_parts(1_700_000_000_000, random)
}

#[test]
fn deletion_erases_the_person_and_keeps_the_handle_reserved() {
    let w = World::new();
    let (inviter, _) = w.join("inviter");
    let inviter_code = block_on(invites::list(&w.store, &inviter.id, None, None))
        .unwrap()
        .invites[0]
        .code
        .clone();
    let (ana, token) = w.join_with("Ana", Some(inviter_code));
    let (bob, bob_token) = w.join("bob");
    let videos = [w.publish(&ana, 1), w.publish(&ana, 2)];
    let drafts = [w.draft(&ana), w.draft(&ana)];
    block_on(graph::follow(&w.store, &w.env, &ana.id, &bob.id)).unwrap();
    block_on(graph::follow(&w.store, &w.env, &bob.id, &ana.id)).unwrap();
    block_on(graph::block(&w.store, &w.env, &ana.id, &other(1))).unwrap();
    block_on(w.store.set(&keys::cameo(&ana.id), b"{}")).unwrap();
    block_on(update_profile(&w.store, &ana.id, |p| {
        p.bio = "hi".into();
        p.avatar_key = Some("avatars/x.jpg".into());
    }))
    .unwrap();
    let anas_codes = block_on(invites::list(&w.store, &ana.id, None, None)).unwrap();
    assert_eq!(anas_codes.invites.len(), 4);

    let e = w.delete(&token, "not my password").unwrap_err();
    assert_eq!((e.status, e.code), (403, "wrong_password"));
    assert!(w.auth(&token).is_ok(), "a wrong password deletes nothing");
    let e = block_on(delete_account(
        &w.store,
        &w.env,
        &w.cfg,
        &Client::default(),
        Some(&format!("Bearer {token}")),
        b"{}",
    ))
    .unwrap_err();
    assert_eq!(e.status, 400);

    assert_eq!(w.delete(&token, PW).unwrap().status, "deleted");
    assert!(w.auth(&bob_token).is_ok(), "others are untouched");

    // Nothing resolves them: token, log-in, profile, lists.
    assert_eq!(w.auth(&token).unwrap_err().code, "invalid_token");
    let req = LoginRequest {
        handle: "ana".into(),
        password: PW.into(),
    };
    let e = block_on(login(&w.store, &w.env, &w.cfg, &Client::default(), req)).unwrap_err();
    assert_eq!(e.code, "invalid_credentials");
    let e = block_on(crate::accounts::profile::view(&w.store, None, "ana")).unwrap_err();
    assert_eq!(e.status, 404);
    // Personal records are gone; the tombstone holds no personal data.
    for key in [
        keys::user(&ana.id),
        keys::profile(&ana.id),
        keys::cameo(&ana.id),
    ] {
        assert!(block_on(w.store.get(&key)).unwrap().is_none(), "{key}");
    }
    let tomb = block_on(w.store.get(&keys::deleted_user(&ana.id)))
        .unwrap()
        .unwrap();
    let tomb: Deletion = serde_json::from_slice(&tomb).unwrap();
    assert_eq!(tomb.step, Step::Done);
    assert_eq!(
        block_on(w.store.get(&keys::handle("ana")))
            .unwrap()
            .unwrap(),
        RESERVED_HANDLE.as_bytes()
    );
    // The handle stays reserved, long after.
    w.env.advance_ms(86_400_000);
    let code = block_on(invites::mint(&w.store, &w.env, "operator", 1))
        .unwrap()
        .remove(0);
    let req = SignupRequest {
        invite_code: code,
        handle: "ANA".into(),
        password: PW.into(),
        display_name: None,
        birth_date: "1990-06-15".into(),
        country: Some("US".into()),
    };
    let e = block_on(signup(&w.store, &w.env, &w.cfg, &Client::default(), req)).unwrap_err();
    assert_eq!(e.code, "handle_taken");

    // Content: videos are tombstones, drafts deleted.
    for id in &videos {
        let raw = block_on(w.store.get(&keys::video(id))).unwrap().unwrap();
        let video: Video = serde_json::from_slice(&raw).unwrap();
        assert_eq!(video.removed.unwrap().reason, VIDEO_REMOVAL_REASON);
    }
    for id in &drafts {
        let e = block_on(studio::get_draft(&w.store, &ana.id, id)).unwrap_err();
        assert_eq!(e.status, 404);
    }
    // Follows ended both ways, blocks lifted.
    let counts = block_on(graph::counts(&w.store, &[bob.id.as_str(), ana.id.as_str()])).unwrap();
    assert_eq!((counts[0].followers, counts[0].following), (0, 0));
    assert_eq!((counts[1].followers, counts[1].following), (0, 0));
    assert!(!block_on(graph::is_blocked_either(&w.store, &ana.id, &other(1))).unwrap());
    // Their unused codes no longer work; the inviter keeps a count only.
    for invite in &anas_codes.invites {
        let e = block_on(invites::check(&w.store, &w.env, &w.cfg, &invite.code)).unwrap_err();
        assert_eq!(e.code, "invite_revoked");
    }
    let list = block_on(invites::list(&w.store, &inviter.id, None, None)).unwrap();
    let used: Vec<_> = list.invites.iter().filter(|i| i.status == "used").collect();
    assert_eq!(used.len(), 1);
    assert!(used[0].used_by.is_none() && used[0].used_by_deleted);
    assert_eq!(
        block_on(deleted_among(&w.store, &[ana.id.clone(), bob.id.clone()])).unwrap(),
        HashSet::from([ana.id.clone()])
    );
    assert_eq!(block_on(load_profile(&w.store, &ana.id)).unwrap().bio, "");
}

#[test]
fn a_big_account_is_finished_by_calling_again() {
    let w = World::new();
    let (ana, token) = w.join("ana");
    let (bob, _) = w.join("bob");
    let fans = ITEMS_PER_CALL as u16 + 60;
    for n in 0..fans {
        block_on(graph::follow(&w.store, &w.env, &other(n), &ana.id)).unwrap();
    }
    block_on(graph::follow(&w.store, &w.env, &ana.id, &bob.id)).unwrap();

    let first = w.delete(&token, PW).unwrap();
    assert_eq!(first.status, "in_progress");
    // Hidden already, and the token works for nothing but finishing.
    assert_eq!(w.auth(&token).unwrap_err().code, "invalid_token");
    let e = block_on(crate::accounts::profile::view(&w.store, None, "ana")).unwrap_err();
    assert_eq!(e.status, 404);

    let mut calls = 1;
    while w.delete(&token, PW).unwrap().status != "deleted" {
        calls += 1;
        assert!(calls < 5, "deletion does not converge");
    }
    let counts = block_on(graph::counts(&w.store, &[ana.id.as_str(), bob.id.as_str()])).unwrap();
    assert_eq!(counts[0].followers, 0);
    assert_eq!(counts[1].followers, 0);
    // Once finished, the token is dead for good.
    assert_eq!(w.delete(&token, PW).unwrap_err().status, 401);
}
