//! Cameos through the WASM components, like phones would use them: a
//! liveness recording uploaded straight to object storage and checked by
//! the worker; permission asked, granted and revoked; restrictions refusing
//! prompts; every use listed and notified; a take-down reaching every page
//! and link; a revocation between request and job start stopping the job.

use std::time::{Duration, Instant};

use dreamreel_e2e::{Reply, TestApp};
use serde_json::{Value, json};

const MINUTE: Duration = Duration::from_secs(60);

/// Fetches or uploads an absolute (presigned) object-store URL.
fn object(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let rest = url
        .strip_prefix("http://")
        .expect("local URLs are plain HTTP");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    dreamreel_e2e::http::send(host.parse().unwrap(), method, path, headers, body).unwrap()
}

fn generate(app: &TestApp, token: &str, prompt: &str, seconds: u32, cast: &[&str]) -> Reply {
    let body = json!({ "prompt": prompt, "duration_seconds": seconds, "cameos": cast });
    app.api(
        "POST",
        "/v1/generations",
        Some(token),
        Some(&body.to_string()),
    )
}

/// Polls a draft until it leaves queued/running.
fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + MINUTE * 2;
    loop {
        let draft = app
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

/// A real phone-playable MP4 (H.264 + sound, 720×1280, 4 s) to record with.
fn a_recording(app: &TestApp, token: &str) -> Vec<u8> {
    let draft = generate(app, token, "a face, turning left and right", 4, &[]).json();
    let ready = settled(app, token, draft["id"].as_str().unwrap());
    assert_eq!(ready["status"], "ready", "{ready}");
    let mp4 = object(
        "GET",
        ready["media"]["video_url"].as_str().unwrap(),
        &[],
        b"",
    );
    assert_eq!(mp4.status, 200);
    mp4.body
}

/// Starts a challenge, uploads `recording` where it says, and waits for the verdict.
fn verify(app: &TestApp, token: &str, recording: &[u8]) -> Value {
    let challenge = app.api("POST", "/v1/cameo/verification", Some(token), Some("{}"));
    assert_eq!(challenge.status, 201, "{}", challenge.json());
    let challenge = challenge.json();
    assert_eq!(challenge["digits"].as_str().unwrap().len(), 4);
    let upload = &challenge["upload"];
    let put = object(
        "PUT",
        upload["url"].as_str().unwrap(),
        &[("content-type", "video/mp4")],
        recording,
    );
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    let deadline = Instant::now() + MINUTE;
    loop {
        let cameo = app.api("GET", "/v1/cameo", Some(token), None).json();
        if cameo["pending_verification"].is_null() {
            return cameo;
        }
        assert!(Instant::now() < deadline, "no verdict: {cameo}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn kinds(app: &TestApp, token: &str) -> Vec<String> {
    let inbox = app
        .api("GET", "/v1/notifications", Some(token), None)
        .json();
    inbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn put_settings(app: &TestApp, token: &str, settings: Value) -> Reply {
    app.api(
        "PUT",
        "/v1/cameo/settings",
        Some(token),
        Some(&settings.to_string()),
    )
}

#[test]
fn a_cameo_is_verified_lent_used_listed_and_taken_down() {
    let app = TestApp::start(&[]);
    let ana = app.member("ana");
    let bruno = app.member("bruno");
    let carla = app.member("carla");

    // Unverified: nobody can cast Ana, not even with her permission.
    let e = generate(&app, &bruno, "@ana waves", 2, &["ana"]);
    assert_eq!(
        (e.status, e.error_code()),
        (403, "cameo_not_verified".into())
    );
    assert_eq!(
        generate(&app, &bruno, "@zed waves", 2, &["zed"]).error_code(),
        "cameo_unknown"
    );

    // A recording that is not a video is refused; a real one verifies.
    let refused = verify(&app, &ana, b"this is not a video");
    assert_eq!(refused["status"], "refused", "{refused}");
    assert!(
        refused["refusal"]
            .as_str()
            .unwrap()
            .contains("could not be read")
    );
    let recording = a_recording(&app, &ana);
    let verified = verify(&app, &ana, &recording);
    assert_eq!(verified["status"], "verified", "{verified}");
    assert_eq!(verified["permission"], "only_me");

    // Only me: Bruno may not cast her; she may cast herself.
    let e = generate(&app, &bruno, "@ana waves", 2, &["ana"]);
    assert_eq!(e.error_code(), "cameo_not_allowed");
    assert_eq!(generate(&app, &ana, "me, waving", 1, &["ana"]).status, 202);

    // Approved people, with instructions.
    let settings = put_settings(
        &app,
        &ana,
        json!({ "permission": "approved",
                "instructions": "Never in political content. Always wearing glasses" }),
    )
    .json();
    assert_eq!(
        settings["restrictions"],
        json!(["Never in political content"])
    );
    assert_eq!(settings["preferences"], json!(["Always wearing glasses"]));
    assert_eq!(
        generate(&app, &bruno, "@ana waves", 2, &["ana"]).error_code(),
        "cameo_not_allowed"
    );
    let ask = json!({ "handle": "ana", "note": "for my birthday clip" }).to_string();
    let asked = app.api("POST", "/v1/cameo/requests", Some(&bruno), Some(&ask));
    assert_eq!(asked.status, 201, "{}", asked.json());
    assert_eq!(
        app.api("POST", "/v1/cameo/requests", Some(&bruno), Some(&ask))
            .status,
        200,
        "asking twice is one ask"
    );
    assert!(kinds(&app, &ana).contains(&"cameo_permission_requested".into()));
    let incoming = app
        .api("GET", "/v1/cameo/requests", Some(&ana), None)
        .json();
    assert_eq!(incoming["requests"][0]["handle"], "bruno");
    assert_eq!(incoming["requests"][0]["note"], "for my birthday clip");
    let approved = app.api(
        "POST",
        "/v1/cameo/requests/bruno/approve",
        Some(&ana),
        Some("{}"),
    );
    assert_eq!(approved.json()["state"], "approved");
    assert!(kinds(&app, &bruno).contains(&"cameo_permission_answered".into()));

    // Restrictions refuse; allowed prompts go through and Ana hears at once.
    let e = generate(&app, &bruno, "@ana at an election rally", 2, &["ana"]);
    assert_eq!((e.status, e.error_code()), (403, "cameo_restricted".into()));
    assert!(
        e.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Never in political content")
    );
    let draft = generate(&app, &bruno, "@ana feeding ducks", 2, &["ana"]).json();
    let id = draft["id"].as_str().unwrap().to_owned();
    assert!(kinds(&app, &ana).contains(&"cameo_requested".into()));

    // Her likeness, her right to see the draft; a stranger sees nothing.
    assert_eq!(settled(&app, &bruno, &id)["status"], "ready");
    let hers = app.api("GET", &format!("/v1/drafts/{id}"), Some(&ana), None);
    assert_eq!(hers.status, 200);
    assert_eq!(
        app.api("GET", &format!("/v1/drafts/{id}"), Some(&carla), None)
            .status,
        404
    );
    assert!(kinds(&app, &ana).contains(&"cameo_draft_ready".into()));
    let listed = app
        .api("GET", "/v1/cameo/appearances", Some(&ana), None)
        .json();
    let first = &listed["appearances"][0];
    assert_eq!(
        (first["id"].as_str(), first["maker_handle"].as_str()),
        (Some(id.as_str()), Some("bruno"))
    );
    assert_eq!(first["state"], "ready");

    // Published: Ana hears; then she takes it down everywhere.
    let published = app.api(
        "POST",
        &format!("/v1/drafts/{id}/publish"),
        Some(&bruno),
        Some(r#"{"caption":"ducks!"}"#),
    );
    assert_eq!(published.status, 201);
    assert!(kinds(&app, &ana).contains(&"cameo_published".into()));
    let video = format!("/v1/videos/{id}");
    assert_eq!(app.api("GET", &video, Some(&carla), None).status, 200);
    let link = app
        .api("POST", &format!("{video}/share"), Some(&carla), None)
        .json();
    let code = link["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.call("GET", &format!("/s/{code}"), None, None).status,
        200
    );

    let e = app.api(
        "POST",
        &format!("/v1/cameo/appearances/{id}/take-down"),
        Some(&carla),
        None,
    );
    assert_eq!(e.status, 404, "only someone it casts may take it down");
    let down = app.api(
        "POST",
        &format!("/v1/cameo/appearances/{id}/take-down"),
        Some(&ana),
        None,
    );
    assert_eq!(down.json()["state"], "taken_down", "{}", down.json());
    assert_eq!(app.api("GET", &video, Some(&carla), None).status, 404);
    assert_eq!(
        app.call("GET", &format!("/s/{code}"), None, None).status,
        404
    );
    let feed = app
        .api("GET", "/v1/feed/for-you", Some(&carla), None)
        .json()
        .to_string();
    assert!(!feed.contains(&id), "the feed still shows it: {feed}");
    assert!(kinds(&app, &bruno).contains(&"moderation".into()));
}

#[test]
fn revoking_between_request_and_start_stops_the_job() {
    let app = TestApp::start(&[]);
    let ana = app.member("ana");
    let bruno = app.member("bruno");
    let recording = a_recording(&app, &ana);
    assert_eq!(verify(&app, &ana, &recording)["status"], "verified");
    put_settings(&app, &ana, json!({ "permission": "approved" }));
    let ask = json!({ "handle": "ana" }).to_string();
    app.api("POST", "/v1/cameo/requests", Some(&bruno), Some(&ask));
    app.api(
        "POST",
        "/v1/cameo/requests/bruno/approve",
        Some(&ana),
        Some("{}"),
    );

    // The worker renders one job at a time: a long clip ahead keeps the
    // cast one queued while Ana changes her mind.
    let ahead = generate(&app, &bruno, "a long sunset", 10, &[]).json();
    let cast = generate(&app, &bruno, "@ana on a swing", 2, &["ana"]);
    assert_eq!(cast.status, 202);
    let revoked = app.api("DELETE", "/v1/cameo/grants/bruno", Some(&ana), None);
    assert_eq!(revoked.status, 204);

    let id = cast.json()["id"].as_str().unwrap().to_owned();
    let ended = settled(&app, &bruno, &id);
    assert_eq!(ended["status"], "refused", "{ended}");
    assert_eq!(ended["failure"]["code"], "cameo_consent_withdrawn");
    // Bruno hears why his generation could not be made.
    assert!(kinds(&app, &bruno).contains(&"generation_failed".into()));
    assert_eq!(
        settled(&app, &bruno, ahead["id"].as_str().unwrap())["status"],
        "ready"
    );
    // And Bruno's next try is refused at once.
    assert_eq!(
        generate(&app, &bruno, "@ana again", 2, &["ana"]).error_code(),
        "cameo_not_allowed"
    );
}

#[test]
fn cameo_routes_refuse_bad_input_and_strangers() {
    let app = TestApp::start(&[]);
    let ana = app.member("ana");
    for (method, path) in [
        ("GET", "/v1/cameo"),
        ("POST", "/v1/cameo/verification"),
        ("GET", "/v1/cameo/appearances"),
        ("GET", "/v1/cameo/requests"),
    ] {
        assert_eq!(app.api(method, path, None, None).status, 401, "{path}");
    }
    let before = app
        .api("GET", "/v1/cameo/settings", Some(&ana), None)
        .json();
    for bad in [
        json!({ "permission": "whoever" }),
        json!({ "instructions": "x".repeat(501) }),
        json!({ "colour": "blue" }),
    ] {
        assert_eq!(put_settings(&app, &ana, bad.clone()).status, 400, "{bad}");
    }
    assert_eq!(
        app.api("GET", "/v1/cameo/settings", Some(&ana), None)
            .json(),
        before
    );
    let ask_self = json!({ "handle": "ana" }).to_string();
    assert_eq!(
        app.api("POST", "/v1/cameo/requests", Some(&ana), Some(&ask_self))
            .error_code(),
        "cameo_self"
    );
    let bruno = app.member("bruno");
    let ask = json!({ "handle": "ana" }).to_string();
    assert_eq!(
        app.api("POST", "/v1/cameo/requests", Some(&bruno), Some(&ask))
            .error_code(),
        "cameo_not_verified"
    );
    assert_eq!(
        app.api(
            "POST",
            "/v1/cameo/requests/bruno/approve",
            Some(&ana),
            Some("{}")
        )
        .status,
        404
    );
    assert_eq!(
        app.api(
            "GET",
            "/v1/cameo/requests?direction=sideways",
            Some(&ana),
            None
        )
        .status,
        400
    );
    // The worker's report route wants a signature.
    let forged = app.api(
        "POST",
        "/internal/cameo/verifications",
        None,
        Some(r#"{"attempt_id":"x","object_key":"cameo/a/b.mp4","bytes":1,"uploaded_at_ms":1}"#),
    );
    assert_eq!(forged.status, 401);
}

/// The authorisation matrix over HTTP: for each permission level, who may
/// cast its owner (the owner, an approved member, a mutual follow, a
/// stranger, a blocked member, a member whose approval was revoked).
#[test]
fn each_permission_level_lets_exactly_the_right_people_cast() {
    let app = TestApp::start(&[]);
    let levels = ["only_me", "approved", "mutuals", "everyone"];
    let owners: Vec<String> = levels
        .iter()
        .map(|l| app.member(&format!("own_{l}")))
        .collect();
    let recording = a_recording(&app, &owners[0]);
    for (token, level) in owners.iter().zip(levels) {
        assert_eq!(verify(&app, token, &recording)["status"], "verified");
        put_settings(&app, token, json!({ "permission": level }));
    }
    let casters = ["approved", "mutual", "stranger", "blocked", "revoked"];
    let tokens: Vec<String> = casters.iter().map(|c| app.member(c)).collect();
    let (approved, mutual, revoked) = (&tokens[0], &tokens[1], &tokens[4]);
    for (owner, level) in owners.iter().zip(levels) {
        let handle = format!("own_{level}");
        if level != "only_me" {
            for (asker, name) in [(approved, "approved"), (revoked, "revoked")] {
                let ask = json!({ "handle": handle }).to_string();
                app.api("POST", "/v1/cameo/requests", Some(asker), Some(&ask));
                let path = format!("/v1/cameo/requests/{name}/approve");
                assert_eq!(app.api("POST", &path, Some(owner), Some("{}")).status, 200);
            }
            app.api("DELETE", "/v1/cameo/grants/revoked", Some(owner), None);
        }
        app.api(
            "PUT",
            &format!("/v1/users/{handle}/follow"),
            Some(mutual),
            None,
        );
        app.api("PUT", "/v1/users/mutual/follow", Some(owner), None);
        app.api("PUT", "/v1/users/blocked/block", Some(owner), None);
    }
    // Rows: casters; columns: only_me, approved, mutuals, everyone.
    let expected = [
        [false, true, true, true],
        [false, false, true, true],
        [false, false, false, true],
        [false, false, false, false],
        [false, false, false, true],
    ];
    for ((caster, token), row) in casters.iter().zip(&tokens).zip(expected) {
        for (level, allowed) in levels.iter().zip(row) {
            let handle = format!("own_{level}");
            let reply = generate(&app, token, "a picnic by the river", 1, &[&handle]);
            let got = reply.status == 202;
            assert_eq!(
                got,
                allowed,
                "@{caster} casting @{handle}: {}",
                reply.json()
            );
            if !got {
                assert_eq!(reply.error_code(), "cameo_not_allowed");
            }
        }
    }
    // Every owner may cast themselves.
    for (owner, level) in owners.iter().zip(levels) {
        let reply = generate(
            &app,
            owner,
            "me by the river",
            1,
            &[&format!("own_{level}")],
        );
        assert_eq!(reply.status, 202);
    }
}
