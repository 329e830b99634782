//! Likes per second through the local stack (HTTP + WASM + SQLite key-value):
//! many members on one hot video, and the same members spread over many
//! videos. On the hot video each member alternates like and unlike, so every
//! request is a real change of the count; afterwards the exact count is
//! checked against what the members did. Prints figures; asserts only
//! exactness.
//!
//! The client is light on purpose, so the figures measure the server on a
//! machine it shares: one thread drives `CONNECTIONS` keep-alive sockets,
//! each with `DEPTH` requests pipelined (raw HTTP/1.1), every member with at
//! most one request in flight (so a member's like and unlike land in order).
//!
//! Run: `cargo bench -p dreamreel-e2e --bench likes`

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dreamreel_core::testing::block_on;
use dreamreel_core::{Store, ids, keys, social};
use dreamreel_e2e::TestApp;
use dreamreel_e2e::seed::published_video;
use dreamreel_local::kv::{LabelledStore, SqliteKv};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const MEMBERS: usize = 256;
/// Keep-alive connections: how many requests the server works on at once
/// (a connection's pipelined requests are served one after another). A
/// request is answered once its writes are flushed, so throughput is this
/// many requests per flush-and-work time.
const CONNECTIONS: usize = 64;
/// Requests in flight per connection (pipelined), each another member's.
const DEPTH: usize = 4;
const RUN: Duration = Duration::from_secs(5);
const VIDEOS: usize = 256;

/// Names member `member`'s request number `step`: method and path.
type Next = Arc<dyn Fn(usize, usize) -> (&'static str, String) + Send + Sync>;

fn seed(store: &LabelledStore<'_>, owner: &str, n: u32) -> String {
    let mut random = [0x42u8; 10];
    random[6..].copy_from_slice(&n.to_be_bytes());
    let id = ids::ulid_from_parts(1_700_000_000_000, random);
    let video = published_video(&id, owner, "maker", "bench", 1);
    block_on(store.set(&keys::video(&id), &serde_json::to_vec(&video).unwrap())).unwrap();
    id
}

/// One round's figures.
struct Round {
    /// Requests answered per second.
    rate: f64,
    /// CPU time of the whole process (server, committer and client) per
    /// request, in µs: unlike the rate, it hardly moves when other work
    /// shares the machine.
    cpu_us: f64,
    /// Requests each member completed.
    per_member: Vec<usize>,
}

/// User plus system CPU seconds this process has used (`/proc/self/stat`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised name; utime and stime are the 14th and 15th.
    let after = &stat[stat.rfind(')').expect("stat has a name") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // In clock ticks of USER_HZ, which Linux fixes at 100 for user space.
    ticks / 100.0
}

/// Runs the client for `RUN`: connection `c` serves members `c, c +
/// CONNECTIONS, ...`.
fn hammer(app: &TestApp, tokens: &[String], next: Next) -> Round {
    let cpu_before = cpu_seconds();
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let started = Instant::now();
    let done: Vec<Vec<(usize, usize)>> = client.block_on(async {
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                let members: Vec<(usize, String)> = (c..tokens.len())
                    .step_by(CONNECTIONS)
                    .map(|m| (m, format!("Bearer {}", tokens[m])))
                    .collect();
                tokio::spawn(drive(app.addr, members, next.clone(), started + RUN))
            })
            .collect();
        let mut done = Vec::new();
        for task in tasks {
            done.push(task.await.expect("client task"));
        }
        done
    });
    let elapsed = started.elapsed();
    let mut per_member = vec![0; tokens.len()];
    for (member, steps) in done.into_iter().flatten() {
        per_member[member] = steps;
    }
    let total: usize = per_member.iter().sum();
    let cpu = cpu_seconds() - cpu_before;
    Round {
        rate: total as f64 / elapsed.as_secs_f64(),
        cpu_us: cpu * 1e6 / total.max(1) as f64,
        per_member,
    }
}

/// One connection until `until`: keeps `DEPTH` requests in flight, writes
/// what it can in one go, and re-sends a member's request answered 503
/// (busy) before moving that member on.
async fn drive(
    addr: SocketAddr,
    members: Vec<(usize, String)>,
    next: Next,
    until: Instant,
) -> Vec<(usize, usize)> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::with_capacity(1 << 16, read);
    let mut steps = vec![0usize; members.len()];
    let mut idle: VecDeque<usize> = (0..members.len()).collect();
    let mut in_flight: VecDeque<usize> = VecDeque::new();
    let mut out = Vec::new();
    let mut head = Vec::new();
    loop {
        // Refill once nothing more is buffered to read: one write for many requests.
        if read.buffer().is_empty() {
            while in_flight.len() < DEPTH && Instant::now() < until {
                let Some(slot) = idle.pop_front() else { break };
                let (member, auth) = &members[slot];
                let (method, path) = next(*member, steps[slot]);
                out.extend_from_slice(
                    format!(
                        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: {auth}\r\ncontent-length: 0\r\n\r\n"
                    )
                    .as_bytes(),
                );
                in_flight.push_back(slot);
            }
            if !out.is_empty() {
                write.write_all(&out).await.expect("send");
                out.clear();
            }
        }
        let Some(slot) = in_flight.pop_front() else {
            break;
        };
        let (status, body) = read_reply(&mut read, &mut head).await;
        match status {
            // Busy: the same request again (nothing changed).
            503 => idle.push_front(slot),
            200 => {
                steps[slot] += 1;
                idle.push_back(slot);
            }
            _ => panic!("status {status}: {}", String::from_utf8_lossy(&body)),
        }
    }
    members.into_iter().map(|(m, _)| m).zip(steps).collect()
}

