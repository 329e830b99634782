//! Edge latency: requests per second and p50/p99 of a trivial route
//! (`GET /v1/health`) and of `GET /v1/me` through the local stack (HTTP +
//! WASM), next to the same work done natively by the core in this process, and
//! next to the host alone answering a 404 (HTTP, no component). Figures are
//! ratios against baselines measured in the same run; nothing here asserts a
//! time.
//!
//! Run: `cargo bench -p dreamreel-e2e --bench edge_latency`

use std::time::{Duration, Instant};

use dreamreel_e2e::TestApp;
use dreamreel_e2e::http::Conn;

const WARMUP: usize = 300;
const SAMPLES: usize = 3000;
const CLIENTS: usize = 2;

struct Figures {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Latency on one connection, then throughput with `CLIENTS` connections.
fn over_http(app: &TestApp, path: &str, headers: &[(&str, &str)], expect: u16) -> Figures {
    let mut conn = Conn::open(app.addr).expect("connect");
    for _ in 0..WARMUP {
        assert_eq!(conn.send("GET", path, headers, b"").unwrap().status, expect);
    }
    let mut samples: Vec<Duration> = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            let reply = conn.send("GET", path, headers, b"").unwrap();
            let elapsed = t.elapsed();
            assert_eq!(reply.status, expect);
            elapsed
        })
        .collect();
    samples.sort();

    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                let mut conn = Conn::open(app.addr).expect("connect");
                for _ in 0..SAMPLES / CLIENTS {
                    assert_eq!(conn.send("GET", path, headers, b"").unwrap().status, expect);
                }
            });
        }
    });
    let per_second = (SAMPLES / CLIENTS * CLIENTS) as f64 / started.elapsed().as_secs_f64();
    Figures {
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
        per_second,
    }
}

/// The same work called natively, `SAMPLES` times on one thread.
fn native(mut work: impl FnMut()) -> Figures {
    for _ in 0..WARMUP {
        work();
    }
    let mut samples: Vec<Duration> = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            work();
            t.elapsed()
        })
        .collect();
    let total: Duration = samples.iter().sum();
    samples.sort();
    Figures {
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
        per_second: SAMPLES as f64 / total.as_secs_f64(),
    }
}

fn row(name: &str, f: &Figures) {
    println!(
        "{name:<34} {:>10.0} req/s   p50 {:>8.1} µs   p99 {:>8.1} µs",
        f.per_second,
        f.p50.as_secs_f64() * 1e6,
        f.p99.as_secs_f64() * 1e6
    );
}

fn main() {
    let app = TestApp::start(&[("bootstrap_invites", "BENCH-00001")]);
    let body = dreamreel_e2e::sign_up_body("BENCH-00001", "bench").to_string();
    let signup = app.call("POST", "/v1/auth/signup", None, Some(&body));
    assert_eq!(signup.status, 201, "{}", signup.json());
    let token = signup.json()["token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");

    let host_only = over_http(&app, "/no-such-route", &[], 404);
    let health = over_http(&app, "/v1/health", &[], 200);
    let me = over_http(&app, "/v1/me", &[("authorization", &auth)], 200);

    let baseline = dreamreel_e2e::native::Baseline::open(&app, &token);
    let native_health = native(|| baseline.health());
    let native_me = native(|| baseline.me());

    println!("edge latency ({SAMPLES} samples, latency on 1 connection, throughput on {CLIENTS})");
    row("host only: 404 over HTTP", &host_only);
    row("GET /v1/health  HTTP + WASM", &health);
    row("GET /v1/health  native core", &native_health);
    row("GET /v1/me      HTTP + WASM", &me);
    row("GET /v1/me      native core", &native_me);
    for (name, wasm, native) in [("health", &health, &native_health), ("me", &me, &native_me)] {
        let overhead = wasm.p50.saturating_sub(native.p50);
        let http = host_only.p50;
        println!(
            "{name:<7} p50 ratio HTTP+WASM / native = {:>6.1}x; added per request {:>7.1} µs \
             (of which HTTP alone {:>6.1} µs, WASM instance + call {:>6.1} µs)",
            wasm.p50.as_secs_f64() / native.p50.as_secs_f64(),
            overhead.as_secs_f64() * 1e6,
            http.as_secs_f64() * 1e6,
            overhead.saturating_sub(http).as_secs_f64() * 1e6,
        );
    }
}
