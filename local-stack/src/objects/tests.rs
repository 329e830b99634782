//! The store as a client sees it: `serve` on 127.0.0.1, requests signed with
//! dreamreel-sigv4 and spoken over a raw TCP socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::s3::S3Event;
use dreamreel_sigv4::{Credentials, Request, Signer, UNSIGNED_PAYLOAD, parse_query, sha256_hex};
use md5::{Digest, Md5};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::xml::texts;
use super::*;

const AK: &str = "AKIDLOCALTEST";
const SK: &str = "local/secret+key";
const LIMIT: u64 = 1 << 20;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn code(&self) -> String {
        texts(&self.text(), "Code")
            .first()
            .map(|c| c.to_string())
            .unwrap_or_default()
    }
}

struct Harness {
    addr: SocketAddr,
    store: ObjectStore,
    events: mpsc::UnboundedReceiver<Value>,
    dir: tempfile::TempDir,
    _shutdown: watch::Sender<bool>,
}

async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ObjectStoreConfig::new(dir.path());
    config.credentials = vec![Credentials::new(AK, SK)];
    config.buckets = vec!["media".into()];
    config.max_object_bytes = LIMIT;
    let store = ObjectStore::open(config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, events) = mpsc::unbounded_channel();
    let (shutdown, rx) = watch::channel(false);
    tokio::spawn(serve(listener, store.clone(), Arc::new(tx), rx));
    Harness {
        addr,
        store,
        events,
        dir,
        _shutdown: shutdown,
    }
}

/// One request on a fresh connection; the raw target goes on the wire as is.
async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

impl Harness {
    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn signer(&self) -> Signer {
        Signer::new(Credentials::new(AK, SK), "us-east-1")
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut req = Request::new(method, path).with_header("host", &self.host());
        for (n, v) in headers {
            req = req.with_header(n, v);
        }
        req
    }

    /// Signs `req` with `signer` at `time` for `payload_hash` and sends it.
    async fn send_signed(
        &self,
        signer: &Signer,
        req: Request,
        payload_hash: &str,
        time: u64,
        body: &[u8],
    ) -> Reply {
        let auth = signer.sign(&req, payload_hash, time).unwrap();
        let mut headers = req.headers.clone();
        headers.extend(auth.to_vec().into_iter().map(|(n, v)| (n.to_owned(), v)));
        send(
            self.addr,
            &req.method,
            &req.path_and_query(),
            &headers,
            body,
        )
        .await
    }

    async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let req = self.request(method, path, headers);
        self.send_signed(&self.signer(), req, &sha256_hex(body), now(), body)
            .await
    }

    async fn put(&self, path: &str, body: &[u8]) -> Reply {
        self.call("PUT", path, &[], body).await
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.call("GET", path, headers, b"").await
    }

    fn presigned_target(&self, method: &str, path: &str, expires: u64, time: u64) -> String {
        let req = self.request(method, path, &[]);
        let query = self.signer().presign(&req, expires, time).unwrap();
        format!("{}?{query}", dreamreel_sigv4::encode_path(path))
    }

    async fn raw(&self, method: &str, target: &str, body: &[u8]) -> Reply {
        send(
            self.addr,
            method,
            target,
            &[("host".into(), self.host())],
            body,
        )
        .await
    }
}

fn quoted_md5(body: &[u8]) -> String {
    format!("\"{}\"", dreamreel_sigv4::hex(&Md5::digest(body)))
}

