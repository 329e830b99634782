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
    let me = app.api("GET", "/v1/me", Some(&token(&again)), None);
    assert_eq!(me.json(), user);
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

    let cases: [Value; 4] = [
        json!({ "invite_code": "ALPHA-00001", "handle": "ivo" }),
        json!({ "invite_code": "ALPHA-00001", "handle": "1vo", "password": "correct horse battery" }),
        json!({ "invite_code": "ALPHA-00001", "handle": "ivo", "password": "short" }),
        json!({ "invite_code": "ALPHA-00001", "handle": "ivo", "password": "correct horse battery", "admin": true }),
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
