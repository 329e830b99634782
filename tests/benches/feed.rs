//! For You under load: seeds 100,000 videos by 10,000 creators (with
//! viewing counters) into the local stack's store, then measures
//! `GET /v1/feed/for-you` (HTTP + WASM) for signed-in viewers who follow 30
//! creators each: latency p50/p99 on one connection, pages per second on
//! two, and the same page computed by the core natively on the same SQLite
//! file in this process (with the token check the component does too), as a
//! ratio; and `GET /v1/health` on the same connection, the stack's floor per
//! request, so the ratio splits into the floor and the page's own work.
//! Nothing here asserts a time; figures go in docs/PERFORMANCE.md.
//!
//! Run: `cargo bench -p dreamreel-e2e --bench feed`

use std::time::{Duration, Instant};

use dreamreel_core::accounts::{self, AccountsConfig, User};
use dreamreel_core::studio::{MediaSigner, Video};
use dreamreel_core::testing::block_on;
use dreamreel_core::{ApiError, feed, graph, ids, keys};
use dreamreel_e2e::TestApp;
use dreamreel_e2e::http::Conn;
use dreamreel_e2e::seed::{media, published_video};
use dreamreel_local::admin::SystemEnv;
use dreamreel_local::kv::{LabelledStore, SqliteKv};
use dreamreel_sigv4::{Credentials, Request as SigRequest, Signer};

const VIDEOS: u32 = 100_000;
const CREATORS: u32 = 10_000;
const FOLLOWS: u32 = 30;
const WARMUP: usize = 50;
const SAMPLES: usize = 600;
/// Pages per session before the viewer resets (keeps the seen set realistic).
const SESSION: usize = 50;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn creator_id(n: u32) -> String {
    let mut random = [0xC0; 10];
    random[6..].copy_from_slice(&n.to_be_bytes());
    ids::ulid_from_parts(1_700_000_000_000, random)
}

fn seed(kv: &SqliteKv) {
    let now = SystemTime::now_ms();
    let mut rng = Lcg(7);
    let words = [
        "cooking", "pasta", "horror", "beach", "city", "night", "dance", "cat", "robot", "forest",
    ];
    let mut batch: Vec<(String, Vec<u8>)> = Vec::new();
    for c in 0..CREATORS {
        let id = creator_id(c);
        let user = User {
            id: id.clone(),
            handle: format!("maker{c}"),
            display_name: format!("maker{c}"),
            password_hash: String::new(),
            created_at_ms: 0,
            invite_code: "BENCH".into(),
        };
        batch.push((keys::user(&id), serde_json::to_vec(&user).unwrap()));
        batch.push((keys::handle(&format!("maker{c}")), id.into_bytes()));
    }
    kv.set_many("default", &batch).unwrap();
    batch.clear();

    let mut recent: Vec<String> = Vec::new();
    let mut by_creator: Vec<Vec<String>> = vec![Vec::new(); CREATORS as usize];
    for n in 0..VIDEOS {
        // Spread over the last 30 days, oldest first.
        let at = now - 30 * 86_400_000 + u64::from(n) * (30 * 86_400_000 / u64::from(VIDEOS));
        let mut random = [0u8; 10];
        random[6..].copy_from_slice(&n.to_be_bytes());
        let id = ids::ulid_from_parts(at, random);
        let c = (rng.next() % u64::from(CREATORS)) as u32;
        let prompt = format!(
            "{} {} {}",
            words[(rng.next() % 10) as usize],
            words[(rng.next() % 10) as usize],
            words[(rng.next() % 10) as usize]
        );
        let video = Video {
            media: media(&id, 5000, (720, 1280), 400_000),
            ..published_video(&id, &creator_id(c), &format!("maker{c}"), &prompt, at)
        };
        batch.push((keys::video(&id), serde_json::to_vec(&video).unwrap()));
        let imp = rng.next() % 500;
        let done = imp * (rng.next() % 100) / 100;
        let skip = (imp - done) / 2;
        for (metric, value) in [("imp", imp), ("done", done), ("skip", skip)] {
            batch.push((
                keys::video_stat(&id, metric),
                value.to_string().into_bytes(),
            ));
        }
        recent.push(id.clone());
        by_creator[c as usize].push(id);
        if batch.len() > 20_000 {
            kv.set_many("default", &batch).unwrap();
            batch.clear();
        }
    }
    // The indexes, in the layout `pages` writes (pages of 64, oldest first).
    let mut put_list = |head: String, page: &dyn Fn(u64) -> String, ids: &[String]| {
        let chunks: Vec<&[String]> = ids.chunks(dreamreel_core::pages::PAGE_CAPACITY).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            batch.push((page(i as u64), serde_json::to_vec(chunk).unwrap()));
        }
        if !chunks.is_empty() {
            batch.push((head, (chunks.len() - 1).to_string().into_bytes()));
        }
    };
    put_list(
        keys::recent_videos_head("all"),
        &|n| keys::recent_videos_page("all", n),
        &recent,
    );
    for (c, list) in by_creator.iter().enumerate() {
        let owner = creator_id(c as u32);
        put_list(
            keys::creator_videos_head(&owner),
            &|n| keys::creator_videos_page(&owner, n),
            list,
        );
    }
    kv.set_many("default", &batch).unwrap();
}

