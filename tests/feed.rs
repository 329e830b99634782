//! The feed through the WASM component: For You over a catalogue of
//! thousands (seeded through the core on the stack's own store, the way an
//! import would), learning from signals within a page, the Following feed
//! and video pages for videos made by the real worker, and refusals.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use dreamreel_core::studio::{Removal, Video};
use dreamreel_core::testing::block_on;
use dreamreel_core::{Store, feed, graph, ids, keys};
use dreamreel_e2e::TestApp;
use dreamreel_e2e::seed::{media, published_video};
use dreamreel_local::admin::SystemEnv;
use dreamreel_local::kv::{LabelledStore, SqliteKv};
use serde_json::{Value, json};

/// The stack's key-value store, opened natively.
struct Native {
    kv: SqliteKv,
}

impl Native {
    fn open(app: &TestApp) -> Self {
        Self {
            kv: SqliteKv::open(&app.config.kv_path()).expect("kv opens"),
        }
    }

    fn store(&self) -> LabelledStore<'_> {
        LabelledStore::new(&self.kv, "default")
    }

    /// Publishes a video as `owner` straight into the store and the feed's indexes.
    fn seed(&self, owner: &str, handle: &str, prompt: &str, n: u32) -> String {
        let now = now_ms() - 3_600_000 + u64::from(n);
        let mut random = [0u8; 10];
        random[6..].copy_from_slice(&n.to_be_bytes());
        let id = ids::ulid_from_parts(now, random);
        let video = Video {
            media: media(&id, 4000, (720, 1280), 1000),
            ..published_video(&id, owner, handle, prompt, now)
        };
        let store = self.store();
        block_on(store.set(&keys::video(&id), &serde_json::to_vec(&video).unwrap())).unwrap();
        block_on(feed::on_published(&store, &video, true)).unwrap();
        id
    }

    fn take_down(&self, id: &str) {
        let store = self.store();
        let key = keys::video(id);
        let mut video: Video =
            serde_json::from_slice(&block_on(store.get(&key)).unwrap().unwrap()).unwrap();
        video.removed = Some(Removal {
            at_ms: now_ms(),
            reason: "taken_down".into(),
        });
        block_on(store.set(&key, &serde_json::to_vec(&video).unwrap())).unwrap();
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A fake creator id (no account needed to own seeded videos).
fn creator(n: u32) -> String {
    let mut random = [0xAB; 10];
    random[6..].copy_from_slice(&n.to_be_bytes());
    ids::ulid_from_parts(1_700_000_000_000, random)
}

fn me(app: &TestApp, token: &str) -> String {
    app.api("GET", "/v1/me", Some(token), None).json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let reply = app.api("GET", path, Some(token), None);
    assert_eq!(reply.status, 200, "{path}: {}", reply.json());
    reply.json()
}

fn page_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["video"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn for_you_pages_a_large_catalogue_without_repeats_or_gaps_and_hides_what_it_must() {
    let app = TestApp::start(&[]);
    let viewer = app.member("viewer");
    let viewer_id = me(&app, &viewer);
    let blocked = app.member("blocked");
    let blocked_id = me(&app, &blocked);
    let native = Native::open(&app);

    let mut expected = HashSet::new();
    let mut hidden = HashSet::new();
    for n in 0..1500u32 {
        let maker = n % 15;
        if maker == 0 {
            hidden.insert(native.seed(&blocked_id, "blocked", "blocked stuff", n));
        } else {
            let id = native.seed(
                &creator(maker),
                &format!("maker{maker}"),
                &format!("clip {n}"),
                n,
            );
            if n % 97 == 1 {
                native.take_down(&id);
                hidden.insert(id);
            } else {
                expected.insert(id);
            }
        }
    }
    block_on(graph::block(
        &native.store(),
        &SystemEnv,
        &viewer_id,
        &blocked_id,
    ))
    .unwrap();

    let mut shown = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/feed/for-you?limit=30&cursor={c}"),
            None => "/v1/feed/for-you?limit=30".to_owned(),
        };
        let page = get(&app, &viewer, &path);
        if page["pool_exhausted"] == true {
            assert!(
                !page_ids(&page).is_empty(),
                "an exhausted pool still answers"
            );
            break;
        }
        let ids = page_ids(&page);
        assert!(!ids.is_empty() && ids.len() <= 30);
        for id in ids {
            assert!(!hidden.contains(&id), "blocked or removed content showed");
            assert!(shown.insert(id), "a video came twice");
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 80, "paging never ends");
    }
    assert_eq!(shown.len(), expected.len(), "nothing was skipped");
    assert_eq!(shown, expected);

    // A reset starts over.
    let reset = app.api("POST", "/v1/feed/reset", Some(&viewer), None);
    assert_eq!(reset.status, 204);
    let again = get(&app, &viewer, "/v1/feed/for-you");
    assert_eq!(again["pool_exhausted"], false);
    assert_eq!(page_ids(&again).len(), 10);
}

