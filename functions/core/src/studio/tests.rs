use std::cell::RefCell;

use super::callbacks::{self, CompleteRequest, FailRequest, ProgressRequest, StartRequest};
use super::*;
use crate::accounts::User;
use crate::error::ApiError;
use crate::jobs::{CallbackAuth, media_keys};
use crate::keys;
use crate::store::{MemoryStore, Store, StoreError};
use crate::testing::{FixedEnv, block_on};

const DAY_MS: u64 = 86_400_000;

fn user(name: &str) -> User {
    // Distinct, valid ULIDs per name.
    let mut random = [0u8; 10];
    for (slot, b) in random.iter_mut().zip(name.bytes()) {
        *slot = b;
    }
    User {
        id: crate::ids::ulid_from_parts(1_700_000_000_000, random),
        handle: name.to_owned(),
        display_name: name.to_owned(),
        password_hash: String::new(),
        created_at_ms: 0,
        invite_code: "X".into(),
    }
}

fn cfg(quota: u32) -> StudioConfig {
    StudioConfig {
        daily_generation_quota: quota,
    }
}

fn req(prompt: &str) -> GenerationRequest {
    GenerationRequest {
        prompt: prompt.into(),
        duration_seconds: Some(10),
        aspect: None,
        seed: None,
        cameos: vec![],
        remix_of: None,
    }
}

struct Signer;

impl MediaSigner for Signer {
    fn url(&self, key: &str) -> Result<String, ApiError> {
        Ok(format!("https://media.test/{key}?sig=1"))
    }
    fn expires_at_ms(&self) -> u64 {
        1_735_690_200_000
    }
}

struct World {
    store: MemoryStore,
    env: FixedEnv,
    cfg: StudioConfig,
}

impl World {
    fn new() -> Self {
        Self::with_quota(20)
    }

    fn with_quota(quota: u32) -> Self {
        Self {
            store: MemoryStore::new(),
            env: FixedEnv::default(),
            cfg: cfg(quota),
        }
    }

    fn generate(
        &self,
        who: &User,
        key: Option<&str>,
        r: GenerationRequest,
    ) -> Result<Accepted, ApiError> {
        block_on(create_generation(
            &self.store,
            &self.env,
            &self.cfg,
            who,
            "req-1",
            key,
            r,
        ))
    }

    fn queued(&self, who: &User, prompt: &str) -> Draft {
        self.generate(who, None, req(prompt)).unwrap().draft
    }

    fn draft(&self, id: &str) -> Draft {
        block_on(record::load(&self.store, id)).unwrap().unwrap()
    }

    fn used(&self, who: &User) -> i64 {
        let day = generate::utc_day(crate::Env::now_ms(&self.env));
        match self
            .store
            .snapshot()
            .get(&keys::generation_quota(&who.id, &day))
        {
            Some(b) => crate::store::decode_counter(b).unwrap(),
            None => 0,
        }
    }

    fn start(&self, id: &str, attempt: u32) -> callbacks::Answer {
        block_on(callbacks::start(
            &self.store,
            &self.env,
            id,
            StartRequest { attempt },
        ))
        .unwrap()
    }

    fn progress(&self, id: &str, p: f64) -> Result<callbacks::Answer, ApiError> {
        let r = ProgressRequest {
            progress: p,
            stage: Some("generating".into()),
        };
        block_on(callbacks::progress(&self.store, &self.env, id, r))
    }

    fn complete(&self, id: &str) -> Result<callbacks::Answer, ApiError> {
        let (video_key, thumbnail_key) = media_keys(id);
        let r = CompleteRequest {
            video_key,
            thumbnail_key,
            duration_ms: 10_000,
            width: 720,
            height: 1280,
            bytes: 1234,
            prompt_embedding: None,
        };
        block_on(callbacks::complete(&self.store, &self.env, id, r))
    }

    fn fail(&self, id: &str) -> callbacks::Answer {
        let r = FailRequest {
            code: "generation_failed".into(),
            reason: "the model crashed".into(),
            attempts: Some(3),
        };
        block_on(callbacks::fail(&self.store, &self.env, id, r)).unwrap()
    }

    fn ready(&self, who: &User, prompt: &str) -> Draft {
        let d = self.queued(who, prompt);
        self.start(&d.id, 1);
        self.complete(&d.id).unwrap();
        self.draft(&d.id)
    }

    fn publish(&self, who: &User, id: &str, caption: &str) -> Result<Published, ApiError> {
        let r = PublishRequest {
            caption: Some(caption.into()),
        };
        block_on(publish(&self.store, &self.env, who, id, r))
    }
}