#[tokio::test]
async fn put_get_head_delete_round_trip() {
    let h = start().await;
    let body = b"\x00\x01 an mp4, honestly";
    let put = h
        .call(
            "PUT",
            "/media/clips/my clip (1).mp4",
            &[
                ("content-type", "video/mp4"),
                ("x-amz-meta-owner", "u_1"),
                ("cache-control", "max-age=60"),
            ],
            body,
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.header("etag"), Some(quoted_md5(body).as_str()));
    assert_eq!(put.header("x-amz-request-id").map(str::len), Some(16));

    let get = h.get("/media/clips/my clip (1).mp4", &[]).await;
    assert_eq!(get.status, 200);
    assert_eq!(get.body, body);
    assert_eq!(get.header("content-type"), Some("video/mp4"));
    assert_eq!(
        get.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(get.header("etag"), put.header("etag"));
    assert_eq!(get.header("x-amz-meta-owner"), Some("u_1"));
    assert_eq!(get.header("cache-control"), Some("max-age=60"));
    assert_eq!(get.header("accept-ranges"), Some("bytes"));
    assert!(get.header("last-modified").unwrap().ends_with(" GMT"));

    let head = h
        .call("HEAD", "/media/clips/my clip (1).mp4", &[], b"")
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(head.body.is_empty());

    let not_modified = h
        .get(
            "/media/clips/my clip (1).mp4",
            &[("if-none-match", put.header("etag").unwrap())],
        )
        .await;
    assert_eq!(not_modified.status, 304);

    assert_eq!(
        h.call("DELETE", "/media/clips/my clip (1).mp4", &[], b"")
            .await
            .status,
        204
    );
    let gone = h.get("/media/clips/my clip (1).mp4", &[]).await;
    assert_eq!((gone.status, gone.code().as_str()), (404, "NoSuchKey"));
    assert_eq!(
        h.call("HEAD", "/media/clips/my clip (1).mp4", &[], b"")
            .await
            .status,
        404
    );
    // Deleting again is not an error, as in S3.
    assert_eq!(
        h.call("DELETE", "/media/clips/my clip (1).mp4", &[], b"")
            .await
            .status,
        204
    );

    let no_bucket = h.get("/nope/key", &[]).await;
    assert_eq!(
        (no_bucket.status, no_bucket.code().as_str()),
        (404, "NoSuchBucket")
    );
    let no_bucket = h.put("/nope/key", b"x").await;
    assert_eq!(
        (no_bucket.status, no_bucket.code().as_str()),
        (404, "NoSuchBucket")
    );
}

#[tokio::test]
async fn range_reads() {
    let h = start().await;
    let body: Vec<u8> = (0..100u8).collect();
    assert_eq!(h.put("/media/r.bin", &body).await.status, 200);
    for (range, want, content_range) in [
        ("bytes=0-9", &body[0..10], "bytes 0-9/100"),
        ("bytes=90-", &body[90..], "bytes 90-99/100"),
        ("bytes=-5", &body[95..], "bytes 95-99/100"),
        ("bytes=50-500", &body[50..], "bytes 50-99/100"),
    ] {
        let r = h.get("/media/r.bin", &[("range", range)]).await;
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.body, want, "{range}");
        assert_eq!(r.header("content-range"), Some(content_range));
        assert_eq!(
            r.header("content-length"),
            Some(want.len().to_string().as_str())
        );
    }
    for range in ["bytes=100-", "bytes=200-300", "bytes=-0"] {
        let r = h.get("/media/r.bin", &[("range", range)]).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (416, "InvalidRange"),
            "{range}"
        );
        assert_eq!(r.header("content-range"), Some("bytes */100"));
    }
    let ignored = h.get("/media/r.bin", &[("range", "bytes=9-1")]).await;
    assert_eq!((ignored.status, ignored.body.len()), (200, 100));
}

#[tokio::test]
async fn presigned_urls_work_until_they_expire() {
    let mut h = start().await;
    assert_eq!(h.put("/media/v/video.mp4", b"frames").await.status, 200);
    h.events.recv().await.unwrap();

    let fresh = h
        .raw(
            "GET",
            &h.presigned_target("GET", "/media/v/video.mp4", 300, now()),
            b"",
        )
        .await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.body, b"frames");

    // Presigned URLs may ask for response headers (a download's file name).
    let req = h
        .request("GET", "/media/v/video.mp4", &[])
        .with_query("response-content-type", "video/mp4")
        .with_query(
            "response-content-disposition",
            "attachment; filename=\"clip.mp4\"",
        );
    let query = h.signer().presign(&req, 60, now()).unwrap();
    let r = h
        .raw("GET", &format!("/media/v/video.mp4?{query}"), b"")
        .await;
    assert_eq!(r.header("content-type"), Some("video/mp4"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"clip.mp4\"")
    );

    let expired = h
        .raw(
            "GET",
            &h.presigned_target("GET", "/media/v/video.mp4", 60, now() - 3600),
            b"",
        )
        .await;
    assert_eq!(
        (expired.status, expired.code().as_str()),
        (403, "AccessDenied")
    );
    assert!(expired.text().contains("Request has expired"));

    // A URL for one key does not open another.
    let target = h.presigned_target("GET", "/media/v/video.mp4", 300, now());
    let other = target.replacen("/media/v/video.mp4", "/media/v/other.mp4", 1);
    let r = h.raw("GET", &other, b"").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // Browsers upload through presigned PUT URLs; those notify too.
    let put = h
        .raw(
            "PUT",
            &h.presigned_target("PUT", "/media/uploads/selfie.jpg", 300, now()),
            b"jpeg",
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let event = h.events.recv().await.unwrap();
    assert_eq!(
        event["Records"][0]["s3"]["object"]["key"],
        "uploads/selfie.jpg"
    );
}

