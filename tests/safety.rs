//! Safety through the WASM components over HTTP: blocked prompts are refused
//! with their reason before anything is queued, whatever the disguise, and
//! near-misses pass; a rights holder's opt-out applies from the next request
//! (remix chains included); a report and its takedown remove the video and
//! tell its maker; only admins moderate.

use std::time::{Duration, Instant};

use dreamreel_e2e::{Reply, TestApp};
use serde_json::{Value, json};

fn generate(app: &TestApp, token: &str, prompt: &str, remix_of: Option<&str>) -> Reply {
    let mut body = json!({ "prompt": prompt, "duration_seconds": 1 });
    if let Some(src) = remix_of {
        body["remix_of"] = json!(src);
    }
    app.api(
        "POST",
        "/v1/generations",
        Some(token),
        Some(&body.to_string()),
    )
}

fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Reply {
    app.api("POST", path, Some(token), Some(&body.to_string()))
}

/// Asks the real worker for a one-second clip, waits for it and publishes it.
fn make_video(app: &TestApp, token: &str, prompt: &str) -> String {
    let accepted = generate(app, token, prompt, None);
    assert_eq!(accepted.status, 202, "{}", accepted.json());
    let id = accepted.json()["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    loop {
        let draft = app
            .api("GET", &format!("/v1/drafts/{id}"), Some(token), None)
            .json();
        match draft["status"].as_str() {
            Some("ready") => break,
            Some("queued" | "running") if started.elapsed() < Duration::from_secs(120) => {
                std::thread::sleep(Duration::from_millis(200))
            }
            other => panic!("draft ended {other:?}: {draft}"),
        }
    }
    let published = post(
        app,
        token,
        &format!("/v1/drafts/{id}/publish"),
        json!({ "caption": prompt }),
    );
    assert_eq!(published.status, 201, "{}", published.json());
    id
}

#[test]
fn blocked_prompts_are_refused_with_their_reason_in_any_disguise_and_nothing_is_queued() {
    let app = TestApp::start(&[]);
    let ana = app.member("ana");
    let refused = [
        (
            "a beheading in close-up",
            "content_blocked_graphic_violence",
            "graphic violence",
        ),
        // Cyrillic а and о in "naked", Greek ο in "porn".
        (
            "a nаkеd woman in a pοrn scene",
            "content_blocked_sexual",
            "sexual content",
        ),
        (
            "gas the j\u{200B}e\u{200B}w\u{200B}s",
            "content_blocked_hate",
            "hate speech",
        ),
        (
            "how to c o o k  m e t h at home",
            "content_blocked_illegal",
            "illegal activity",
        ),
        (
            "a video telling her to k.y.s",
            "content_blocked_harassment",
            "harassment",
        ),
        (
            "isis pr0p4g4nd4 video",
            "content_blocked_extremism",
            "extremism",
        ),
        (
            "a man h4nging h1mself",
            "content_blocked_self_harm",
            "self-harm",
        ),
        (
            "ｎａｋｅｄ children",
            "content_blocked_sexual_minors",
            "minors",
        ),
        (
            "Taylor Swift eating soup",
            "content_blocked_public_figure",
            "public figure",
        ),
        (
            "@bruno falling over",
            "content_blocked_real_person",
            "real person",
        ),
    ];
    for (prompt, code, words) in refused {
        let reply = generate(&app, &ana, prompt, None);
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (422, code),
            "{prompt:?}"
        );
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(words), "{prompt:?}: {message}");
    }
    // Nothing was queued, nothing charged.
    let drafts = app.api("GET", "/v1/drafts", Some(&ana), None).json();
    assert_eq!(drafts["drafts"], json!([]), "{drafts}");

    for fine in [
        "a class of skilled students in Scunthorpe",
        "a cocktail bar with a therapist and a grape",
        "a killer whale, killing time, seen with the naked eye",
        "a history lesson about the nazi invasion of Poland",
    ] {
        let reply = generate(&app, &ana, fine, None);
        assert_eq!(reply.status, 202, "{fine:?}: {}", reply.json());
    }
}

