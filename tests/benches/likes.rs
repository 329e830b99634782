//! Likes per second through the local stack (HTTP + WASM + SQLite key-value):
//! many members on one hot video, and the same members spread over many
//! videos. On the hot video each member alternates like and unlike, so every
//! request is a real change of the count; afterwards the exact count is
//! checked against what the members did. Prints figures; asserts only
//! exactness.
//!
//! Run: `cargo bench -p dreamreel-e2e --bench likes`

use std::time::{Duration, Instant};

use dreamreel_core::studio::{DraftMedia, Video};
use dreamreel_core::testing::block_on;
use dreamreel_core::{Store, ids, keys, social};
use dreamreel_e2e::TestApp;
use dreamreel_e2e::http::Conn;
use dreamreel_local::kv::{LabelledStore, SqliteKv};

const MEMBERS: usize = 64;
const CLIENTS: usize = 8;
const RUN: Duration = Duration::from_secs(5);
const VIDEOS: usize = 256;

fn seed(store: &LabelledStore<'_>, owner: &str, n: u32) -> String {
    let mut random = [0x42u8; 10];
    random[6..].copy_from_slice(&n.to_be_bytes());
    let id = ids::ulid_from_parts(1_700_000_000_000, random);
    let video = Video {
        id: id.clone(),
        owner: owner.to_owned(),
        owner_handle: "maker".into(),
        caption: String::new(),
        prompt: "bench".into(),
        aspect: "9:16".into(),
        seed: 1,
        media: DraftMedia {
            video_key: format!("media/{id}/video.mp4"),
            thumbnail_key: format!("media/{id}/thumb.jpg"),
            duration_ms: 1000,
            width: 360,
            height: 640,
            bytes: 1,
        },
        remix_of: None,
        cameos: vec![],
        generated_at_ms: 1,
        published_at_ms: 1,
        removed: None,
    };
    block_on(store.set(&keys::video(&id), &serde_json::to_vec(&video).unwrap())).unwrap();
    id
}

/// Runs `CLIENTS` keep-alive connections for `RUN`; client `c` serves
/// members `c, c + CLIENTS, ...`, and `next(member, step)` names each request.
/// Returns requests per second and how many requests each member made.
fn hammer(
    app: &TestApp,
    tokens: &[String],
    next: impl Fn(usize, usize) -> (&'static str, String) + Sync,
) -> (f64, Vec<usize>) {
    let started = Instant::now();
    let done: Vec<Vec<(usize, usize)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let next = &next;
                s.spawn(move || {
                    let mut conn = Conn::open(app.addr).expect("connect");
                    let mine: Vec<usize> = (c..tokens.len()).step_by(CLIENTS).collect();
                    let auths: Vec<String> = mine
                        .iter()
                        .map(|m| format!("Bearer {}", tokens[*m]))
                        .collect();
                    let mut steps = vec![0usize; mine.len()];
                    let mut sent = 0;
                    while started.elapsed() < RUN {
                        let slot = sent % mine.len();
                        let (method, path) = next(mine[slot], steps[slot]);
                        let reply = conn
                            .send(method, &path, &[("authorization", &auths[slot])], b"")
                            .unwrap();
                        if reply.status == 503 {
                            continue; // Busy: the client retries the same request.
                        }
                        assert_eq!(
                            reply.status,
                            200,
                            "{}",
                            String::from_utf8_lossy(&reply.body)
                        );
                        steps[slot] += 1;
                        sent += 1;
                    }
                    mine.into_iter().zip(steps).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut per_member = vec![0; tokens.len()];
    for (member, steps) in done.into_iter().flatten() {
        per_member[member] = steps;
    }
    let total: usize = per_member.iter().sum();
    (total as f64 / started.elapsed().as_secs_f64(), per_member)
}

fn main() {
    let app = TestApp::start(&[]);
    let tokens: Vec<String> = (0..MEMBERS)
        .map(|i| app.member(&format!("fan{i:03}")))
        .collect();
    let kv = SqliteKv::open(&app.config.kv_path()).expect("kv opens");
    let store = LabelledStore::new(&kv, "default");
    let owner = ids::ulid_from_parts(1, [9; 10]);
    let hot = seed(&store, &owner, 0);
    let many: Vec<String> = (1..=VIDEOS as u32)
        .map(|n| seed(&store, &owner, n))
        .collect();

    // The stack's ceiling on this machine: a route that writes nothing.
    let (health_rate, _) = hammer(&app, &tokens, |_, _| ("GET", "/v1/health".to_owned()));
    println!("baseline:      {health_rate:>8.0} GET /v1/health/s ({CLIENTS} connections)");

    // One hot video: like, unlike, like, ... per member; every request a real change.
    let (hot_rate, steps) = hammer(&app, &tokens, |_, step| {
        let method = if step % 2 == 0 { "PUT" } else { "DELETE" };
        (method, format!("/v1/videos/{hot}/like"))
    });
    let counts = block_on(social::video_counts(&store, std::slice::from_ref(&hot))).unwrap();
    let standing = steps.iter().filter(|s| *s % 2 == 1).count() as u64;
    let total: usize = steps.iter().sum();
    println!(
        "one hot video: {hot_rate:>8.0} like changes/s ({total} in {RUN:?}, {MEMBERS} members, {CLIENTS} connections); count {} (exact: {standing})",
        counts[0].likes
    );
    assert_eq!(counts[0].likes, standing, "the hot video's count is exact");

    // Many videos: each member likes video after video; every request a new like.
    let (many_rate, steps) = hammer(&app, &tokens, |member, step| {
        let video = &many[(member * 7 + step) % VIDEOS];
        ("PUT", format!("/v1/videos/{video}/like"))
    });
    let counts = block_on(social::video_counts(&store, &many)).unwrap();
    let sum: u64 = counts.iter().map(|c| c.likes).sum();
    let standing: usize = steps.iter().map(|s| (*s).min(VIDEOS)).sum();
    let total: usize = steps.iter().sum();
    println!(
        "{VIDEOS} videos:   {many_rate:>8.0} likes/s ({total} requests in {RUN:?}); count {sum} (exact: {standing})"
    );
    assert_eq!(sum, standing as u64, "every count is exact");
}