fn refused_without_writes(
    w: &World,
    who: &User,
    key: Option<&str>,
    r: GenerationRequest,
) -> ApiError {
    let before = w.store.snapshot();
    let e = w.generate(who, key, r).unwrap_err();
    assert_eq!(w.store.snapshot(), before, "a refused request wrote: {e:?}");
    e
}

#[test]
fn an_accepted_generation_is_a_queued_draft_with_its_job() {
    let w = World::new();
    let ana = user("ana");
    let a = w.generate(&ana, None, req("  a red fox in snow ")).unwrap();
    assert!(!a.replayed);
    let d = &a.draft;
    assert_eq!(d.status, DraftStatus::Queued);
    assert_eq!(
        (d.prompt.as_str(), d.duration_ms, d.aspect.as_str()),
        ("a red fox in snow", 10_000, "9:16")
    );
    assert!(d.seed <= validate::MAX_SEED);
    let job = a.job.unwrap();
    assert_eq!(job, d.job_spec());
    assert_eq!(
        (job.job_id.as_str(), job.owner.as_str()),
        (d.id.as_str(), ana.id.as_str())
    );
    assert_eq!(job.request_id, "req-1");
    assert_eq!(job.created_at, "2025-01-01T00:00:00.000Z");
    assert_eq!(w.draft(&d.id), *d);
    assert_eq!(w.used(&ana), 1);
    let keys: Vec<_> = w.store.snapshot().into_keys().collect();
    assert_eq!(
        keys,
        [
            format!("draft:{}", d.id),
            format!("drafts:{}:0", ana.id),
            format!("gen_quota:{}:2025-01-01", ana.id),
        ]
    );
    let view = d.view(&Signer).unwrap();
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["status"], "queued");
    assert_eq!(json["duration_seconds"], 10);
    assert!(json["media"].is_null() && json["failure"].is_null());
}

#[test]
fn a_given_seed_is_kept_and_random_ones_differ() {
    let w = World::new();
    let ana = user("ana");
    let seeded = w
        .generate(
            &ana,
            None,
            GenerationRequest {
                seed: Some(42),
                ..req("fox")
            },
        )
        .unwrap();
    assert_eq!(seeded.draft.seed, 42);
    assert_ne!(w.queued(&ana, "fox").seed, w.queued(&ana, "fox").seed);
}

#[test]
fn bad_requests_are_refused_before_anything_is_written() {
    let w = World::new();
    let ana = user("ana");
    let eleven = GenerationRequest {
        duration_seconds: Some(11),
        ..req("fox")
    };
    let e = refused_without_writes(&w, &ana, None, eleven);
    assert_eq!((e.status, e.code), (400, "invalid_request"));
    assert!(e.message.contains("10 seconds"), "{}", e.message);

    let e = refused_without_writes(&w, &ana, None, req(" "));
    assert_eq!(e.code, "invalid_request");

    let cast = GenerationRequest {
        cameos: vec!["@bruno".into()],
        ..req("fox")
    };
    let e = refused_without_writes(&w, &ana, None, cast);
    assert_eq!((e.status, e.code), (422, "cameo_unknown"));
    assert!(e.message.contains("@bruno"), "{}", e.message);

    let e = refused_without_writes(&w, &ana, Some(&"k".repeat(101)), req("fox"));
    assert_eq!(e.code, "invalid_request");
}

#[test]
fn a_prompt_the_safety_filter_refuses_is_refused_before_anything_is_written() {
    let w = World::new();
    let ana = user("ana");
    let e = refused_without_writes(&w, &ana, None, req("a b-e-h-e-a-d-i-n-g"));
    assert_eq!(
        (e.status, e.code),
        (422, "content_blocked_graphic_violence")
    );
    assert_eq!(w.used(&ana), 0);
}

#[test]
fn a_remix_needs_a_published_source() {
    let w = World::new();
    let (ana, bruno) = (user("ana"), user("bruno"));
    let remix = |id: &str| GenerationRequest {
        remix_of: Some(id.into()),
        ..req("again, but at night")
    };
    let e = refused_without_writes(&w, &ana, None, remix("01JD0000000000000000000000"));
    assert_eq!((e.status, e.code), (404, "not_found"));
    let e = refused_without_writes(&w, &ana, None, remix("nonsense"));
    assert_eq!(e.status, 404);

    let unpublished = w.ready(&ana, "fox");
    let e = refused_without_writes(&w, &ana, None, remix(&unpublished.id));
    assert_eq!((e.status, e.code), (409, "remix_source_unpublished"));
    // Someone else's draft is as invisible as a missing video.
    let e = refused_without_writes(&w, &bruno, None, remix(&unpublished.id));
    assert_eq!(e.status, 404);

    w.publish(&ana, &unpublished.id, "first").unwrap();
    let r = w.generate(&bruno, None, remix(&unpublished.id)).unwrap();
    assert_eq!(r.draft.remix_of.as_deref(), Some(unpublished.id.as_str()));
    assert_eq!(r.job.unwrap().remix_of, Some(unpublished.id));
}

