//! Hostile requests through the WASM components: oversized and malformed
//! bodies, header floods, path tricks in ids, tampered cursors and query
//! bombs. Each must get a clear JSON 4xx naming the problem, and the store
//! must read exactly as before (docs/RELIABILITY.md, "Hostile input").

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dreamreel_core::{ids, keys};
use dreamreel_e2e::TestApp;
use dreamreel_e2e::http::Reply;
use dreamreel_e2e::seed::published_video;
use dreamreel_local::kv::SqliteKv;
use serde_json::json;

/// Every key and value in the app's store, except rate-limit counters
/// (a refused write still counts against its sender, by design).
fn snapshot(app: &TestApp) -> BTreeMap<String, Vec<u8>> {
    let kv = SqliteKv::open(&app.config.kv_path()).expect("kv opens");
    let keys: Vec<String> = kv
        .keys("default")
        .expect("keys list")
        .into_iter()
        .filter(|k| !k.starts_with("rate:"))
        .collect();
    let values = kv.get_many("default", &keys).expect("values read");
    keys.into_iter()
        .zip(values)
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
}

/// One hostile request and the answer it must get.
struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn case(what: &'static str, method: &'static str, path: impl Into<String>) -> Case {
    Case {
        what,
        method,
        path: path.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Vec::new(),
        status: 400,
        code: "invalid_request",
    }
}

impl Case {
    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    fn expect(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }
}

/// What went wrong with `reply`, if anything.
fn judge(case: &Case, reply: &Reply) -> Option<String> {
    let body = String::from_utf8_lossy(&reply.body);
    let code = serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
    let json = reply
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"));
    if reply.status != case.status || code.as_deref() != Some(case.code) || !json {
        return Some(format!(
            "{}: {} {} answered {} {:?}, wanted {} {}: {:.200}",
            case.what,
            case.method,
            case.path.chars().take(80).collect::<String>(),
            reply.status,
            code,
            case.status,
            case.code,
            body
        ));
    }
    None
}

