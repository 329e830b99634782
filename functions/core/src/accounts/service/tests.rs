use super::*;
use crate::accounts::invites::Invite;
use crate::ids::ulid_from_parts;
use crate::store::{MemoryStore, StoreError};
use crate::testing::{FixedEnv, block_on};

const PW: &str = "correct horse battery";

fn cfg() -> AccountsConfig {
    AccountsConfig::from_vars(
        "0123456789abcdef0123456789abcdef",
        "3600",
        "ALPHA-00001,ALPHA-00002,ALPHA-00003",
    )
    .unwrap()
}

fn req(code: &str, handle: &str, password: &str) -> SignupRequest {
    SignupRequest {
        invite_code: code.into(),
        handle: handle.into(),
        password: password.into(),
        display_name: None,
        birth_date: "1990-06-15".into(),
        country: Some("us".into()),
    }
}

fn sign_up<S: Store>(store: &S, env: &FixedEnv, r: SignupRequest) -> Result<Session, ApiError> {
    block_on(signup(store, env, &cfg(), &Client::default(), r))
}

/// The store's contents less the rate-limit counters (attempts always count).
fn contents(store: &MemoryStore) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut all: std::collections::BTreeMap<_, _> = store.snapshot().into_iter().collect();
    all.retain(|k, _| !k.starts_with("rate:"));
    all
}

fn log_in(
    store: &MemoryStore,
    env: &FixedEnv,
    handle: &str,
    pw: &str,
) -> Result<Session, ApiError> {
    let r = LoginRequest {
        handle: handle.into(),
        password: pw.into(),
    };
    block_on(login(store, env, &cfg(), &Client::default(), r))
}

fn auth(store: &MemoryStore, env: &FixedEnv, header: Option<&str>) -> Result<User, ApiError> {
    block_on(authenticate(store, env, &cfg(), header))
}

/// Runs a refused sign-up and checks it changed nothing.
fn refused(store: &MemoryStore, env: &FixedEnv, r: SignupRequest) -> (u16, &'static str) {
    let before = contents(store);
    let e = sign_up(store, env, r).unwrap_err();
    assert_eq!(contents(store), before, "a refused sign-up wrote: {e:?}");
    (e.status, e.code)
}

#[test]
fn sign_up_returns_a_working_session() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let s = sign_up(&store, &env, req("alpha-00001", "Ana_Lima", PW)).unwrap();
    assert_eq!(s.user.handle, "Ana_Lima");
    assert_eq!(s.user.display_name, "Ana_Lima");
    assert_eq!(s.user.created_at, "2025-01-01T00:00:00.000Z");
    assert_eq!(s.expires_at, "2025-01-01T01:00:00.000Z");
    let me = block_on(me(
        &store,
        &env,
        &cfg(),
        Some(&format!("Bearer {}", s.token)),
    ))
    .unwrap();
    assert_eq!(
        (me.id, me.handle, me.minor),
        (s.user.id.clone(), s.user.handle.clone(), false)
    );
    // Stored: the user, profile, handle (lowercase), the spent invite and
    // the member's own four codes; no plaintext password.
    let keys: Vec<_> = contents(&store).into_keys().collect();
    for key in [
        "handle:ana_lima".to_owned(),
        "invite:ALPHA00001".into(),
        format!("user:{}", s.user.id),
        format!("profile:{}", s.user.id),
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert_eq!(keys.iter().filter(|k| k.starts_with("invite:")).count(), 5);
    assert!(
        !store
            .snapshot()
            .values()
            .any(|v| String::from_utf8_lossy(v).contains(PW))
    );
}

#[test]
fn display_name_is_kept_when_given() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let mut r = req("ALPHA-00001", "ana", PW);
    r.display_name = Some("Ana Lima".into());
    assert_eq!(
        sign_up(&store, &env, r).unwrap().user.display_name,
        "Ana Lima"
    );
}

