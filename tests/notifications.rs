//! Notifications through the WASM components over HTTP: a finished
//! generation reaches the maker's inbox and live stream; unread counts are
//! exact; a stream resumed with `Last-Event-ID` loses and doubles nothing;
//! a registered phone gets pushes through a stand-in for APNs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use dreamreel_e2e::{TestApp, repo_root};
use dreamreel_push::testing::{Captured, PushServer};
use dreamreel_push::{ApnsConfig, Es256Key};
use serde_json::{Value, json};

/// An open Server-Sent Events connection, read event by event.
struct Stream {
    socket: TcpStream,
    buffer: String,
}

/// One event: its id and JSON data.
struct Event {
    id: u64,
    data: Value,
}

impl Stream {
    fn open(app: &TestApp, token: &str, last_event_id: Option<u64>) -> Stream {
        let mut socket = TcpStream::connect(app.addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let resume = last_event_id
            .map(|id| format!("last-event-id: {id}\r\n"))
            .unwrap_or_default();
        write!(
            socket,
            "GET /v1/notifications/stream HTTP/1.1\r\nhost: localhost\r\n\
             authorization: Bearer {token}\r\naccept: text/event-stream\r\n{resume}\r\n"
        )
        .unwrap();
        let mut stream = Stream {
            socket,
            buffer: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !stream.buffer.contains(": connected") {
            assert!(Instant::now() < deadline, "no stream: {}", stream.buffer);
            stream.fill();
        }
        assert!(
            stream.buffer.starts_with("HTTP/1.1 200"),
            "{}",
            stream.buffer
        );
        assert!(stream.buffer.contains("text/event-stream"));
        stream
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 8192];
        match self.socket.read(&mut chunk) {
            Ok(0) => panic!("the stream closed: {}", self.buffer),
            Ok(n) => self.buffer.push_str(&String::from_utf8_lossy(&chunk[..n])),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("reading the stream: {e}"),
        }
    }

    /// The next `notification` event, waiting up to `limit`.
    fn next(&mut self, limit: Duration) -> Option<Event> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(event) = self.take() {
                return Some(event);
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.fill();
        }
    }

    /// Cuts the first complete event out of the buffer (chunk-size lines of
    /// the chunked encoding sit between events and are skipped).
    fn take(&mut self) -> Option<Event> {
        let start = self.buffer.find("\nid: ")? + 1;
        let end = start + self.buffer[start..].find("\n\n")?;
        let block = self.buffer[start..end].to_owned();
        self.buffer.drain(..end + 2);
        let mut id = None;
        let mut data = None;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id: ") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = serde_json::from_str(v).ok();
            }
        }
        Some(Event {
            id: id.unwrap_or_else(|| panic!("an event id in {block:?}")),
            data: data.expect("JSON data"),
        })
    }
}

fn generate(app: &TestApp, token: &str, prompt: &str) -> String {
    let body = json!({ "prompt": prompt, "duration_seconds": 1 });
    let reply = app.api(
        "POST",
        "/v1/generations",
        Some(token),
        Some(&body.to_string()),
    );
    assert_eq!(reply.status, 202, "{}", reply.json());
    reply.json()["id"].as_str().unwrap().to_owned()
}

fn unread(app: &TestApp, token: &str) -> u64 {
    let reply = app.api("GET", "/v1/notifications/unread", Some(token), None);
    assert_eq!(reply.status, 200);
    reply.json()["unread"].as_u64().unwrap()
}

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn a_finished_generation_reaches_the_inbox_and_the_live_stream() {
    let app = TestApp::start(&[]);
    let maker = app.member("maker");
    let mut stream = Stream::open(&app, &maker, None);

    let draft = generate(&app, &maker, "paper boats on a pond");
    let event = stream.next(MINUTE).expect("the stream delivers it");
    assert_eq!(event.data["kind"], "generation_ready", "{}", event.data);
    assert_eq!(event.data["subject"]["draft_id"], draft);
    assert_eq!(
        event.data["deep_link"],
        format!("dreamreel://drafts/{draft}")
    );
    assert_eq!(event.data["seq"], event.id);

    let inbox = app
        .api("GET", "/v1/notifications", Some(&maker), None)
        .json();
    assert_eq!(inbox["unread"], 1);
    assert_eq!(inbox["notifications"][0]["id"], event.data["id"]);
    assert_eq!(inbox["notifications"][0]["read"], false);
    assert_eq!(unread(&app, &maker), 1);

    // Someone else's inbox stays empty.
    let other = app.member("other");
    assert_eq!(unread(&app, &other), 0);
    let theirs = app
        .api("GET", "/v1/notifications", Some(&other), None)
        .json();
    assert_eq!(theirs["notifications"], json!([]));

    let read = json!({ "ids": [event.data["id"]] }).to_string();
    let after = app.api("POST", "/v1/notifications/read", Some(&maker), Some(&read));
    assert_eq!(
        (after.status, after.json()["unread"].as_u64()),
        (200, Some(0))
    );
    // Reading again changes nothing.
    let again = app.api("POST", "/v1/notifications/read", Some(&maker), Some(&read));
    assert_eq!(again.json()["unread"], 0);
}