#[tokio::test]
async fn unauthenticated_and_badly_signed_requests_are_refused() {
    let h = start().await;
    assert_eq!(h.put("/media/k", b"secret").await.status, 200);

    let anonymous = h.raw("GET", "/media/k", b"").await;
    assert_eq!(
        (anonymous.status, anonymous.code().as_str()),
        (403, "AccessDenied")
    );
    assert_eq!(anonymous.header("content-type"), Some("application/xml"));
    assert!(anonymous.text().starts_with("<?xml"));

    let wrong_secret = Signer::new(Credentials::new(AK, "guess"), "us-east-1");
    let r = h
        .send_signed(
            &wrong_secret,
            h.request("GET", "/media/k", &[]),
            UNSIGNED_PAYLOAD,
            now(),
            b"",
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );
    assert!(
        r.text()
            .contains("<Error><Code>SignatureDoesNotMatch</Code>")
    );

    let stranger = Signer::new(Credentials::new("AKIDSTRANGER", SK), "us-east-1");
    let r = h
        .send_signed(
            &stranger,
            h.request("GET", "/media/k", &[]),
            UNSIGNED_PAYLOAD,
            now(),
            b"",
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "InvalidAccessKeyId"));

    let stale = h
        .send_signed(
            &h.signer(),
            h.request("GET", "/media/k", &[]),
            UNSIGNED_PAYLOAD,
            now() - 3600,
            b"",
        )
        .await;
    assert_eq!(
        (stale.status, stale.code().as_str()),
        (403, "RequestTimeTooSkewed")
    );

    // A body that is not the one signed is refused and not stored.
    let swapped = h
        .send_signed(
            &h.signer(),
            h.request("PUT", "/media/k", &[]),
            &sha256_hex(b"secret"),
            now(),
            b"forged",
        )
        .await;
    assert_eq!(
        (swapped.status, swapped.code().as_str()),
        (400, "XAmzContentSHA256Mismatch")
    );
    assert_eq!(h.get("/media/k", &[]).await.body, b"secret");

    let bad_md5 = h
        .call(
            "PUT",
            "/media/k",
            &[("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")],
            b"x",
        )
        .await;
    assert_eq!(
        (bad_md5.status, bad_md5.code().as_str()),
        (400, "BadDigest")
    );
    assert_eq!(h.get("/media/k", &[]).await.body, b"secret");
}

