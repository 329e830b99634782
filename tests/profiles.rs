//! Profiles, follows and blocks through the accounts component over HTTP.
//! Every response is also checked against docs/openapi.json.

use dreamreel_e2e::{Reply, TestApp};
use serde_json::{Value, json};

fn get(app: &TestApp, path: &str, token: Option<&str>) -> Reply {
    app.api("GET", path, token, None)
}

fn handles(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["handle"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn follows_show_in_counts_relations_lists_and_notifications() {
    let app = TestApp::start(&[]);
    let ana = app.member("Ana");
    let bruno = app.member("bruno");

    let anon = get(&app, "/v1/users/ANA", None);
    assert_eq!(anon.status, 200);
    let profile = anon.json();
    assert_eq!(
        (
            profile["handle"].as_str(),
            profile["followers_count"].as_u64()
        ),
        (Some("Ana"), Some(0))
    );
    assert!(profile.get("relation").is_none());

    let followed = app.api("PUT", "/v1/users/ana/follow", Some(&bruno), None);
    assert_eq!(followed.status, 200);
    assert_eq!(followed.json()["followers_count"], 1);
    assert_eq!(followed.json()["relation"]["following"], true);
    // Idempotent: a second follow changes nothing and notifies nobody again.
    let again = app.api("PUT", "/v1/users/@ana/follow", Some(&bruno), None);
    assert_eq!(again.json()["followers_count"], 1);
    let inbox = get(&app, "/v1/notifications", Some(&ana)).json();
    let follows: Vec<&Value> = inbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "new_follower")
        .collect();
    assert_eq!(follows.len(), 1, "{inbox}");

    let back = app.api("PUT", "/v1/users/bruno/follow", Some(&ana), None);
    assert_eq!(back.json()["relation"]["mutual"], true);
    let seen = get(&app, "/v1/users/ana", Some(&bruno)).json();
    assert_eq!(
        seen["relation"],
        json!({"following": true, "followed_by": true, "mutual": true, "blocked": false})
    );
    assert!(
        get(&app, "/v1/users/ana", Some(&ana))
            .json()
            .get("relation")
            .is_none()
    );

    assert_eq!(
        handles(&get(&app, "/v1/users/ana/followers", None).json()),
        ["bruno"]
    );
    assert_eq!(
        handles(&get(&app, "/v1/users/ana/following", Some(&bruno)).json()),
        ["bruno"]
    );

    for _ in 0..2 {
        let gone = app.api("DELETE", "/v1/users/ana/follow", Some(&bruno), None);
        assert_eq!(gone.status, 200);
        assert_eq!(gone.json()["followers_count"], 0);
    }
    assert!(handles(&get(&app, "/v1/users/ana/followers", None).json()).is_empty());

    let selfish = app.api("PUT", "/v1/users/ANA/follow", Some(&ana), None);
    assert_eq!(
        (selfish.status, selfish.error_code().as_str()),
        (422, "cannot_follow_self")
    );
    assert_eq!(
        app.api("PUT", "/v1/users/nobody/follow", Some(&ana), None)
            .status,
        404
    );
    assert_eq!(
        app.api("PUT", "/v1/users/bruno/follow", None, None).status,
        401
    );
    assert_eq!(get(&app, "/v1/users/nobody", None).status, 404);
    assert_eq!(get(&app, "/v1/users/ana", Some("not-a-token")).status, 401);
}

#[test]
fn follower_lists_page_with_a_cursor() {
    let app = TestApp::start(&[]);
    app.member("star");
    let fans: Vec<String> = (0..5).map(|i| format!("fan{i}")).collect();
    for fan in &fans {
        let token = app.member(fan);
        assert_eq!(
            app.api("PUT", "/v1/users/star/follow", Some(&token), None)
                .status,
            200
        );
    }
    let mut seen = Vec::new();
    let mut path = "/v1/users/star/followers?limit=2".to_owned();
    loop {
        let page = get(&app, &path, None).json();
        seen.extend(handles(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/users/star/followers?limit=2&cursor={c}"),
            None => break,
        }
    }
    let newest_first: Vec<String> = fans.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    assert_eq!(
        get(&app, "/v1/users/star", None).json()["followers_count"],
        5
    );
    assert_eq!(
        get(&app, "/v1/users/star/followers?limit=0", None).status,
        400
    );
    assert_eq!(
        get(&app, "/v1/users/star/followers?cursor=garbage", None).status,
        400
    );
}

#[test]
fn blocking_hides_both_people_and_ends_follows_both_ways() {
    let app = TestApp::start(&[]);
    let ana = app.member("ana");
    let bruno = app.member("bruno");
    let carla = app.member("carla");
    app.api("PUT", "/v1/users/bruno/follow", Some(&ana), None);
    app.api("PUT", "/v1/users/ana/follow", Some(&bruno), None);
    app.api("PUT", "/v1/users/ana/follow", Some(&carla), None);

    for _ in 0..2 {
        assert_eq!(
            app.api("PUT", "/v1/users/Bruno/block", Some(&ana), None)
                .status,
            204
        );
    }
    // Bruno no longer finds Ana anywhere.
    assert_eq!(get(&app, "/v1/users/ana", Some(&bruno)).status, 404);
    assert_eq!(
        get(&app, "/v1/users/ana/followers", Some(&bruno)).status,
        404
    );
    assert_eq!(
        app.api("PUT", "/v1/users/ana/follow", Some(&bruno), None)
            .status,
        404
    );
    assert!(handles(&get(&app, "/v1/users/carla/following", Some(&bruno)).json()).is_empty());
    // Ana still finds Bruno, marked blocked, and cannot follow until she unblocks.
    let seen = get(&app, "/v1/users/bruno", Some(&ana)).json();
    assert_eq!(seen["relation"]["blocked"], true);
    assert_eq!(seen["relation"]["following"], false);
    assert_eq!(
        (
            seen["followers_count"].as_u64(),
            seen["following_count"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let refused = app.api("PUT", "/v1/users/bruno/follow", Some(&ana), None);
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (403, "blocked")
    );
    assert_eq!(
        handles(&get(&app, "/v1/users/ana/followers", None).json()),
        ["carla"]
    );
    assert_eq!(
        handles(&get(&app, "/v1/me/blocks", Some(&ana)).json()),
        ["bruno"]
    );
    // Bruno is not told.
    let inbox = get(&app, "/v1/notifications", Some(&bruno)).json();
    assert!(
        inbox["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["kind"] != "blocked")
    );

    let selfish = app.api("PUT", "/v1/users/ana/block", Some(&ana), None);
    assert_eq!(
        (selfish.status, selfish.error_code().as_str()),
        (422, "cannot_block_self")
    );
    assert_eq!(
        app.api("PUT", "/v1/users/ghost/block", Some(&ana), None)
            .status,
        404
    );

    for _ in 0..2 {
        assert_eq!(
            app.api("DELETE", "/v1/users/bruno/block", Some(&ana), None)
                .status,
            204
        );
    }
    assert!(handles(&get(&app, "/v1/me/blocks", Some(&ana)).json()).is_empty());
    assert_eq!(get(&app, "/v1/users/ana", Some(&bruno)).status, 200);
    // The follows the block ended stay ended.
    assert_eq!(
        get(&app, "/v1/users/ana", Some(&bruno)).json()["relation"]["following"],
        false
    );
    assert_eq!(get(&app, "/v1/me/blocks", None).status, 401);
}

#[test]
fn members_edit_their_display_name_and_bio() {
    let app = TestApp::start(&[]);
    let ana = app.member("ana");
    let patch = |body: &str| app.api("PATCH", "/v1/me", Some(&ana), Some(body));
    let bad = [
        json!({ "bio": "x".repeat(161) }),
        json!({ "display_name": "" }),
        json!({ "display_name": "Ana", "bio": "ok", "handle": "other" }),
        json!({ "bio": 7 }),
    ];
    for body in bad {
        let reply = patch(&body.to_string());
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "invalid_request"),
            "{body}"
        );
    }
    assert_eq!(patch("{").error_code(), "invalid_json");
    let unchanged = get(&app, "/v1/me", Some(&ana)).json();
    assert_eq!(
        (
            unchanged["display_name"].as_str(),
            unchanged["bio"].as_str()
        ),
        (Some("ana"), Some(""))
    );

    let bio = "é".repeat(160);
    let done = patch(&json!({ "display_name": " Ana Lima ", "bio": bio }).to_string());
    assert_eq!(done.status, 200);
    assert_eq!(done.json()["display_name"], "Ana Lima");
    let public = get(&app, "/v1/users/ana", None).json();
    assert_eq!(
        (public["display_name"].as_str(), public["bio"].as_str()),
        (Some("Ana Lima"), Some(bio.as_str()))
    );
    // Only the bio: the name stays.
    let again = patch(r#"{"bio":""}"#).json();
    assert_eq!(
        (again["display_name"].as_str(), again["bio"].as_str()),
        (Some("Ana Lima"), Some(""))
    );
    assert_eq!(app.api("PATCH", "/v1/me", None, Some("{}")).status, 401);
}

/// Sends a request to an absolute (presigned) object-store URL.
fn object(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let rest = url
        .strip_prefix("http://")
        .expect("local URLs are plain HTTP");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    dreamreel_e2e::http::send(host.parse().unwrap(), method, path, headers, body).unwrap()
}

/// Asks for an avatar slot of `content_type`; answers (upload id, url).
fn avatar_slot(app: &TestApp, token: &str, content_type: &str) -> (String, String) {
    let body = json!({ "content_type": content_type }).to_string();
    let slot = app.api("POST", "/v1/me/avatar", Some(token), Some(&body));
    assert_eq!(slot.status, 201, "{}", slot.json());
    let slot = slot.json();
    assert_eq!(slot["upload"]["headers"]["content-type"], content_type);
    assert_eq!(slot["upload"]["max_bytes"], 5 << 20);
    (
        slot["upload_id"].as_str().unwrap().to_owned(),
        slot["upload"]["url"].as_str().unwrap().to_owned(),
    )
}

fn confirm_avatar(app: &TestApp, token: &str, upload_id: &str) -> Reply {
    let body = json!({ "upload_id": upload_id }).to_string();
    app.api("PUT", "/v1/me/avatar", Some(token), Some(&body))
}

#[test]
fn an_avatar_is_uploaded_confirmed_and_linked_from_profiles() {
    let app = TestApp::start(&[]);
    let ana = app.member("ana");
    assert!(
        get(&app, "/v1/me", Some(&ana))
            .json()
            .get("avatar_url")
            .is_none()
    );

    let e = app.api(
        "POST",
        "/v1/me/avatar",
        Some(&ana),
        Some(r#"{"content_type":"image/gif"}"#),
    );
    assert_eq!(e.status, 400);
    let (id, url) = avatar_slot(&app, &ana, "image/png");
    assert!(url.contains("/avatars/"), "{url}");

    // Confirming before uploading, or another slot, changes nothing.
    let early = confirm_avatar(&app, &ana, &id);
    assert_eq!(
        (early.status, early.error_code()),
        (409, "avatar_not_uploaded".into())
    );
    let wrong = confirm_avatar(&app, &ana, "01JNOTANUPLOAD000000000000");
    assert_eq!(wrong.status, 404);
    // The type is signed: another one is refused by storage itself.
    let gif = object("PUT", &url, &[("content-type", "image/gif")], b"GIF89a");
    assert_eq!(gif.status, 403);

    let png = b"\x89PNG\r\n\x1a\n a tiny picture";
    let put = object("PUT", &url, &[("content-type", "image/png")], png);
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    let me = confirm_avatar(&app, &ana, &id);
    assert_eq!(me.status, 200, "{}", me.json());
    let link = me.json()["avatar_url"].as_str().unwrap().to_owned();
    let fetched = object("GET", &link, &[], b"");
    assert_eq!((fetched.status, fetched.body.as_slice()), (200, &png[..]));
    // Confirming again answers the same; public profiles carry the link too.
    assert_eq!(confirm_avatar(&app, &ana, &id).status, 200);
    let public = get(&app, "/v1/users/ana", None).json();
    assert!(public["avatar_url"].as_str().unwrap().contains("/avatars/"));
    assert!(get(&app, "/v1/me", Some(&ana)).json()["avatar_url"].is_string());

    // Too big for an avatar: refused at confirmation, the old one stays.
    let (big_id, big_url) = avatar_slot(&app, &ana, "image/jpeg");
    let big = vec![0xFFu8; (5 << 20) + 1];
    let put = object("PUT", &big_url, &[("content-type", "image/jpeg")], &big);
    assert_eq!(put.status, 200);
    let refused = confirm_avatar(&app, &ana, &big_id);
    assert_eq!(
        (refused.status, refused.error_code()),
        (422, "avatar_too_large".into())
    );
    let still = get(&app, "/v1/me", Some(&ana)).json()["avatar_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let object_path = |u: &str| u.split('?').next().unwrap().to_owned();
    assert_eq!(object_path(&still), object_path(&link));

    let removed = app.api("DELETE", "/v1/me/avatar", Some(&ana), None);
    assert_eq!(removed.status, 200);
    assert!(removed.json().get("avatar_url").is_none());
    assert!(
        get(&app, "/v1/users/ana", None)
            .json()
            .get("avatar_url")
            .is_none()
    );
    let anon = app.api("POST", "/v1/me/avatar", None, Some("{}"));
    assert_eq!(anon.status, 401);
}