#[test]
fn the_daily_quota_refuses_without_writing_and_resets_at_midnight_utc() {
    let w = World::with_quota(2);
    let ana = user("ana");
    w.queued(&ana, "one");
    w.queued(&ana, "two");
    let e = refused_without_writes(&w, &ana, None, req("three"));
    assert_eq!((e.status, e.code), (429, "quota_exceeded"));
    assert!(e.message.contains('2'));
    // Quotas are per member...
    w.queued(&user("bruno"), "one");
    // ...and per UTC day.
    w.env.advance_ms(DAY_MS);
    w.queued(&ana, "three");
}

#[test]
fn a_zero_quota_turns_generation_off() {
    let w = World::with_quota(0);
    let e = refused_without_writes(&w, &user("ana"), None, req("fox"));
    assert_eq!(e.code, "quota_exceeded");
}

#[test]
fn a_prompt_the_worker_refuses_ends_refused_and_refunded() {
    let w = World::with_quota(1);
    let ana = user("ana");
    let d = w.queued(&ana, "one");
    let r = FailRequest {
        code: "content_blocked_semantic".into(),
        reason: "it reads as graphic violence (category graphic_violence)".into(),
        attempts: Some(1),
    };
    block_on(callbacks::fail(&w.store, &w.env, &d.id, r)).unwrap();
    let refused = w.draft(&d.id);
    assert_eq!(refused.status, DraftStatus::Refused);
    assert_eq!(refused.failure.unwrap().code, "content_blocked_semantic");
    assert_eq!(w.used(&ana), 0);
}

#[test]
fn a_failed_generation_refunds_its_quota_exactly_once() {
    let w = World::with_quota(1);
    let ana = user("ana");
    let d = w.queued(&ana, "one");
    assert_eq!(
        w.generate(&ana, None, req("two")).unwrap_err().code,
        "quota_exceeded"
    );
    w.start(&d.id, 1);
    let first = w.fail(&d.id);
    assert_eq!((first.status, first.decision.proceed), (200, false));
    w.fail(&d.id);
    assert_eq!(w.used(&ana), 0);
    let failed = w.draft(&d.id);
    assert_eq!(failed.status, DraftStatus::Failed);
    let failure = failed.failure.unwrap();
    assert_eq!(
        (failure.code.as_str(), failure.reason.as_str()),
        ("generation_failed", "the model crashed")
    );
    w.queued(&ana, "two");
    assert_eq!(
        w.generate(&ana, None, req("three")).unwrap_err().code,
        "quota_exceeded"
    );
}

#[test]
fn an_idempotent_retry_returns_the_same_draft_and_counts_once() {
    let w = World::with_quota(1);
    let ana = user("ana");
    let first = w.generate(&ana, Some("key-1"), req("fox")).unwrap();
    let again = w.generate(&ana, Some("key-1"), req(" fox ")).unwrap();
    assert!(again.replayed);
    assert_eq!(again.draft, first.draft);
    // Still queued: the retry writes the same job again, in case the first write was lost.
    assert_eq!(again.job, first.job);
    assert_eq!(w.used(&ana), 1);

    w.start(&first.draft.id, 1);
    let running = w.generate(&ana, Some("key-1"), req("fox")).unwrap();
    assert_eq!(running.draft.status, DraftStatus::Running);
    assert_eq!(running.job, None);

    let e = refused_without_writes(&w, &ana, Some("key-1"), req("cat"));
    assert_eq!((e.status, e.code), (422, "idempotency_mismatch"));
    // Keys belong to their member.
    let bruno = user("bruno");
    let theirs = w.generate(&bruno, Some("key-1"), req("cat")).unwrap();
    assert!(!theirs.replayed);
}

