//! Who may do what: every operation in docs/openapi.json, called as
//! anonymous, the owner of the resource, another member, a member the owner
//! blocked, and an admin, against real resources (a published video, a
//! private draft, a comment, cameo settings, notifications, a device, a
//! report, a rights entry, an invite). The expected status of every cell is
//! data below; an operation the spec documents but the table lacks fails
//! the test, so a new route cannot skip the matrix.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use dreamreel_e2e::openapi::{assert_conforms, spec};
use dreamreel_e2e::{TEST_PASSWORD, TestApp};
use serde_json::{Value, json};

/// Who calls, in the order each row's statuses are written.
const ACTORS: [&str; 5] = ["anon", "owner", "other", "blocked", "admin"];
/// The order rows call actors in: the owner last, so a delete by the owner
/// cannot hide what the others would have been allowed.
const CALL_ORDER: [usize; 5] = [0, 2, 3, 4, 1];

/// One operation: `METHOD /spec/template`, the concrete path and body
/// (`{video}`-style placeholders filled from the fixture), and the status
/// each actor must get, in [`ACTORS`] order.
type Row = (&'static str, &'static str, &'static str, [u16; 5]);

/// Member routes: 401 for anonymous. Drafts, devices, invites and cameo
/// requests answer 404 to everyone but their owner: not even their
/// existence is confirmed. A member the maker blocked gets 404 for the
/// video, its likers and the maker's profile, and 403 `blocked` for
/// interactions and comment threads (taking back a like stays possible).
/// Profiles are public. Admin routes: 403 for members. Internal routes:
/// 401 for anything not signed with the callback key.
const MATRIX: &[Row] = &[
    // Public.
    ("GET /v1/health", "/v1/health", "", [200; 5]),
    ("GET /v1/openapi.json", "/v1/openapi.json", "", [200; 5]),
    ("GET /", "/", "", [200; 5]),
    ("GET /web/{asset}", "/web/{asset}", "", [200; 5]),
    ("GET /s/{code}", "/s/{share}", "", [200; 5]),
    (
        "POST /v1/auth/login",
        "/v1/auth/login",
        r#"{"handle":"ana","password":"{password}"}"#,
        [200; 5],
    ),
    (
        "POST /v1/auth/signup",
        "/v1/auth/signup",
        r#"{"invite_code":"NOPE-0000","handle":"zed","password":"{password}","birth_date":"1990-01-01","country":"US"}"#,
        [403; 5],
    ),
    // The signed-in member's own things: each member sees only their own.
    ("GET /v1/me", "/v1/me", "", [401, 200, 200, 200, 200]),
    (
        "PATCH /v1/me",
        "/v1/me",
        r#"{"bio":"hello"}"#,
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/me/blocks",
        "/v1/me/blocks",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/me/likes",
        "/v1/me/likes",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "POST /v1/me/avatar",
        "/v1/me/avatar",
        r#"{"content_type":"image/png"}"#,
        [401, 201, 201, 201, 201],
    ),
    // The owner's upload id is nobody else's; the owner has not uploaded yet.
    (
        "PUT /v1/me/avatar",
        "/v1/me/avatar",
        r#"{"upload_id":"{upload}"}"#,
        [401, 404, 404, 404, 404],
    ),
    (
        "DELETE /v1/me/avatar",
        "/v1/me/avatar",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/drafts",
        "/v1/drafts",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/notifications",
        "/v1/notifications",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/notifications/unread",
        "/v1/notifications/unread",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/notifications/stream",
        "/v1/notifications/stream",
        "",
        [401, 200, 200, 200, 200],
    ),
    // Marking another member's notification read answers as for an unknown id.
    (
        "POST /v1/notifications/read",
        "/v1/notifications/read",
        r#"{"ids":["{notification}"]}"#,
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/notifications/settings",
        "/v1/notifications/settings",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "PUT /v1/notifications/settings",
        "/v1/notifications/settings",
        r#"{"muted":[]}"#,
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/devices",
        "/v1/devices",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "POST /v1/devices",
        "/v1/devices",
        r#"{"platform":"apns","token":"{apns}"}"#,
        [401, 201, 201, 201, 201],
    ),
    (
        "DELETE /v1/devices/{id}",
        "/v1/devices/{device}",
        "",
        [401, 204, 404, 404, 404],
    ),
    (
        "GET /v1/invites",
        "/v1/invites",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "DELETE /v1/invites/{code}",
        "/v1/invites/{invite}",
        "",
        [401, 204, 404, 404, 404],
    ),
    (
        "GET /v1/feed/for-you",
        "/v1/feed/for-you",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/feed/following",
        "/v1/feed/following",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/feed/preferences",
        "/v1/feed/preferences",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "PUT /v1/feed/preferences",
        "/v1/feed/preferences",
        r#"{"text":"more lighthouses"}"#,
        [401, 200, 200, 200, 200],
    ),
    (
        "POST /v1/feed/reset",
        "/v1/feed/reset",
        "",
        [401, 204, 204, 204, 204],
    ),
    (
        "POST /v1/events",
        "/v1/events",
        r#"{"events":[{"type":"impression","video_id":"{video}"}]}"#,
        [401, 200, 200, 200, 200],
    ),
    ("GET /v1/cameo", "/v1/cameo", "", [401, 200, 200, 200, 200]),
    (
        "POST /v1/cameo/verification",
        "/v1/cameo/verification",
        "{}",
        [401, 201, 201, 201, 201],
    ),
    (
        "GET /v1/cameo/settings",
        "/v1/cameo/settings",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "PUT /v1/cameo/settings",
        "/v1/cameo/settings",
        r#"{"permission":"approved"}"#,
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/cameo/requests",
        "/v1/cameo/requests",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/cameo/appearances",
        "/v1/cameo/appearances",
        "",
        [401, 200, 200, 200, 200],
    ),
    // Generation: anyone signed in, for themselves.
    (
        "POST /v1/generations",
        "/v1/generations",
        r#"{"prompt":"a quiet harbour","duration_seconds":1}"#,
        [401, 202, 202, 202, 202],
    ),
    // A private draft: only its maker; 404 to everyone else, admins included.
    (
        "GET /v1/drafts/{id}",
        "/v1/drafts/{draft}",
        "",
        [401, 200, 404, 404, 404],
    ),
    (
        "GET /v1/videos/{id}",
        "/v1/videos/{draft}",
        "",
        [401, 404, 404, 404, 404],
    ),
    (
        "POST /v1/drafts/{id}/publish",
        "/v1/drafts/{draft}/publish",
        "{}",
        [401, 201, 404, 404, 404],
    ),
    (
        "DELETE /v1/drafts/{id}",
        "/v1/drafts/{spare_draft}",
        "",
        [401, 204, 404, 404, 404],
    ),
    // A published video: every member but the one its maker blocked.
    (
        "GET /v1/videos/{id}",
        "/v1/videos/{video}",
        "",
        [401, 200, 200, 404, 200],
    ),
    (
        "GET /v1/videos/{id}/remixes",
        "/v1/videos/{video}/remixes",
        "",
        [401, 200, 200, 404, 200],
    ),
    (
        "GET /v1/users/{handle}/videos",
        "/v1/users/ana/videos",
        "",
        [401, 200, 200, 404, 200],
    ),
    (
        "GET /v1/videos/{id}/likes",
        "/v1/videos/{video}/likes",
        "",
        [401, 200, 200, 404, 200],
    ),
    (
        "PUT /v1/videos/{id}/like",
        "/v1/videos/{video}/like",
        "",
        [401, 200, 200, 403, 200],
    ),
    (
        "DELETE /v1/videos/{id}/like",
        "/v1/videos/{video}/like",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "GET /v1/videos/{id}/comments",
        "/v1/videos/{video}/comments",
        "",
        [401, 200, 200, 403, 200],
    ),
    (
        "POST /v1/videos/{id}/comments",
        "/v1/videos/{video}/comments",
        r#"{"text":"lovely light"}"#,
        [401, 201, 201, 403, 201],
    ),
    (
        "GET /v1/comments/{id}/replies",
        "/v1/comments/{comment}/replies",
        "",
        [401, 200, 200, 403, 200],
    ),
    (
        "PUT /v1/comments/{id}/like",
        "/v1/comments/{comment}/like",
        "",
        [401, 200, 200, 403, 200],
    ),
    (
        "DELETE /v1/comments/{id}/like",
        "/v1/comments/{comment}/like",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "DELETE /v1/comments/{id}",
        "/v1/comments/{comment}",
        "",
        [401, 204, 403, 403, 403],
    ),
    (
        "POST /v1/videos/{id}/share",
        "/v1/videos/{video}/share",
        "",
        [401, 200, 201, 403, 201],
    ),
    (
        "POST /v1/reports",
        "/v1/reports",
        r#"{"target_type":"video","target_id":"{video}","reason":"spam"}"#,
        [401, 400, 201, 201, 201],
    ),
    // Another member's profile and graph: public, but hidden from the blocked.
    (
        "GET /v1/users/{handle}",
        "/v1/users/ana",
        "",
        [200, 200, 200, 404, 200],
    ),
    (
        "GET /v1/users/{handle}/followers",
        "/v1/users/ana/followers",
        "",
        [200, 200, 200, 404, 200],
    ),
    (
        "GET /v1/users/{handle}/following",
        "/v1/users/ana/following",
        "",
        [200, 200, 200, 404, 200],
    ),
    (
        "PUT /v1/users/{handle}/follow",
        "/v1/users/ana/follow",
        "",
        [401, 422, 200, 404, 200],
    ),
    (
        "DELETE /v1/users/{handle}/follow",
        "/v1/users/ana/follow",
        "",
        [401, 422, 200, 404, 200],
    ),
    // Blocking back (and unblocking) is each member's own business.
    (
        "PUT /v1/users/{handle}/block",
        "/v1/users/ana/block",
        "",
        [401, 422, 204, 204, 204],
    ),
    (
        "DELETE /v1/users/{handle}/block",
        "/v1/users/ana/block",
        "",
        [401, 422, 204, 204, 204],
    ),
    // Cameo consent (ana is verified, open to people she approves): only
    // the owner answers requests made to her; revoking is idempotent and
    // only ever touches the caller's own cameo.
    (
        "POST /v1/cameo/requests",
        "/v1/cameo/requests",
        r#"{"handle":"ana"}"#,
        [401, 400, 201, 404, 201],
    ),
    (
        "POST /v1/cameo/requests/{handle}/approve",
        "/v1/cameo/requests/bruno/approve",
        "",
        [401, 200, 404, 404, 404],
    ),
    (
        "POST /v1/cameo/requests/{handle}/deny",
        "/v1/cameo/requests/boss/deny",
        "",
        [401, 200, 404, 404, 404],
    ),
    (
        "DELETE /v1/cameo/grants/{handle}",
        "/v1/cameo/grants/bruno",
        "",
        [401, 204, 204, 204, 204],
    ),
    (
        "POST /v1/cameo/appearances/{id}/take-down",
        "/v1/cameo/appearances/{video}/take-down",
        "",
        [401, 404, 404, 404, 404],
    ),
    // Admin only.
    (
        "POST /v1/admin/invites",
        "/v1/admin/invites",
        r#"{"count":1}"#,
        [401, 403, 403, 403, 201],
    ),
    (
        "POST /v1/admin/users/{handle}/invites",
        "/v1/admin/users/ana/invites",
        r#"{"count":1}"#,
        [401, 403, 403, 403, 201],
    ),
    (
        "GET /v1/admin/reports",
        "/v1/admin/reports",
        "",
        [401, 403, 403, 403, 200],
    ),
    (
        "POST /v1/admin/reports/{id}/resolve",
        "/v1/admin/reports/{report}/resolve",
        r#"{"action":"dismiss"}"#,
        [401, 403, 403, 403, 200],
    ),
    (
        "GET /v1/admin/rights",
        "/v1/admin/rights",
        "",
        [401, 403, 403, 403, 200],
    ),
    (
        "POST /v1/admin/rights",
        "/v1/admin/rights",
        r#"{"name":"Quorblet","kind":"character","policy":"opt_out"}"#,
        [401, 403, 403, 403, 201],
    ),
    (
        "DELETE /v1/admin/rights/{id}",
        "/v1/admin/rights/{rights}",
        "",
        [401, 403, 403, 403, 204],
    ),
    // The worker's signed callbacks: a bearer token is no signature.
    (
        "POST /internal/jobs/{id}/start",
        "/internal/jobs/{draft}/start",
        "{}",
        [401; 5],
    ),
    (
        "POST /internal/jobs/{id}/progress",
        "/internal/jobs/{draft}/progress",
        r#"{"progress":0.5}"#,
        [401; 5],
    ),
    (
        "POST /internal/jobs/{id}/complete",
        "/internal/jobs/{draft}/complete",
        r#"{"video_key":"media/x.mp4","thumbnail_key":"media/x.jpg","duration_ms":1000,"width":720,"height":1280,"bytes":10}"#,
        [401; 5],
    ),
    (
        "POST /internal/jobs/{id}/fail",
        "/internal/jobs/{draft}/fail",
        r#"{"code":"boom"}"#,
        [401; 5],
    ),
    (
        "POST /internal/cameo/verifications",
        "/internal/cameo/verifications",
        r#"{"attempt_id":"x","object_key":"cameo/x.mp4","bytes":1,"uploaded_at_ms":1}"#,
        [401; 5],
    ),
    (
        "POST /internal/videos/{id}/caption-embedding",
        "/internal/videos/{video}/caption-embedding",
        r#"{"caption":"x","embedding":{"model":"all-MiniLM-L6-v2","scale":1,"values":""}}"#,
        [401; 5],
    ),
    // Sessions last: each call gets a fresh log-in, since these end sessions
    // (log-out everywhere ends the actor's every token; so does deletion).
    (
        "POST /v1/auth/refresh",
        "/v1/auth/refresh",
        "",
        [401, 200, 200, 200, 200],
    ),
    (
        "POST /v1/auth/logout",
        "/v1/auth/logout",
        "",
        [401, 204, 204, 204, 204],
    ),
    (
        "POST /v1/auth/logout-all",
        "/v1/auth/logout-all",
        "",
        [401, 204, 204, 204, 204],
    ),
    (
        "DELETE /v1/me",
        "/v1/me",
        r#"{"password":"{password}"}"#,
        [401, 200, 200, 200, 200],
    ),
];

/// Operations whose every call needs a fresh session (they end it).
const FRESH_SESSION: [&str; 4] = [
    "POST /v1/auth/refresh",
    "POST /v1/auth/logout",
    "POST /v1/auth/logout-all",
    "DELETE /v1/me",
];

/// The resources the matrix works on, by placeholder.
struct Fixture {
    app: TestApp,
    /// Tokens in [`ACTORS`] order (`None` for anonymous).
    tokens: [Option<String>; 5],
    handles: [&'static str; 5],
    values: Vec<(&'static str, String)>,
}

impl Fixture {
    fn fill(&self, text: &str) -> String {
        self.values.iter().fold(text.to_owned(), |t, (k, v)| {
            t.replace(&format!("{{{k}}}"), v)
        })
    }
}

fn ok(reply: &dreamreel_e2e::Reply, what: &str) -> Value {
    assert!(
        (200..300).contains(&reply.status),
        "{what}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    if reply.body.is_empty() {
        Value::Null
    } else {
        reply.json()
    }
}

/// Generates a clip and waits for the worker; the draft id.
fn ready_draft(app: &TestApp, token: &str, prompt: &str, seconds: u32) -> String {
    let body = json!({ "prompt": prompt, "duration_seconds": seconds }).to_string();
    let draft = ok(
        &app.api("POST", "/v1/generations", Some(token), Some(&body)),
        "generate",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let d = app.api("GET", &format!("/v1/drafts/{draft}"), Some(token), None);
        match d.json()["status"].as_str().unwrap() {
            "ready" => return draft,
            "queued" | "running" if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            other => panic!("generation ended {other}: {}", d.json()),
        }
    }
}

fn fixture() -> Fixture {
    let app = TestApp::start(&[
        ("admin_handles", "boss"),
        // The matrix logs in again for every session row.
        ("auth_rate_limits", "login_handle=1000,login_address=100000"),
    ]);
    let handles = ["", "ana", "bruno", "cyd", "boss"];
    let tokens: [Option<String>; 5] = handles.map(|h| (!h.is_empty()).then(|| app.member(h)));
    let t = |i: usize| tokens[i].as_deref();
    let (ana, bruno, boss) = (t(1), t(2), t(4));
    ok(
        &app.api("PUT", "/v1/users/cyd/block", ana, None),
        "ana blocks cyd",
    );

    let video_draft = ready_draft(&app, ana.unwrap(), "a lighthouse at dusk", 1);
    let video = ok(
        &app.api(
            "POST",
            &format!("/v1/drafts/{video_draft}/publish"),
            ana,
            Some("{}"),
        ),
        "publish",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let draft = ready_draft(&app, ana.unwrap(), "a private harbour at dawn", 1);
    let body = json!({ "prompt": "a spare field", "duration_seconds": 1 }).to_string();
    let spare_draft = ok(
        &app.api("POST", "/v1/generations", ana, Some(&body)),
        "spare draft",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let comment = ok(
        &app.api(
            "POST",
            &format!("/v1/videos/{video}/comments"),
            ana,
            Some(r#"{"text":"first light"}"#),
        ),
        "comment",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app.api("PUT", &format!("/v1/videos/{video}/like"), bruno, None),
        "like",
    );
    let inbox = ok(&app.api("GET", "/v1/notifications", ana, None), "inbox");
    let notification = inbox["notifications"][0]["id"]
        .as_str()
        .expect("the like notified ana")
        .to_owned();
    let phone = json!({ "platform": "apns", "token": "ab".repeat(32) }).to_string();
    let device = ok(&app.api("POST", "/v1/devices", ana, Some(&phone)), "device")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invite = ok(&app.api("GET", "/v1/invites", ana, None), "invites")["invites"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let share = ok(
        &app.api("POST", &format!("/v1/videos/{video}/share"), ana, None),
        "share",
    )["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let upload = ok(
        &app.api(
            "POST",
            "/v1/me/avatar",
            ana,
            Some(r#"{"content_type":"image/png"}"#),
        ),
        "avatar upload",
    )["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Ana's cameo: verified, open to people she approves; bruno and boss ask.
    verify_cameo(&app, ana.unwrap());
    ok(
        &app.api(
            "PUT",
            "/v1/cameo/settings",
            ana,
            Some(r#"{"permission":"approved","instructions":"no hats"}"#),
        ),
        "cameo settings",
    );
    let report = ok(
        &app.api(
            "POST",
            "/v1/reports",
            bruno,
            Some(
                &json!({ "target_type": "comment", "target_id": comment, "reason": "spam" })
                    .to_string(),
            ),
        ),
        "report",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rights = ok(
        &app.api(
            "POST",
            "/v1/admin/rights",
            boss,
            Some(r#"{"name":"Zindle","kind":"character","policy":"opt_out"}"#),
        ),
        "rights",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = String::from_utf8(app.call("GET", "/", None, None).body).unwrap();
    let asset = page
        .split("/web/")
        .nth(1)
        .and_then(|rest| rest.split(['"', '\'']).next())
        .expect("the page links an asset")
        .to_owned();
    let values = vec![
        ("video", video),
        ("draft", draft),
        ("spare_draft", spare_draft),
        ("comment", comment),
        ("notification", notification),
        ("device", device),
        ("invite", invite),
        ("share", share),
        ("upload", upload),
        ("report", report),
        ("rights", rights),
        ("asset", asset),
        ("apns", "cd".repeat(32)),
        ("password", TEST_PASSWORD.to_owned()),
    ];
    Fixture {
        app,
        tokens,
        handles,
        values,
    }
}

/// Fetches or uploads an absolute (presigned) object-store URL.
fn object(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> dreamreel_e2e::Reply {
    let rest = url
        .strip_prefix("http://")
        .expect("local URLs are plain HTTP");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    dreamreel_e2e::http::send(host.parse().unwrap(), method, path, headers, body).unwrap()
}

/// Verifies `token`'s cameo with a generated clip as the recording.
fn verify_cameo(app: &TestApp, token: &str) {
    let clip = ready_draft(app, token, "a face, turning left and right", 4);
    let clip = app
        .api("GET", &format!("/v1/drafts/{clip}"), Some(token), None)
        .json();
    let mp4 = object(
        "GET",
        clip["media"]["video_url"].as_str().unwrap(),
        &[],
        b"",
    );
    assert_eq!(mp4.status, 200);
    let challenge = ok(
        &app.api("POST", "/v1/cameo/verification", Some(token), Some("{}")),
        "challenge",
    );
    let put = object(
        "PUT",
        challenge["upload"]["url"].as_str().unwrap(),
        &[("content-type", "video/mp4")],
        &mp4.body,
    );
    assert_eq!(put.status, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cameo = app.api("GET", "/v1/cameo", Some(token), None).json();
        if cameo["pending_verification"].is_null() {
            return;
        }
        assert!(Instant::now() < deadline, "no verdict: {cameo}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The status of a streaming response, read from its head alone.
fn stream_status(app: &TestApp, path: &str, token: Option<&str>) -> u16 {
    let mut socket = std::net::TcpStream::connect(app.addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        socket,
        "GET {path} HTTP/1.1\r\nhost: localhost\r\n{auth}\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap() == 1 {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

fn fresh_token(fx: &Fixture, actor: usize) -> Option<String> {
    fx.tokens[actor].as_ref()?;
    let body = json!({ "handle": fx.handles[actor], "password": TEST_PASSWORD }).to_string();
    let reply = fx.app.api("POST", "/v1/auth/login", None, Some(&body));
    Some(
        ok(&reply, "log in again")["token"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

#[test]
fn every_operation_admits_exactly_the_right_callers() {
    let fx = fixture();
    private_things_stay_private(&fx);
    let mut wrong = Vec::new();
    for (op, path, body, expected) in MATRIX {
        let (method, _) = op.split_once(' ').unwrap();
        let path = fx.fill(path);
        let body = (!body.is_empty()).then(|| fx.fill(body));
        for actor in CALL_ORDER {
            let token = if FRESH_SESSION.contains(op) {
                fresh_token(&fx, actor)
            } else {
                fx.tokens[actor].clone()
            };
            let status = if *op == "GET /v1/notifications/stream" {
                stream_status(&fx.app, &path, token.as_deref())
            } else {
                let reply = fx
                    .app
                    .call(method, &path, token.as_deref(), body.as_deref());
                assert_conforms(method, &path, reply.status, &reply.body);
                reply.status
            };
            if status != expected[actor] {
                wrong.push(format!(
                    "{op} ({path}) as {}: {status}, expected {}",
                    ACTORS[actor], expected[actor]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// What the statuses alone cannot show: a refused call changed nothing,
/// and a forged callback signature is refused like a missing one.
fn private_things_stay_private(fx: &Fixture) {
    let (app, ana, bruno) = (&fx.app, fx.tokens[1].as_deref(), fx.tokens[2].as_deref());
    let unread = |t| app.api("GET", "/v1/notifications/unread", t, None).json();
    let before = unread(ana);
    let read = fx.fill(r#"{"ids":["{notification}"]}"#);
    app.api("POST", "/v1/notifications/read", bruno, Some(&read));
    assert_eq!(unread(ana), before, "bruno marked ana's notification read");
    let theirs = app.api("GET", "/v1/notifications", bruno, None).json();
    assert!(!theirs.to_string().contains(&fx.fill("{notification}")));
    app.api("DELETE", &fx.fill("/v1/devices/{device}"), bruno, None);
    let devices = app.api("GET", "/v1/devices", ana, None).json();
    assert!(
        devices.to_string().contains(&fx.fill("{device}")),
        "{devices}"
    );
    let drafts = app.api("GET", "/v1/drafts", bruno, None).json();
    assert!(!drafts.to_string().contains(&fx.fill("{draft}")));

    use dreamreel_core::jobs::callback::{NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let forged = [
        (TIMESTAMP_HEADER, now.as_str()),
        (NONCE_HEADER, "0123456789abcdef0123456789abcdef"),
        (SIGNATURE_HEADER, &"ab".repeat(32)),
        ("content-type", "application/json"),
    ];
    for path in [
        "/internal/jobs/{draft}/start",
        "/internal/cameo/verifications",
        "/internal/videos/{video}/caption-embedding",
    ] {
        let path = fx.fill(path);
        let reply = app.raw("POST", &path, &forged, b"{}");
        assert_conforms("POST", &path, reply.status, &reply.body);
        assert_eq!(reply.status, 401, "forged signature on {path}");
    }
}

#[test]
fn the_matrix_covers_every_documented_operation() {
    let documented: BTreeSet<String> = spec()["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| format!("{} {path}", m.to_ascii_uppercase()))
        })
        .collect();
    let rows: BTreeSet<String> = MATRIX.iter().map(|r| r.0.to_owned()).collect();
    let missing: Vec<_> = documented.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "operations without a matrix row: {missing:?}"
    );
    let unknown: Vec<_> = rows.difference(&documented).collect();
    assert!(
        unknown.is_empty(),
        "rows for undocumented operations: {unknown:?}"
    );
}
