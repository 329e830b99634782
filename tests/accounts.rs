//! Sign-up, log-in and the signed-in member, through the accounts component
//! over HTTP. Every response is also checked against docs/openapi.json.

use dreamreel_e2e::{Reply, TestApp};
use serde_json::{Value, json};

const INVITES: &str = "ALPHA-00001,ALPHA-00002,ALPHA-00003";

fn app() -> TestApp {
    TestApp::start(&[("bootstrap_invites", INVITES)])
}

fn signup(app: &TestApp, code: &str, handle: &str, password: &str) -> Reply {
    let mut body = dreamreel_e2e::sign_up_body(code, handle);
    body["password"] = json!(password);
    app.api("POST", "/v1/auth/signup", None, Some(&body.to_string()))
}

fn login(app: &TestApp, handle: &str, password: &str) -> Reply {
    let body = json!({ "handle": handle, "password": password });
    app.api("POST", "/v1/auth/login", None, Some(&body.to_string()))
}

fn token(reply: &Reply) -> String {
    reply.json()["token"].as_str().expect("a token").to_owned()
}

#[test]
fn health_answers() {
    let app = app();
    let reply = app.api("GET", "/v1/health", None, None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "ok");
}

#[test]
fn sign_up_log_in_and_me_survive_a_restart() {
    let mut app = app();
    let created = signup(&app, "alpha-00001", "Ana_Lima", "correct horse battery");
    assert_eq!(created.status, 201, "{}", created.json());
    let user = created.json()["user"].clone();
    assert_eq!(user["handle"], "Ana_Lima");

    let me = app.api("GET", "/v1/me", Some(&token(&created)), None);
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["id"], user["id"]);

    app.restart();
    let again = login(&app, "ana_lima", "correct horse battery");
    assert_eq!(again.status, 200, "{}", again.json());
    let me = app.api("GET", "/v1/me", Some(&token(&again)), None).json();
    for field in ["id", "handle", "display_name", "created_at"] {
        assert_eq!(me[field], user[field], "{field}");
    }
    assert_eq!(
        (me["bio"].as_str(), me["minor"].as_bool()),
        (Some(""), Some(false))
    );
    // The token issued before the restart still works: sessions are signed, not in memory.
    assert_eq!(
        app.api("GET", "/v1/me", Some(&token(&created)), None)
            .status,
        200
    );
}

#[test]
fn wrong_password_and_unknown_handle_look_the_same() {
    let app = app();
    signup(&app, "ALPHA-00001", "bruno", "correct horse battery");
    let wrong = login(&app, "bruno", "wrong horse battery");
    let unknown = login(&app, "nobody", "correct horse battery");
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.error_code(), "invalid_credentials");
    }
    assert_eq!(
        wrong.json()["error"]["message"],
        unknown.json()["error"]["message"]
    );
}

#[test]
fn invites_are_required_and_work_once() {
    let app = app();
    let unknown = signup(&app, "NOPE-NOPE", "carla", "correct horse battery");
    assert_eq!(
        (unknown.status, unknown.error_code().as_str()),
        (403, "invite_invalid")
    );

    assert_eq!(
        signup(&app, "ALPHA-00002", "carla", "correct horse battery").status,
        201
    );
    let reused = signup(&app, "ALPHA-00002", "dora", "correct horse battery");
    assert_eq!(
        (reused.status, reused.error_code().as_str()),
        (409, "invite_used")
    );
    // The refused sign-up wrote nothing: "dora" is still free.
    assert_eq!(
        signup(&app, "ALPHA-00003", "dora", "correct horse battery").status,
        201
    );
}

#[test]
fn operator_minted_invites_work() {
    let app = app();
    let codes = app
        .block_on(dreamreel_local::admin::mint_invites(&app.config, 2))
        .expect("invites minted");
    assert_eq!(codes.len(), 2);
    assert_eq!(
        signup(&app, &codes[0], "eva", "correct horse battery").status,
        201
    );
    let reused = signup(&app, &codes[0], "fabio", "correct horse battery");
    assert_eq!(reused.error_code(), "invite_used");
}