#[test]
fn an_idempotency_key_whose_request_is_still_running_is_not_doubled() {
    let w = World::new();
    let ana = user("ana");
    let hash = validate::idempotency_key("k").unwrap();
    let claim = IdempotencyRecord {
        draft_id: "01JD0000000000000000000000".into(),
        fingerprint: validate::generation(req("fox")).unwrap().fingerprint(),
        created_at_ms: crate::Env::now_ms(&w.env),
    };
    let key = keys::generation_idempotency(&ana.id, &hash);
    block_on(w.store.set(&key, &serde_json::to_vec(&claim).unwrap())).unwrap();
    let e = w.generate(&ana, Some("k"), req("fox")).unwrap_err();
    assert_eq!((e.status, e.code), (409, "idempotency_in_progress"));
    // A claim abandoned long ago (a crash) is taken over.
    w.env.advance_ms(61_000);
    let a = w.generate(&ana, Some("k"), req("fox")).unwrap();
    assert!(!a.replayed);
}

#[test]
fn abandoning_a_generation_leaves_nothing_behind() {
    let w = World::with_quota(1);
    let ana = user("ana");
    let a = w.generate(&ana, Some("key"), req("fox")).unwrap();
    block_on(abandon_generation(&w.store, &a.draft)).unwrap();
    assert!(
        block_on(record::load(&w.store, &a.draft.id))
            .unwrap()
            .is_none()
    );
    assert_eq!(w.used(&ana), 0);
    let list = block_on(list_drafts(&w.store, &ana.id, None, None)).unwrap();
    assert!(list.drafts.is_empty());
    // The key is free again and the quota usable: the retry makes a new draft.
    let retry = w.generate(&ana, Some("key"), req("fox")).unwrap();
    assert!(!retry.replayed);
    assert_ne!(retry.draft.id, a.draft.id);
}

