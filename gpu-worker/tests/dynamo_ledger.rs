//! The DynamoDB ledger against a real DynamoDB-compatible server: moto's
//! (`pip install "moto[server]"`), started by the test on a free port. It
//! evaluates condition expressions the way DynamoDB does, so the lease
//! semantics are tested on the wire, not against a mock of our own.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dreamreel_worker::ledger::conformance;
use dreamreel_worker::{AwsSettings, DynamoLedger, JobLedger, JobState, Lease};

/// moto's server app, served one request at a time.
const SERIAL_MOTO: &str = "import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)
";

/// A moto server, stopped when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Only the process this test started, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether something on `port` answers an HTTP request with a status line.
fn answers_http(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET / HTTP/1.0\r\nhost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/")
}

fn start_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // moto's own `moto_server` serves each request on its own thread, and
    // its DynamoDB evaluates a condition and writes without a lock between,
    // so two racing conditional writes could both pass: a race DynamoDB
    // never loses. One request at a time is DynamoDB's per-item guarantee.
    let child = Command::new("python3")
        .args(["-c", SERIAL_MOTO, &port.to_string()])
        .env("MOTO_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "moto's server could not be started ({e}). The DynamoDB ledger tests need \
                 moto's server: install it with `pip install \"moto[server]\"`"
            )
        });
    let mut moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    // Listening is not serving: wait for a whole HTTP answer (a loaded
    // machine can take a while between the two).
    while !answers_http(port) {
        if let Ok(Some(status)) = moto.child.try_wait() {
            panic!(
                "moto's server exited early ({status}): is it installed? `pip install \"moto[server]\"`"
            );
        }
        assert!(
            Instant::now() < deadline,
            "moto's server did not answer within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    moto.url = format!("http://127.0.0.1:{port}");
    moto
}

async fn ledger(moto: &Moto, table: &str) -> DynamoLedger {
    let mut aws = AwsSettings::new("us-east-1", "testing", "testing");
    aws.dynamodb_endpoint = Some(moto.url.clone());
    let ledger = DynamoLedger::new(aws.dynamodb_client(), table);
    ledger.create_table().await.expect("create table");
    // Creating it again is fine (development setups call this at start).
    ledger.create_table().await.expect("create table twice");
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_ledger_keeps_the_contract() {
    let moto = start_moto();
    let ledger = ledger(&moto, "jobs-contract").await;
    conformance::check(&ledger).await;

    // Many workers racing from many tasks: exactly one lease per expiry.
    let ledger = Arc::new(ledger);
    let job = "01JRACE0000000000000000000";
    for (round, now) in [(1u32, 10_000u64), (2, 20_000), (3, 30_000)] {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    ledger
                        .lease(job, &format!("w{round}-{i}"), now, 5_000)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Lease::Leased { attempt, .. } => winners.push(attempt),
                Lease::Busy { until_ms } => assert_eq!(until_ms, now + 5_000),
                Lease::Done => panic!("not done yet"),
            }
        }
        assert_eq!(winners, [round], "round {round}");
    }
    // A failure from a stale holder does not free the live lease.
    assert_eq!(
        ledger.record_failure(job, "w1-0", "stale").await.unwrap(),
        3
    );
    assert_eq!(
        ledger.lease(job, "late", 34_999, 5_000).await.unwrap(),
        Lease::Busy { until_ms: 35_000 }
    );
    ledger.complete(job).await.unwrap();
    assert_eq!(
        ledger
            .lease(job, "late", u64::MAX / 2, 5_000)
            .await
            .unwrap(),
        Lease::Done
    );
    let record = ledger.get(job).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Completed, 3));
    assert_eq!(record.holder, None);
}

#[tokio::test]
async fn an_unreachable_table_is_a_ledger_error() {
    let moto = start_moto();
    let mut aws = AwsSettings::new("us-east-1", "testing", "testing");
    aws.dynamodb_endpoint = Some(moto.url.clone());
    let ledger = DynamoLedger::new(aws.dynamodb_client(), "no-such-table");
    let err = ledger
        .lease("01JD0000000000000000000000", "w", 1, 1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ResourceNotFound"), "{err}");
}
