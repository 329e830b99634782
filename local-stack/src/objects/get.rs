//! GetObject and HeadObject: conditional and ranged reads, streamed from disk.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use dreamreel_sigv4::Request;
use dreamreel_sigv4::time::UtcTime;
use tokio::sync::mpsc;

use super::ObjectStore;
use super::put::STORED_HEADERS;
use super::range::{self, ByteRange};
use super::response::{ObjectBody, Reply, S3Error, reply};
use super::store::blocking;

/// Read size when streaming an object out.
const READ_CHUNK: u64 = 256 << 10;

pub(super) async fn get_object(
    store: &ObjectStore,
    bucket: &str,
    key: &str,
    req: &Request,
    head: bool,
) -> Reply {
    let (file, info) = {
        let (store, bucket, key) = (store.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || store.open_object(&bucket, &key)).await?
    };
    let etag_matches = |h: &str| {
        req.header(h).map(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim() == info.etag)
        })
    };
    if etag_matches("if-match") == Some(false) {
        return Err(S3Error::new(
            412,
            "PreconditionFailed",
            "If-Match does not match the ETag",
        ));
    }
    let last_modified = UtcTime::from_unix(info.last_modified_ms / 1000).http_date();
    let mut headers: Vec<(&str, String)> = vec![
        ("etag", info.etag.clone()),
        ("last-modified", last_modified),
        ("accept-ranges", "bytes".into()),
    ];
    if etag_matches("if-none-match") == Some(true) {
        return Ok(reply(304, headers, ObjectBody::Empty));
    }
    let (status, start, len) = match range::resolve(req.header("range").as_deref(), info.size) {
        ByteRange::Full => (200, 0, info.size),
        ByteRange::Partial { start, end } => {
            headers.push((
                "content-range",
                format!("bytes {start}-{end}/{}", info.size),
            ));
            (206, start, end - start + 1)
        }
        ByteRange::Unsatisfiable => {
            let mut e = S3Error::new(
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
            );
            e.headers
                .push(("content-range", format!("bytes */{}", info.size)));
            return Err(e);
        }
    };
    // A presigned URL may override response headers (response-content-type=...).
    let overrides: BTreeMap<&str, &str> = req
        .query
        .iter()
        .filter_map(|(n, v)| Some((n.strip_prefix("response-")?, v.as_str())))
        .collect();
    let content_type = overrides
        .get("content-type")
        .map_or(info.content_type.as_str(), |v| v);
    headers.push(("content-type", content_type.to_owned()));
    headers.push(("content-length", len.to_string()));
    for name in STORED_HEADERS {
        let value = overrides
            .get(name)
            .copied()
            .or_else(|| info.headers.get(name).map(String::as_str));
        if let Some(value) = value {
            headers.push((name, value.to_owned()));
        }
    }
    let metadata: Vec<(String, String)> = info
        .metadata
        .iter()
        .map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone()))
        .collect();
    let mut response = reply(
        status,
        headers,
        if head || len == 0 {
            ObjectBody::Empty
        } else {
            stream_file(file, start, len)
        },
    );
    for (name, value) in metadata {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::try_from(name),
            http::HeaderValue::try_from(value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    Ok(response)
}

/// Streams `len` bytes from `start` without holding the object in memory.
fn stream_file(mut file: File, start: u64, len: u64) -> ObjectBody {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = file.seek(SeekFrom::Start(start)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut left = len;
        while left > 0 {
            let mut buf = vec![0; left.min(READ_CHUNK) as usize];
            if let Err(e) = file.read_exact(&mut buf) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            left -= buf.len() as u64;
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return; // the client went away
            }
        }
    });
    ObjectBody::Stream(rx)
}