#[test]
fn drafts_are_listed_newest_first_and_private() {
    let w = World::with_quota(100);
    let (ana, bruno) = (user("ana"), user("bruno"));
    let mut made = Vec::new();
    for i in 0..25 {
        made.push(w.queued(&ana, &format!("clip {i}")).id);
        w.env.advance_ms(1);
    }
    w.queued(&bruno, "not yours");
    made.reverse();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = block_on(list_drafts(
            &w.store,
            &ana.id,
            cursor.as_deref(),
            Some("10"),
        ))
        .unwrap();
        assert!(page.drafts.len() <= 10);
        seen.extend(page.drafts.iter().map(|d| d.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, made);
    for bad in ["0", "51", "ten"] {
        let e = block_on(list_drafts(&w.store, &ana.id, None, Some(bad))).unwrap_err();
        assert_eq!(e.code, "invalid_request");
    }
    let e = block_on(list_drafts(&w.store, &ana.id, Some("garbage"), None)).unwrap_err();
    assert_eq!(e.code, "invalid_request");

    let id = &made[0];
    assert_eq!(block_on(get_draft(&w.store, &ana.id, id)).unwrap().id, *id);
    let e = block_on(get_draft(&w.store, &bruno.id, id)).unwrap_err();
    assert_eq!((e.status, e.code), (404, "not_found"));
    assert_eq!(
        block_on(get_draft(&w.store, &ana.id, "../x"))
            .unwrap_err()
            .status,
        404
    );
}

#[test]
fn only_the_maker_deletes_and_a_queued_deletion_refunds() {
    let w = World::with_quota(1);
    let (ana, bruno) = (user("ana"), user("bruno"));
    let d = w.queued(&ana, "fox");
    let before = w.store.snapshot();
    let e = block_on(delete_draft(&w.store, &w.env, &bruno.id, &d.id)).unwrap_err();
    assert_eq!(e.status, 404);
    assert_eq!(w.store.snapshot(), before);

    block_on(delete_draft(&w.store, &w.env, &ana.id, &d.id)).unwrap();
    assert_eq!(w.used(&ana), 0);
    assert_eq!(
        block_on(get_draft(&w.store, &ana.id, &d.id))
            .unwrap_err()
            .status,
        404
    );
    assert!(
        block_on(list_drafts(&w.store, &ana.id, None, None))
            .unwrap()
            .drafts
            .is_empty()
    );
    let tombstone = w.draft(&d.id);
    assert!(tombstone.is_deleted() && tombstone.prompt.is_empty());
    assert_eq!(
        block_on(delete_draft(&w.store, &w.env, &ana.id, &d.id))
            .unwrap_err()
            .status,
        404
    );

    // The worker hears the draft is gone, and its failure report does not refund twice.
    let start = w.start(&d.id, 1);
    assert_eq!(
        (start.status, start.decision.reason.as_deref()),
        (409, Some("draft_deleted"))
    );
    assert_eq!(w.complete(&d.id).unwrap().status, 409);
    assert_eq!(w.progress(&d.id, 0.5).unwrap().status, 409);
    w.fail(&d.id);
    assert_eq!(w.used(&ana), 0);
}

#[test]
fn deleting_a_running_draft_keeps_the_charge_until_the_worker_reports_failure() {
    let w = World::new();
    let ana = user("ana");
    let d = w.queued(&ana, "fox");
    w.start(&d.id, 1);
    block_on(delete_draft(&w.store, &w.env, &ana.id, &d.id)).unwrap();
    assert_eq!(w.used(&ana), 1);
    w.fail(&d.id);
    w.fail(&d.id);
    assert_eq!(w.used(&ana), 0);
}

#[test]
fn callbacks_walk_a_draft_to_ready_in_any_order() {
    let w = World::new();
    let ana = user("ana");
    let d = w.queued(&ana, "fox");

    let a = w.start(&d.id, 1);
    assert_eq!((a.status, a.decision.proceed), (200, true));
    assert_eq!(w.draft(&d.id).status, DraftStatus::Running);
    w.progress(&d.id, 0.5).unwrap();
    w.progress(&d.id, 0.3).unwrap();
    let running = w.draft(&d.id);
    assert_eq!(
        (running.progress, running.stage.as_deref()),
        (0.5, Some("generating"))
    );

    assert_eq!(w.complete(&d.id).unwrap().status, 200);
    let ready = w.draft(&d.id);
    assert_eq!((ready.status, ready.progress), (DraftStatus::Ready, 1.0));
    // Late or repeated news changes nothing.
    let snapshot = w.store.snapshot();
    assert_eq!(w.progress(&d.id, 0.7).unwrap().status, 200);
    assert_eq!(w.complete(&d.id).unwrap().status, 200);
    assert_eq!(w.start(&d.id, 1).status, 409);
    assert_eq!(w.fail(&d.id).status, 409);
    assert_eq!(w.store.snapshot(), snapshot);
    assert_eq!(w.used(&ana), 1);

    let view = ready.view(&Signer).unwrap();
    let media = view.media.unwrap();
    assert_eq!(
        media.video_url,
        format!("https://media.test/media/{}/video.mp4?sig=1", d.id)
    );
    assert!(media.thumbnail_url.ends_with("thumb.jpg?sig=1"));
    assert_eq!(media.expires_at, "2025-01-01T00:10:00.000Z");
    assert_eq!(
        (media.width, media.height, media.duration_ms),
        (720, 1280, 10_000)
    );
}

#[test]
fn progress_and_complete_may_arrive_before_start() {
    let w = World::new();
    let d = w.queued(&user("ana"), "fox");
    w.progress(&d.id, 0.2).unwrap();
    assert_eq!(w.draft(&d.id).status, DraftStatus::Running);
    let d2 = w.queued(&user("ana"), "cat");
    w.complete(&d2.id).unwrap();
    assert_eq!(w.draft(&d2.id).status, DraftStatus::Ready);
    assert_eq!(w.start(&d2.id, 1).status, 409);
}

#[test]
fn a_new_attempt_starts_progress_over() {
    let w = World::new();
    let d = w.queued(&user("ana"), "fox");
    w.start(&d.id, 1);
    w.progress(&d.id, 0.8).unwrap();
    w.start(&d.id, 2);
    let again = w.draft(&d.id);
    assert_eq!((again.attempt, again.progress), (2, 0.0));
    // A late start from the older attempt does not rewind it.
    w.progress(&d.id, 0.1).unwrap();
    w.start(&d.id, 1);
    assert_eq!(w.draft(&d.id).attempt, 2);
}

#[test]
fn callbacks_for_unknown_jobs_and_bad_bodies_are_refused() {
    let w = World::new();
    let unknown = "01JD0000000000000000000000";
    assert_eq!(
        w.start(unknown, 1).decision.reason.as_deref(),
        Some("unknown_job")
    );
    assert_eq!(w.start("not-a-ulid", 1).status, 409);
    assert_eq!(w.complete(unknown).unwrap().status, 409);
    let d = w.queued(&user("ana"), "fox");
    assert_eq!(w.progress(&d.id, 1.5).unwrap_err().code, "invalid_request");
    assert_eq!(
        w.progress(&d.id, f64::NAN).unwrap_err().code,
        "invalid_request"
    );
    let wrong_key = CompleteRequest {
        video_key: "media/other/video.mp4".into(),
        thumbnail_key: media_keys(&d.id).1,
        duration_ms: 1000,
        width: 1,
        height: 1,
        bytes: 1,
        prompt_embedding: None,
    };
    let e = block_on(callbacks::complete(&w.store, &w.env, &d.id, wrong_key)).unwrap_err();
    assert_eq!(e.code, "invalid_request");
    let bad_code = FailRequest {
        code: "Bad Code".into(),
        reason: String::new(),
        attempts: None,
    };
    assert!(block_on(callbacks::fail(&w.store, &w.env, &d.id, bad_code)).is_err());
    assert_eq!(w.draft(&d.id).status, DraftStatus::Queued);
}

#[test]
fn long_failure_reasons_are_cut() {
    let w = World::new();
    let d = w.queued(&user("ana"), "fox");
    let r = FailRequest {
        code: "generation_failed".into(),
        reason: "x".repeat(2000),
        attempts: None,
    };
    block_on(callbacks::fail(&w.store, &w.env, &d.id, r)).unwrap();
    assert_eq!(
        w.draft(&d.id).failure.unwrap().reason.len(),
        callbacks::MAX_REASON_CHARS
    );
}

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const NONCE: &str = "00112233445566778899aabbccddeeff";

fn auth(
    w: &World,
    headers: (Option<&str>, Option<&str>, Option<&str>),
    body: &[u8],
) -> Result<(), ApiError> {
    block_on(callbacks::authenticate(
        &w.store,
        &w.env,
        KEY,
        "POST",
        "/internal/jobs/X/start",
        body,
        headers,
    ))
}

#[test]
fn callbacks_must_be_signed_fresh_and_new() {
    let w = World::new();
    let now_secs = crate::Env::now_ms(&w.env) / 1000;
    let signed =
        CallbackAuth::new(KEY).sign("POST", "/internal/jobs/X/start", b"{}", now_secs, NONCE);
    let h = (
        Some(signed.timestamp.as_str()),
        Some(signed.nonce.as_str()),
        Some(signed.signature.as_str()),
    );
    auth(&w, h, b"{}").unwrap();
    let replay = auth(&w, h, b"{}").unwrap_err();
    assert_eq!((replay.status, replay.code), (401, "callback_replayed"));

    let code = |r: Result<(), ApiError>| r.unwrap_err().code;
    assert_eq!(
        code(auth(&w, (None, None, None), b"{}")),
        "callback_unsigned"
    );
    let other = CallbackAuth::new(b"another key, also 32 bytes long!!").sign(
        "POST",
        "/internal/jobs/X/start",
        b"{}",
        now_secs,
        "ffeeddccbbaa99887766554433221100",
    );
    let h2 = (
        Some(other.timestamp.as_str()),
        Some(other.nonce.as_str()),
        Some(other.signature.as_str()),
    );
    assert_eq!(code(auth(&w, h2, b"{}")), "callback_bad_signature");
    let old = CallbackAuth::new(KEY).sign(
        "POST",
        "/internal/jobs/X/start",
        b"{}",
        now_secs - 3600,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    );
    let h3 = (
        Some(old.timestamp.as_str()),
        Some(old.nonce.as_str()),
        Some(old.signature.as_str()),
    );
    assert_eq!(code(auth(&w, h3, b"{}")), "callback_stale");
    // Refused calls do not burn their nonce: only the one good call did.
    let nonces = w
        .store
        .snapshot()
        .into_keys()
        .filter(|k| k.starts_with("callback_nonce:"))
        .count();
    assert_eq!(nonces, 1);
}

#[test]
fn publishing_needs_a_ready_draft_and_happens_once() {
    let w = World::new();
    let (ana, bruno) = (user("ana"), user("bruno"));
    let queued = w.queued(&ana, "fox");
    let e = w.publish(&ana, &queued.id, "hi").unwrap_err();
    assert_eq!((e.status, e.code), (409, "draft_not_ready"));
    assert!(e.message.contains("queued"));

    let ready = w.ready(&ana, "cat");
    assert_eq!(
        w.publish(&bruno, &ready.id, "mine now").unwrap_err().status,
        404
    );
    let e = w.publish(&ana, &ready.id, &"x".repeat(301)).unwrap_err();
    assert_eq!(e.code, "invalid_request");

    let first = w.publish(&ana, &ready.id, " first light ").unwrap();
    assert!(first.created);
    assert_eq!(first.video.id, ready.id);
    assert_eq!(first.video.caption, "first light");
    assert_eq!(first.video.owner_handle, "ana");
    let second = w.publish(&ana, &ready.id, "changed my mind").unwrap();
    assert!(!second.created);
    assert_eq!(second.video, first.video);
    assert_eq!(
        w.draft(&ready.id).video_id.as_deref(),
        Some(ready.id.as_str())
    );
    assert_eq!(
        block_on(get_video(&w.store, &ready.id)).unwrap(),
        first.video
    );

    let view = first.video.view(&Signer).unwrap();
    assert!(view.media.video_url.contains(&ready.id));
    assert_eq!(view.created_at, "2025-01-01T00:00:00.000Z");
}

#[test]
fn remix_lineage_is_kept_both_ways() {
    let w = World::new();
    let (ana, bruno) = (user("ana"), user("bruno"));
    let source = w.ready(&ana, "fox");
    w.publish(&ana, &source.id, "original").unwrap();
    let mut remixes = Vec::new();
    for i in 0..3 {
        let d = w
            .generate(
                &bruno,
                None,
                GenerationRequest {
                    remix_of: Some(source.id.clone()),
                    ..req(&format!("remix {i}"))
                },
            )
            .unwrap()
            .draft;
        w.start(&d.id, 1);
        w.complete(&d.id).unwrap();
        let v = w.publish(&bruno, &d.id, "remix").unwrap().video;
        assert_eq!(v.remix_of.as_deref(), Some(source.id.as_str()));
        // Publishing again does not list it twice.
        w.publish(&bruno, &d.id, "remix").unwrap();
        remixes.push(d.id);
    }
    // The source's maker hears of each remix once (republishing is silent).
    let inbox = block_on(crate::notifications::list(&w.store, &ana.id, None, None)).unwrap();
    let heard: Vec<_> = inbox
        .items
        .iter()
        .filter(|n| n.kind == "remix")
        .map(|n| n.subject.video_id.clone().unwrap())
        .collect();
    assert_eq!(heard, remixes.iter().rev().cloned().collect::<Vec<_>>());
    remixes.reverse();
    let list = block_on(list_remixes(&w.store, &source.id, None, None)).unwrap();
    assert_eq!(list.video_ids, remixes);
    assert_eq!(list.next_cursor, None);
    let missing = block_on(list_remixes(
        &w.store,
        "01JD0000000000000000000000",
        None,
        None,
    ));
    assert_eq!(missing.unwrap_err().status, 404);
}

#[test]
fn a_remix_whose_source_is_gone_is_refused_at_start_and_refunded() {
    let w = World::new();
    let ana = user("ana");
    let source = w.ready(&ana, "fox");
    w.publish(&ana, &source.id, "original").unwrap();
    let remix = w
        .generate(
            &ana,
            None,
            GenerationRequest {
                remix_of: Some(source.id.clone()),
                ..req("again")
            },
        )
        .unwrap()
        .draft;
    assert_eq!(w.used(&ana), 2);
    // Taken down (by a later feature) before the worker got to it.
    block_on(w.store.delete(&keys::video(&source.id))).unwrap();
    let a = w.start(&remix.id, 1);
    assert_eq!(
        (a.status, a.decision.reason.as_deref()),
        (409, Some("remix_source_removed"))
    );
    let refused = w.draft(&remix.id);
    assert_eq!(refused.status, DraftStatus::Refused);
    assert_eq!(refused.failure.unwrap().code, "remix_source_removed");
    assert_eq!(w.used(&ana), 1);
    w.start(&remix.id, 2);
    w.fail(&remix.id);
    assert_eq!(w.used(&ana), 1);
}

/// A store that lets a test run a competing write just before the next
/// compare-and-swap on a draft record, as a concurrent callback would.
struct RacingStore {
    inner: MemoryStore,
    meddle: RefCell<Option<Meddle>>,
}

type Meddle = Box<dyn FnOnce(&MemoryStore)>;

impl Store for RacingStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.inner.increment(key, delta).await
    }
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        if key.starts_with("draft:") {
            let meddle = self.meddle.borrow_mut().take();
            if let Some(meddle) = meddle {
                meddle(&self.inner);
            }
        }
        self.inner.compare_and_swap(key, expected, new).await
    }
}