#[test]
fn a_resumed_stream_gets_what_it_missed_once_and_in_order() {
    let app = TestApp::start(&[]);
    let maker = app.member("maker");
    let mut stream = Stream::open(&app, &maker, None);
    generate(&app, &maker, "one");
    let first = stream.next(MINUTE).expect("first event");
    drop(stream);

    // Two more while disconnected.
    generate(&app, &maker, "two");
    generate(&app, &maker, "three");
    let deadline = Instant::now() + MINUTE;
    while unread(&app, &maker) < 3 {
        assert!(Instant::now() < deadline, "the generations finish");
        std::thread::sleep(Duration::from_millis(200));
    }

    let mut resumed = Stream::open(&app, &maker, Some(first.id));
    let a = resumed.next(MINUTE).expect("a missed event");
    let b = resumed.next(MINUTE).expect("another missed event");
    assert_eq!((a.id, b.id), (first.id + 1, first.id + 2));
    assert!(a.data["id"] != first.data["id"] && b.data["id"] != a.data["id"]);
    assert!(
        resumed.next(Duration::from_secs(2)).is_none(),
        "nothing doubled"
    );

    // Read everything up to what the stream showed; unread is exact.
    let up_to = json!({ "up_to_seq": b.id }).to_string();
    let reply = app.api("POST", "/v1/notifications/read", Some(&maker), Some(&up_to));
    assert_eq!(reply.json()["unread"], 0);
    // A fresh stream starts at the present: nothing old is replayed.
    let mut fresh = Stream::open(&app, &maker, None);
    assert!(fresh.next(Duration::from_secs(2)).is_none());
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let app = TestApp::start(&[]);
    let member = app.member("member");

    for (method, path) in [
        ("GET", "/v1/notifications"),
        ("GET", "/v1/notifications/unread"),
        ("GET", "/v1/notifications/stream"),
        ("GET", "/v1/notifications/settings"),
    ] {
        assert_eq!(app.api(method, path, None, None).status, 401, "{path}");
    }
    let garbage = app.raw(
        "GET",
        "/v1/notifications/stream",
        &[
            ("authorization", &format!("Bearer {member}")),
            ("last-event-id", "yesterday"),
        ],
        b"",
    );
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.error_code(), "invalid_request");

    for body in [
        "{}",
        r#"{"ids": []}"#,
        r#"{"ids": ["nope"]}"#,
        r#"{"ids": ["01JD0000000000000000000000"], "up_to_seq": 3}"#,
        r#"{"everything": true}"#,
        "not json",
    ] {
        let reply = app.api("POST", "/v1/notifications/read", Some(&member), Some(body));
        assert_eq!(reply.status, 400, "{body}");
    }
    let bad_limit = app.api("GET", "/v1/notifications?limit=500", Some(&member), None);
    assert_eq!(bad_limit.status, 400);

    let before = app
        .api("GET", "/v1/notifications/settings", Some(&member), None)
        .json();
    assert_eq!(before, json!({ "muted": [], "push": true }));
    let unknown = r#"{"muted": ["like", "gossip"]}"#;
    let reply = app.api(
        "PUT",
        "/v1/notifications/settings",
        Some(&member),
        Some(unknown),
    );
    assert_eq!(reply.status, 400);
    let after = app
        .api("GET", "/v1/notifications/settings", Some(&member), None)
        .json();
    assert_eq!(after, before);

    let mute = r#"{"muted": ["like", "new_follower", "like"]}"#;
    let reply = app.api(
        "PUT",
        "/v1/notifications/settings",
        Some(&member),
        Some(mute),
    );
    assert_eq!(
        reply.json(),
        json!({ "muted": ["like", "new_follower"], "push": true })
    );
}

const APNS_TOKEN: &str = "00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0";

/// Waits until the push server has seen `n` requests.
fn pushes(server: &PushServer, n: usize) -> Vec<Captured> {
    let deadline = Instant::now() + MINUTE;
    let mut seen = Vec::new();
    while seen.len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} pushes arrived",
            seen.len()
        );
        std::thread::sleep(Duration::from_millis(100));
        seen.extend(server.take());
    }
    seen
}

