//! Profiles, follows, blocks, invites, age and region gates, sessions and
//! rate limits, over a [`MemoryStore`].

use super::admin::{self, MintRequest};
use super::policy::PolicyVars;
use super::social::{self, List};
use super::*;
use crate::notifications;
use crate::store::MemoryStore;
use crate::testing::{FixedEnv, block_on};

const PW: &str = "correct horse battery";

fn cfg_with(vars: PolicyVars) -> AccountsConfig {
    AccountsConfig::from_vars("0123456789abcdef0123456789abcdef", "3600", "BOOT-1,BOOT-2")
        .unwrap()
        .with_policy(AccessPolicy::from_vars(&vars).unwrap())
}

fn cfg() -> AccountsConfig {
    cfg_with(PolicyVars {
        admin_handles: "root_op".into(),
        ..PolicyVars::default()
    })
}

struct World {
    store: MemoryStore,
    env: FixedEnv,
    cfg: AccountsConfig,
}

impl World {
    fn new() -> Self {
        Self {
            store: MemoryStore::new(),
            env: FixedEnv::default(),
            cfg: cfg(),
        }
    }

    fn code(&self) -> String {
        block_on(invites::mint(&self.store, &self.env, "operator", 1))
            .unwrap()
            .remove(0)
    }

    fn try_join(&self, handle: &str, birth: &str, client: &Client) -> Result<Session, ApiError> {
        let req = SignupRequest {
            invite_code: self.code(),
            handle: handle.into(),
            password: PW.into(),
            display_name: None,
            birth_date: birth.into(),
            country: Some("US".into()),
        };
        block_on(signup(&self.store, &self.env, &self.cfg, client, req))
    }