#[test]
fn racing_callbacks_settle_to_one_outcome() {
    let w = World::new();
    let ana = user("ana");
    let d = w.queued(&ana, "fox");
    w.start(&d.id, 1);
    let racing = RacingStore {
        inner: MemoryStore::new(),
        meddle: RefCell::new(None),
    };
    for (k, v) in w.store.snapshot() {
        block_on(racing.inner.set(&k, &v)).unwrap();
    }
    // Two `fail`s race: the second lands between the first's read and swap.
    let env = FixedEnv::default();
    let id = d.id.clone();
    *racing.meddle.borrow_mut() = Some(Box::new(move |inner: &MemoryStore| {
        let r = FailRequest {
            code: "generation_failed".into(),
            reason: "first".into(),
            attempts: None,
        };
        block_on(callbacks::fail(inner, &FixedEnv::default(), &id, r)).unwrap();
    }));
    let r = FailRequest {
        code: "generation_failed".into(),
        reason: "second".into(),
        attempts: None,
    };
    block_on(callbacks::fail(&racing, &env, &d.id, r)).unwrap();
    let snapshot = racing.inner.snapshot();
    let day_key = keys::generation_quota(&ana.id, "2025-01-01");
    assert_eq!(snapshot.get(&day_key).map(Vec::as_slice), Some(&b"0"[..]));
    let stored: Draft = serde_json::from_slice(&snapshot[&keys::draft(&d.id)]).unwrap();
    assert_eq!(stored.failure.unwrap().reason, "first");

    // A delete lands between `complete`'s read and swap: complete is refused.
    let d2 = w.queued(&ana, "cat");
    for (k, v) in w.store.snapshot() {
        block_on(racing.inner.set(&k, &v)).unwrap();
    }
    let (id2, owner) = (d2.id.clone(), ana.id.clone());
    *racing.meddle.borrow_mut() = Some(Box::new(move |inner: &MemoryStore| {
        block_on(delete_draft(inner, &FixedEnv::default(), &owner, &id2)).unwrap();
    }));
    let (video_key, thumbnail_key) = media_keys(&d2.id);
    let done = CompleteRequest {
        video_key,
        thumbnail_key,
        duration_ms: 5000,
        width: 720,
        height: 1280,
        bytes: 10,
        prompt_embedding: None,
    };
    let answer = block_on(callbacks::complete(&racing, &env, &d2.id, done)).unwrap();
    assert_eq!(
        (answer.status, answer.decision.reason.as_deref()),
        (409, Some("draft_deleted"))
    );
}