#[test]
fn watching_cooking_clips_brings_more_cooking_on_the_next_page() {
    let app = TestApp::start(&[]);
    let viewer = app.member("viewer");
    let native = Native::open(&app);
    let mut cooking = HashSet::new();
    let mut horror = HashSet::new();
    for n in 0..120u32 {
        let maker = n % 12;
        let (prompt, set) = match maker % 3 {
            0 => (
                "a chef cooking fresh pasta in a kitchen",
                Some(&mut cooking),
            ),
            1 => ("a horror scene in a haunted house", Some(&mut horror)),
            _ => ("waves rolling on a beach", None),
        };
        let id = native.seed(&creator(maker), &format!("maker{maker}"), prompt, n);
        if let Some(set) = set {
            set.insert(id);
        }
    }
    let first = get(&app, &viewer, "/v1/feed/for-you?explain=1");
    let mut events = Vec::new();
    for id in page_ids(&first) {
        events.push(json!({ "type": "impression", "video_id": id }));
        if cooking.contains(&id) {
            events.push(json!({ "type": "watch", "video_id": id, "watch_ms": 4000 }));
            events.push(json!({ "type": "complete", "video_id": id }));
        } else if horror.contains(&id) {
            events.push(json!({ "type": "skip", "video_id": id, "watch_ms": 300 }));
        }
    }
    let body = json!({ "events": events, "batch_id": "page-1" }).to_string();
    let counted = app.api("POST", "/v1/events", Some(&viewer), Some(&body));
    assert_eq!(counted.status, 200, "{}", counted.json());
    assert_eq!(counted.json()["accepted"], events.len());
    let retried = app.api("POST", "/v1/events", Some(&viewer), Some(&body));
    assert_eq!(retried.json()["duplicate"], true);

    let before = page_ids(&first)
        .iter()
        .filter(|id| cooking.contains(*id))
        .count();
    let cursor = first["next_cursor"].as_str().unwrap();
    let next = get(
        &app,
        &viewer,
        &format!("/v1/feed/for-you?explain=1&cursor={cursor}"),
    );
    let ids = page_ids(&next);
    let more = ids.iter().filter(|id| cooking.contains(*id)).count();
    let scary = ids.iter().filter(|id| horror.contains(*id)).count();
    assert!(
        more >= 6 && more > before && scary <= 1,
        "cooking {before} -> {more}, horror {scary}"
    );
    for item in next["items"].as_array().unwrap() {
        let p = item["prefetch"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert!(item["explain"]["score"].as_f64().unwrap() > 0.0);
    }
    // The top cooking clip is explained by affinity.
    let top = &next["items"][0];
    assert!(cooking.contains(top["video"]["id"].as_str().unwrap()));
    assert!(top["explain"]["affinity"].as_f64().unwrap() > 0.5);
}

/// Asks the real worker for a one-second clip and publishes it.
fn make_video(app: &TestApp, token: &str, prompt: &str, remix_of: Option<&str>) -> String {
    let mut body = json!({ "prompt": prompt, "duration_seconds": 1 });
    if let Some(src) = remix_of {
        body["remix_of"] = json!(src);
    }
    let accepted = app.api(
        "POST",
        "/v1/generations",
        Some(token),
        Some(&body.to_string()),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.json());
    let id = accepted.json()["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    loop {
        let draft = get(app, token, &format!("/v1/drafts/{id}"));
        match draft["status"].as_str() {
            Some("ready") => break,
            Some("queued" | "running") if started.elapsed() < Duration::from_secs(120) => {
                std::thread::sleep(Duration::from_millis(200))
            }
            other => panic!("draft ended {other:?}: {draft}"),
        }
    }
    let caption = json!({ "caption": prompt }).to_string();
    let published = app.api(
        "POST",
        &format!("/v1/drafts/{id}/publish"),
        Some(token),
        Some(&caption),
    );
    assert_eq!(published.status, 201, "{}", published.json());
    id
}

#[test]
fn following_a_maker_puts_their_new_video_on_the_following_feed() {
    let app = TestApp::start(&[]);
    let ana = app.member("ana");
    let bob = app.member("bob");
    let native = Native::open(&app);
    let (ana_id, bob_id) = (me(&app, &ana), me(&app, &bob));
    block_on(graph::follow(&native.store(), &SystemEnv, &ana_id, &bob_id)).unwrap();

    let original = make_video(&app, &bob, "a lighthouse in a storm", None);
    let following = get(&app, &ana, "/v1/feed/following");
    assert_eq!(page_ids(&following), std::slice::from_ref(&original));
    let item = &following["items"][0];
    assert_eq!(item["video"]["owner_handle"], "bob");
    assert!(
        item["video"]["media"]["video_url"]
            .as_str()
            .unwrap()
            .starts_with("http")
    );
    assert_eq!(item["liked_by_me"], false);

    let remix = make_video(&app, &ana, "the lighthouse at dawn", Some(&original));
    let page = get(&app, &ana, &format!("/v1/videos/{remix}"));
    assert_eq!(page["remix_source"]["id"], original);
    let tree = get(&app, &bob, &format!("/v1/videos/{original}/remixes"));
    assert_eq!(
        page_ids(&json!({ "items": tree["remixes"] })),
        std::slice::from_ref(&remix)
    );
    assert_eq!(tree["video"]["counts"]["remixes"], 1);
    let up = get(&app, &bob, &format!("/v1/videos/{remix}/remixes"));
    assert_eq!(up["ancestors"][0]["video"]["id"], original);

    let bobs = get(&app, &ana, "/v1/users/BOB/videos");
    assert_eq!(page_ids(&bobs), std::slice::from_ref(&original));
    let for_you = get(&app, &bob, "/v1/feed/for-you");
    assert_eq!(
        page_ids(&for_you),
        std::slice::from_ref(&remix),
        "one's own videos stay out of For You"
    );

    // Taken down: gone from every feed and page.
    native.take_down(&original);
    assert!(page_ids(&get(&app, &ana, "/v1/feed/following")).is_empty());
    let gone = app.api("GET", &format!("/v1/videos/{original}"), Some(&ana), None);
    assert_eq!(gone.status, 404);
}

#[test]
fn bad_feed_requests_are_refused_clearly() {
    let app = TestApp::start(&[]);
    let viewer = app.member("viewer");
    for path in [
        "/v1/feed/for-you?limit=0",
        "/v1/feed/for-you?limit=31",
        "/v1/feed/for-you?cursor=bogus",
        "/v1/feed/following?cursor=Zm8xLjEy",
        "/v1/users/nobody/videos?limit=x",
    ] {
        let reply = app.api("GET", path, Some(&viewer), None);
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "invalid_request"),
            "{path}"
        );
    }
    let unknown = app.api(
        "GET",
        "/v1/videos/01JD0000000000000000000000",
        Some(&viewer),
        None,
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(
        app.api("GET", "/v1/users/nobody/videos", Some(&viewer), None)
            .status,
        404
    );
    assert_eq!(app.api("GET", "/v1/feed/for-you", None, None).status, 401);

    let too_many: Vec<Value> = (0..101)
        .map(|_| json!({ "type": "impression", "video_id": "01JD0000000000000000000000" }))
        .collect();
    for body in [
        json!({ "events": too_many }).to_string(),
        json!({ "events": [] }).to_string(),
        json!({ "events": [{ "type": "dance", "video_id": "01JD0000000000000000000000" }] })
            .to_string(),
        json!({ "events": [{ "type": "watch", "video_id": "01JD0000000000000000000000" }] })
            .to_string(),
        "not json".to_owned(),
    ] {
        let reply = app.api("POST", "/v1/events", Some(&viewer), Some(&body));
        assert_eq!(reply.status, 400, "{body}");
    }
    let unknown_video =
        json!({ "events": [{ "type": "impression", "video_id": "01JD0000000000000000000000" }] });
    let reply = app.api(
        "POST",
        "/v1/events",
        Some(&viewer),
        Some(&unknown_video.to_string()),
    );
    assert_eq!(reply.json()["ignored"], 1);
}