#[tokio::test]
async fn path_tricks_are_refused() {
    let h = start().await;
    for (target, code) in [
        ("/media/../etc/passwd", "InvalidArgument"),
        ("/media/a/%2e%2e/b", "InvalidArgument"),
        ("/media//etc/passwd", "InvalidArgument"),
        ("/media/a%5Cb", "InvalidArgument"),
        ("/media/a%00b", "InvalidArgument"),
        ("/media/./x", "InvalidArgument"),
        ("/Media_Bucket/x", "InvalidBucketName"),
        ("/../x", "InvalidBucketName"),
        ("/media/%zz", "InvalidURI"),
    ] {
        let r = h.raw("PUT", target, b"x").await;
        assert_eq!((r.status, r.code().as_str()), (400, code), "{target}");
    }
    // Signed or not makes no difference.
    let signed = h.put("/media/a/../../b", b"x").await;
    assert_eq!(signed.status, 400);
    let long = format!("/media/{}", "k".repeat(1025));
    assert_eq!(h.put(&long, b"x").await.code(), "KeyTooLongError");
    // Nothing landed outside the buckets.
    let mut top: Vec<String> = std::fs::read_dir(h.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, [".tmp", "media"]);
    assert_eq!(
        std::fs::read_dir(h.dir.path().join("media"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn puts_emit_complete_aws_events() {
    let mut h = start().await;
    let body = b"{\"prompt\":\"a cat\"}";
    let put = h.put("/media/jobs/01J q+x=1.json", body).await;
    assert_eq!(put.status, 200);
    let event = h
        .events
        .try_recv()
        .expect("the event is sent before the response");

    let parsed: S3Event =
        serde_json::from_value(event.clone()).expect("aws_lambda_events parses it");
    let record = &parsed.records[0];
    assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
    assert_eq!(record.event_source.as_deref(), Some("aws:s3"));
    assert_eq!(record.aws_region.as_deref(), Some("us-east-1"));
    assert_eq!(
        record.principal_id.principal_id.as_deref(),
        Some("AWS:AKIDLOCALTEST")
    );
    assert_eq!(
        record.request_parameters.source_ip_address.as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        record
            .response_elements
            .get("x-amz-request-id")
            .map(String::as_str),
        put.header("x-amz-request-id")
    );
    assert_eq!(record.s3.bucket.name.as_deref(), Some("media"));
    assert_eq!(record.s3.bucket.arn.as_deref(), Some("arn:aws:s3:::media"));
    assert_eq!(
        record.s3.object.key.as_deref(),
        Some("jobs/01J+q%2Bx%3D1.json")
    );
    assert_eq!(record.s3.object.size, Some(body.len() as i64));
    assert_eq!(
        record.s3.object.e_tag.as_deref(),
        Some(quoted_md5(body).trim_matches('"'))
    );
    assert!((record.event_time.timestamp() - now() as i64).abs() < 60);
    assert_eq!(event["Records"][0]["eventVersion"], "2.1");
    assert_eq!(event["Records"][0]["s3"]["s3SchemaVersion"], "1.0");

    // Sequencers rise with each write; failed writes send nothing.
    assert_eq!(h.put("/media/jobs/2.json", b"{}").await.status, 200);
    let next = h.events.try_recv().unwrap();
    let seq = |e: &Value| {
        e["Records"][0]["s3"]["object"]["sequencer"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(seq(&next) > seq(&event));
    assert_eq!(h.raw("PUT", "/media/jobs/3.json", b"{}").await.status, 403);
    assert!(h.events.try_recv().is_err());
}

#[tokio::test]
async fn overwrites_are_atomic() {
    let h = start().await;
    let size = 512 << 10;
    let (a, b) = (vec![b'a'; size], vec![b'b'; size]);
    assert_eq!(h.put("/media/hot.bin", &a).await.status, 200);

    // Readers racing a writer see one version or the other, never a mix.
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (addr, host) = (h.addr, h.host());
            tokio::spawn(async move {
                let signer = Signer::new(Credentials::new(AK, SK), "us-east-1");
                for _ in 0..10 {
                    let req = Request::new("GET", "/media/hot.bin").with_header("host", &host);
                    let auth = signer.sign(&req, UNSIGNED_PAYLOAD, now()).unwrap();
                    let mut headers = req.headers.clone();
                    headers.extend(auth.to_vec().into_iter().map(|(n, v)| (n.to_owned(), v)));
                    let r = send(addr, "GET", "/media/hot.bin", &headers, b"").await;
                    assert_eq!(r.status, 200);
                    assert_eq!(r.body.len(), size);
                    let first = r.body[0];
                    assert!(r.body.iter().all(|&c| c == first), "a torn read");
                    assert_eq!(r.header("etag").unwrap(), quoted_md5(&r.body));
                }
            })
        })
        .collect();
    for i in 0..6 {
        let body = if i % 2 == 0 { &b } else { &a };
        assert_eq!(h.put("/media/hot.bin", body).await.status, 200);
    }
    for r in readers {
        r.await.unwrap();
    }

    // An upload over the limit or cut off mid-body leaves the old object.
    let big = vec![b'c'; LIMIT as usize + 1];
    let r = h.put("/media/hot.bin", &big).await;
    assert_eq!((r.status, r.code().as_str()), (413, "EntityTooLarge"));
    let req = h.request("PUT", "/media/hot.bin", &[]);
    let auth = h.signer().sign(&req, UNSIGNED_PAYLOAD, now()).unwrap();
    let mut head = format!(
        "PUT /media/hot.bin HTTP/1.1\r\ncontent-length: {size}\r\nhost: {}\r\n",
        h.host()
    );
    for (n, v) in auth.to_vec() {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(format!("{head}\r\n").as_bytes())
        .await
        .unwrap();
    stream.write_all(&[b'c'; 1000]).await.unwrap();
    drop(stream);
    // The server notices the cut asynchronously; its temp file must go.
    let tmp = h.dir.path().join(".tmp");
    for _ in 0..100 {
        if std::fs::read_dir(&tmp).unwrap().count() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "temp files are cleaned up"
    );
    let (info, body) = h.store.get("media", "hot.bin").await.unwrap();
    assert_eq!(info.size, size as u64);
    assert!(body.iter().all(|&c| c == b'a'));
}

#[tokio::test]
async fn lists_with_prefix_delimiter_and_pages() {
    let h = start().await;
    for key in [
        "jobs/1.json",
        "jobs/2.json",
        "jobs/3.json",
        "media/v1/video.mp4",
        "media/v1/thumb.jpg",
        "top",
    ] {
        assert_eq!(
            h.put(&format!("/media/{key}"), key.as_bytes()).await.status,
            200
        );
    }
    let list = |query: &'static [(&'static str, &'static str)], token: Option<String>| {
        let h = &h;
        async move {
            let mut req = h.request("GET", "/media", &[]).with_query("list-type", "2");
            for (n, v) in query {
                req = req.with_query(n, v);
            }
            if let Some(t) = token {
                req = req.with_query("continuation-token", &t);
            }
            let r = h
                .send_signed(&h.signer(), req, UNSIGNED_PAYLOAD, now(), b"")
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.text()
        }
    };
    let first = list(&[("prefix", "jobs/"), ("max-keys", "2")], None).await;
    assert_eq!(texts(&first, "Key"), ["jobs/1.json", "jobs/2.json"]);
    assert_eq!(texts(&first, "IsTruncated"), ["true"]);
    assert_eq!(texts(&first, "Size"), ["11", "11"]);
    let token = texts(&first, "NextContinuationToken")[0].to_owned();
    let second = list(&[("prefix", "jobs/"), ("max-keys", "2")], Some(token)).await;
    assert_eq!(texts(&second, "Key"), ["jobs/3.json"]);
    assert_eq!(texts(&second, "IsTruncated"), ["false"]);

    let grouped = list(&[("delimiter", "/")], None).await;
    assert_eq!(texts(&grouped, "Key"), ["top"]);
    assert_eq!(texts(&grouped, "Prefix")[1..], ["jobs/", "media/"]);

    let req = h.request("GET", "/nope", &[]).with_query("list-type", "2");
    let missing = h
        .send_signed(&h.signer(), req, UNSIGNED_PAYLOAD, now(), b"")
        .await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (404, "NoSuchBucket")
    );
    let page = h
        .store
        .list(
            "media",
            &ListQuery {
                prefix: "media/".into(),
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 2);
}

#[tokio::test]
async fn streaming_chunked_uploads_are_decoded() {
    let h = start().await;
    let payload = b"hello, chunked world";
    let mut body = Vec::new();
    for part in [&payload[..7], &payload[7..]] {
        body.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        body.extend_from_slice(part);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    let decoded = payload.len().to_string();
    let req = h.request(
        "PUT",
        "/media/streamed.txt",
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", &decoded),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ],
    );
    let r = h
        .send_signed(
            &h.signer(),
            req,
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            now(),
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let get = h.get("/media/streamed.txt", &[]).await;
    assert_eq!(get.body, payload);
    assert_eq!(get.header("content-encoding"), None);
    assert_eq!(get.header("etag"), Some(quoted_md5(payload).as_str()));

    // Signed chunks: each chunk's signature chains from the request's.
    let signed_upload = |tamper: bool| {
        let req = h.request(
            "PUT",
            "/media/signed.txt",
            &[
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", &decoded),
            ],
        );
        let time = now();
        let signer = h.signer();
        let auth = signer
            .sign(&req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", time)
            .unwrap();
        let mut chain = signer.chunk_signer(&auth, time);
        let mut body = Vec::new();
        for part in [&payload[..7], &payload[7..], b""] {
            let sig = chain.sign_chunk(part);
            body.extend_from_slice(
                format!("{:x};chunk-signature={sig}\r\n", part.len()).as_bytes(),
            );
            // Tampering keeps the length: only the signatures can tell.
            let data: Vec<u8> = if tamper {
                part.to_ascii_uppercase()
            } else {
                part.to_vec()
            };
            body.extend_from_slice(&data);
            body.extend_from_slice(b"\r\n");
        }
        let mut headers = req.headers.clone();
        headers.extend(auth.to_vec().into_iter().map(|(n, v)| (n.to_owned(), v)));
        let addr = h.addr;
        async move { send(addr, "PUT", "/media/signed.txt", &headers, &body).await }
    };
    assert_eq!(signed_upload(false).await.status, 200);
    assert_eq!(h.get("/media/signed.txt", &[]).await.body, payload);
    let tampered = signed_upload(true).await;
    assert_eq!(
        (tampered.status, tampered.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );
    assert_eq!(h.get("/media/signed.txt", &[]).await.body, payload);
}

#[tokio::test]
async fn buckets_can_be_created_and_listed() {
    let h = start().await;
    assert_eq!(h.call("HEAD", "/clips", &[], b"").await.status, 404);
    assert_eq!(h.call("PUT", "/clips", &[], b"").await.status, 200);
    assert_eq!(h.call("PUT", "/clips", &[], b"").await.status, 200);
    let head = h.call("HEAD", "/clips", &[], b"").await;
    assert_eq!(
        (head.status, head.header("x-amz-bucket-region")),
        (200, Some("us-east-1"))
    );
    let all = h.get("/", &[]).await;
    assert_eq!(texts(&all.text(), "Name"), ["clips", "media"]);
    let req = h.request("GET", "/clips", &[]).with_query("versioning", "");
    let unsupported = h
        .send_signed(&h.signer(), req, UNSIGNED_PAYLOAD, now(), b"")
        .await;
    assert_eq!(
        (unsupported.status, unsupported.code().as_str()),
        (501, "NotImplemented")
    );
}

#[tokio::test]
async fn direct_api_round_trips() {
    let h = start().await;
    let mut options = PutOptions {
        content_type: Some("application/json".into()),
        ..PutOptions::default()
    };
    options.metadata.insert("job".into(), "01J".into());
    let info = h
        .store
        .put("media", "jobs/x.json", "{}".into(), options)
        .await
        .unwrap();
    assert_eq!(info.etag, quoted_md5(b"{}"));
    assert_eq!(h.store.head("media", "jobs/x.json").await.unwrap(), info);
    let (_, body) = h.store.get("media", "jobs/x.json").await.unwrap();
    assert_eq!(&body[..], b"{}");
    let over_http = h.get("/media/jobs/x.json", &[]).await;
    assert_eq!(over_http.header("x-amz-meta-job"), Some("01J"));
    h.store.delete("media", "jobs/x.json").await.unwrap();
    assert!(matches!(
        h.store.head("media", "jobs/x.json").await,
        Err(ObjectError::NoSuchKey(_))
    ));
    assert!(matches!(
        h.store
            .put("media", "../x", "".into(), PutOptions::default())
            .await,
        Err(ObjectError::InvalidKey(_))
    ));
    let event = h
        .store
        .object_created_event("media", &info, AK, "10.0.0.1", "REQ");
    assert!(serde_json::from_value::<S3Event>(event).is_ok());
    // Query parsing is shared with the signer, so the token survives a round trip.
    assert_eq!(
        parse_query("a=%2F").unwrap(),
        [("a".to_owned(), "/".to_owned())]
    );
}