#[test]
fn a_delete_racing_a_publish_wins_cleanly_and_a_half_done_publish_is_finished() {
    let w = World::new();
    let ana = user("ana");
    let d = w.ready(&ana, "fox");
    let racing = RacingStore {
        inner: MemoryStore::new(),
        meddle: RefCell::new(None),
    };
    for (k, v) in w.store.snapshot() {
        block_on(racing.inner.set(&k, &v)).unwrap();
    }
    let (id, owner) = (d.id.clone(), ana.id.clone());
    *racing.meddle.borrow_mut() = Some(Box::new(move |inner: &MemoryStore| {
        block_on(delete_draft(inner, &FixedEnv::default(), &owner, &id)).unwrap();
    }));
    let r = PublishRequest {
        caption: Some("hi".into()),
    };
    let e = block_on(publish(&racing, &w.env, &ana, &d.id, r)).unwrap_err();
    assert_eq!(e.status, 404);
    assert!(!racing.inner.snapshot().contains_key(&keys::video(&d.id)));

    // A publish that marked the draft but stopped before the video: the next one finishes it.
    let d2 = w.ready(&ana, "cat");
    let mut marked = w.draft(&d2.id);
    marked.video_id = Some(d2.id.clone());
    block_on(w.store.set(&keys::draft(&d2.id), &record::encode(&marked))).unwrap();
    let done = w.publish(&ana, &d2.id, "late").unwrap();
    assert!(done.created);
    assert_eq!(done.video.caption, "late");
}