    fn join(&self, handle: &str) -> (User, String) {
        let s = self
            .try_join(handle, "1990-06-15", &Client::default())
            .unwrap();
        (self.auth(&s.token).unwrap(), s.token)
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

    fn view(&self, viewer: Option<&User>, handle: &str) -> Result<ProfileView, ApiError> {
        block_on(profile::view(&self.store, viewer, handle))
    }

    fn follow(&self, me: &User, handle: &str) -> Result<ProfileView, ApiError> {
        block_on(social::follow(&self.store, &self.env, me, handle))
    }
}

use crate::error::ApiError;

#[test]
fn profiles_show_counts_and_the_viewers_relation() {
    let w = World::new();
    let (ana, _) = w.join("Ana");
    let (bo, _) = w.join("bob");
    let view = w.follow(&ana, "BOB").unwrap();
    assert_eq!((view.handle.as_str(), view.followers_count), ("bob", 1));
    let rel = view.relation.unwrap();
    assert!(rel.following && !rel.followed_by && !rel.mutual && !rel.blocked);
    // Following twice is one follow.
    assert_eq!(w.follow(&ana, "bob").unwrap().followers_count, 1);
    let back = w.follow(&bo, "@ana").unwrap();
    assert!(back.relation.unwrap().mutual);
    let anon = w.view(None, "ana").unwrap();
    assert_eq!((anon.followers_count, anon.following_count), (1, 1));
    assert!(anon.relation.is_none());
    assert!(w.view(Some(&ana), "ana").unwrap().relation.is_none());
    assert_eq!(w.view(None, "nobody").unwrap_err().status, 404);
    assert_eq!(w.view(None, "!!").unwrap_err().status, 404);
}

#[test]
fn a_new_follow_notifies_once_and_self_follow_is_refused() {
    let w = World::new();
    let (ana, _) = w.join("ana");
    let (bo, _) = w.join("bob");
    w.follow(&ana, "bob").unwrap();
    w.follow(&ana, "bob").unwrap();
    let unread = block_on(notifications::unread_count(&w.store, &bo.id)).unwrap();
    assert_eq!(unread, 1);
    let e = w.follow(&ana, "ANA").unwrap_err();
    assert_eq!((e.status, e.code), (422, "cannot_follow_self"));
    let before = w.store.snapshot();
    block_on(social::unfollow(&w.store, &ana, "bob")).unwrap();
    block_on(social::unfollow(&w.store, &ana, "bob")).unwrap();
    assert_eq!(w.view(None, "bob").unwrap().followers_count, 0);
    assert_ne!(w.store.snapshot(), before);
}

#[test]
fn blocking_hides_the_blocker_and_ends_follows() {
    let w = World::new();
    let (ana, _) = w.join("ana");
    let (bo, _) = w.join("bob");
    let (cy, _) = w.join("cyd");
    w.follow(&ana, "bob").unwrap();
    w.follow(&bo, "ana").unwrap();
    w.follow(&cy, "ana").unwrap();
    block_on(social::block(&w.store, &w.env, &ana, "bob")).unwrap();
    block_on(social::block(&w.store, &w.env, &ana, "bob")).unwrap();
    // Bo no longer finds Ana; Ana still finds Bo, marked blocked.
    assert_eq!(w.view(Some(&bo), "ana").unwrap_err().status, 404);
    assert_eq!(w.follow(&bo, "ana").unwrap_err().status, 404);
    let seen = w.view(Some(&ana), "bob").unwrap();
    assert_eq!(
        seen.relation.unwrap(),
        RelationView {
            blocked: true,
            ..Default::default()
        }
    );
    assert_eq!(seen.followers_count, 0);
    let e = w.follow(&ana, "bob").unwrap_err();
    assert_eq!((e.status, e.code), (403, "blocked"));
    // Lists hide the blocked pair from each other.
    let list = |viewer: Option<&User>| {
        let page = block_on(social::list(
            &w.store,
            viewer,
            "cyd",
            List::Following,
            None,
            None,
        ))
        .unwrap();
        page.users.into_iter().map(|u| u.handle).collect::<Vec<_>>()
    };
    assert_eq!(list(None), ["ana"]);
    assert!(list(Some(&bo)).is_empty());
    let blocks = block_on(social::blocks(&w.store, &ana, None, None)).unwrap();
    assert_eq!(blocks.users[0].id, bo.id);
    let e = block_on(social::block(&w.store, &w.env, &ana, "Ana")).unwrap_err();
    assert_eq!((e.status, e.code), (422, "cannot_block_self"));
    block_on(social::unblock(&w.store, &ana, "bob")).unwrap();
    block_on(social::unblock(&w.store, &ana, "bob")).unwrap();
    assert!(w.view(Some(&bo), "ana").is_ok());
    assert!(
        block_on(social::blocks(&w.store, &ana, None, None))
            .unwrap()
            .users
            .is_empty()
    );
}

#[test]
fn me_edits_are_validated_before_anything_is_written() {
    let w = World::new();
    let (ana, _) = w.join("ana");
    let before = w.store.snapshot();
    for update in [
        ProfileUpdate {
            display_name: Some("ok".into()),
            bio: Some("x".repeat(161)),
        },
        ProfileUpdate {
            display_name: Some(" ".into()),
            bio: Some("fine".into()),
        },
    ] {
        let e = block_on(profile::update_me(&w.store, &w.env, &ana, update)).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(w.store.snapshot(), before);
    }
    let me = block_on(profile::update_me(
        &w.store,
        &w.env,
        &ana,
        ProfileUpdate {
            display_name: Some(" Ana Lima ".into()),
            bio: Some("makes\nclips".into()),
        },
    ))
    .unwrap();
    assert_eq!(
        (me.display_name.as_str(), me.bio.as_str()),
        ("Ana Lima", "makes\nclips")
    );
    let seen = w.view(None, "ana").unwrap();
    assert_eq!(
        (seen.display_name, seen.bio),
        ("Ana Lima".into(), "makes\nclips".into())
    );
    // The rest of the user record is untouched.
    assert_eq!(w.auth_user(&ana.id).password_hash, ana.password_hash);
}

impl World {
    fn auth_user(&self, id: &str) -> User {
        block_on(service::load_user(&self.store, id))
            .unwrap()
            .unwrap()
    }
}

#[test]
fn members_get_invites_see_who_used_them_and_can_revoke_unused_ones() {
    let w = World::new();
    let (ana, _) = w.join("ana");
    let mine = block_on(invites::list(&w.store, &ana.id, None, None)).unwrap();
    assert_eq!(mine.invites.len(), 4);
    assert!(mine.invites.iter().all(|i| i.status == "unused"));
    let (first, second) = (mine.invites[0].code.clone(), mine.invites[1].code.clone());

    let req = |code: &str, handle: &str| SignupRequest {
        invite_code: code.into(),
        handle: handle.into(),
        password: PW.into(),
        display_name: None,
        birth_date: "2000-01-01".into(),
        country: Some("CA".into()),
    };
    let bo = block_on(signup(
        &w.store,
        &w.env,
        &w.cfg,
        &Client::default(),
        req(&first, "bob"),
    ))
    .unwrap();
    block_on(invites::revoke(
        &w.store,
        &w.env,
        &ana.id,
        &second.to_lowercase(),
    ))
    .unwrap();
    block_on(invites::revoke(&w.store, &w.env, &ana.id, &second)).unwrap();
    let e = block_on(signup(
        &w.store,
        &w.env,
        &w.cfg,
        &Client::default(),
        req(&second, "cyd"),
    ))
    .unwrap_err();
    assert_eq!((e.status, e.code), (403, "invite_revoked"));

    let mine = block_on(invites::list(&w.store, &ana.id, None, None)).unwrap();
    let by_code = |c: &str| mine.invites.iter().find(|i| i.code == c).unwrap().clone();
    let used = by_code(&first);
    assert_eq!(used.status, "used");
    assert_eq!(used.used_by.unwrap().id, bo.user.id);
    assert!(used.used_at.is_some());
    assert_eq!(by_code(&second).status, "revoked");

    let e = block_on(invites::revoke(&w.store, &w.env, &ana.id, &first)).unwrap_err();
    assert_eq!((e.status, e.code), (409, "invite_used"));
    let e = block_on(invites::revoke(
        &w.store,
        &w.env,
        &bo.user.id,
        &mine.invites[2].code,
    ));
    assert_eq!(e.unwrap_err().status, 404);
    let e = block_on(invites::revoke(&w.store, &w.env, &ana.id, "NOPE-NOPE"));
    assert_eq!(e.unwrap_err().status, 404);
}

#[test]
fn only_admins_mint_and_grant() {
    let w = World::new();
    let (ana, _) = w.join("ana");
    let (root, _) = w.join("Root_Op");
    let mint = |who: &User| {
        block_on(admin::mint(
            &w.store,
            &w.env,
            &w.cfg,
            who,
            MintRequest { count: 2 },
        ))
    };
    let before = w.store.snapshot();
    let e = mint(&ana).unwrap_err();
    assert_eq!((e.status, e.code), (403, "admin_only"));
    assert_eq!(w.store.snapshot(), before);
    assert_eq!(mint(&root).unwrap().codes.len(), 2);

    let granted = block_on(admin::grant(
        &w.store,
        &w.env,
        &w.cfg,
        &root,
        "ANA",
        MintRequest { count: 3 },
    ))
    .unwrap();
    assert_eq!(granted.codes.len(), 3);
    let mine = block_on(invites::list(&w.store, &ana.id, None, None)).unwrap();
    assert_eq!(mine.invites.len(), 7);
    assert_eq!(mine.invites[0].code, granted.codes[2]);
    let e = block_on(admin::grant(
        &w.store,
        &w.env,
        &w.cfg,
        &root,
        "ghost",
        MintRequest { count: 1 },
    ));
    assert_eq!(e.unwrap_err().status, 404);
}

#[test]
fn under_13s_are_refused_and_write_nothing() {
    let w = World::new();
    // 2025-01-01 today: born 2012-01-02 is 12.
    let code = w.code();
    let before = w.store.snapshot();
    let req = SignupRequest {
        invite_code: code,
        handle: "kid".into(),
        password: PW.into(),
        display_name: None,
        birth_date: "2012-01-02".into(),
        country: Some("US".into()),
    };
    let e = block_on(signup(&w.store, &w.env, &w.cfg, &Client::default(), req)).unwrap_err();
    assert_eq!((e.status, e.code), (422, "too_young"));
    assert_eq!(w.store.snapshot(), before);
    for bad in ["2012-02-30", "2030-01-01", "01/02/2000"] {
        let e = w.try_join("kid", bad, &Client::default()).unwrap_err();
        assert_eq!(e.status, 400, "{bad}");
    }
}

#[test]
fn under_18s_get_protections_until_their_birthday() {
    let w = World::new();
    let s = w
        .try_join("teen", "2012-01-01", &Client::default())
        .unwrap();
    let me = block_on(me(
        &w.store,
        &w.env,
        &w.cfg,
        Some(&format!("Bearer {}", s.token)),
    ))
    .unwrap();
    assert!(me.minor);
    let p = me.protections.unwrap();
    assert_eq!(p.feed_minutes_per_day, 60);
    assert_eq!(
        (p.quiet_hours_start.as_str(), p.quiet_hours_end.as_str()),
        ("22:00", "07:00")
    );
    assert_eq!(p.cameo, "only_me");
    let stored = block_on(protections(&w.store, &w.env, &s.user.id)).unwrap();
    assert_eq!(stored.unwrap().feed_minutes_per_day, 60);
    // Five years on, they are an adult and the protections lapse.
    w.env.advance_ms(5 * 366 * 86_400_000);
    assert!(
        block_on(protections(&w.store, &w.env, &s.user.id))
            .unwrap()
            .is_none()
    );
    let (adult, _) = w.join("grown");
    assert!(
        block_on(protections(&w.store, &w.env, &adult.id))
            .unwrap()
            .is_none()
    );
}

#[test]
fn region_comes_from_the_trusted_header_before_the_client() {
    let mut w = World::new();
    let client = |edge: Option<&str>| Client {
        address: None,
        edge_country: edge.map(str::to_owned),
    };
    let e = w
        .try_join("frank", "1990-01-01", &client(Some("FR")))
        .unwrap_err();
    assert_eq!((e.status, e.code), (403, "region_unavailable"));
    assert!(
        w.try_join("carl", "1990-01-01", &client(Some("ca")))
            .is_ok()
    );
    w.cfg = cfg_with(PolicyVars {
        signup_countries: "MX".into(),
        ..PolicyVars::default()
    });
    // The client says US (see try_join), which is no longer open.
    let e = w.try_join("usha", "1990-01-01", &client(None)).unwrap_err();
    assert_eq!(e.code, "region_unavailable");
    assert!(
        w.try_join("maxi", "1990-01-01", &client(Some("MX")))
            .is_ok()
    );
    let req = SignupRequest {
        invite_code: w.code(),
        handle: "nowhere".into(),
        password: PW.into(),
        display_name: None,
        birth_date: "1990-01-01".into(),
        country: None,
    };
    let e = block_on(signup(&w.store, &w.env, &w.cfg, &client(None), req)).unwrap_err();
    assert_eq!(e.status, 400);
}

#[test]
fn reserved_handles_are_refused() {
    let w = World::new();
    let e = w
        .try_join("Support", "1990-01-01", &Client::default())
        .unwrap_err();
    assert_eq!(e.status, 400);
}

#[test]
fn log_out_ends_one_session_and_log_out_all_ends_every_one() {
    let w = World::new();
    let (_, first) = w.join("ana");
    let login_req = || LoginRequest {
        handle: "ana".into(),
        password: PW.into(),
    };
    let second = block_on(login(
        &w.store,
        &w.env,
        &w.cfg,
        &Client::default(),
        login_req(),
    ))
    .unwrap()
    .token;
    let bearer = |t: &str| format!("Bearer {t}");
    block_on(sessions::logout(
        &w.store,
        &w.env,
        &w.cfg,
        Some(&bearer(&first)),
    ))
    .unwrap();
    assert_eq!(w.auth(&first).unwrap_err().code, "invalid_token");
    assert!(w.auth(&second).is_ok());
    let e = block_on(sessions::logout(
        &w.store,
        &w.env,
        &w.cfg,
        Some(&bearer(&first)),
    ));
    assert_eq!(e.unwrap_err().status, 401);

    let third = block_on(login(
        &w.store,
        &w.env,
        &w.cfg,
        &Client::default(),
        login_req(),
    ))
    .unwrap()
    .token;
    block_on(sessions::logout_all(
        &w.store,
        &w.env,
        &w.cfg,
        Some(&bearer(&second)),
    ))
    .unwrap();
    assert!(w.auth(&second).is_err() && w.auth(&third).is_err());
    let fresh = block_on(login(
        &w.store,
        &w.env,
        &w.cfg,
        &Client::default(),
        login_req(),
    ))
    .unwrap()
    .token;
    assert!(w.auth(&fresh).is_ok());
}

#[test]
fn refresh_rotates_the_token_once() {
    let w = World::new();
    let (ana, old) = w.join("ana");
    let bearer = format!("Bearer {old}");
    let new = block_on(sessions::refresh(&w.store, &w.env, &w.cfg, Some(&bearer))).unwrap();
    assert_ne!(new.token, old);
    assert_eq!(w.auth(&new.token).unwrap().id, ana.id);
    assert_eq!(w.auth(&old).unwrap_err().code, "invalid_token");
    let again = block_on(sessions::refresh(&w.store, &w.env, &w.cfg, Some(&bearer)));
    assert_eq!(again.unwrap_err().status, 401);
}

#[test]
fn log_ins_are_rate_limited_per_handle_and_per_address() {
    let mut w = World::new();
    w.cfg = cfg_with(PolicyVars {
        auth_rate_limits: "window=60,login_handle=3,login_address=4".into(),
        ..PolicyVars::default()
    });
    w.join("ana");
    let try_login = |handle: &str, addr: &str| {
        let req = LoginRequest {
            handle: handle.into(),
            password: "wrong password!".into(),
        };
        let client = Client {
            address: Some(addr.into()),
            edge_country: None,
        };
        block_on(login(&w.store, &w.env, &w.cfg, &client, req))
            .unwrap_err()
            .code
    };
    for _ in 0..3 {
        assert_eq!(try_login("ana", "10.0.0.1"), "invalid_credentials");
    }
    assert_eq!(try_login("ANA", "10.0.0.2"), "rate_limited");
    // The address limit catches spraying across handles.
    assert_eq!(try_login("bob", "10.0.0.1"), "invalid_credentials");
    assert_eq!(try_login("cyd", "10.0.0.1"), "rate_limited");
    w.env.advance_ms(60_000);
    assert_eq!(try_login("ana", "10.0.0.3"), "invalid_credentials");
}
