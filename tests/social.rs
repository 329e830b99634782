//! Likes, comments and shares through the WASM components: each endpoint
//! and its refusals on a video made by the real worker, retries that must
//! not double anything, notifications reaching the maker's inbox, the share
//! page, and many members liking and unliking one video at once.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use dreamreel_core::studio::{Removal, Video};
use dreamreel_core::testing::block_on;
use dreamreel_core::{Store, ids, keys, social};
use dreamreel_e2e::TestApp;
use dreamreel_e2e::http::{Conn, Reply};
use dreamreel_e2e::openapi::assert_conforms;
use dreamreel_e2e::seed::published_video;
use dreamreel_local::kv::{LabelledStore, SqliteKv};
use serde_json::{Value, json};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn me(app: &TestApp, token: &str) -> Value {
    app.api("GET", "/v1/me", Some(token), None).json()
}

/// Generates, waits for the worker and publishes: a real video.
fn publish(app: &TestApp, token: &str, prompt: &str, caption: &str) -> String {
    let body = json!({ "prompt": prompt, "duration_seconds": 1 }).to_string();
    let reply = app.api("POST", "/v1/generations", Some(token), Some(&body));
    assert_eq!(reply.status, 202, "{}", reply.json());
    let draft = reply.json()["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let d = app.api("GET", &format!("/v1/drafts/{draft}"), Some(token), None);
        match d.json()["status"].as_str().unwrap() {
            "ready" => break,
            "queued" | "running" => {}
            other => panic!("generation ended {other}: {}", d.json()),
        }
        assert!(Instant::now() < deadline, "the generation finishes");
        std::thread::sleep(Duration::from_millis(200));
    }
    let body = json!({ "caption": caption }).to_string();
    let path = format!("/v1/drafts/{draft}/publish");
    let published = app.api("POST", &path, Some(token), Some(&body));
    assert_eq!(published.status, 201, "{}", published.json());
    published.json()["id"].as_str().unwrap().to_owned()
}

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

    /// A published video by `owner`, written straight into the store.
    fn seed(&self, owner: &str, handle: &str, n: u32) -> String {
        let mut random = [0x5Au8; 10];
        random[6..].copy_from_slice(&n.to_be_bytes());
        let id = ids::ulid_from_parts(now_ms(), random);
        let video = published_video(&id, owner, handle, "seeded", now_ms());
        let bytes = serde_json::to_vec(&video).unwrap();
        block_on(self.store().set(&keys::video(&id), &bytes)).unwrap();
        id
    }

    fn take_down(&self, id: &str) {
        let store = self.store();
        let key = keys::video(id);
        let raw = block_on(store.get(&key)).unwrap().unwrap();
        let mut video: Video = serde_json::from_slice(&raw).unwrap();
        video.removed = Some(Removal {
            at_ms: now_ms(),
            reason: "taken_down".into(),
        });
        block_on(store.set(&key, &serde_json::to_vec(&video).unwrap())).unwrap();
    }

    fn likes(&self, id: &str) -> u64 {
        block_on(social::video_counts(&self.store(), &[id.to_owned()])).unwrap()[0].likes
    }
}

/// Like [`TestApp::api`] with extra headers.
fn api_with(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let auth = format!("Bearer {token}");
    let mut all = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    all.extend_from_slice(headers);
    let reply = app.raw(method, path, &all, body.as_bytes());
    assert_conforms(method, path, reply.status, &reply.body);
    reply
}

fn inbox(app: &TestApp, token: &str) -> HashMap<String, Value> {
    let reply = app.api("GET", "/v1/notifications?limit=50", Some(token), None);
    reply.json()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap().to_owned(), n.clone()))
        .collect()
}

