//! Faults: the key-value store or object storage failing in the middle of
//! a request, callbacks repeated and out of order, event batches sent
//! twice. Each failed write must answer a clear 5xx JSON error and leave
//! the store as if the request had not happened (or had happened whole);
//! the retry then lands exactly once.
//!
//! The sweeps fail each store write a request makes in turn, once per run
//! (`Faults::fail_nth_write`), so every cut point is tried, not just one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dreamreel_core::jobs::{CallbackAuth, media_keys};
use dreamreel_core::testing::block_on;
use dreamreel_core::{Store, ids, keys, social};
use dreamreel_e2e::seed::published_video;
use dreamreel_e2e::{Reply, TestApp};
use dreamreel_local::kv::{Faults, LabelledStore, SqliteKv};
use dreamreel_local::objects::{ObjectStore, ObjectStoreConfig, serve};
use dreamreel_sigv4::Credentials;
use serde_json::{Value, json};

/// Write limits are another helper's concern; sweeps write a lot.
const NO_WRITE_LIMIT: (&str, &str) = ("write_rate_limit", "0");

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A running app and its key-value file, opened natively to check state.
struct Rig {
    app: TestApp,
    kv: SqliteKv,
}

impl Rig {
    fn start(variables: &[(&str, &str)]) -> Self {
        let mut all = vec![NO_WRITE_LIMIT];
        all.extend_from_slice(variables);
        let app = TestApp::start(&all);
        let kv = SqliteKv::open(&app.config.kv_path()).expect("kv opens");
        Self { app, kv }
    }

    fn faults(&self) -> &Faults {
        &self.app.config.faults
    }

    fn store(&self) -> LabelledStore<'_> {
        LabelledStore::new(&self.kv, "default")
    }

    /// Any request; 5xx answers are checked by [`assert_clear_failure`].
    fn call(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Reply {
        let body = body.map(Value::to_string);
        self.app.call(method, path, Some(token), body.as_deref())
    }

    fn user_id(&self, token: &str) -> String {
        let me = self.app.api("GET", "/v1/me", Some(token), None).json();
        me["id"].as_str().expect("an id").to_owned()
    }

    /// A published video of `owner`, written straight into the store.
    fn seed_video(&self, owner: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let mut random = [0xA5u8; 10];
        random[6..].copy_from_slice(&N.fetch_add(1, Ordering::SeqCst).to_be_bytes());
        let id = ids::ulid_from_parts(now_ms(), random);
        let video = published_video(&id, owner, "maker", "seeded for faults", now_ms());
        let bytes = serde_json::to_vec(&video).unwrap();
        block_on(self.store().set(&keys::video(&id), &bytes)).unwrap();
        id
    }

    fn counts(&self, video: &str) -> social::VideoCounts {
        block_on(social::video_counts(&self.store(), &[video.to_owned()])).unwrap()[0]
    }

    fn liked(&self, user: &str, video: &str) -> bool {
        block_on(social::liked_by(&self.store(), user, &[video.to_owned()])).unwrap()[0]
    }

    fn counter(&self, key: &str) -> i64 {
        block_on(self.store().get(key))
            .unwrap()
            .map_or(0, |b| String::from_utf8(b).unwrap().parse().unwrap())
    }

    /// How many store writes `op` makes when nothing fails.
    fn writes_of(&self, op: impl FnOnce() -> Reply) -> u64 {
        self.faults().count_writes();
        let reply = op();
        let writes = self.faults().writes();
        self.faults().clear();
        assert!(reply.status < 300, "{} {}", reply.status, reply.json());
        writes
    }

    /// Runs `op` with the `n`th store write failing; whether it failed.
    fn with_nth_write_failing(&self, n: u64, op: impl FnOnce() -> Reply) -> Reply {
        self.faults().fail_nth_write(n);
        let reply = op();
        let injected = self.faults().injected();
        self.faults().clear();
        assert!(injected <= 1, "one fault per run");
        if injected == 0 {
            assert!(reply.status < 500, "no fault, no failure: {}", reply.json());
        }
        reply
    }
}