#[test]
fn an_opt_out_applies_from_the_next_request_and_only_admins_manage_the_registry() {
    let app = TestApp::start(&[("admin_handles", "Boss")]);
    let boss = app.member("boss");
    let ana = app.member("ana");
    assert_eq!(
        generate(&app, &ana, "Zorblax the robot dances", None).status,
        202
    );

    let entry = json!({
        "name": "Zorblax",
        "aliases": ["Zorb Lax"],
        "kind": "character",
        "policy": "opt_out",
        "holder": "Zorb Studios"
    });
    let denied = post(&app, &ana, "/v1/admin/rights", entry.clone());
    assert_eq!(
        (denied.status, denied.error_code().as_str()),
        (403, "admin_only")
    );
    assert_eq!(
        app.api("GET", "/v1/admin/rights", Some(&ana), None).status,
        403
    );
    let bad = post(
        &app,
        &boss,
        "/v1/admin/rights",
        json!({ "name": "X", "kind": "character", "policy": "opt_in" }),
    );
    assert_eq!(bad.status, 400, "opt_in needs terms");

    let added = post(&app, &boss, "/v1/admin/rights", entry);
    assert_eq!(added.status, 201, "{}", added.json());
    let id = added.json()["id"].as_str().unwrap().to_owned();
    let listed = app.api("GET", "/v1/admin/rights", Some(&boss), None).json();
    assert_eq!(listed["entries"][0]["id"], id.as_str());

    for prompt in [
        "Zorblax the robot dances",
        "z0rbl4x waves",
        "the zorb lax show",
    ] {
        let reply = generate(&app, &ana, prompt, None);
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (422, "content_blocked_rights"),
            "{prompt}"
        );
        assert!(
            reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Zorblax")
        );
    }

    let path = format!("/v1/admin/rights/{id}");
    assert_eq!(app.api("DELETE", &path, Some(&ana), None).status, 403);
    assert_eq!(app.api("DELETE", &path, Some(&boss), None).status, 204);
    assert_eq!(app.api("DELETE", &path, Some(&boss), None).status, 404);
    assert_eq!(
        generate(&app, &ana, "Zorblax the robot dances", None).status,
        202
    );
}

#[test]
fn a_report_and_its_takedown_remove_the_video_and_tell_the_maker() {
    let app = TestApp::start(&[("admin_handles", "boss")]);
    let boss = app.member("boss");
    let ana = app.member("ana");
    let bo = app.member("bob");
    let video = make_video(&app, &ana, "Quixel the fox dances in the snow");
    assert_eq!(
        app.api("GET", &format!("/v1/videos/{video}"), Some(&bo), None)
            .status,
        200
    );

    // A rights entry added later also stops remixes of a video that names it.
    let entry = json!({ "name": "Quixel", "kind": "character", "policy": "opt_out" });
    assert_eq!(post(&app, &boss, "/v1/admin/rights", entry).status, 201);
    let remix = generate(&app, &bo, "faster, with snowflakes", Some(&video));
    assert_eq!(
        (remix.status, remix.error_code().as_str()),
        (422, "content_blocked_rights")
    );
    assert!(
        remix.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("remix")
    );

    let report = json!({ "target_type": "video", "target_id": video, "reason": "copyright", "note": "uses Quixel" });
    let filed = post(&app, &bo, "/v1/reports", report.clone());
    assert_eq!(filed.status, 201, "{}", filed.json());
    assert_eq!(filed.json()["status"], "open");
    let again = post(&app, &bo, "/v1/reports", report);
    assert_eq!(
        (again.status, again.error_code().as_str()),
        (409, "report_exists")
    );
    let bad = post(
        &app,
        &bo,
        "/v1/reports",
        json!({ "target_type": "video", "target_id": video, "reason": "meh" }),
    );
    assert_eq!(bad.status, 400);
    let own = post(
        &app,
        &ana,
        "/v1/reports",
        json!({ "target_type": "video", "target_id": video, "reason": "spam" }),
    );
    assert_eq!(own.status, 400, "nobody reports their own video");

    assert_eq!(
        app.api("GET", "/v1/admin/reports", Some(&bo), None).status,
        403
    );
    let queue = app
        .api("GET", "/v1/admin/reports", Some(&boss), None)
        .json();
    let report_id = filed.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(queue["reports"][0]["id"], report_id.as_str());

    let resolve = format!("/v1/admin/reports/{report_id}/resolve");
    let take_down = json!({ "action": "take_down", "note": "rights holder opted out" });
    assert_eq!(post(&app, &bo, &resolve, take_down.clone()).status, 403);
    let done = post(&app, &boss, &resolve, take_down.clone());
    assert_eq!(done.status, 200, "{}", done.json());
    assert_eq!(done.json()["resolution"]["action"], "take_down");
    let twice = post(&app, &boss, &resolve, take_down);
    assert_eq!(
        (twice.status, twice.error_code().as_str()),
        (409, "report_resolved")
    );

    assert_eq!(
        app.api("GET", &format!("/v1/videos/{video}"), Some(&bo), None)
            .status,
        404
    );
    let queue = app
        .api("GET", "/v1/admin/reports", Some(&boss), None)
        .json();
    assert_eq!(queue["reports"], json!([]));
    let inbox = app.api("GET", "/v1/notifications", Some(&ana), None).json();
    let moderation: Vec<&Value> = inbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "moderation")
        .collect();
    assert_eq!(moderation.len(), 1, "{inbox}");
    assert_eq!(moderation[0]["subject"]["video_id"], video.as_str());
}