/// All pages of a listing whose items sit under `field`.
fn all_pages(app: &TestApp, token: &str, path: &str, field: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=7&cursor={c}"),
            None => format!("{path}{sep}limit=7"),
        };
        let page = app.api("GET", &url, Some(token), None);
        assert_eq!(page.status, 200, "{}", page.json());
        let page = page.json();
        out.extend(page[field].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

#[test]
fn likes_are_idempotent_listed_counted_and_notified() {
    let app = TestApp::start(&[]);
    let maker = app.member("maker");
    let fan = app.member("fan");
    let video = publish(&app, &maker, "a lighthouse in fog", "foggy");
    let like = format!("/v1/videos/{video}/like");

    let no_session = app.api("PUT", &like, None, None);
    assert_eq!(
        (no_session.status, no_session.error_code().as_str()),
        (401, "unauthorized")
    );
    for _ in 0..2 {
        let r = app.api("PUT", &like, Some(&fan), None);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json(),
            json!({ "video_id": video, "liked": true, "like_count": 1 })
        );
    }
    let likers = app.api(
        "GET",
        &format!("/v1/videos/{video}/likes"),
        Some(&maker),
        None,
    );
    assert_eq!(likers.json()["likes"][0]["handle"], "fan");
    let mine = app.api("GET", "/v1/me/likes", Some(&fan), None).json();
    assert_eq!(mine["videos"][0]["video_id"], video.as_str());

    let notes = inbox(&app, &maker);
    assert_eq!(notes["like"]["count"], 1, "{:?}", notes);
    assert_eq!(notes["like"]["actors"][0]["handle"], "fan");
    assert_eq!(notes["like"]["subject"]["video_id"], video.as_str());

    for _ in 0..2 {
        let r = app.api("DELETE", &like, Some(&fan), None);
        assert_eq!(r.json()["like_count"], 0);
        assert_eq!(r.json()["liked"], false);
    }
    assert_eq!(
        app.api("GET", "/v1/me/likes", Some(&fan), None).json()["videos"],
        json!([])
    );

    let unknown = format!("/v1/videos/{}/like", ids::ulid_from_parts(1, [1; 10]));
    for path in [unknown.as_str(), "/v1/videos/nope/like"] {
        let r = app.api("PUT", path, Some(&fan), None);
        assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));
    }
    let bad = app.api(
        "GET",
        &format!("/v1/videos/{video}/likes?limit=0"),
        Some(&fan),
        None,
    );
    assert_eq!(bad.status, 400);
    let bad = app.api("GET", "/v1/me/likes?cursor=zz", Some(&fan), None);
    assert_eq!(bad.status, 400);

    // Blocked either way: refused.
    let block = app.api("PUT", "/v1/users/fan/block", Some(&maker), None);
    assert!(block.status < 300, "block: {}", block.status);
    let r = app.api("PUT", &like, Some(&fan), None);
    assert_eq!((r.status, r.error_code().as_str()), (403, "blocked"));
}

