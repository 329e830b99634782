//! The web client in a real browser: headless Chromium (Debian's
//! `chromium`, driven by Playwright from `tests/web/run.mjs`) against the
//! local stack. One member signs up, generates, publishes; another watches
//! the clip play in the feed, likes and comments, and hears live that the
//! first cast them. Screenshots land in `target/web-screenshots/`; every
//! page must pass axe-core's WCAG 2.1 A/AA checks. Without Node or
//! Chromium the test fails and says what to install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dreamreel_e2e::{Reply, TEST_PASSWORD, TestApp, repo_root};
use serde_json::{Value, json};

const MINUTE: Duration = Duration::from_secs(60);

/// The browser: `$CHROMIUM`, else Debian's.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "the web test needs Chromium at {} (install it with `apt-get install -y chromium`, \
         or point $CHROMIUM at a Chromium binary)",
        path.display()
    );
    path
}

/// `tests/web` with its npm packages installed (`npm ci` on first use).
fn node_project() -> PathBuf {
    let ok = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(
        ok("node", &["--version"]) && ok("npm", &["--version"]),
        "the web test needs Node.js 18+ and npm on PATH (`apt-get install -y nodejs npm`)"
    );
    let dir = repo_root().join("tests").join("web");
    let installed = ["playwright-core", "axe-core"].iter().all(|p| {
        dir.join("node_modules")
            .join(p)
            .join("package.json")
            .is_file()
    });
    if !installed {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm runs");
        assert!(
            status.success(),
            "`npm ci` in tests/web failed: the web test needs playwright-core and axe-core \
             from npm (network access once, then they stay in tests/web/node_modules)"
        );
    }
    dir
}

/// Fetches or uploads an absolute (presigned) object-store URL.
fn object(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let rest = url
        .strip_prefix("http://")
        .expect("local URLs are plain HTTP");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    dreamreel_e2e::http::send(host.parse().unwrap(), method, path, headers, body).unwrap()
}

/// Polls `path` until `done` holds for its JSON body.
fn poll(app: &TestApp, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + MINUTE * 2;
    loop {
        let body = app.api("GET", path, Some(token), None).json();
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} never settled: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Makes `handle` a verified cameo anyone may cast, over the API: a real
/// 4-second clip serves as the liveness recording (as in tests/cameo.rs).
fn verified_cameo(app: &TestApp, handle: &str) -> String {
    let token = app.member(handle);
    let ask = json!({ "prompt": "a face, turning left and right", "duration_seconds": 4 });
    let draft = app.api(
        "POST",
        "/v1/generations",
        Some(&token),
        Some(&ask.to_string()),
    );
    assert_eq!(draft.status, 202, "{}", draft.json());
    let id = draft.json()["id"].as_str().unwrap().to_owned();
    let ready = poll(app, &token, &format!("/v1/drafts/{id}"), |d| {
        !matches!(d["status"].as_str(), Some("queued" | "running"))
    });
    assert_eq!(ready["status"], "ready", "{ready}");
    let mp4 = object(
        "GET",
        ready["media"]["video_url"].as_str().unwrap(),
        &[],
        b"",
    );
    assert_eq!(mp4.status, 200);

    let challenge = app.api("POST", "/v1/cameo/verification", Some(&token), Some("{}"));
    assert_eq!(challenge.status, 201, "{}", challenge.json());
    let url = challenge.json()["upload"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let put = object("PUT", &url, &[("content-type", "video/mp4")], &mp4.body);
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    let cameo = poll(app, &token, "/v1/cameo", |c| {
        c["pending_verification"].is_null()
    });
    assert_eq!(cameo["status"], "verified", "{cameo}");
    let open = json!({ "permission": "everyone" }).to_string();
    let set = app.api("PUT", "/v1/cameo/settings", Some(&token), Some(&open));
    assert_eq!(set.status, 200, "{}", set.json());
    token
}

/// Runs `tests/web/run.mjs`, killing it after `limit`; returns its stdout.
fn run_browser(project: &Path, env: &[(&str, String)], limit: Duration) -> String {
    let mut cmd = Command::new("node");
    cmd.arg("run.mjs")
        .current_dir(project)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("node starts");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("node is there").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the browser run took over {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{stdout}");
    assert!(out.status.success(), "the browser run failed: {stdout}");
    stdout
}

#[test]
fn the_web_client_works_in_a_real_browser() {
    // Fail fast, before the slow parts, when the tools are missing.
    let browser = chromium();
    let project = node_project();

    let app = TestApp::start(&[]);
    let invite = app
        .block_on(dreamreel_local::admin::mint_invites(&app.config, 1))
        .expect("an invite")
        .remove(0);
    let cameo = "webcameo";
    let cameo_token = verified_cameo(&app, cameo);

    let shots = repo_root().join("target").join("web-screenshots");
    let stdout = run_browser(
        &project,
        &[
            ("DREAMREEL_URL", format!("http://{}", app.addr)),
            ("INVITE_CODE", invite),
            ("CAMEO_HANDLE", cameo.to_owned()),
            ("PASSWORD", TEST_PASSWORD.to_owned()),
            ("SCREENSHOTS", shots.display().to_string()),
            ("CHROMIUM", browser.display().to_string()),
        ],
        MINUTE * 6,
    );

    // What the browser did is what the server holds.
    let result: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the run reports a JSON result");
    let video = result["video_id"].as_str().expect("a video id");
    let likes = app.api(
        "GET",
        &format!("/v1/videos/{video}/likes"),
        Some(&cameo_token),
        None,
    );
    assert_eq!(
        likes.json()["likes"][0]["handle"],
        cameo,
        "{}",
        likes.json()
    );
    let comments = app.api(
        "GET",
        &format!("/v1/videos/{video}/comments"),
        Some(&cameo_token),
        None,
    );
    assert_eq!(comments.json()["comments"][0]["text"], "what a view!");
    for page in [
        "01-signup",
        "05-profile",
        "08-feed",
        "11-notifications-live",
    ] {
        assert!(
            shots.join(format!("{page}.png")).is_file(),
            "no screenshot of {page}"
        );
    }
}

#[test]
fn the_page_and_its_assets_are_served_with_the_right_headers() {
    let app = TestApp::start(&[]);
    let page = app.api("GET", "/", None, None);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        csp.contains("media-src 'self' http://127.0.0.1:"),
        "media from the store: {csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));

    let html = String::from_utf8(page.body.clone()).unwrap();
    let assets: Vec<&str> = html.split('"').filter(|s| s.starts_with("/web/")).collect();
    assert_eq!(assets.len(), 2, "a script and a stylesheet: {html}");
    for (ext, kind) in [(".css", "text/css"), (".js", "text/javascript")] {
        let asset = assets.iter().find(|a| a.ends_with(ext)).expect("linked");
        let name = asset.trim_start_matches("/web/");
        let hash = name.split('.').nth(1).unwrap();
        assert!(
            hash.len() == 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
        let reply = app.api("GET", asset, None, None);
        assert_eq!(reply.status, 200);
        assert!(reply.header("content-type").unwrap().starts_with(kind));
        assert_eq!(
            reply.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }
    // An old hash is a clear JSON 404; other methods are refused.
    assert_eq!(
        app.api("GET", "/web/app.000000000000.js", None, None)
            .error_code(),
        "not_found"
    );
    assert_eq!(app.api("POST", "/", None, Some("{}")).status, 405);
}