#[test]
fn the_maker_hears_once_when_a_generation_is_ready_or_failed() {
    let w = World::new();
    let ana = user("ana");
    let kinds = |w: &World| -> Vec<(String, Option<String>, Option<String>)> {
        block_on(crate::notifications::list(&w.store, &ana.id, None, None))
            .unwrap()
            .items
            .into_iter()
            .map(|n| (n.kind, n.subject.draft_id, n.text))
            .collect()
    };
    let ok = w.queued(&ana, "sunrise");
    w.start(&ok.id, 1);
    w.progress(&ok.id, 0.5).unwrap();
    assert!(kinds(&w).is_empty());
    w.complete(&ok.id).unwrap();
    w.complete(&ok.id).unwrap();
    assert_eq!(
        kinds(&w),
        vec![("generation_ready".to_owned(), Some(ok.id.clone()), None)]
    );

    let bad = w.queued(&ana, "storm");
    w.fail(&bad.id);
    w.fail(&bad.id);
    let all = kinds(&w);
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0],
        (
            "generation_failed".to_owned(),
            Some(bad.id.clone()),
            Some("the model crashed".to_owned())
        )
    );

    // A deleted draft's late failure tells nobody.
    let gone = w.queued(&ana, "fog");
    block_on(delete_draft(&w.store, &w.env, &ana.id, &gone.id)).unwrap();
    w.fail(&gone.id);
    assert_eq!(kinds(&w).len(), 2);
}
