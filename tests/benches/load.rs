//! A realistic mix against the local stack on 127.0.0.1: virtual users
//! scroll For You and Following, open videos, like and unlike, comment,
//! send viewing events, read their notifications, and a few ask for a
//! generation (the in-process worker renders it meanwhile). Before the mix,
//! the same users hit `GET /v1/health` alone: the baseline the figures are
//! read against. Prints requests, throughput, p50/p99 and the error rate per
//! route; asserts only that no like was lost or doubled.
//!
//! Run: `cargo bench -p dreamreel-e2e --bench load`
//! (`DREAMREEL_LOAD_SECS`, default 30, and `DREAMREEL_LOAD_USERS`, default 16).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use dreamreel_core::studio::Video;
use dreamreel_core::testing::block_on;
use dreamreel_core::{feed, ids, social};
use dreamreel_e2e::TestApp;
use dreamreel_e2e::http::Conn;
use dreamreel_e2e::seed::{media, published_video};
use dreamreel_local::kv::{LabelledStore, SqliteKv};
use serde_json::{Value, json};

const VIDEOS: u32 = 300;
const BASELINE: Duration = Duration::from_secs(5);
/// Users that ask for one generation each, early in the run.
const GENERATORS: usize = 3;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator: each user's choices repeat run to run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Latencies (µs) and failures of one route.
#[derive(Default)]
struct Route {
    micros: Vec<u64>,
    errors: usize,
}

type Stats = BTreeMap<&'static str, Route>;

