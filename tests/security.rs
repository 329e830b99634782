//! Security basics over HTTP: security headers and CORS on every response
//! (the components', the local stack's own and the object store's), the
//! per-member write rate limit, and logs that never hold a secret.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dreamreel_e2e::{Reply, TEST_PASSWORD, TestApp};
use serde_json::json;

const WEB: &str = "http://localhost:3000";
const EVIL: &str = "https://evil.example";

fn with_origin(
    app: &TestApp,
    method: &str,
    path: &str,
    origin: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut headers = vec![("origin", origin)];
    headers.extend_from_slice(extra);
    app.raw(method, path, &headers, b"")
}

fn assert_secure(reply: &Reply, what: &str) {
    for (name, want) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(reply.header(name), Some(want), "{what}: {name}");
    }
    assert!(
        reply.header("strict-transport-security").is_some(),
        "{what}: HSTS"
    );
    let kind = reply.header("content-type").unwrap_or_default();
    if kind.starts_with("application/json") {
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
        assert!(
            reply
                .header("content-security-policy")
                .is_some_and(|c| c.contains("frame-ancestors 'none'")),
            "{what}: CSP"
        );
    }
}

#[test]
fn every_kind_of_response_carries_the_security_headers() {
    let app = TestApp::start(&[]);
    let token = app.member("ana");
    let auth = format!("Bearer {token}");
    let big = vec![b'x'; (1 << 20) + 10];
    let cases: Vec<(&str, Reply)> = vec![
        ("health", app.call("GET", "/v1/health", None, None)),
        ("401", app.call("GET", "/v1/me", None, None)),
        ("me", app.call("GET", "/v1/me", Some(&token), None)),
        ("405", app.call("DELETE", "/v1/health", None, None)),
        (
            "component 404",
            app.call("GET", "/v1/drafts/nope", Some(&token), None),
        ),
        ("unrouted 404", app.call("GET", "/nowhere", None, None)),
        (
            "413 from the stack",
            app.raw("POST", "/v1/generations", &[("authorization", &auth)], &big),
        ),
        ("web page", app.call("GET", "/", None, None)),
        ("share page 404", app.call("GET", "/s/nope", None, None)),
    ];
    for (what, reply) in &cases {
        assert_secure(reply, what);
    }
    assert_eq!(cases[5].1.status, 404);
    assert_eq!(cases[6].1.status, 413);
    // The web page keeps its own, stricter policy.
    let page = &cases[7].1;
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    let upload = app.call(
        "POST",
        "/v1/me/avatar",
        Some(&token),
        Some(r#"{"content_type":"image/png"}"#),
    );
    let slot = upload.json();
    let url = slot["upload"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("an upload URL: {slot}"))
        .to_owned();
    let (host, path) = url
        .strip_prefix("http://")
        .and_then(|r| r.find('/').map(|i| (&r[..i], &r[i..])))
        .unwrap();
    let object = |method: &str, headers: &[(&str, &str)]| {
        dreamreel_e2e::http::send(host.parse().unwrap(), method, path, headers, b"").unwrap()
    };
    let refused = object("GET", &[]);
    assert_secure(&refused, "object store");
    // A browser on the web client's origin may upload straight to storage.
    let preflight = object(
        "OPTIONS",
        &[
            ("origin", WEB),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type"),
        ],
    );
    assert_eq!(preflight.status, 204);
    assert!(preflight.header("access-control-allow-origin").is_some());
    assert!(
        preflight
            .header("access-control-allow-methods")
            .unwrap()
            .contains("PUT")
    );
}

#[test]
fn cors_answers_allowed_origins_only() {
    let app = TestApp::start(&[(
        "cors_allowed_origins",
        "https://app.example, http://localhost:3000",
    )]);
    let preflight = with_origin(
        &app,
        "OPTIONS",
        "/v1/videos/abc/like",
        WEB,
        &[
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "authorization"),
        ],
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some(WEB));
    assert!(
        preflight
            .header("access-control-allow-methods")
            .unwrap()
            .contains("PUT")
    );
    assert!(
        preflight
            .header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    assert!(preflight.header("access-control-max-age").is_some());

    for (path, status) in [("/v1/health", 200), ("/v1/me", 401), ("/nowhere", 404)] {
        let allowed = with_origin(&app, "GET", path, "https://app.example", &[]);
        assert_eq!(allowed.status, status, "{path}");
        assert_eq!(
            allowed.header("access-control-allow-origin"),
            Some("https://app.example"),
            "{path}"
        );
        let refused = with_origin(&app, "GET", path, EVIL, &[]);
        assert_eq!(refused.status, status, "{path}");
        assert!(
            !refused
                .headers
                .iter()
                .any(|(n, _)| n.starts_with("access-control-")),
            "{path}: a foreign origin gets no CORS headers"
        );
    }
    let foreign = with_origin(
        &app,
        "OPTIONS",
        "/v1/me",
        EVIL,
        &[("access-control-request-method", "GET")],
    );
    assert!(foreign.header("access-control-allow-origin").is_none());
    assert!(foreign.header("access-control-allow-methods").is_none());
}

/// Sleeps until just after a multiple of `window` seconds, so a burst
/// falls inside one fixed window.
fn at_window_start(window: u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = now.as_millis() as u64 % (window * 1000);
    std::thread::sleep(Duration::from_millis(window * 1000 - into + 20));
}

#[test]
fn a_burst_of_writes_is_refused_then_allowed_after_the_window() {
    let app = TestApp::start(&[("write_rate_limit", "3/2")]);
    let (ana, bo) = (app.member("ana"), app.member("bob"));
    at_window_start(2);
    for _ in 0..3 {
        assert_eq!(
            app.api("POST", "/v1/feed/reset", Some(&ana), None).status,
            204
        );
    }
    let refused = app.api("POST", "/v1/feed/reset", Some(&ana), None);
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (429, "rate_limited")
    );
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "retry-after {wait}");
    // Reads, other route families and other members are not held back.
    assert_eq!(app.api("GET", "/v1/me", Some(&ana), None).status, 200);
    assert_eq!(
        app.api("PUT", "/v1/notifications/settings", Some(&ana), Some("{}"))
            .status,
        200
    );
    assert_eq!(
        app.api("POST", "/v1/feed/reset", Some(&bo), None).status,
        204
    );
    std::thread::sleep(Duration::from_secs(wait));
    assert_eq!(
        app.api("POST", "/v1/feed/reset", Some(&ana), None).status,
        204
    );
}

