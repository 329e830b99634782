//! The core loop, end to end through the local stack: a member asks for a
//! 10-second clip, the job crosses object storage to the worker, the worker
//! renders and uploads a real MP4, the draft goes ready, and the MP4 plays:
//! `ffprobe` finds one H.264 stream of the requested size, one audio stream
//! and the requested duration. Then the draft is published.

use std::process::Command;
use std::time::{Duration, Instant};

use dreamreel_e2e::TestApp;
use serde_json::{Value, json};

fn signed_up(app: &TestApp) -> String {
    let body = dreamreel_e2e::sign_up_body("GEN-00001", "maker");
    let reply = app.api("POST", "/v1/auth/signup", None, Some(&body.to_string()));
    assert_eq!(reply.status, 201, "{}", reply.json());
    reply.json()["token"].as_str().unwrap().to_owned()
}

/// Polls the draft until it leaves queued/running, or panics after `limit`.
fn wait_until_settled(app: &TestApp, token: &str, id: &str, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let draft = app
            .api("GET", &format!("/v1/drafts/{id}"), Some(token), None)
            .json();
        match draft["status"].as_str() {
            Some("queued" | "running") if started.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(200))
            }
            _ => return draft,
        }
    }
}

/// Fetches an absolute URL (a presigned object-store link) with the test client.
fn fetch(url: &str) -> dreamreel_e2e::Reply {
    let rest = url
        .strip_prefix("http://")
        .expect("local URLs are plain HTTP");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    dreamreel_e2e::http::send(host.parse().unwrap(), "GET", path, &[], b"").unwrap()
}

fn ffprobe(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clip.mp4");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(&file)
        .output()
        .expect("ffprobe runs (install Debian's ffmpeg: apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_ten_second_clip_is_generated_played_and_published() {
    let app = TestApp::start(&[("bootstrap_invites", "GEN-00001")]);
    let token = signed_up(&app);

    let request =
        json!({ "prompt": "a red fox running through snow at dawn", "duration_seconds": 10 });
    let accepted = app.api(
        "POST",
        "/v1/generations",
        Some(&token),
        Some(&request.to_string()),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.json());
    let id = accepted.json()["id"].as_str().unwrap().to_owned();

    let draft = wait_until_settled(&app, &token, &id, Duration::from_secs(180));
    assert_eq!(draft["status"], "ready", "{draft}");

    let video = fetch(draft["media"]["video_url"].as_str().unwrap());
    assert_eq!(video.status, 200);
    let probe = ffprobe(&video.body);
    let streams = probe["streams"].as_array().unwrap();
    let of = |kind: &str| {
        streams
            .iter()
            .filter(|s| s["codec_type"] == kind)
            .collect::<Vec<_>>()
    };
    let (videos, audios) = (of("video"), of("audio"));
    assert_eq!((videos.len(), audios.len()), (1, 1), "{probe}");
    assert_eq!(videos[0]["codec_name"], "h264");
    assert_eq!(
        (videos[0]["width"].as_u64(), videos[0]["height"].as_u64()),
        (Some(720), Some(1280))
    );
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 10.0).abs() <= 0.1, "duration {duration}");

    let thumbnail = fetch(draft["media"]["thumbnail_url"].as_str().unwrap());
    assert_eq!(thumbnail.status, 200);
    assert!(thumbnail.body.starts_with(&[0xFF, 0xD8]), "a JPEG");

    let published = app.api(
        "POST",
        &format!("/v1/drafts/{id}/publish"),
        Some(&token),
        Some(r#"{"caption":"first light"}"#),
    );
    assert!(
        matches!(published.status, 200 | 201),
        "{}",
        published.json()
    );
    assert_eq!(published.json()["id"], id);
}

#[test]
fn a_job_cut_off_by_a_stop_finishes_after_the_restart() {
    let mut app = TestApp::start(&[("bootstrap_invites", "GEN-00001")]);
    let token = signed_up(&app);
    let request = json!({ "prompt": "rain on a tin roof at night", "duration_seconds": 10 });
    let accepted = app.api(
        "POST",
        "/v1/generations",
        Some(&token),
        Some(&request.to_string()),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.json());
    let id = accepted.json()["id"].as_str().unwrap().to_owned();

    // Rendering ten seconds takes far longer than this round trip: the stop
    // lands while the job is queued or rendering.
    let before = app.api("GET", &format!("/v1/drafts/{id}"), Some(&token), None);
    assert_ne!(before.json()["status"], "ready");
    app.restart();

    let draft = wait_until_settled(&app, &token, &id, Duration::from_secs(180));
    assert_eq!(draft["status"], "ready", "{draft}");
    let video = fetch(draft["media"]["video_url"].as_str().unwrap());
    assert_eq!(video.status, 200);
    assert_eq!(ffprobe(&video.body)["streams"].as_array().unwrap().len(), 2);
}
