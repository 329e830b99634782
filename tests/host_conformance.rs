//! The local stack behaves like Spin for a real component: routing and Spin's
//! headers, key-value (Spin's and wasi:keyvalue's), variables, outbound HTTP
//! limited to allowed hosts, traps isolated to one request, body limits.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use dreamreel_e2e::{TestApp, repo_root};

fn probe(variables: &[(&str, &str)]) -> TestApp {
    TestApp::start_manifest(&probe_manifest(), variables)
}

fn probe_manifest() -> PathBuf {
    repo_root().join("tests").join("probe.spin.toml")
}

#[test]
fn routes_and_spin_headers_reach_the_component() {
    let app = probe(&[]);
    let reply = app.raw(
        "GET",
        "/probe/headers/a/b?x=1",
        &[("x-request-id", "trace-42")],
        b"",
    );
    assert_eq!(reply.status, 200);
    let seen = reply.json();
    assert_eq!(seen["path_info"], "/headers/a/b");
    assert_eq!(seen["matched_route"], "/probe/...");
    assert_eq!(seen["component_route"], "/probe");
    assert_eq!(seen["request_id"], "trace-42");
    assert!(
        seen["full_url"]
            .as_str()
            .unwrap()
            .ends_with("/probe/headers/a/b?x=1")
    );
    assert!(
        seen["client_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(reply.header("x-request-id"), Some("trace-42"));

    let generated = app.raw("GET", "/probe/headers", &[], b"");
    assert!(
        generated
            .header("x-request-id")
            .is_some_and(|id| id.len() >= 16)
    );
}

#[test]
fn unknown_paths_get_a_json_404_from_the_host() {
    let app = probe(&[]);
    let reply = app.raw("GET", "/nowhere", &[], b"");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.error_code(), "not_found");
}

#[test]
fn key_value_survives_a_restart() {
    let mut app = probe(&[]);
    assert_eq!(
        app.raw("PUT", "/probe/kv/greeting", &[], b"hi there")
            .status,
        200
    );
    app.restart();
    assert_eq!(
        app.raw("GET", "/probe/kv/greeting", &[], b"").json()["value"],
        "hi there"
    );
    assert_eq!(
        app.raw("DELETE", "/probe/kv/greeting", &[], b"").status,
        200
    );
    assert!(app.raw("GET", "/probe/kv/greeting", &[], b"").json()["value"].is_null());
}

#[test]
fn undeclared_store_is_refused() {
    let app = probe(&[]);
    let reply = app.raw("GET", "/probe/open/secret-store", &[], b"");
    assert_eq!(reply.status, 403);
    assert!(
        reply.json()["open"]
            .as_str()
            .unwrap()
            .contains("AccessDenied")
    );
}

#[test]
fn concurrent_increments_are_all_counted() {
    let app = probe(&[]);
    let addr = app.addr;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let r = dreamreel_e2e::http::send(addr, "POST", "/probe/incr/hits/1", &[], b"")
                        .unwrap();
                    assert_eq!(r.status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        app.raw("POST", "/probe/incr/hits/0", &[], b"").json()["value"],
        80
    );
}

#[test]
fn compare_and_swap_and_batch_reads() {
    let app = probe(&[]);
    assert_eq!(app.raw("POST", "/probe/cas/k/-/v1", &[], b"").status, 200);
    assert_eq!(app.raw("POST", "/probe/cas/k/-/v2", &[], b"").status, 409);
    assert_eq!(app.raw("POST", "/probe/cas/k/zz/v2", &[], b"").status, 409);
    assert_eq!(app.raw("POST", "/probe/cas/k/v1/v2", &[], b"").status, 200);
    app.raw("PUT", "/probe/kv/other", &[], b"o");
    let many = app
        .raw("GET", "/probe/many/other,missing,k", &[], b"")
        .json();
    assert_eq!(
        many,
        serde_json::json!([["other", "o"], ["missing", null], ["k", "v2"]])
    );
}

#[test]
fn variables_come_from_defaults_overrides_and_generated_secrets() {
    let app = probe(&[("greeting", "howdy")]);
    assert_eq!(
        app.raw("GET", "/probe/var/greeting", &[], b"").json()["value"],
        "howdy, world"
    );
    let secret = app.raw("GET", "/probe/var/secret_token", &[], b"").json();
    assert_eq!(secret["value"].as_str().unwrap().len(), 64);
    let missing = app.raw("GET", "/probe/var/not_declared", &[], b"");
    assert_eq!(missing.status, 404);
    assert!(
        missing.json()["variable"]
            .as_str()
            .unwrap()
            .contains("Undefined")
    );
}

/// A one-shot HTTP server standing in for an upstream service.
fn upstream() -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let n = conn.read(&mut buf).unwrap();
        conn.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nupstream",
        )
        .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    (port, handle)
}