#[test]
fn comments_threads_deletion_and_comment_likes() {
    let app = TestApp::start(&[]);
    let maker = app.member("maker");
    let ana = app.member("ana");
    let bo = app.member("bob");
    let native = Native::open(&app);
    let maker_id = me(&app, &maker)["id"].as_str().unwrap().to_owned();
    let video = native.seed(&maker_id, "maker", 1);
    let comments = format!("/v1/videos/{video}/comments");
    let post =
        |token: &str, body: Value| app.api("POST", &comments, Some(token), Some(&body.to_string()));

    // Refusals change nothing.
    let too_long = post(&ana, json!({ "text": "x".repeat(501) }));
    assert_eq!(
        (too_long.status, too_long.error_code().as_str()),
        (400, "invalid_request")
    );
    assert_eq!(post(&ana, json!({ "text": " \u{200B} " })).status, 400);
    assert_eq!(post(&ana, json!({ "txt": "hi" })).status, 400);
    assert_eq!(app.api("POST", &comments, None, Some("{}")).status, 401);
    let unknown = format!("/v1/videos/{}/comments", ids::ulid_from_parts(1, [2; 10]));
    let r = app.api(
        "POST",
        &unknown,
        Some(&ana),
        Some(&json!({ "text": "hi" }).to_string()),
    );
    assert_eq!(r.status, 404);
    let listed = app.api("GET", &comments, Some(&ana), None).json();
    assert_eq!(listed["comments"], json!([]));

    // A retried post with its Idempotency-Key is one comment.
    let body = json!({ "text": "  first!  " }).to_string();
    let key = [("idempotency-key", "ana-c1")];
    let first = api_with(&app, "POST", &comments, &ana, &key, &body);
    let retry = api_with(&app, "POST", &comments, &ana, &key, &body);
    assert_eq!((first.status, retry.status), (201, 200));
    assert_eq!(first.json()["id"], retry.json()["id"]);
    assert_eq!(first.json()["text"], "first!");
    let c1 = first.json()["id"].as_str().unwrap().to_owned();
    let c2 = post(&bo, json!({ "text": "second" })).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Replies: one level; a reply to a reply joins the root's thread.
    let r1 = post(&bo, json!({ "text": "reply", "reply_to": c1 }));
    assert_eq!(r1.status, 201);
    let r1 = r1.json()["id"].as_str().unwrap().to_owned();
    let r2 = post(&ana, json!({ "text": "reply to reply", "reply_to": r1 })).json();
    assert_eq!(r2["parent_id"], c1.as_str());
    let replies = app
        .api(
            "GET",
            &format!("/v1/comments/{c1}/replies"),
            Some(&maker),
            None,
        )
        .json();
    let texts: Vec<_> = replies["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].clone())
        .collect();
    assert_eq!(texts, [json!("reply to reply"), json!("reply")]);

    // Comment likes: idempotent; top-first follows them.
    let like_c2 = format!("/v1/comments/{c2}/like");
    for _ in 0..2 {
        let r = app.api("PUT", &like_c2, Some(&ana), None);
        assert_eq!(
            r.json(),
            json!({ "comment_id": c2, "liked": true, "like_count": 1 })
        );
    }
    let new: Vec<_> = all_pages(&app, &maker, &comments, "comments")
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(new, [json!(c2), json!(c1)]);
    let top = app
        .api("GET", &format!("{comments}?sort=top"), Some(&maker), None)
        .json();
    assert_eq!(top["comments"][0]["id"], c2.as_str());
    assert_eq!(top["comments"][1]["reply_count"], 2);
    assert_eq!(
        app.api("GET", &format!("{comments}?sort=old"), Some(&maker), None)
            .status,
        400
    );
    assert_eq!(native_comment_count(&native, &video), 4);

    // The maker heard of the comments, the authors of replies and likes.
    assert_eq!(
        inbox(&app, &maker)["comment"]["subject"]["video_id"],
        video.as_str()
    );
    assert!(inbox(&app, &ana).contains_key("reply"));
    assert!(inbox(&app, &bo).contains_key("comment_like"));

    // Deleting: not someone else's; the author and the maker may.
    let r = app.api("DELETE", &format!("/v1/comments/{c2}"), Some(&ana), None);
    assert_eq!((r.status, r.error_code().as_str()), (403, "not_allowed"));
    assert_eq!(
        app.api("DELETE", &format!("/v1/comments/{c2}"), Some(&maker), None)
            .status,
        204
    );
    assert_eq!(
        app.api("DELETE", &format!("/v1/comments/{c2}"), Some(&bo), None)
            .status,
        204
    );
    assert_eq!(
        app.api("DELETE", &format!("/v1/comments/{r1}"), Some(&bo), None)
            .status,
        204
    );
    assert_eq!(app.api("PUT", &like_c2, Some(&bo), None).status, 404);
    assert_eq!(native_comment_count(&native, &video), 2);
    let missing = format!("/v1/comments/{}", ids::ulid_from_parts(1, [3; 10]));
    assert_eq!(app.api("DELETE", &missing, Some(&bo), None).status, 404);

    // A taken-down video takes no comments.
    native.take_down(&video);
    assert_eq!(post(&ana, json!({ "text": "late" })).status, 404);
}

fn native_comment_count(native: &Native, video: &str) -> u64 {
    block_on(social::video_counts(&native.store(), &[video.to_owned()])).unwrap()[0].comments
}

#[test]
fn shares_make_one_link_per_member_and_a_preview_page() {
    let app = TestApp::start(&[]);
    let maker = app.member("maker");
    let fan = app.member("fan");
    let video = publish(&app, &maker, "kites over <dunes>", "Kites & \"dunes\"");
    let share = format!("/v1/videos/{video}/share");
    assert_eq!(app.api("POST", &share, None, None).status, 401);
    let first = app.api("POST", &share, Some(&fan), None);
    let again = app.api("POST", &share, Some(&fan), None);
    assert_eq!((first.status, again.status), (201, 200));
    let (first, again) = (first.json(), again.json());
    assert_eq!(first["code"], again["code"]);
    assert_eq!(
        (first["share_count"].as_u64(), again["share_count"].as_u64()),
        (Some(1), Some(1))
    );
    let code = first["code"].as_str().unwrap().to_owned();
    assert_eq!(first["url"], format!("http://{}/s/{code}", app.addr));
    assert_eq!(inbox(&app, &maker)["share"]["actors"][0]["handle"], "fan");

    let page = app.api("GET", &format!("/s/{code}"), None, None);
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains("<meta property=\"og:title\" content=\"Kites &amp; &quot;dunes&quot; (@maker on Dreamreel)\">"), "{html}");
    assert!(html.contains(&format!("dreamreel://v/{video}")));
    assert!(html.contains("og:video:type"));
    // The preview's thumbnail and clip links work.
    for (prop, kind) in [("og:image", "image/jpeg"), ("og:video", "video/mp4")] {
        let needle = format!("property=\"{prop}\" content=\"");
        let start = html.find(&needle).unwrap() + needle.len();
        let url = html[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&");
        let rest = url
            .strip_prefix("http://")
            .expect("local media is plain HTTP");
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let media =
            dreamreel_e2e::http::send(host.parse().unwrap(), "GET", path, &[], b"").unwrap();
        assert_eq!(media.status, 200, "{prop} {url}");
        assert_eq!(media.header("content-type"), Some(kind));
    }

    for code in ["nope", "AAAAAAAAAA"] {
        let r = app.api("GET", &format!("/s/{code}"), None, None);
        assert_eq!(r.status, 404);
    }
    assert_eq!(
        app.api("PUT", &format!("/s/{code}"), None, Some("{}"))
            .status,
        405
    );
    let draft_like = format!("/v1/videos/{}/share", ids::ulid_from_parts(1, [4; 10]));
    assert_eq!(app.api("POST", &draft_like, Some(&fan), None).status, 404);

    // Taken down: neither shared nor previewed.
    Native::open(&app).take_down(&video);
    assert_eq!(
        app.api("GET", &format!("/s/{code}"), None, None).status,
        404
    );
    assert_eq!(app.api("POST", &share, Some(&maker), None).status, 404);
}

#[test]
fn concurrent_likes_and_unlikes_settle_on_each_members_last_action() {
    const MEMBERS: usize = 24;
    const ACTIONS: usize = 8;
    let app = TestApp::start(&[]);
    let maker = app.member("maker");
    let maker_id = me(&app, &maker)["id"].as_str().unwrap().to_owned();
    let native = Native::open(&app);
    let video = native.seed(&maker_id, "maker", 7);
    let tokens: Vec<String> = (0..MEMBERS)
        .map(|i| app.member(&format!("fan{i}")))
        .collect();
    let path = format!("/v1/videos/{video}/like");
    let barrier = std::sync::Barrier::new(MEMBERS);
    let last: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let (path, barrier, addr) = (&path, &barrier, app.addr);
                s.spawn(move || {
                    let mut conn = Conn::open(addr).expect("connect");
                    let auth = format!("Bearer {token}");
                    barrier.wait();
                    let mut liked = false;
                    for step in 0..ACTIONS {
                        // A per-member pattern, with repeats standing in for client retries.
                        let like = (i * 7 + step * 3) % 5 < 3;
                        let method = if like { "PUT" } else { "DELETE" };
                        let reply = loop {
                            let r = conn
                                .send(method, path, &[("authorization", &auth)], b"")
                                .unwrap();
                            if r.status != 503 {
                                break r;
                            }
                        };
                        assert_eq!(reply.status, 200, "{}", reply.json());
                        assert_eq!(reply.json()["liked"], like);
                        liked = like;
                    }
                    liked
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let expected = last.iter().filter(|l| **l).count();
    assert!(
        expected > 0 && expected < MEMBERS,
        "the pattern mixes outcomes"
    );
    assert_eq!(native.likes(&video), expected as u64);
    let listed: BTreeSet<String> =
        all_pages(&app, &maker, &format!("/v1/videos/{video}/likes"), "likes")
            .iter()
            .map(|l| l["handle"].as_str().unwrap().to_owned())
            .collect();
    let want: BTreeSet<String> = last
        .iter()
        .enumerate()
        .filter(|(_, l)| **l)
        .map(|(i, _)| format!("fan{i}"))
        .collect();
    assert_eq!(listed, want);
}