/// Sends every case as `token`'s member; after each, the store must read as
/// before. All failures are reported together.
fn run(app: &TestApp, token: &str, cases: Vec<Case>) {
    let before = snapshot(app);
    let auth = format!("Bearer {token}");
    let mut failures = Vec::new();
    for case in &cases {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if !case.headers.iter().any(|(n, _)| n == "authorization") {
            headers.push(("authorization", &auth));
        }
        headers.extend(case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let reply = app.raw(case.method, &case.path, &headers, &case.body);
        failures.extend(judge(case, &reply));
        if snapshot(app) != before {
            failures.push(format!("{}: the store changed", case.what));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const ID: &str = "01JD0000000000000000000000";

/// A published video by the member `token` names, written straight into
/// the store (no worker run needed to comment on it).
fn seed_video(app: &TestApp, token: &str) -> String {
    let me = app.api("GET", "/v1/me", Some(token), None).json();
    let now = 1_700_000_000_000;
    let id = ids::ulid_from_parts(now, [7; 10]);
    let video = published_video(
        &id,
        me["id"].as_str().unwrap(),
        me["handle"].as_str().unwrap(),
        "seeded",
        now,
    );
    let kv = SqliteKv::open(&app.config.kv_path()).expect("kv opens");
    kv.set(
        "default",
        &keys::video(&id),
        &serde_json::to_vec(&video).unwrap(),
    )
    .expect("video written");
    id
}

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

#[test]
fn hostile_bodies_get_a_json_4xx_and_change_nothing() {
    let app = TestApp::start(&[("write_rate_limit", "0")]);
    let token = app.member("ana");
    let video = seed_video(&app, &token);
    let nested = format!("{{\"prompt\":{}", "[".repeat(30_000));
    let mut invalid_utf8 = b"{\"prompt\":\"a cat ".to_vec();
    invalid_utf8.extend_from_slice(&[0xFF, 0xFE, 0xC0, 0x80]);
    invalid_utf8.extend_from_slice(b"\"}");
    let mut many_events = Vec::new();
    for _ in 0..101 {
        many_events.push(json!({"type": "like", "video_id": ID}));
    }
    let cases = vec![
        case("body over the stack's 1 MiB", "POST", "/v1/generations")
            .body(vec![b' '; 2 << 20])
            .expect(413, "payload_too_large"),
        case("body over the 64 KiB JSON limit", "POST", "/v1/generations")
            .body(vec![b' '; 100 << 10])
            .expect(413, "payload_too_large"),
        case("100k nested arrays", "POST", "/v1/generations")
            .body("[".repeat(100_000))
            .expect(413, "payload_too_large"),
        // Typed fields refuse the first `[`: nesting never gets to recurse.
        case("30k nested arrays in a field", "POST", "/v1/generations").body(nested),
        case("invalid UTF-8 in a string", "POST", "/v1/generations")
            .body(invalid_utf8)
            .expect(400, "invalid_json"),
        case("a lone surrogate escape", "PUT", "/v1/feed/preferences")
            .body(r#"{"text":"more \ud800 cats"}"#)
            .expect(400, "invalid_json"),
        case("not JSON at all", "POST", "/v1/generations")
            .body("prompt=a+cat")
            .expect(400, "invalid_json"),
        case("a form content type", "POST", "/v1/generations")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(r#"{"prompt":"a cat"}"#)
            .expect(415, "unsupported_media_type"),
        case(
            "a text/plain content type (no CORS preflight)",
            "PUT",
            "/v1/feed/preferences",
        )
        .header("content-type", "text/plain")
        .body(r#"{"text":"more cats"}"#)
        .expect(415, "unsupported_media_type"),
        case("duplicate keys", "POST", "/v1/generations")
            .body(r#"{"prompt":"a cat","prompt":"a dog"}"#),
        case("a number over u32", "POST", "/v1/generations")
            .body(r#"{"prompt":"a cat","duration_seconds":4294967296}"#),
        case("a negative number", "POST", "/v1/generations")
            .body(r#"{"prompt":"a cat","duration_seconds":-1}"#),
        case("a seed over 2^53", "POST", "/v1/generations")
            .body(r#"{"prompt":"a cat","seed":9007199254740992}"#),
        case("a number out of f64 range", "POST", "/v1/generations")
            .body(r#"{"prompt":"a cat","seed":1e400}"#)
            .expect(400, "invalid_json"),
        case("an unknown field", "POST", "/v1/generations")
            .body(r#"{"prompt":"a cat","owner":"someone-else"}"#),
        case("101 events in a batch", "POST", "/v1/events")
            .body(json!({ "events": many_events }).to_string()),
        case(
            "a comment of control characters",
            "POST",
            format!("/v1/videos/{video}/comments"),
        )
        .body(r#"{"text":"\u0000\u0007"}"#),
        case(
            "a comment of zero-width spaces",
            "POST",
            format!("/v1/videos/{video}/comments"),
        )
        .body(r#"{"text":"\u200b\u200b\ufeff"}"#),
        case(
            "a comment over 500 characters",
            "POST",
            format!("/v1/videos/{video}/comments"),
        )
        .body(json!({ "text": "é".repeat(501) }).to_string()),
        case(
            "a reply to a path trick",
            "POST",
            format!("/v1/videos/{video}/comments"),
        )
        .body(r#"{"text":"hi","reply_to":"../../x"}"#)
        .expect(404, "not_found"),
        case("a profile bio with NUL", "PATCH", "/v1/me").body(r#"{"bio":"hi\u0000there"}"#),
    ];
    run(&app, &token, cases);
}

#[test]
fn path_tricks_cursors_queries_and_headers_get_a_json_4xx() {
    let app = TestApp::start(&[("write_rate_limit", "0")]);
    let token = app.member("ana");
    let lower = ID.to_ascii_lowercase();
    let repeated = vec!["limit=1"; 2000].join("&");
    let mut cases = Vec::new();
    for trick in [
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e",
        "..%5c..%5cwindows",
        "%00",
        "%FF%FE",
        "%C0%AE%C0%AE",
        "01JD000000000000000000000%2F",
    ] {
        cases.push(
            case(
                "a path trick in a video id",
                "GET",
                format!("/v1/videos/{trick}"),
            )
            .expect(404, "not_found"),
        );
        cases.push(
            case(
                "a path trick in a draft id",
                "GET",
                format!("/v1/drafts/{trick}"),
            )
            .expect(404, "not_found"),
        );
        cases.push(
            case(
                "a path trick in a liked video",
                "PUT",
                format!("/v1/videos/{trick}/like"),
            )
            .expect(404, "not_found"),
        );
    }
    for cursor in [
        b64(&format!("fo1.{lower}")),
        b64("fo1.+1"),
        b64(&format!("fo1.{ID}.x")),
        "!!".to_owned(),
        "A".repeat(5000),
    ] {
        cases.push(case(
            "a tampered Following cursor",
            "GET",
            format!("/v1/feed/following?cursor={cursor}"),
        ));
    }
    for cursor in [
        b64("fy1.01"),
        b64("fy1.+2"),
        b64("fy1.99999999999999999999"),
        b64("fy1.0"),
    ] {
        cases.push(case(
            "a tampered For You cursor",
            "GET",
            format!("/v1/feed/for-you?cursor={cursor}"),
        ));
    }
    for cursor in [
        b64("p1.+0.5"),
        b64("p1.0.65"),
        b64("p1.00.1"),
        b64("p1.-1.0"),
        b64("p1.0.1.2"),
    ] {
        cases.push(case(
            "a tampered list cursor",
            "GET",
            format!("/v1/notifications?cursor={cursor}"),
        ));
        cases.push(case(
            "a tampered list cursor",
            "GET",
            format!("/v1/me/likes?cursor={cursor}"),
        ));
    }
    for limit in ["99999999999999999999999", "-1", "0", "1e3", "%00"] {
        cases.push(case(
            "a limit out of range",
            "GET",
            format!("/v1/feed/following?limit={limit}"),
        ));
        cases.push(case(
            "a limit out of range",
            "GET",
            format!("/v1/notifications?limit={limit}"),
        ));
    }
    cases.push(case(
        "a repeated parameter",
        "GET",
        "/v1/feed/following?limit=1&limit=30",
    ));
    cases.push(case(
        "2000 repeated parameters",
        "GET",
        format!("/v1/me/likes?{repeated}"),
    ));
    let long = "x".repeat(16 << 10);
    cases.push(
        case("a 16 KiB bearer token", "GET", "/v1/me")
            .header("authorization", format!("Bearer {long}"))
            .expect(401, "invalid_token"),
    );
    let mut flood = case("90 extra headers", "GET", "/v1/videos/%2e%2e").expect(404, "not_found");
    for i in 0..90 {
        flood = flood.header(&format!("x-junk-{i}"), "y".repeat(100));
    }
    cases.push(flood);
    run(&app, &token, cases);

    // Past hyper's header-count limit the connection's HTTP layer answers
    // 431 itself, before any component: refused, though without a body.
    let junk: Vec<(String, String)> = (0..200)
        .map(|i| (format!("x-junk-{i}"), "y".into()))
        .collect();
    let headers: Vec<(&str, &str)> = junk.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let reply = app.raw("GET", "/v1/health", &headers, b"");
    assert_eq!(reply.status, 431);
}
