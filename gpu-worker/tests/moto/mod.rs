//! moto's AWS server for the tests that need DynamoDB or SQS on the wire
//! (`pip install "moto[server]"`), started on a free port and stopped on drop.

#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto's server app, served one request at a time. `moto_server` answers
/// each request on its own thread, and moto checks a condition and writes
/// without a lock between, so racing conditional writes could both pass: a
/// race DynamoDB never loses. One request at a time is its per-item guarantee.
const SERIAL_MOTO: &str = "import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)
";

/// A moto server, stopped when dropped.
pub struct Moto {
    child: Child,
    /// Its endpoint, `http://127.0.0.1:{port}`.
    pub url: String,
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

/// Starts moto and waits until it answers HTTP.
pub fn start() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args(["-c", SERIAL_MOTO, &port.to_string()])
        .env("MOTO_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("moto's server could not be started ({e}): `pip install \"moto[server]\"`")
        });
    let mut moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !answers_http(port) {
        if let Ok(Some(status)) = moto.child.try_wait() {
            panic!("moto's server exited early ({status}): `pip install \"moto[server]\"`");
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