#[test]
fn a_registered_phone_gets_pushes_and_a_dead_token_is_forgotten() {
    // The stand-in for APNs runs on its own runtime, beside the stack's.
    let services = tokio::runtime::Runtime::new().unwrap();
    let server = services.block_on(PushServer::start());
    let apns = ApnsConfig {
        endpoint: server.url(),
        team_id: "TEAM123456".into(),
        key_id: "KEY1234567".into(),
        topic: "app.dreamreel.ios".into(),
        key: Es256Key::generate().unwrap(),
        extra_ca_pem: Some(server.ca_pem.clone()),
    };
    let app = TestApp::start_configured(&repo_root().join("spin.toml"), &[], |config| {
        config.push.apns = Some(apns);
    });
    let maker = app.member("maker");
    let phone = json!({ "platform": "apns", "token": APNS_TOKEN }).to_string();
    let registered = app.api("POST", "/v1/devices", Some(&maker), Some(&phone));
    assert_eq!(registered.status, 201, "{}", registered.json());
    let again = app.api("POST", "/v1/devices", Some(&maker), Some(&phone));
    assert_eq!(again.status, 200, "the same phone registers once");

    let draft = generate(&app, &maker, "a kite over the dunes");
    let [push]: [Captured; 1] = pushes(&server, 1).try_into().unwrap();
    assert_eq!(push.version, http::Version::HTTP_2);
    assert_eq!(push.path, format!("/3/device/{APNS_TOKEN}"));
    assert_eq!(push.header("apns-topic"), "app.dreamreel.ios");
    let body: Value = serde_json::from_slice(&push.body).unwrap();
    assert_eq!(body["kind"], "generation_ready");
    assert_eq!(body["deep_link"], format!("dreamreel://drafts/{draft}"));

    // Muted kinds stay off the phone (but not out of the inbox).
    let mute = json!({ "muted": ["generation_ready"] }).to_string();
    app.api(
        "PUT",
        "/v1/notifications/settings",
        Some(&maker),
        Some(&mute),
    );
    generate(&app, &maker, "a second kite");
    let unmute = json!({ "muted": [] }).to_string();
    let deadline = Instant::now() + MINUTE;
    while unread(&app, &maker) < 2 {
        assert!(Instant::now() < deadline, "the second generation finishes");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(server.take().is_empty(), "a muted kind was pushed");
    app.api(
        "PUT",
        "/v1/notifications/settings",
        Some(&maker),
        Some(&unmute),
    );

    // APNs says the token is dead: the phone is forgotten.
    server.reply(410, r#"{"reason":"Unregistered"}"#);
    generate(&app, &maker, "a third kite");
    pushes(&server, 1);
    let deadline = Instant::now() + MINUTE;
    loop {
        let devices = app.api("GET", "/v1/devices", Some(&maker), None).json();
        if devices["devices"] == json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "the dead token stays: {devices}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Publishes a fresh 1-second clip of `prompt` (optionally remixing `source`).
fn published(app: &TestApp, token: &str, prompt: &str, source: Option<&str>) -> String {
    let body = json!({ "prompt": prompt, "duration_seconds": 1, "remix_of": source });
    let draft = app.api(
        "POST",
        "/v1/generations",
        Some(token),
        Some(&body.to_string()),
    );
    assert_eq!(draft.status, 202, "{}", draft.json());
    let id = draft.json()["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + MINUTE;
    while app
        .api("GET", &format!("/v1/drafts/{id}"), Some(token), None)
        .json()["status"]
        != "ready"
    {
        assert!(Instant::now() < deadline, "the clip is made");
        std::thread::sleep(Duration::from_millis(200));
    }
    let reply = app.api(
        "POST",
        &format!("/v1/drafts/{id}/publish"),
        Some(token),
        Some(r#"{"caption":"look"}"#),
    );
    assert_eq!(reply.status, 201);
    id
}

#[test]
fn what_others_do_reaches_the_makers_stream_at_once() {
    let app = TestApp::start(&[]);
    let maker = app.member("maker");
    let fan = app.member("fan");
    let video = published(&app, &maker, "a lighthouse at dusk", None);
    let mut stream = Stream::open(&app, &maker, None);

    // Another member's like, over another connection, arrives live.
    let liked = Instant::now();
    let reply = app.api("PUT", &format!("/v1/videos/{video}/like"), Some(&fan), None);
    assert_eq!(reply.status, 200, "{}", reply.json());
    let event = stream
        .next(Duration::from_secs(10))
        .expect("the like arrives");
    eprintln!("like reached the stream in {:?}", liked.elapsed());
    assert_eq!(event.data["kind"], "like");
    assert_eq!(event.data["actors"][0]["handle"], "fan");
    assert_eq!(event.data["subject"]["video_id"], video);

    // A follow, a comment and a remix each arrive as their own kind.
    app.api("PUT", "/v1/users/maker/follow", Some(&fan), None);
    let comment = json!({ "text": "so calm" }).to_string();
    app.api(
        "POST",
        &format!("/v1/videos/{video}/comments"),
        Some(&fan),
        Some(&comment),
    );
    let remix = published(&app, &fan, "the lighthouse, in snow", Some(&video));
    let mut kinds = Vec::new();
    while let Some(event) = stream.next(Duration::from_secs(10)) {
        kinds.push(event.data["kind"].as_str().unwrap().to_owned());
        if event.data["kind"] == "remix" {
            assert_eq!(event.data["subject"]["video_id"], remix);
            break;
        }
    }
    assert_eq!(kinds, ["new_follower", "comment", "remix"], "{kinds:?}");
    // Their own clip being ready, then like, follow, comment and remix.
    assert_eq!(unread(&app, &maker), 5);
}