/// Run as a child process by [`logs_never_hold_secrets`], whose stderr it
/// writes: signs up, logs in (once wrongly), presigns an upload and calls
/// with the token in a header and a query, then prints what must not leak.
#[test]
#[ignore = "run by logs_never_hold_secrets in a child process"]
fn log_probe() {
    if std::env::var_os("DREAMREEL_LOG_PROBE").is_none() {
        return;
    }
    let app = TestApp::start(&[]);
    let token = app.member("ana");
    let login = json!({ "handle": "ana", "password": TEST_PASSWORD }).to_string();
    let second = app
        .call("POST", "/v1/auth/login", None, Some(&login))
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = json!({ "handle": "ana", "password": "not the password at all" }).to_string();
    assert_eq!(
        app.call("POST", "/v1/auth/login", None, Some(&wrong))
            .status,
        401
    );
    app.call("GET", "/v1/me", Some(&token), None);
    app.call(
        "GET",
        &format!("/v1/feed/for-you?access_token={second}"),
        None,
        None,
    );
    let upload = app
        .call(
            "POST",
            "/v1/me/avatar",
            Some(&token),
            Some(r#"{"content_type":"image/png"}"#),
        )
        .json();
    let url = upload.to_string();
    let signature = url
        .split("X-Amz-Signature=")
        .nth(1)
        .map(|s| {
            s.chars()
                .take_while(char::is_ascii_hexdigit)
                .collect::<String>()
        })
        .expect("a presigned URL");
    let secrets = json!([
        token,
        second,
        TEST_PASSWORD,
        "not the password at all",
        signature
    ]);
    println!("SECRETS {secrets}");
}

#[test]
fn logs_never_hold_secrets() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "log_probe",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DREAMREEL_LOG_PROBE", "1")
        .output()
        .expect("the probe runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "probe failed:\n{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("SECRETS ").map(|(_, s)| s))
        .unwrap_or_else(|| panic!("the probe printed its secrets:\n{stdout}"));
    let secrets: Vec<String> = serde_json::from_str(line).unwrap();
    assert!(
        stderr.lines().count() > 10,
        "the stack logged the run:\n{stderr}"
    );
    for secret in &secrets {
        assert!(secret.len() >= 16, "a real secret: {secret}");
        // Tokens are long: any 16-character piece of one in the log is a leak.
        let piece = &secret[secret.len() - 16..];
        assert!(
            !stderr.contains(piece),
            "the log holds a secret ({piece}...)"
        );
    }
}