#[test]
fn outbound_http_reaches_only_allowed_hosts() {
    let (port, server) = upstream();
    let allowed = format!("http://127.0.0.1:{port}");
    let app = probe(&[("upstream", &allowed)]);
    let ok = app.raw(
        "GET",
        &format!("/probe/outbound?url={allowed}/hello"),
        &[],
        b"",
    );
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.json()["body"], "upstream");
    assert!(server.join().unwrap().starts_with("GET /hello"));

    let denied = app.raw("GET", "/probe/outbound?url=http://127.0.0.1:9/x", &[], b"");
    assert_eq!(denied.status, 502);
    assert!(
        denied.json()["outbound"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied")
    );
}

#[test]
fn a_trap_fails_one_request_and_the_next_succeeds() {
    let app = probe(&[]);
    let trapped = app.raw("GET", "/probe/panic", &[], b"");
    assert_eq!(trapped.status, 500);
    assert_eq!(trapped.error_code(), "internal");
    assert_eq!(app.raw("GET", "/probe/headers", &[], b"").status, 200);
}

#[test]
fn oversized_bodies_are_refused_before_the_component() {
    let app = probe(&[]);
    let big = vec![b'x'; (1 << 20) + 1];
    let reply = app.raw("PUT", "/probe/kv/big", &[], &big);
    assert_eq!(reply.status, 413);
    assert_eq!(reply.error_code(), "payload_too_large");
    assert!(app.raw("GET", "/probe/kv/big", &[], b"").json()["value"].is_null());
}

/// Reads from `stream` until `buf` contains `needle`; false at end of stream.
fn read_until(stream: &mut std::net::TcpStream, buf: &mut Vec<u8>, needle: &str) -> bool {
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(buf).contains(needle) {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    true
}

#[test]
fn event_streams_reach_the_client_as_they_are_written() {
    let app = probe(&[]);
    let mut stream = std::net::TcpStream::connect(app.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET /probe/events/3/1000 HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut seen = Vec::new();
    assert!(read_until(&mut stream, &mut seen, "data: event 0"));
    let first = String::from_utf8_lossy(&seen).into_owned();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains("text/event-stream"), "{first}");
    // The last event is written two seconds after the first: a host that
    // buffered the body would deliver them together.
    assert!(!first.contains("data: event 2"), "{first}");
    assert!(read_until(&mut stream, &mut seen, "data: event 2"));
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("id: 1\ndata: event 1\n\n"), "{text}");

    // A client that hangs up mid-stream costs the server nothing.
    let mut early = std::net::TcpStream::connect(app.addr).unwrap();
    write!(
        early,
        "GET /probe/events/100/200 HTTP/1.1\r\nhost: localhost\r\n\r\n"
    )
    .unwrap();
    let mut first = Vec::new();
    assert!(read_until(&mut early, &mut first, "data: event 0"));
    drop(early);
    assert_eq!(app.raw("GET", "/probe/headers", &[], b"").status, 200);
}