fn merge(into: &mut Stats, from: Stats) {
    for (name, r) in from {
        let slot = into.entry(name).or_default();
        slot.micros.extend(r.micros);
        slot.errors += r.errors;
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// Prints one table row per route; returns total requests and errors.
fn report(title: &str, stats: &Stats, elapsed: Duration) -> (usize, usize) {
    println!("\n{title} ({:.1} s)", elapsed.as_secs_f64());
    println!("| route | requests | req/s | p50 | p99 | errors |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let (mut total, mut errors) = (0, 0);
    let mut all = Vec::new();
    for (name, r) in stats {
        let mut sorted = r.micros.clone();
        sorted.sort_unstable();
        all.extend_from_slice(&sorted);
        total += sorted.len();
        errors += r.errors;
        println!(
            "| `{name}` | {} | {:.1} | {} | {} | {:.2}% |",
            sorted.len(),
            sorted.len() as f64 / elapsed.as_secs_f64(),
            ms(percentile(&sorted, 0.50)),
            ms(percentile(&sorted, 0.99)),
            100.0 * r.errors as f64 / sorted.len().max(1) as f64
        );
    }
    all.sort_unstable();
    println!(
        "| all | {total} | {:.1} | {} | {} | {:.2}% |",
        total as f64 / elapsed.as_secs_f64(),
        ms(percentile(&all, 0.50)),
        ms(percentile(&all, 0.99)),
        100.0 * errors as f64 / total.max(1) as f64
    );
    (total, errors)
}

/// Published videos, written and indexed the way publishing indexes them.
fn seed(kv: &SqliteKv, owners: &[(String, String)]) -> Vec<String> {
    let store = LabelledStore::new(kv, "default");
    let now = dreamreel_core::Env::now_ms(&dreamreel_local::admin::SystemEnv);
    let words = [
        "harbour", "fox", "snow", "city", "night", "dance", "forest", "robot",
    ];
    (0..VIDEOS)
        .map(|n| {
            let at = now - u64::from(VIDEOS - n) * 60_000;
            let mut random = [0x1Du8; 10];
            random[6..].copy_from_slice(&n.to_be_bytes());
            let id = ids::ulid_from_parts(at, random);
            let (owner, handle) = &owners[n as usize % owners.len()];
            let w = |k: u32| words[((n * 7 + k * 3) % words.len() as u32) as usize];
            let video = Video {
                caption: format!("{} at {}", w(1), w(2)),
                seed: u64::from(n),
                media: media(&id, 6000, (720, 1280), 500_000),
                ..published_video(
                    &id,
                    owner,
                    handle,
                    &format!("a {} in the {}", w(0), w(3)),
                    at,
                )
            };
            let bytes = serde_json::to_vec(&video).unwrap();
            block_on(dreamreel_core::Store::set(
                &store,
                &dreamreel_core::keys::video(&id),
                &bytes,
            ))
            .unwrap();
            block_on(feed::on_published(&store, &video, true)).unwrap();
            id
        })
        .collect()
}

/// One virtual user's session.
struct User<'a> {
    conn: Conn,
    auth: String,
    rng: Lcg,
    videos: &'a [String],
    /// Videos this user likes now (the exactness check at the end).
    likes: HashMap<String, bool>,
    cursor: Option<String>,
    seen: Vec<String>,
    batch: u64,
    id: usize,
    stats: Stats,
}

impl User<'_> {
    /// Sends one request and records it under `route`; the body of a 2xx answer.
    fn send(
        &mut self,
        route: &'static str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Option<Value> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut headers = vec![("authorization", self.auth.as_str())];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        let started = Instant::now();
        let reply = self.conn.send(method, path, &headers, body.as_bytes());
        let took = started.elapsed().as_micros() as u64;
        let slot = self.stats.entry(route).or_default();
        slot.micros.push(took);
        match reply {
            Ok(r) if (200..300).contains(&r.status) => {
                Some(serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            }
            Ok(r) => {
                slot.errors += 1;
                if slot.errors <= 3 {
                    eprintln!("{route}: {} {}", r.status, String::from_utf8_lossy(&r.body));
                }
                None
            }
            Err(e) => {
                slot.errors += 1;
                eprintln!("{route}: {e}");
                None
            }
        }
    }

    fn pick(&mut self) -> String {
        if !self.seen.is_empty() && self.rng.below(3) > 0 {
            let i = self.rng.below(self.seen.len() as u64) as usize;
            return self.seen[i].clone();
        }
        self.videos[self.rng.below(self.videos.len() as u64) as usize].clone()
    }

    /// One step of the mix; the weights are a scrolling session's.
    fn step(&mut self) {
        match self.rng.below(100) {
            0..=27 => {
                let path = match &self.cursor {
                    Some(c) => format!("/v1/feed/for-you?limit=8&cursor={c}"),
                    None => "/v1/feed/for-you?limit=8".to_owned(),
                };
                if let Some(page) = self.send("GET /v1/feed/for-you", "GET", &path, None) {
                    self.cursor = page["next_cursor"].as_str().map(str::to_owned);
                    let ids = page["items"].as_array().into_iter().flatten();
                    self.seen = ids
                        .filter_map(|i| i["video"]["id"].as_str().map(str::to_owned))
                        .collect();
                }
                if self.rng.below(6) == 0 {
                    self.cursor = None;
                }
            }
            28..=31 => {
                self.send(
                    "GET /v1/feed/following",
                    "GET",
                    "/v1/feed/following?limit=8",
                    None,
                );
            }
            32..=43 => {
                let v = self.pick();
                self.send(
                    "GET /v1/videos/{id}",
                    "GET",
                    &format!("/v1/videos/{v}"),
                    None,
                );
            }
            44..=55 => {
                let v = self.pick();
                let liked = self.likes.get(&v).copied().unwrap_or(false);
                let (route, method) = if liked {
                    ("DELETE /v1/videos/{id}/like", "DELETE")
                } else {
                    ("PUT /v1/videos/{id}/like", "PUT")
                };
                if self
                    .send(route, method, &format!("/v1/videos/{v}/like"), None)
                    .is_some()
                {
                    self.likes.insert(v, !liked);
                }
            }
            56..=59 => {
                let v = self.pick();
                let body = json!({ "text": format!("love the light here, take {}", self.batch) });
                let path = format!("/v1/videos/{v}/comments");
                self.send("POST /v1/videos/{id}/comments", "POST", &path, Some(&body));
            }
            60..=65 => {
                let v = self.pick();
                let path = format!("/v1/videos/{v}/comments?limit=20");
                self.send("GET /v1/videos/{id}/comments", "GET", &path, None);
            }
            66..=85 => {
                self.batch += 1;
                let mut events: Vec<Value> = Vec::new();
                for _ in 0..6 {
                    let v = self.pick();
                    events.push(json!({ "type": "impression", "video_id": v }));
                    let watched = 1_000 + self.rng.below(5_000);
                    events.push(json!({ "type": "watch", "video_id": v, "watch_ms": watched }));
                }
                let body = json!({ "batch_id": format!("u{}-b{}", self.id, self.batch), "events": events });
                self.send("POST /v1/events", "POST", "/v1/events", Some(&body));
            }
            86..=95 => {
                self.send(
                    "GET /v1/notifications",
                    "GET",
                    "/v1/notifications?limit=20",
                    None,
                );
            }
            _ => {
                self.send(
                    "GET /v1/notifications/unread",
                    "GET",
                    "/v1/notifications/unread",
                    None,
                );
            }
        }
    }
}

fn main() {
    let secs = setting("DREAMREEL_LOAD_SECS", 30);
    let users = setting("DREAMREEL_LOAD_USERS", 16) as usize;
    let app = TestApp::start(&[("write_rate_limit", "0")]);
    let tokens: Vec<String> = (0..users)
        .map(|i| app.member(&format!("viewer{i:02}")))
        .collect();
    let owners: Vec<(String, String)> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let me = app.api("GET", "/v1/me", Some(t), None).json();
            (
                me["id"].as_str().unwrap().to_owned(),
                format!("viewer{i:02}"),
            )
        })
        .collect();
    // Everyone follows a few others, so Following has something to show.
    for (i, token) in tokens.iter().enumerate() {
        for k in 1..=3 {
            let other = (i + k) % users;
            let path = format!("/v1/users/viewer{other:02}/follow");
            assert_eq!(app.api("PUT", &path, Some(token), None).status, 200);
        }
    }
    let kv = SqliteKv::open(&app.config.kv_path()).expect("kv opens");
    let videos = seed(&kv, &owners);
    println!("load: {users} users, {VIDEOS} videos, {secs} s mixed after {BASELINE:?} of health");

    // Baseline: the same users, health only.
    let started = Instant::now();
    let baseline: Vec<Stats> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..users)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = Conn::open(app.addr).expect("connect");
                    let mut route = Route::default();
                    while started.elapsed() < BASELINE {
                        let t = Instant::now();
                        let r = conn.send("GET", "/v1/health", &[], b"");
                        route.micros.push(t.elapsed().as_micros() as u64);
                        if !matches!(r, Ok(ref r) if r.status == 200) {
                            route.errors += 1;
                        }
                    }
                    Stats::from([("GET /v1/health (baseline)", route)])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let baseline_elapsed = started.elapsed();
    let mut health = Stats::new();
    baseline.into_iter().for_each(|s| merge(&mut health, s));
    let (health_total, _) = report("Baseline: GET /v1/health alone", &health, baseline_elapsed);

    // The mix.
    let run = Duration::from_secs(secs);
    let started = Instant::now();
    let results: Vec<(Stats, HashMap<String, bool>, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let (videos, app) = (&videos, &app);
                s.spawn(move || {
                    let mut user = User {
                        conn: Conn::open(app.addr).expect("connect"),
                        auth: format!("Bearer {token}"),
                        rng: Lcg(0x5EED + i as u64),
                        videos,
                        likes: HashMap::new(),
                        cursor: None,
                        seen: Vec::new(),
                        batch: 0,
                        id: i,
                        stats: Stats::new(),
                    };
                    let mut draft = None;
                    while started.elapsed() < run {
                        if i < GENERATORS && draft.is_none() && started.elapsed() > run / 10 {
                            let body = json!({ "prompt": "a lighthouse beam sweeping fog", "duration_seconds": 2 });
                            let reply = user.send("POST /v1/generations", "POST", "/v1/generations", Some(&body));
                            draft = Some(reply.and_then(|r| r["id"].as_str().map(str::to_owned)));
                            continue;
                        }
                        user.step();
                    }
                    (user.stats, user.likes, draft.flatten())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let mut mix = Stats::new();
    let mut expected: HashMap<String, u64> = HashMap::new();
    let mut drafts = Vec::new();
    for (i, (stats, likes, draft)) in results.into_iter().enumerate() {
        merge(&mut mix, stats);
        for (video, liked) in likes {
            *expected.entry(video).or_default() += u64::from(liked);
        }
        if let Some(d) = draft {
            drafts.push((i, d));
        }
    }
    let (total, errors) = report("Mix", &mix, elapsed);
    let mix_rate = total as f64 / elapsed.as_secs_f64();
    let health_rate = health_total as f64 / baseline_elapsed.as_secs_f64();
    println!(
        "\nmix throughput {mix_rate:.0} req/s = {:.2} x health alone ({health_rate:.0} req/s); errors {errors} of {total}",
        mix_rate / health_rate
    );

    // Generations asked for during the mix: the worker finishes them after.
    let waited = Instant::now();
    for (i, id) in &drafts {
        loop {
            let d = app
                .api("GET", &format!("/v1/drafts/{id}"), Some(&tokens[*i]), None)
                .json();
            let status = d["status"].as_str().unwrap_or_default().to_owned();
            if !matches!(status.as_str(), "queued" | "running")
                || waited.elapsed() > Duration::from_secs(300)
            {
                println!(
                    "generation {id}: {status} after the mix + {:.1} s",
                    waited.elapsed().as_secs_f64()
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    // Nothing lost or doubled: every like count is what the users did.
    let store = LabelledStore::new(&kv, "default");
    let counts = block_on(social::video_counts(&store, &videos)).unwrap();
    let mut checked = 0;
    for (video, c) in videos.iter().zip(counts) {
        assert_eq!(
            c.likes,
            expected.get(video).copied().unwrap_or(0),
            "likes of {video}"
        );
        checked += 1;
    }
    println!("like counts exact on {checked} videos");
}