#[test]
fn invalid_fields_are_refused_by_name_and_write_nothing() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let mut long_name = req("ALPHA-00001", "ivo", PW);
    long_name.display_name = Some("x".repeat(51));
    for r in [
        req("", "ivo", PW),
        req("ALPHA-00001", "1vo", PW),
        req("ALPHA-00001", "ivo", "short"),
        long_name,
    ] {
        assert_eq!(refused(&store, &env, r), (400, "invalid_request"));
    }
    assert!(store.is_empty());
}

#[test]
fn unknown_and_used_invites_are_refused_without_writes() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    assert_eq!(
        refused(&store, &env, req("NOPE-NOPE", "carla", PW)),
        (403, "invite_invalid")
    );
    sign_up(&store, &env, req("ALPHA-00002", "carla", PW)).unwrap();
    assert_eq!(
        refused(&store, &env, req("alpha-00002", "dora", PW)),
        (409, "invite_used")
    );
    // "dora" is still free.
    sign_up(&store, &env, req("ALPHA-00003", "dora", PW)).unwrap();
}

#[test]
fn handles_are_unique_regardless_of_case_and_refusal_keeps_the_invite() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    sign_up(&store, &env, req("ALPHA-00001", "Gil", PW)).unwrap();
    assert_eq!(
        refused(&store, &env, req("ALPHA-00002", "gIL", PW)),
        (409, "handle_taken")
    );
    sign_up(&store, &env, req("ALPHA-00002", "hana", PW)).unwrap();
}

/// A store where another sign-up spends every invite just before ours claims it.
struct RacedInvites(MemoryStore);

impl Store for RacedInvites {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.0.get_many(keys).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.0.set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.0.increment(key, delta).await
    }
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        if key.starts_with("invite:") {
            let winner = Invite {
                issued_by: "bootstrap".into(),
                created_at_ms: 0,
                used_by: Some("SOMEONE".into()),
                used_at_ms: Some(0),
                revoked_at_ms: None,
            };
            self.0
                .set(key, &serde_json::to_vec(&winner).unwrap())
                .await?;
        }
        self.0.compare_and_swap(key, expected, new).await
    }
}

#[test]
fn losing_the_invite_race_releases_the_handle() {
    let (store, env) = (RacedInvites(MemoryStore::new()), FixedEnv::default());
    let e = sign_up(&store, &env, req("ALPHA-00001", "ivo", PW)).unwrap_err();
    assert_eq!((e.status, e.code), (409, "invite_used"));
    // Only the winner's invite record exists: no handle, no user.
    let keys: Vec<_> = store.0.snapshot().into_keys().collect();
    assert_eq!(
        keys,
        ["invite:ALPHA00001", "rate:signup_handle:ivo:1928544"]
    );
}

/// A store whose user writes fail.
struct FailingUserWrites(MemoryStore);

impl Store for FailingUserWrites {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.0.get_many(keys).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        if key.starts_with("user:") {
            return Err(StoreError("disk full at /secret/path".into()));
        }
        self.0.set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.0.increment(key, delta).await
    }
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        self.0.compare_and_swap(key, expected, new).await
    }
}

#[test]
fn a_failed_user_write_gives_back_handle_and_invite() {
    let (store, env) = (FailingUserWrites(MemoryStore::new()), FixedEnv::default());
    block_on(invites::mint(&store.0, &env, "admin", 1)).unwrap();
    let code = store
        .0
        .snapshot()
        .into_keys()
        .next()
        .unwrap()
        .replace("invite:", "");
    let before = store.0.snapshot();
    let e = sign_up(&store, &env, req(&code, "ivo", PW)).unwrap_err();
    assert_eq!((e.status, e.code), (500, "storage_unavailable"));
    assert_eq!(contents(&store.0), before);
}

