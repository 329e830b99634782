//! Live notifications at scale: time from a notification being recorded to
//! its arrival on every Server-Sent Events stream of its member, with one
//! connected client (the baseline) and with 1,000, and the memory each open
//! stream costs. Figures are printed, with the 1,000-client latency as a
//! ratio to the baseline measured in the same run; nothing here asserts a
//! time.
//!
//! Each event is recorded the way a component records it (the core's
//! `notify` on the app's key-value file), so the figure is the stream's own
//! delivery: polling, reading the log, writing the event.
//!
//! Run: `cargo bench -p dreamreel-e2e --bench stream_fanout`
//! (`STREAM_CLIENTS=N` to change the 1,000).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dreamreel_core::notifications::{Actor, Kind, NewNotification, Subject, notify};
use dreamreel_e2e::TestApp;
use dreamreel_local::admin::SystemEnv;
use dreamreel_local::kv::{LabelledStore, SqliteKv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Members the clients are spread over (each has CLIENTS / MEMBERS streams).
const MEMBERS: usize = 50;
/// Notifications recorded per run, one every `PACE`.
const EVENTS: usize = 100;
const PACE: Duration = Duration::from_millis(50);

/// When each (member, sequence number) arrived on each stream.
type Arrivals = Arc<Mutex<Vec<(usize, u64, Instant)>>>;

struct Member {
    token: String,
    id: String,
}

fn members(app: &TestApp, n: usize) -> Vec<Member> {
    (0..n)
        .map(|i| {
            let token = app.member(&format!("viewer{i}"));
            let me = app.call("GET", "/v1/me", Some(&token), None).json();
            Member {
                token,
                id: me["id"].as_str().unwrap().to_owned(),
            }
        })
        .collect()
}

/// Streams that ended and were opened again (`Last-Event-ID`), as a browser's
/// `EventSource` does.
static RECONNECTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Follows `member`'s stream like a client: records every event id it
/// receives and, when the stream ends, reconnects from the last id seen.
async fn client(
    app: std::net::SocketAddr,
    index: usize,
    token: String,
    arrivals: Arrivals,
    connected: tokio::sync::mpsc::Sender<()>,
) {
    let mut last_id: Option<u64> = None;
    let mut announced = false;
    loop {
        let Ok(mut socket) = TcpStream::connect(app).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let resume = last_id
            .map(|id| format!("last-event-id: {id}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET /v1/notifications/stream HTTP/1.1\r\nhost: localhost\r\n\
             authorization: Bearer {token}\r\naccept: text/event-stream\r\n{resume}\r\n"
        );
        if socket.write_all(request.as_bytes()).await.is_err() {
            continue;
        }
        let mut pending = String::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let now = Instant::now();
            pending.push_str(&String::from_utf8_lossy(&chunk[..n]));
            let Some(end) = pending.rfind('\n') else {
                continue;
            };
            for line in pending[..end].lines() {
                if !announced && line.starts_with(": connected") {
                    announced = true;
                    let _ = connected.send(()).await;
                } else if let Some(id) = line.strip_prefix("id: ") {
                    let seq = id.trim().parse().unwrap();
                    last_id = Some(seq);
                    arrivals.lock().unwrap().push((index, seq, now));
                }
            }
            pending.drain(..=end);
        }
        RECONNECTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Opens `clients` streams spread over `members`; returns when all are live.
async fn connect(
    app: std::net::SocketAddr,
    members: &[Member],
    clients: usize,
    arrivals: &Arrivals,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(clients);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let member = c % members.len();
            tokio::spawn(client(
                app,
                member,
                members[member].token.clone(),
                arrivals.clone(),
                tx.clone(),
            ))
        })
        .collect();
    for _ in 0..clients {
        tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("every stream connects")
            .unwrap();
    }
    tasks
}

struct Figures {
    p50: Duration,
    p99: Duration,
    max: Duration,
    delivered: usize,
    expected: usize,
}

/// Records `EVENTS` notifications round-robin over `members` and measures
/// each delivery against the moment it was recorded.
async fn measure(
    store: &LabelledStore<'_>,
    members: &[Member],
    streams_per_member: usize,
    arrivals: &Arrivals,
) -> Figures {
    let mut recorded: HashMap<(usize, u64), Instant> = HashMap::new();
    for e in 0..EVENTS {
        let m = e % members.len();
        let new = NewNotification {
            kind: Kind::NewFollower,
            // A fresh person each time: a burst counts each person once.
            actor: Some(Actor {
                id: format!("01BENCHACTOR{streams_per_member:04}{e:010}"),
                handle: format!("fan{e}"),
                deleted: false,
            }),
            subject: Subject::default(),
            text: None,
        };
        let at = Instant::now();
        let n = notify(store, &SystemEnv, &members[m].id, new)
            .await
            .expect("notify")
            .expect("recorded");
        recorded.insert((m, n.seq), at);
        tokio::time::sleep(PACE).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let arrivals = std::mem::take(&mut *arrivals.lock().unwrap());
    let mut latencies: Vec<Duration> = arrivals
        .iter()
        .filter_map(|(m, seq, at)| recorded.get(&(*m, *seq)).map(|t| *at - *t))
        .collect();
    latencies.sort();
    let pick = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    Figures {
        p50: pick(0.5),
        p99: pick(0.99),
        max: *latencies.last().unwrap(),
        delivered: latencies.len(),
        expected: EVENTS * streams_per_member,
    }
}

/// Resident memory of this process (the stack runs in it), from /proc.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn row(name: &str, f: &Figures) {
    println!(
        "{name:<28} p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms   delivered {}/{}",
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.max.as_secs_f64() * 1e3,
        f.delivered,
        f.expected
    );
}

fn main() {
    let clients: usize = std::env::var("STREAM_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let app = TestApp::start(&[]);
    let members = members(&app, MEMBERS);
    let kv = SqliteKv::open(&app.config.kv_path()).expect("the app's key-value file");
    let store = LabelledStore::new(&kv, "default");
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    client_runtime.block_on(async {
        // Baseline: one stream per member, one member's worth of events each.
        let arrivals = Arrivals::default();
        let one = connect(app.addr, &members[..1], 1, &arrivals).await;
        let baseline = measure(&store, &members[..1], 1, &arrivals).await;
        one.iter().for_each(|t| t.abort());
        tokio::time::sleep(Duration::from_secs(1)).await;

        let before = rss_bytes();
        let arrivals = Arrivals::default();
        let opened = Instant::now();
        let many = connect(app.addr, &members, clients, &arrivals).await;
        let open_time = opened.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let per_stream = rss_bytes().saturating_sub(before) as f64 / clients as f64;
        let fanout = measure(&store, &members, clients / members.len(), &arrivals).await;
        many.iter().for_each(|t| t.abort());

        println!(
            "stream fan-out: {EVENTS} notifications, one every {} ms",
            PACE.as_millis()
        );
        row("1 client (baseline)", &baseline);
        row(&format!("{clients} clients"), &fanout);
        println!(
            "p99 ratio {:.2}x the baseline; {clients} streams opened in {:.1} s; \
             {:.0} KiB resident per open stream; {} reconnects",
            fanout.p99.as_secs_f64() / baseline.p99.as_secs_f64(),
            open_time.as_secs_f64(),
            per_stream / 1024.0,
            RECONNECTS.load(std::sync::atomic::Ordering::Relaxed)
        );
    });
}