#[test]
fn handles_are_unique_without_regard_to_case() {
    let app = app();
    assert_eq!(
        signup(&app, "ALPHA-00001", "Gil", "correct horse battery").status,
        201
    );
    let taken = signup(&app, "ALPHA-00002", "gIL", "correct horse battery");
    assert_eq!(
        (taken.status, taken.error_code().as_str()),
        (409, "handle_taken")
    );
    // The invite was not spent by the refused sign-up.
    assert_eq!(
        signup(&app, "ALPHA-00002", "hana", "correct horse battery").status,
        201
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let app = app();
    let malformed = app.api("POST", "/v1/auth/signup", None, Some("{\"invite_code\": "));
    assert_eq!(
        (malformed.status, malformed.error_code().as_str()),
        (400, "invalid_json")
    );

    let valid = dreamreel_e2e::sign_up_body("ALPHA-00001", "ivo");
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let mut no_birth_date = valid.clone();
    no_birth_date.as_object_mut().unwrap().remove("birth_date");
    let cases = [
        json!({ "invite_code": "ALPHA-00001", "handle": "ivo" }),
        with("handle", json!("1vo")),
        with("handle", json!("Admin")),
        with("password", json!("short")),
        with("admin", json!(true)),
        no_birth_date,
        with("birth_date", json!("2001-02-30")),
        with("birth_date", json!("3000-01-01")),
        with("country", json!("USA")),
    ];
    for body in cases {
        let reply = app.api("POST", "/v1/auth/signup", None, Some(&body.to_string()));
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "invalid_request"),
            "{body}"
        );
    }
    // Neither the invite nor the handle was consumed.
    assert_eq!(
        signup(&app, "ALPHA-00001", "ivo", "correct horse battery").status,
        201
    );
}

#[test]
fn me_needs_a_valid_unexpired_token() {
    let app = TestApp::start(&[("bootstrap_invites", INVITES), ("session_ttl_seconds", "1")]);
    let created = signup(&app, "ALPHA-00001", "joao", "correct horse battery");
    let good = token(&created);

    let missing = app.api("GET", "/v1/me", None, None);
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (401, "unauthorized")
    );

    let mut tampered = good.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let reply = app.api("GET", "/v1/me", Some(&tampered), None);
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (401, "invalid_token")
    );

    let garbage = app.api("GET", "/v1/me", Some("not-a-token"), None);
    assert_eq!(
        (garbage.status, garbage.error_code().as_str()),
        (401, "invalid_token")
    );

    std::thread::sleep(std::time::Duration::from_millis(2100));
    let expired = app.api("GET", "/v1/me", Some(&good), None);
    assert_eq!(
        (expired.status, expired.error_code().as_str()),
        (401, "token_expired")
    );
}

/// Signs up `handle` with `code`, an adult in the US.
fn join(app: &TestApp, code: &str, handle: &str) -> Reply {
    let body = dreamreel_e2e::sign_up_body(code, handle);
    app.api("POST", "/v1/auth/signup", None, Some(&body.to_string()))
}

fn codes(app: &TestApp, token: &str) -> Vec<Value> {
    let reply = app.api("GET", "/v1/invites", Some(token), None);
    assert_eq!(reply.status, 200, "{}", reply.json());
    reply.json()["invites"].as_array().unwrap().clone()
}

#[test]
fn members_get_invites_see_who_used_them_and_revoke_unused_ones() {
    let app = app();
    let ana = app.member("ana");
    let mine = codes(&app, &ana);
    assert_eq!(mine.len(), 4);
    assert!(
        mine.iter()
            .all(|i| i["status"] == "unused" && i["used_by"].is_null())
    );
    let code = |i: usize| mine[i]["code"].as_str().unwrap().to_owned();

    assert_eq!(join(&app, &code(0).to_lowercase(), "bruno").status, 201);
    let revoke = app.api(
        "DELETE",
        &format!("/v1/invites/{}", code(1)),
        Some(&ana),
        None,
    );
    assert_eq!(revoke.status, 204);
    // Revoking twice is fine; a revoked code never works.
    assert_eq!(
        app.api(
            "DELETE",
            &format!("/v1/invites/{}", code(1)),
            Some(&ana),
            None
        )
        .status,
        204
    );
    let refused = join(&app, &code(1), "carla");
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (403, "invite_revoked")
    );
    let reused = join(&app, &code(0), "carla");
    assert_eq!(
        (reused.status, reused.error_code().as_str()),
        (409, "invite_used")
    );

    let now = codes(&app, &ana);
    let find = |c: &str| now.iter().find(|i| i["code"] == c).unwrap().clone();
    assert_eq!(find(&code(0))["status"], "used");
    assert_eq!(find(&code(0))["used_by"]["handle"], "bruno");
    assert_eq!(find(&code(1))["status"], "revoked");

    let used = app.api(
        "DELETE",
        &format!("/v1/invites/{}", code(0)),
        Some(&ana),
        None,
    );
    assert_eq!(
        (used.status, used.error_code().as_str()),
        (409, "invite_used")
    );
    // Someone else's code, or no code at all, is not found.
    let bruno = app.member("bruna");
    for c in [code(2), "NOPE-NOPE".to_owned()] {
        let reply = app.api("DELETE", &format!("/v1/invites/{c}"), Some(&bruno), None);
        assert_eq!(reply.status, 404);
    }
    assert_eq!(app.api("GET", "/v1/invites", None, None).status, 401);
}