/// Reads one response (which must carry content-length): status and body.
async fn read_reply(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    head: &mut Vec<u8>,
) -> (u16, Vec<u8>) {
    head.clear();
    while !head.ends_with(b"\r\n\r\n") {
        let n = read.read_until(b'\n', head).await.expect("receive");
        assert!(n > 0, "connection closed");
    }
    let text = std::str::from_utf8(head).expect("ASCII head");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let length: usize = text
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .expect("content-length");
    let mut body = vec![0; length];
    read.read_exact(&mut body).await.expect("body");
    (status, body)
}

fn main() {
    // Each member here changes their like hundreds of times a minute, which
    // the per-member write limit rightly refuses; a limit this high still
    // counts every write (its cost stays in the figures) but never refuses.
    // Sign-ups all come from one address, so that limit is raised too.
    let app = TestApp::start(&[
        ("write_rate_limit", "1000000/60"),
        ("auth_rate_limits", "signup_address=100000"),
    ]);
    let tokens: Vec<String> = (0..MEMBERS)
        .map(|i| app.member(&format!("fan{i:03}")))
        .collect();
    let kv = SqliteKv::open(&app.config.kv_path()).expect("kv opens");
    let store = LabelledStore::new(&kv, "default");
    let owner = ids::ulid_from_parts(1, [9; 10]);
    let hot_id = seed(&store, &owner, 0);
    let many: Vec<String> = (1..=VIDEOS as u32)
        .map(|n| seed(&store, &owner, n))
        .collect();

    // The stack's ceiling on this machine: a route that writes nothing.
    let health = hammer(
        &app,
        &tokens,
        Arc::new(|_, _| ("GET", "/v1/health".to_owned())),
    );
    println!(
        "baseline:      {:>8.0} GET /v1/health/s, {:>4.0} µs CPU each ({CONNECTIONS} connections x {DEPTH} pipelined, one client thread)",
        health.rate, health.cpu_us
    );

    // One hot video: like, unlike, like, ... per member; every request a real change.
    let path = format!("/v1/videos/{hot_id}/like");
    let hot = hammer(
        &app,
        &tokens,
        Arc::new(move |_, step| {
            let method = if step % 2 == 0 { "PUT" } else { "DELETE" };
            (method, path.clone())
        }),
    );
    let counts = block_on(social::video_counts(&store, std::slice::from_ref(&hot_id))).unwrap();
    let standing = hot.per_member.iter().filter(|s| *s % 2 == 1).count() as u64;
    let total: usize = hot.per_member.iter().sum();
    println!(
        "one hot video: {:>8.0} like changes/s ({:.2}x baseline), {:>4.0} µs CPU each ({:.2}x) ({total} in {RUN:?}, {MEMBERS} members); count {} (exact: {standing})",
        hot.rate,
        hot.rate / health.rate,
        hot.cpu_us,
        hot.cpu_us / health.cpu_us,
        counts[0].likes
    );
    assert_eq!(counts[0].likes, standing, "the hot video's count is exact");

    // Many videos: each member likes video after video; every request a new like.
    let paths: Vec<String> = many
        .iter()
        .map(|v| format!("/v1/videos/{v}/like"))
        .collect();
    let many_round = hammer(
        &app,
        &tokens,
        Arc::new(move |member, step| ("PUT", paths[(member * 7 + step) % VIDEOS].clone())),
    );
    let counts = block_on(social::video_counts(&store, &many)).unwrap();
    let sum: u64 = counts.iter().map(|c| c.likes).sum();
    let standing: usize = many_round.per_member.iter().map(|s| (*s).min(VIDEOS)).sum();
    let total: usize = many_round.per_member.iter().sum();
    println!(
        "{VIDEOS} videos:   {:>8.0} likes/s ({:.2}x baseline), {:>4.0} µs CPU each ({:.2}x) ({total} requests in {RUN:?}); count {sum} (exact: {standing})",
        many_round.rate,
        many_round.rate / health.rate,
        many_round.cpu_us,
        many_round.cpu_us / health.cpu_us,
    );
    assert_eq!(sum, standing as u64, "every count is exact");
}