struct SystemTime;

impl SystemTime {
    fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }
}

/// Presigns media links the way the edge does, natively.
struct NativeSigner {
    signer: Signer,
    now_secs: u64,
}

impl MediaSigner for NativeSigner {
    fn url(&self, key: &str) -> Result<String, ApiError> {
        let request = SigRequest::new("GET", &format!("/dreamreel/{key}"))
            .with_header("host", "127.0.0.1:9000");
        self.signer
            .presigned_url("http://127.0.0.1:9000", &request, 600, self.now_secs)
            .map_err(|_| ApiError::internal("sign"))
    }
    fn expires_at_ms(&self) -> u64 {
        (self.now_secs + 600) * 1000
    }
}

/// The app's accounts settings, with the session key its dev secrets hold.
fn accounts_config(app: &TestApp) -> AccountsConfig {
    let secrets: serde_json::Value = serde_json::from_slice(
        &std::fs::read(app.config.data_dir.join("dev-secrets.json")).expect("dev secrets"),
    )
    .expect("dev secrets are JSON");
    let key = secrets["session_key"].as_str().expect("a session key");
    AccountsConfig::from_vars(key, "", "").expect("config")
}

struct Figures {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summarise(mut samples: Vec<Duration>, per_second: f64) -> Figures {
    samples.sort();
    Figures {
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
        per_second,
    }
}

/// Page number `i` of For You for the viewer behind `auth`, resetting every
/// session first (on its own connection: the reset is not what is measured).
fn page_over_http(app: &TestApp, conn: &mut Conn, auth: &str, i: usize) -> Duration {
    let headers = [("authorization", auth)];
    if i.is_multiple_of(SESSION) {
        let reset = app.raw("POST", "/v1/feed/reset", &headers, b"");
        assert_eq!(reset.status, 204);
    }
    let t = Instant::now();
    let reply = conn.send("GET", "/v1/feed/for-you", &headers, b"").unwrap();
    let elapsed = t.elapsed();
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    elapsed
}

fn row(name: &str, f: &Figures) {
    println!(
        "{name:<34} {:>8.0} pages/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        f.per_second,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3
    );
}

fn main() {
    let app = TestApp::start(&[]);
    let kv = SqliteKv::open(&app.config.kv_path()).expect("kv opens");
    let started = Instant::now();
    seed(&kv);
    println!(
        "seeded {VIDEOS} videos by {CREATORS} creators in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let store = LabelledStore::new(&kv, "default");
    let mut rng = Lcg(11);
    let viewers: Vec<(String, String)> = (0..4)
        .map(|i| {
            let token = app.member(&format!("viewer{i}"));
            let me = app.api("GET", "/v1/me", Some(&token), None).json();
            let id = me["id"].as_str().unwrap().to_owned();
            for _ in 0..FOLLOWS {
                let c = creator_id((rng.next() % u64::from(CREATORS)) as u32);
                block_on(graph::follow(&store, &SystemEnv, &id, &c)).unwrap();
            }
            (format!("Bearer {token}"), id)
        })
        .collect();

    // The same pages computed natively by the core, on the same data, with
    // the component's own work around them: the token check and the JSON.
    let (native_auth, native_viewer) = &viewers[3];
    let accounts = accounts_config(&app);
    let signer = NativeSigner {
        signer: Signer::new(Credentials::new("bench", "bench-secret"), "us-east-1"),
        now_secs: SystemTime::now_ms() / 1000,
    };
    let native_page = |i: usize| {
        if i.is_multiple_of(SESSION) {
            block_on(feed::reset(&store, native_viewer)).unwrap();
        }
        let t = Instant::now();
        let member = block_on(accounts::authenticate(
            &store,
            &SystemEnv,
            &accounts,
            Some(native_auth),
        ))
        .unwrap();
        assert_eq!(&member.id, native_viewer);
        let page = block_on(feed::for_you(
            &store, &SystemEnv, &member.id, None, 10, false, &signer,
        ))
        .unwrap();
        std::hint::black_box(serde_json::to_vec(&page).unwrap());
        t.elapsed()
    };

    // Latency on one connection, one viewer. Each round takes one page
    // through HTTP + WASM, the same page natively, and `GET /v1/health`
    // (the stack's floor per request: HTTP, a fresh instance, one key
    // read), so all three see the same load on this shared machine.
    let mut conn = Conn::open(app.addr).expect("connect");
    let (mut latency, mut native_samples, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..WARMUP + SAMPLES {
        let http = page_over_http(&app, &mut conn, &viewers[0].0, i);
        let native = native_page(i);
        let t = Instant::now();
        let reply = conn.send("GET", "/v1/health", &[], b"").unwrap();
        assert_eq!(reply.status, 200);
        if i >= WARMUP {
            latency.push(http);
            native_samples.push(native);
            floor.push(t.elapsed());
        }
    }
    floor.sort();
    let floor_p50 = percentile(&floor, 0.5);
    // Throughput: two connections, two viewers.
    let t = Instant::now();
    std::thread::scope(|s| {
        for viewer in &viewers[1..3] {
            let app = &app;
            s.spawn(move || {
                let mut conn = Conn::open(app.addr).expect("connect");
                (0..SAMPLES / 2).for_each(|i| {
                    page_over_http(app, &mut conn, &viewer.0, i);
                });
            });
        }
    });
    let wasm = summarise(latency, SAMPLES as f64 / t.elapsed().as_secs_f64());
    let total: Duration = native_samples.iter().sum();
    let native = summarise(native_samples, SAMPLES as f64 / total.as_secs_f64());

    println!(
        "For You, 10 items a page ({SAMPLES} pages; latency on 1 connection, throughput on 2)"
    );
    row("GET /v1/feed/for-you HTTP + WASM", &wasm);
    row("feed::for_you native core", &native);
    println!(
        "ratio HTTP+WASM / native: p50 {:.2}x, p99 {:.2}x",
        wasm.p50.as_secs_f64() / native.p50.as_secs_f64(),
        wasm.p99.as_secs_f64() / native.p99.as_secs_f64()
    );
    let inside = wasm.p50.saturating_sub(floor_p50);
    println!(
        "GET /v1/health on the same connection (the floor): p50 {:.2} ms; \
         page p50 above it {:.2} ms = {:.2}x native",
        floor_p50.as_secs_f64() * 1e3,
        inside.as_secs_f64() * 1e3,
        inside.as_secs_f64() / native.p50.as_secs_f64()
    );
}