#[test]
fn admin_routes_check_the_role_on_every_call() {
    let app = TestApp::start(&[("admin_handles", "Root_Op"), ("invites_per_member", "2")]);
    let ana = app.member("ana");
    let root = app.member("root_op");
    let mint =
        |token: Option<&str>, body: &str| app.api("POST", "/v1/admin/invites", token, Some(body));
    let denied = mint(Some(&ana), r#"{"count":3}"#);
    assert_eq!(
        (denied.status, denied.error_code().as_str()),
        (403, "admin_only")
    );
    assert_eq!(mint(None, r#"{"count":3}"#).status, 401);
    assert_eq!(mint(Some(&root), r#"{"count":0}"#).status, 400);
    assert_eq!(mint(Some(&root), r#"{"count":"3"}"#).status, 400);
    let minted = mint(Some(&root), r#"{"count":3}"#);
    assert_eq!(minted.status, 201);
    let fresh = minted.json()["codes"][0].as_str().unwrap().to_owned();
    assert_eq!(join(&app, &fresh, "dora").status, 201);

    let grant = |token: &str, handle: &str| {
        let path = format!("/v1/admin/users/{handle}/invites");
        app.api("POST", &path, Some(token), Some(r#"{"count":5}"#))
    };
    assert_eq!(grant(&ana, "ana").status, 403);
    assert_eq!(grant(&root, "ghost").status, 404);
    let granted = grant(&root, "ANA");
    assert_eq!(granted.status, 201);
    assert_eq!(codes(&app, &ana).len(), 7);
}

#[test]
fn sign_up_has_an_age_gate_and_launch_regions() {
    let app = app();
    let body = |code: &str, handle: &str, birth: &str, country: &str| {
        let mut b = dreamreel_e2e::sign_up_body(code, handle);
        b["birth_date"] = json!(birth);
        b["country"] = json!(country);
        b.to_string()
    };
    // 12 years old today (by any clock in the next few years): refused, nothing stored.
    let kid = app.api(
        "POST",
        "/v1/auth/signup",
        None,
        Some(&body("ALPHA-00001", "kid", "2024-01-01", "US")),
    );
    assert_eq!((kid.status, kid.error_code().as_str()), (422, "too_young"));
    let abroad = app.api(
        "POST",
        "/v1/auth/signup",
        None,
        Some(&body("ALPHA-00001", "kid", "1990-01-01", "FR")),
    );
    assert_eq!(
        (abroad.status, abroad.error_code().as_str()),
        (403, "region_unavailable")
    );

    // A 15-year-old in Canada joins, with the under-18 protections.
    let teen_birth = format!("{}-01-01", current_year() - 15);
    let teen = app.api(
        "POST",
        "/v1/auth/signup",
        None,
        Some(&body("ALPHA-00001", "kid", &teen_birth, "ca")),
    );
    assert_eq!(teen.status, 201, "{}", teen.json());
    let me = app.api("GET", "/v1/me", Some(&token(&teen)), None).json();
    assert_eq!(me["minor"], true);
    assert_eq!(me["protections"]["feed_minutes_per_day"], 60);
    assert_eq!(me["protections"]["quiet_hours_start"], "22:00");
    assert_eq!(me["protections"]["cameo"], "only_me");
    let adult = app.member("grownup");
    let me = app.api("GET", "/v1/me", Some(&adult), None).json();
    assert_eq!(me["minor"], false);
    assert!(me.get("protections").is_none());
}

#[test]
fn a_trusted_edge_header_outranks_the_clients_country() {
    let app = TestApp::start(&[
        ("bootstrap_invites", INVITES),
        ("trusted_country_header", "X-Viewer-Country"),
        ("signup_countries", "US,CA,MX"),
    ]);
    let send = |code: &str, handle: &str, declared: &str, edge: &str| {
        let mut body = dreamreel_e2e::sign_up_body(code, handle);
        body["country"] = json!(declared);
        let body = body.to_string();
        let headers = [
            ("content-type", "application/json"),
            ("x-viewer-country", edge),
        ];
        let reply = app.raw("POST", "/v1/auth/signup", &headers, body.as_bytes());
        dreamreel_e2e::openapi::assert_conforms(
            "POST",
            "/v1/auth/signup",
            reply.status,
            &reply.body,
        );
        reply
    };
    let refused = send("ALPHA-00001", "ana", "US", "FR");
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (403, "region_unavailable")
    );
    assert_eq!(send("ALPHA-00001", "ana", "FR", "MX").status, 201);
}

#[test]
fn log_out_refresh_and_log_out_everywhere() {
    let app = app();
    let first = token(&signup(&app, "ALPHA-00001", "ana", "correct horse battery"));
    let second = token(&login(&app, "ana", "correct horse battery"));
    let me = |t: &str| app.api("GET", "/v1/me", Some(t), None).status;

    assert_eq!(
        app.api("POST", "/v1/auth/logout", Some(&first), None)
            .status,
        204
    );
    assert_eq!(me(&first), 401);
    assert_eq!(me(&second), 200);
    assert_eq!(
        app.api("POST", "/v1/auth/logout", Some(&first), None)
            .status,
        401
    );

    let refreshed = app.api("POST", "/v1/auth/refresh", Some(&second), None);
    assert_eq!(refreshed.status, 200);
    let third = token(&refreshed);
    assert_eq!(me(&second), 401);
    assert_eq!(me(&third), 200);
    assert_eq!(
        app.api("POST", "/v1/auth/refresh", Some(&second), None)
            .status,
        401
    );

    let fourth = token(&login(&app, "ana", "correct horse battery"));
    assert_eq!(
        app.api("POST", "/v1/auth/logout-all", Some(&third), None)
            .status,
        204
    );
    assert_eq!((me(&third), me(&fourth)), (401, 401));
    let fresh = token(&login(&app, "ana", "correct horse battery"));
    assert_eq!(me(&fresh), 200);
}

#[test]
fn log_in_and_sign_up_are_rate_limited() {
    let app = TestApp::start(&[
        ("bootstrap_invites", INVITES),
        (
            "auth_rate_limits",
            "window=3600,login_handle=2,signup_address=3",
        ),
    ]);
    signup(&app, "ALPHA-00001", "ana", "correct horse battery");
    assert_eq!(login(&app, "ana", "wrong horse battery").status, 401);
    assert_eq!(login(&app, "ana", "correct horse battery").status, 200);
    let limited = login(&app, "ANA", "correct horse battery");
    assert_eq!(
        (limited.status, limited.error_code().as_str()),
        (429, "rate_limited")
    );
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait));
    // Another handle still logs in (the address limit is far higher).
    signup(&app, "ALPHA-00002", "bruno", "correct horse battery");
    assert_eq!(login(&app, "bruno", "correct horse battery").status, 200);
    // Sign-ups from this address: three counted already (ana, bruno, this one).
    let third = signup(&app, "ALPHA-00003", "carla", "correct horse battery");
    assert_eq!(third.status, 201);
    let fourth = signup(&app, "NOPE-NOPE", "dora", "correct horse battery");
    assert_eq!(
        (fourth.status, fourth.error_code().as_str()),
        (429, "rate_limited")
    );
}

fn current_year() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    1970 + secs / 31_556_952
}

/// Generates, waits for the worker and publishes a one-second video.
fn publish(app: &TestApp, token: &str) -> String {
    let body = json!({ "prompt": "a lighthouse at dusk", "duration_seconds": 1 }).to_string();
    let reply = app.api("POST", "/v1/generations", Some(token), Some(&body));
    assert_eq!(reply.status, 202, "{}", reply.json());
    let draft = reply.json()["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let d = app.api("GET", &format!("/v1/drafts/{draft}"), Some(token), None);
        match d.json()["status"].as_str().unwrap() {
            "ready" => break,
            "queued" | "running" => {}
            other => panic!("generation ended {other}: {}", d.json()),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the generation finishes"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let path = format!("/v1/drafts/{draft}/publish");
    let published = app.api("POST", &path, Some(token), Some("{}"));
    assert_eq!(published.status, 201, "{}", published.json());
    published.json()["id"].as_str().unwrap().to_owned()
}

fn delete_me(app: &TestApp, token: Option<&str>, password: &str) -> Reply {
    let body = json!({ "password": password }).to_string();
    app.api("DELETE", "/v1/me", token, Some(&body))
}

#[test]
fn a_deleted_account_is_visible_to_nobody_and_its_handle_stays_reserved() {
    let app = app();
    let bruno = app.member("bruno");
    let bruno_code = codes(&app, &bruno)[0]["code"].as_str().unwrap().to_owned();
    let joined = join(&app, &bruno_code, "Ana");
    assert_eq!(joined.status, 201);
    let ana = token(&joined);

    // Ana's content and relations: a video, a draft, follows both ways, a
    // comment under Bruno's video that Bruno answered.
    let anas_video = publish(&app, &ana);
    let draft = app.api(
        "POST",
        "/v1/generations",
        Some(&ana),
        Some(r#"{"prompt":"a quiet harbour","duration_seconds":1}"#),
    );
    assert_eq!(draft.status, 202);
    for (who, whom) in [(&ana, "bruno"), (&bruno, "ana")] {
        let path = format!("/v1/users/{whom}/follow");
        assert_eq!(app.api("PUT", &path, Some(who), None).status, 200);
    }
    let brunos_video = publish(&app, &bruno);
    let comments = format!("/v1/videos/{brunos_video}/comments");
    let said = app.api(
        "POST",
        &comments,
        Some(&ana),
        Some(r#"{"text":"lovely light"}"#),
    );
    assert_eq!(said.status, 201, "{}", said.json());
    let comment_id = said.json()["id"].as_str().unwrap().to_owned();
    let reply = json!({ "text": "thank you", "reply_to": comment_id }).to_string();
    assert_eq!(
        app.api("POST", &comments, Some(&bruno), Some(&reply))
            .status,
        201
    );

    // Re-authentication: a wrong password or none at all deletes nothing.
    let wrong = delete_me(&app, Some(&ana), "not the password");
    assert_eq!(
        (wrong.status, wrong.error_code()),
        (403, "wrong_password".into())
    );
    let bare = app.api("DELETE", "/v1/me", Some(&ana), Some("{}"));
    assert_eq!(bare.status, 400);
    assert_eq!(delete_me(&app, None, "x").status, 401);
    assert_eq!(app.api("GET", "/v1/users/ana", None, None).status, 200);

    let gone = delete_me(&app, Some(&ana), "correct horse battery");
    assert_eq!(gone.status, 200, "{}", gone.json());
    assert_eq!(gone.json()["status"], "deleted");

    // Nobody can reach them any more.
    assert_eq!(app.api("GET", "/v1/me", Some(&ana), None).status, 401);
    assert_eq!(
        delete_me(&app, Some(&ana), "correct horse battery").status,
        401
    );
    assert_eq!(login(&app, "ana", "correct horse battery").status, 401);
    for path in ["/v1/users/ana", "/v1/users/ANA/followers"] {
        assert_eq!(
            app.api("GET", path, Some(&bruno), None).status,
            404,
            "{path}"
        );
    }
    let video = app.api(
        "GET",
        &format!("/v1/videos/{anas_video}"),
        Some(&bruno),
        None,
    );
    assert_eq!(video.status, 404);
    let me = app.api("GET", "/v1/users/bruno", None, None).json();
    assert_eq!(
        (
            me["followers_count"].as_u64(),
            me["following_count"].as_u64()
        ),
        (Some(0), Some(0))
    );
    // Their comment reads as deleted (kept only for Bruno's answer).
    let listed = app.api("GET", &comments, Some(&bruno), None).json();
    let theirs = listed["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == comment_id.as_str())
        .expect("kept for its reply")
        .clone();
    assert_eq!(
        (
            theirs["deleted"].as_bool(),
            theirs["text"].as_str(),
            theirs["author_handle"].as_str()
        ),
        (Some(true), Some(""), Some(""))
    );
    // Bruno's notifications of what Ana did keep the events, not her.
    let inbox = app
        .api("GET", "/v1/notifications", Some(&bruno), None)
        .json();
    let theirs: Vec<&Value> = inbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| matches!(n["kind"].as_str(), Some("comment" | "new_follower")))
        .collect();
    assert_eq!(theirs.len(), 2, "{inbox}");
    for n in theirs {
        assert!(
            n["summary"]
                .as_str()
                .unwrap()
                .starts_with("A deleted member "),
            "{n}"
        );
        assert_eq!(
            (
                n["actors"][0]["deleted"].as_bool(),
                n["actors"][0]["handle"].as_str()
            ),
            (Some(true), Some(""))
        );
        assert!(n["text"].is_null(), "{n}");
    }
    assert!(!inbox.to_string().contains("\"ana\""), "{inbox}");
    // The inviter keeps a count, not a person.
    let used = codes(&app, &bruno)
        .into_iter()
        .find(|i| i["code"] == bruno_code.as_str())
        .unwrap();
    assert_eq!(used["status"], "used");
    assert!(used["used_by"].is_null());
    assert_eq!(used["used_by_deleted"], true);
    // The handle stays reserved: nobody can sign up as them.
    let taken = join(&app, "alpha-00002", "ana");
    assert_eq!(
        (taken.status, taken.error_code()),
        (409, "handle_taken".into())
    );
}