/// A write that did not happen is a 5xx with a JSON error code and message.
fn assert_clear_failure(reply: &Reply, what: &str) {
    assert!(
        (500..600).contains(&reply.status),
        "{what}: {} {:?}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    let (code, message) = (&body["error"]["code"], &body["error"]["message"]);
    assert!(
        code.as_str().is_some_and(|c| !c.is_empty())
            && message.as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    assert!(
        !message.as_str().unwrap().contains("injected"),
        "{what}: the backend's words stay out of the answer: {body}"
    );
}

#[test]
fn a_like_cut_at_any_write_stands_whole_or_not_at_all() {
    let rig = Rig::start(&[]);
    let maker = rig.app.member("maker");
    let fan = rig.app.member("fan");
    let (maker_id, fan_id) = (rig.user_id(&maker), rig.user_id(&fan));
    let like = |v: &str| format!("/v1/videos/{v}/like");
    let probe = rig.seed_video(&maker_id);
    let writes = rig.writes_of(|| rig.call("PUT", &like(&probe), &fan, None));
    assert!(writes >= 3, "a like writes lists, the edge and the count");

    let mut refused = 0;
    for n in 1..=writes {
        let video = rig.seed_video(&maker_id);
        let reply = rig.with_nth_write_failing(n, || rig.call("PUT", &like(&video), &fan, None));
        let state = (rig.liked(&fan_id, &video), rig.counts(&video).likes);
        if reply.status >= 500 {
            assert_clear_failure(&reply, &format!("like, write {n}/{writes}"));
            assert_eq!(
                state,
                (false, 0),
                "a failed like (write {n}) leaves nothing"
            );
            refused += 1;
        } else {
            assert_eq!(reply.status, 200, "{}", reply.json());
            assert_eq!(state, (true, 1), "write {n} was a side effect");
        }
        for _ in 0..2 {
            let retry = rig.call("PUT", &like(&video), &fan, None);
            assert_eq!(
                (retry.status, retry.json()["like_count"].as_u64()),
                (200, Some(1)),
                "the retry after write {n} lands once"
            );
        }

        // Unliking, cut at the same write.
        let reply = rig.with_nth_write_failing(n, || rig.call("DELETE", &like(&video), &fan, None));
        let state = (rig.liked(&fan_id, &video), rig.counts(&video).likes);
        if reply.status >= 500 {
            assert_clear_failure(&reply, &format!("unlike, write {n}"));
            assert_eq!(
                state,
                (true, 1),
                "a failed unlike (write {n}) leaves the like"
            );
        } else {
            assert_eq!(state, (false, 0), "unlike, write {n}");
        }
        let retry = rig.call("DELETE", &like(&video), &fan, None);
        assert_eq!(
            (retry.status, retry.json()["like_count"].as_u64()),
            (200, Some(0))
        );
    }
    assert!(
        refused >= 2,
        "the edge and the count writes are refused cleanly"
    );

    // A store that refuses every count write refuses the like, whole.
    let video = rig.seed_video(&maker_id);
    rig.faults().fail_writes("like_count:");
    let reply = rig.call("PUT", &like(&video), &fan, None);
    rig.faults().clear();
    assert_clear_failure(&reply, "like with counts down");
    assert_eq!(
        (rig.liked(&fan_id, &video), rig.counts(&video).likes),
        (false, 0)
    );
    // A store that cannot be read answers 5xx too, and changes nothing.
    rig.faults().fail_reads("like:");
    let reply = rig.call("PUT", &like(&video), &fan, None);
    rig.faults().clear();
    assert_clear_failure(&reply, "like with edges unreadable");
    assert_eq!(rig.call("PUT", &like(&video), &fan, None).status, 200);
    assert_eq!(rig.counts(&video).likes, 1);
}

/// The comments listed on `video` (top level), as `token` sees them.
fn listed_comments(rig: &Rig, token: &str, video: &str) -> Vec<Value> {
    let path = format!("/v1/videos/{video}/comments?sort=new");
    let reply = rig.app.api("GET", &path, Some(token), None);
    assert_eq!(reply.status, 200, "{}", reply.json());
    reply.json()["comments"].as_array().unwrap().clone()
}

#[test]
fn a_comment_cut_at_any_write_is_posted_once_or_not_at_all() {
    let rig = Rig::start(&[]);
    let maker = rig.app.member("maker");
    let fan = rig.app.member("fan");
    let maker_id = rig.user_id(&maker);
    let post = |video: &str, key: &str| {
        let auth = format!("Bearer {fan}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ];
        let body = json!({ "text": "what a view" }).to_string();
        let path = format!("/v1/videos/{video}/comments");
        rig.app.raw("POST", &path, &headers, body.as_bytes())
    };
    let probe = rig.seed_video(&maker_id);
    let writes = rig.writes_of(|| post(&probe, "probe"));

    let mut refused = 0;
    for n in 1..=writes {
        let video = rig.seed_video(&maker_id);
        let key = format!("comment-{n}");
        let reply = rig.with_nth_write_failing(n, || post(&video, &key));
        let (listed, counted) = (
            listed_comments(&rig, &maker, &video).len(),
            rig.counts(&video).comments,
        );
        if reply.status >= 500 {
            assert_clear_failure(&reply, &format!("comment, write {n}/{writes}"));
            assert_eq!(
                (listed, counted),
                (0, 0),
                "a failed comment (write {n}) leaves nothing"
            );
            refused += 1;
        } else {
            assert_eq!(reply.status, 201, "{}", reply.json());
            assert_eq!((listed, counted), (1, 1), "write {n} was a side effect");
        }
        let first = post(&video, &key);
        assert!(matches!(first.status, 200 | 201), "{}", first.json());
        let again = post(&video, &key);
        assert_eq!(
            again.json()["id"],
            first.json()["id"],
            "one comment per key"
        );
        assert_eq!(
            (
                listed_comments(&rig, &maker, &video).len(),
                rig.counts(&video).comments
            ),
            (1, 1),
            "the retry after write {n} lands once"
        );

        // Deleting it, cut at the same write.
        let path = format!("/v1/comments/{}", first.json()["id"].as_str().unwrap());
        let reply = rig.with_nth_write_failing(n, || rig.call("DELETE", &path, &fan, None));
        let state = (
            listed_comments(&rig, &maker, &video).len(),
            rig.counts(&video).comments,
        );
        if reply.status >= 500 {
            assert_clear_failure(&reply, &format!("comment delete, write {n}"));
            assert_eq!(
                state,
                (1, 1),
                "a failed delete (write {n}) leaves the comment"
            );
        } else {
            assert_eq!(reply.status, 204);
            assert_eq!(state.1, 0, "delete, write {n}");
        }
        assert!(matches!(rig.call("DELETE", &path, &fan, None).status, 204));
        assert_eq!(rig.counts(&video).comments, 0);
    }
    assert!(
        refused >= 2,
        "the record and the count writes are refused cleanly"
    );
}

/// Whether `fan` follows `handle`, by the edge, both counts and both lists.
fn follow_state(rig: &Rig, fan: &str, handle: &str) -> (bool, u64, u64, usize, usize) {
    let profile = rig
        .app
        .api("GET", &format!("/v1/users/{handle}"), Some(fan), None)
        .json();
    let me = rig.app.api("GET", "/v1/users/fan", Some(fan), None).json();
    let listed = |path: &str, field: &str| {
        let reply = rig.app.api("GET", path, Some(fan), None).json();
        reply[field].as_array().map_or(0, Vec::len)
    };
    (
        profile["relation"]["following"].as_bool().unwrap_or(false),
        profile["followers_count"].as_u64().unwrap(),
        me["following_count"].as_u64().unwrap(),
        listed(&format!("/v1/users/{handle}/followers"), "users"),
        listed("/v1/users/fan/following", "users"),
    )
}

#[test]
fn a_follow_cut_at_any_write_stands_whole_or_not_at_all() {
    let rig = Rig::start(&[]);
    let fan = rig.app.member("fan");
    rig.app.member("star");
    let path = "/v1/users/star/follow";
    let writes = rig.writes_of(|| rig.call("PUT", path, &fan, None));
    assert_eq!(follow_state(&rig, &fan, "star"), (true, 1, 1, 1, 1));
    assert_eq!(rig.call("DELETE", path, &fan, None).status, 200);

    let mut refused = 0;
    for n in 1..=writes {
        let reply = rig.with_nth_write_failing(n, || rig.call("PUT", path, &fan, None));
        let state = follow_state(&rig, &fan, "star");
        if reply.status >= 500 {
            assert_clear_failure(&reply, &format!("follow, write {n}/{writes}"));
            assert_eq!(
                state,
                (false, 0, 0, 0, 0),
                "a failed follow (write {n}) leaves nothing"
            );
            refused += 1;
        } else {
            assert_eq!(state, (true, 1, 1, 1, 1), "follow, write {n}");
        }
        assert_eq!(rig.call("PUT", path, &fan, None).status, 200);
        assert_eq!(
            follow_state(&rig, &fan, "star"),
            (true, 1, 1, 1, 1),
            "the retry after write {n} lands once, listed"
        );

        let reply = rig.with_nth_write_failing(n, || rig.call("DELETE", path, &fan, None));
        let state = follow_state(&rig, &fan, "star");
        if reply.status >= 500 {
            assert_clear_failure(&reply, &format!("unfollow, write {n}"));
            assert_eq!(
                state,
                (true, 1, 1, 1, 1),
                "a failed unfollow (write {n}) leaves it"
            );
        } else {
            assert_eq!(state, (false, 0, 0, 0, 0), "unfollow, write {n}");
        }
        assert_eq!(rig.call("DELETE", path, &fan, None).status, 200);
        assert_eq!(follow_state(&rig, &fan, "star"), (false, 0, 0, 0, 0));
    }
    assert!(refused >= 2);
}

/// The inbox as `token` sees it: notifications and the unread count.
fn inbox(rig: &Rig, token: &str) -> (Vec<Value>, u64) {
    let reply = rig
        .app
        .api("GET", "/v1/notifications?limit=50", Some(token), None)
        .json();
    (
        reply["notifications"].as_array().unwrap().clone(),
        reply["unread"].as_u64().unwrap(),
    )
}

#[test]
fn notifications_keep_their_unread_count_whatever_write_fails() {
    let rig = Rig::start(&[]);
    let maker = rig.app.member("maker");
    let maker_id = rig.user_id(&maker);
    let fans: Vec<String> = (0..3).map(|i| rig.app.member(&format!("fan{i}"))).collect();
    let probe = rig.seed_video(&maker_id);
    let writes = rig.writes_of(|| {
        rig.call(
            "POST",
            &format!("/v1/videos/{probe}/comments"),
            &fans[0],
            Some(&json!({ "text": "hi" })),
        )
    });
    // Read it all, so each run starts from zero unread.
    let read_all = || {
        let (items, _) = inbox(&rig, &maker);
        let up_to = items
            .iter()
            .filter_map(|n| n["seq"].as_u64())
            .max()
            .unwrap_or(0);
        rig.call(
            "POST",
            "/v1/notifications/read",
            &maker,
            Some(&json!({ "up_to_seq": up_to })),
        )
    };
    assert_eq!(read_all().status, 200);

    for n in 1..=writes {
        // A comment notifies the maker (no folding): cut at each write.
        let video = rig.seed_video(&maker_id);
        let path = format!("/v1/videos/{video}/comments");
        let body = json!({ "text": format!("comment {n}") });
        let reply =
            rig.with_nth_write_failing(n, || rig.call("POST", &path, &fans[0], Some(&body)));
        assert!(
            reply.status < 300 || reply.status >= 500,
            "{}",
            reply.json()
        );
        let (items, unread) = inbox(&rig, &maker);
        let unread_items = items.iter().filter(|n| n["read"] == false).count() as u64;
        assert_eq!(
            unread, unread_items,
            "write {n}: the count matches the inbox"
        );

        // Marking read, cut at each write.
        let (items, _) = inbox(&rig, &maker);
        let up_to = items
            .iter()
            .filter_map(|n| n["seq"].as_u64())
            .max()
            .unwrap_or(0);
        let mark = json!({ "up_to_seq": up_to });
        let reply = rig.with_nth_write_failing(n, || {
            rig.call("POST", "/v1/notifications/read", &maker, Some(&mark))
        });
        if reply.status >= 500 {
            assert_clear_failure(&reply, &format!("mark read, write {n}"));
        }
        let (items, unread) = inbox(&rig, &maker);
        let unread_items = items.iter().filter(|n| n["read"] == false).count() as u64;
        assert_eq!(
            unread, unread_items,
            "mark read, write {n}: the count matches"
        );
        assert_eq!(read_all().status, 200);
    }

    // Likes fold into one notification: cut each write of the second like.
    let video = rig.seed_video(&maker_id);
    let like = format!("/v1/videos/{video}/like");
    assert_eq!(rig.call("PUT", &like, &fans[0], None).status, 200);
    assert_eq!(read_all().status, 200);
    let writes = rig.writes_of(|| rig.call("PUT", &like, &fans[1], None));
    assert_eq!(rig.call("DELETE", &like, &fans[1], None).status, 200);
    assert_eq!(read_all().status, 200);
    for n in 1..=writes {
        let reply = rig.with_nth_write_failing(n, || rig.call("PUT", &like, &fans[1], None));
        assert!(
            reply.status == 200 || reply.status >= 500,
            "{}",
            reply.json()
        );
        let (items, unread) = inbox(&rig, &maker);
        let unread_items = items.iter().filter(|n| n["read"] == false).count() as u64;
        assert_eq!(unread, unread_items, "fold, write {n}: the count matches");
        assert_eq!(rig.call("DELETE", &like, &fans[1], None).status, 200);
        assert_eq!(read_all().status, 200);
    }
}

#[test]
fn a_generation_whose_writes_fail_is_refused_whole_and_costs_nothing() {
    let rig = Rig::start(&[("daily_generation_quota", "1")]);
    let request = json!({ "prompt": "a paper boat on a puddle", "duration_seconds": 1 });
    let generate = |token: &str, key: &str| {
        let auth = format!("Bearer {token}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ];
        rig.app.raw(
            "POST",
            "/v1/generations",
            &headers,
            request.to_string().as_bytes(),
        )
    };
    let drafts = |token: &str| {
        let reply = rig.app.api("GET", "/v1/drafts", Some(token), None).json();
        reply["drafts"].as_array().unwrap().len()
    };
    // Each part of the request's state, failing in turn, then the job spec's PUT.
    let cuts = ["gen_idem:", "gen_quota:", "drafts:", "draft:", "jobs/"];
    for (i, prefix) in cuts.iter().enumerate() {
        let token = rig.app.member(&format!("maker{i}"));
        if prefix.ends_with('/') {
            rig.faults().fail_object_puts(prefix, None);
        } else {
            rig.faults().fail_writes(prefix);
        }
        let reply = generate(&token, "first");
        rig.faults().clear();
        assert_clear_failure(&reply, &format!("generation with {prefix} failing"));
        assert_eq!(drafts(&token), 0, "{prefix}: no draft is left behind");
        // The quota (one a day) was not spent: the retry goes through, once.
        let retry = generate(&token, "first");
        assert_eq!(retry.status, 202, "{prefix}: {}", retry.json());
        let replay = generate(&token, "first");
        assert_eq!(replay.json()["id"], retry.json()["id"]);
        let over = generate(&token, "second");
        assert_eq!(
            (over.status, over.error_code().as_str()),
            (429, "quota_exceeded")
        );
        assert_eq!(drafts(&token), 1);
    }
}

/// Polls a draft until it leaves queued/running.
fn settled(rig: &Rig, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let draft = rig
            .app
            .api("GET", &format!("/v1/drafts/{id}"), Some(token), None)
            .json();
        match draft["status"].as_str() {
            Some("queued" | "running") if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            _ => return draft,
        }
    }
}

#[test]
fn the_workers_upload_failing_is_retried_and_failing_for_good_refunds() {
    let rig = Rig::start(&[("daily_generation_quota", "1")]);
    let request = json!({ "prompt": "a kite over dunes", "duration_seconds": 1 });
    let body = Some(&request);

    // S3 refuses a few uploads: the worker's next attempt gets through.
    let ana = rig.app.member("ana");
    rig.faults().fail_object_puts("media/", Some(3));
    let accepted = rig.call("POST", "/v1/generations", &ana, body);
    assert_eq!(accepted.status, 202, "{}", accepted.json());
    let id = accepted.json()["id"].as_str().unwrap().to_owned();
    let draft = settled(&rig, &ana, &id);
    let injected = rig.faults().injected();
    rig.faults().clear();
    assert_eq!(draft["status"], "ready", "{draft}");
    assert!(injected >= 1, "the upload was refused at least once");
    let published = rig.call(
        "POST",
        &format!("/v1/drafts/{id}/publish"),
        &ana,
        Some(&json!({})),
    );
    assert_eq!(published.status, 201, "{}", published.json());

    // S3 refuses every upload: the draft fails and the generation is given back.
    let bruno = rig.app.member("bruno");
    rig.faults().fail_object_puts("media/", None);
    let accepted = rig.call("POST", "/v1/generations", &bruno, body);
    assert_eq!(accepted.status, 202, "{}", accepted.json());
    let id = accepted.json()["id"].as_str().unwrap().to_owned();
    let draft = settled(&rig, &bruno, &id);
    rig.faults().clear();
    assert_eq!(draft["status"], "failed", "{draft}");
    let again = rig.call("POST", "/v1/generations", &bruno, body);
    assert_eq!(
        again.status,
        202,
        "the quota was refunded: {}",
        again.json()
    );
}

#[test]
fn event_batches_count_once_in_any_order_and_a_failed_one_is_not_lost() {
    let rig = Rig::start(&[]);
    let maker = rig.app.member("maker");
    let viewer = rig.app.member("viewer");
    let maker_id = rig.user_id(&maker);
    let (a, b) = (rig.seed_video(&maker_id), rig.seed_video(&maker_id));
    let batch = |id: &str, first: &str, second: &str| {
        json!({ "batch_id": id, "events": [
            { "type": "impression", "video_id": first },
            { "type": "complete", "video_id": first },
            { "type": "impression", "video_id": second },
        ] })
    };
    let send = |body: &Value| rig.call("POST", "/v1/events", &viewer, Some(body));
    let totals = || {
        (
            rig.counter(&keys::video_stat(&a, "imp")),
            rig.counter(&keys::video_stat(&a, "done")),
            rig.counter(&keys::video_stat(&b, "imp")),
        )
    };
    // Sent twice (a retry) and out of order with another batch.
    let second = send(&batch("batch-2", &b, &a));
    assert_eq!(second.json()["duplicate"], false);
    let first = send(&batch("batch-1", &a, &b));
    assert_eq!(first.json()["accepted"], 3);
    let again = send(&batch("batch-1", &a, &b));
    assert_eq!(
        (again.status, again.json()["duplicate"].clone()),
        (200, json!(true))
    );
    assert_eq!(
        totals(),
        (2, 1, 2),
        "each batch counted once, whatever the order"
    );

    // A batch cut at each write: a clear error, and the retry counts it.
    let writes = rig.writes_of(|| send(&batch("probe", &a, &b)));
    for n in 1..=writes {
        let before = totals();
        let id = format!("cut-{n}");
        let reply = rig.with_nth_write_failing(n, || send(&batch(&id, &a, &b)));
        if reply.status >= 500 {
            assert_clear_failure(&reply, &format!("events, write {n}/{writes}"));
        }
        let retry = send(&batch(&id, &a, &b));
        assert_eq!(retry.status, 200, "{}", retry.json());
        let after = totals();
        assert!(
            after.0 > before.0 && after.1 > before.1 && after.2 > before.2,
            "write {n}: nothing of the batch is lost ({before:?} -> {after:?})"
        );
        assert_eq!(send(&batch(&id, &a, &b)).json()["duplicate"], true);
    }
}

// ---- Callbacks repeated and out of order, without a worker ----

const CALLBACK_KEY: &str = "faults-test-callback-key-0123456789abcdef";
const KEY_ID: &str = "faults-test-key";
const SECRET: &str = "faults-test-secret-0123456789";

/// An app whose jobs go to an object store of the test's own, so no worker
/// runs them: the test plays the worker's callbacks itself.
struct NoWorker {
    rig: Rig,
    _objects: ObjectStore,
    _runtime: tokio::runtime::Runtime,
    shutdown: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Drop for NoWorker {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn no_worker(daily_quota: &str) -> NoWorker {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = ObjectStoreConfig::new(dir.path().join("objects"));
    config.credentials.push(Credentials::new(KEY_ID, SECRET));
    config.buckets.push("dreamreel".to_owned());
    let objects = ObjectStore::open(config).unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, rx) = tokio::sync::watch::channel(false);
    runtime.spawn(serve(listener, objects.clone(), Arc::new(()), rx));
    let rig = Rig::start(&[
        ("daily_generation_quota", daily_quota),
        ("callback_key", CALLBACK_KEY),
        ("s3_endpoint", &endpoint),
        ("s3_access_key_id", KEY_ID),
        ("s3_secret_access_key", SECRET),
    ]);
    NoWorker {
        rig,
        _objects: objects,
        _runtime: runtime,
        shutdown,
        _dir: dir,
    }
}

impl NoWorker {
    /// A freshly signed callback, as the worker sends it.
    fn callback(&self, id: &str, action: &str, body: &Value) -> Reply {
        static NONCE: AtomicU64 = AtomicU64::new(0);
        let path = format!("/internal/jobs/{id}/{action}");
        let body = body.to_string();
        let nonce = format!(
            "{:016x}{:016x}",
            now_ms(),
            NONCE.fetch_add(1, Ordering::SeqCst)
        );
        let signed = CallbackAuth::new(CALLBACK_KEY.as_bytes()).sign(
            "POST",
            &path,
            body.as_bytes(),
            now_ms() / 1000,
            &nonce,
        );
        let mut headers: Vec<(&str, &str)> = signed.pairs().into_iter().collect();
        headers.push(("content-type", "application/json"));
        self.rig.app.raw("POST", &path, &headers, body.as_bytes())
    }

    fn complete(&self, id: &str) -> Reply {
        let (video_key, thumbnail_key) = media_keys(id);
        self.callback(
            id,
            "complete",
            &json!({ "video_key": video_key, "thumbnail_key": thumbnail_key,
                     "duration_ms": 1000, "width": 720, "height": 1280, "bytes": 19 }),
        )
    }
}

#[test]
fn callbacks_repeated_reordered_or_cut_make_one_draft_and_one_notice() {
    let w = no_worker("1");
    let ana = w.rig.app.member("ana");
    let request = json!({ "prompt": "fireflies in a jar", "duration_seconds": 1 });
    let accepted = w.rig.call("POST", "/v1/generations", &ana, Some(&request));
    assert_eq!(accepted.status, 202, "{}", accepted.json());
    let id = accepted.json()["id"].as_str().unwrap().to_owned();
    let draft = || {
        w.rig
            .app
            .api("GET", &format!("/v1/drafts/{id}"), Some(&ana), None)
            .json()
    };

    // `complete` cut by a store failure: the worker hears 5xx and sends it again.
    w.rig.faults().fail_writes("draft:");
    let cut = w.complete(&id);
    w.rig.faults().clear();
    assert_clear_failure(&cut, "complete with drafts unwritable");
    assert_eq!(draft()["status"], "queued");

    // `complete` before `start`, then twice more; late `progress`, `start`, `fail`.
    for _ in 0..3 {
        assert_eq!(w.complete(&id).status, 200);
    }
    assert_eq!(draft()["status"], "ready");
    let progress = w.callback(
        &id,
        "progress",
        &json!({ "progress": 0.3, "stage": "generating" }),
    );
    assert_eq!(progress.status, 200);
    let start = w.callback(&id, "start", &json!({ "attempt": 2 }));
    assert_eq!(
        (start.status, start.json()["proceed"].clone()),
        (409, json!(false))
    );
    let fail = w.callback(
        &id,
        "fail",
        &json!({ "code": "generation_failed", "reason": "late" }),
    );
    assert_eq!(fail.status, 409);
    let ready = draft();
    assert_eq!(
        (ready["status"].as_str(), ready["progress"].as_f64()),
        (Some("ready"), Some(1.0))
    );

    // One draft, one "ready" notice, and the late `fail` refunded nothing.
    let drafts = w.rig.app.api("GET", "/v1/drafts", Some(&ana), None).json();
    assert_eq!(drafts["drafts"].as_array().unwrap().len(), 1);
    let (items, _) = inbox(&w.rig, &ana);
    let ready_notices = items
        .iter()
        .filter(|n| n["kind"] == "generation_ready")
        .count();
    assert_eq!(ready_notices, 1, "{items:?}");
    let over = w.rig.call("POST", "/v1/generations", &ana, Some(&request));
    assert_eq!(over.status, 429, "{}", over.json());
}

#[test]
fn a_publish_cut_at_any_write_makes_one_video() {
    let w = no_worker("100");
    let rig = &w.rig;
    let ana = rig.app.member("ana");
    // Drafts made ready by a `complete` callback, one per cut.
    let request = json!({ "prompt": "a lantern on a pier", "duration_seconds": 1 });
    let ready = |i: u64| {
        let reply = rig.call("POST", "/v1/generations", &ana, Some(&request));
        assert_eq!(reply.status, 202, "draft {i}: {}", reply.json());
        let id = reply.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(w.complete(&id).status, 200);
        id
    };
    let publish = |id: &str| {
        let caption = json!({ "caption": "pier" });
        rig.call(
            "POST",
            &format!("/v1/drafts/{id}/publish"),
            &ana,
            Some(&caption),
        )
    };
    let probe = ready(0);
    let writes = rig.writes_of(|| publish(&probe));
    for n in 1..=writes {
        let id = ready(n);
        let reply = rig.with_nth_write_failing(n, || publish(&id));
        let video = rig
            .app
            .call("GET", &format!("/v1/videos/{id}"), Some(&ana), None);
        let draft = rig
            .app
            .api("GET", &format!("/v1/drafts/{id}"), Some(&ana), None)
            .json();
        if reply.status >= 500 {
            assert_clear_failure(&reply, &format!("publish, write {n}/{writes}"));
            // No video means the draft is not marked published either; a
            // video that stands is finished by the retry.
            if video.status == 404 {
                assert_eq!(draft["video_id"], Value::Null, "write {n}: {draft}");
            }
        } else {
            assert_eq!(reply.status, 201, "{}", reply.json());
        }
        for _ in 0..2 {
            let retry = publish(&id);
            assert!(
                matches!(retry.status, 200 | 201),
                "write {n}: {}",
                retry.json()
            );
            assert_eq!(retry.json()["id"], id.as_str());
        }
        let video = rig
            .app
            .api("GET", &format!("/v1/videos/{id}"), Some(&ana), None);
        assert_eq!(video.status, 200, "write {n}");
        let mine = rig
            .app
            .api("GET", "/v1/users/ana/videos?limit=30", Some(&ana), None)
            .json();
        let listed = mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["video"]["id"] == id.as_str())
            .count();
        assert_eq!(
            listed, 1,
            "write {n}: the video is listed once on its maker's page"
        );
    }
}