#[test]
fn an_abandoned_handle_claim_is_taken_over_after_a_minute() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let ghost = ulid_from_parts(env.now_ms(), [7; 10]);
    block_on(store.set("handle:ivo", ghost.as_bytes())).unwrap();
    assert_eq!(
        refused(&store, &env, req("ALPHA-00001", "ivo", PW)),
        (409, "handle_taken")
    );
    env.advance_ms(ABANDONED_CLAIM_MS + 1);
    let s = sign_up(&store, &env, req("ALPHA-00001", "ivo", PW)).unwrap();
    assert_eq!(
        block_on(store.get("handle:ivo")).unwrap().unwrap(),
        s.user.id.as_bytes()
    );
}

#[test]
fn log_in_accepts_any_case_of_the_handle() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let created = sign_up(&store, &env, req("ALPHA-00001", "Ana_Lima", PW)).unwrap();
    let s = log_in(&store, &env, "ana_lima", PW).unwrap();
    assert_eq!(s.user, created.user);
    assert_ne!(s.token, created.token, "each log-in is a new session");
}

#[test]
fn wrong_password_and_unknown_handle_look_the_same() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    sign_up(&store, &env, req("ALPHA-00001", "bruno", PW)).unwrap();
    let before = contents(&store);
    let wrong = log_in(&store, &env, "bruno", "wrong horse battery").unwrap_err();
    let unknown = log_in(&store, &env, "nobody", PW).unwrap_err();
    let malformed = log_in(&store, &env, "!!", PW).unwrap_err();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, malformed);
    assert_eq!((wrong.status, wrong.code), (401, "invalid_credentials"));
    assert_eq!(contents(&store), before);
}

#[test]
fn authentication_errors_are_distinct() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let s = sign_up(&store, &env, req("ALPHA-00001", "joao", PW)).unwrap();
    let bearer = format!("Bearer {}", s.token);
    assert_eq!(auth(&store, &env, Some(&bearer)).unwrap().id, s.user.id);
    assert!(auth(&store, &env, Some(&format!("bearer  {} ", s.token))).is_ok());

    let code = |h: Option<&str>| auth(&store, &env, h).unwrap_err().code;
    assert_eq!(code(None), "unauthorized");
    assert_eq!(code(Some("")), "unauthorized");
    assert_eq!(code(Some("Basic YTpi")), "unauthorized");
    assert_eq!(code(Some("Bearer not-a-token")), "invalid_token");
    assert_eq!(code(Some(&bearer.replace("v1.", "v1.x"))), "invalid_token");

    env.advance_ms(3_600_000);
    assert_eq!(code(Some(&bearer)), "token_expired");
}

#[test]
fn a_token_for_a_deleted_user_is_invalid() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let s = sign_up(&store, &env, req("ALPHA-00001", "kim", PW)).unwrap();
    block_on(store.delete(&format!("user:{}", s.user.id))).unwrap();
    let e = auth(&store, &env, Some(&format!("Bearer {}", s.token))).unwrap_err();
    assert_eq!((e.status, e.code), (401, "invalid_token"));
}

#[test]
fn a_token_signed_with_another_key_is_refused() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let s = sign_up(&store, &env, req("ALPHA-00001", "lia", PW)).unwrap();
    let other = AccountsConfig::from_vars(&"z".repeat(32), "", "").unwrap();
    let header = format!("Bearer {}", s.token);
    let e = block_on(authenticate(&store, &env, &other, Some(&header))).unwrap_err();
    assert_eq!(e.code, "invalid_token");
}

#[test]
fn a_session_lasts_at_least_its_ttl() {
    // Issued half a second past a whole second: rounding must not cut it short.
    let (store, env) = (MemoryStore::new(), FixedEnv::new(1_735_689_600_500, 1));
    let s = sign_up(&store, &env, req("ALPHA-00001", "mia", PW)).unwrap();
    let header = format!("Bearer {}", s.token);
    env.advance_ms(3_600_000 - 1);
    assert!(auth(&store, &env, Some(&header)).is_ok());
    env.advance_ms(501);
    assert_eq!(
        auth(&store, &env, Some(&header)).unwrap_err().code,
        "token_expired"
    );
}
