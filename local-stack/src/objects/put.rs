//! PutObject: streams the body to disk, decoding aws-chunked uploads and
//! checking signed hashes on the way.

use std::io;

use bytes::Bytes;
use dreamreel_sigv4::{Payload, Verified};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use super::chunked::{ChunkDecoder, ChunkError};
use super::http::existing_bucket;
use super::response::{S3Error, not_implemented};
use super::store::{PutChecks, blocking};
use super::{ObjectError, ObjectInfo, ObjectStore, PutOptions};

/// Headers stored with an object and returned on reads.
pub(super) const STORED_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// What the request asks to be stored with the body.
fn put_options(headers: &HeaderMap) -> PutOptions {
    let text = |v: &http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).trim().to_owned();
    let mut options = PutOptions {
        content_type: headers.get("content-type").map(text),
        ..PutOptions::default()
    };
    for name in STORED_HEADERS {
        if let Some(value) = headers.get(name).map(text) {
            // aws-chunked describes this request's framing, not the object.
            let value = if name == "content-encoding" {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty() && *e != "aws-chunked")
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                value
            };
            if !value.is_empty() {
                options.headers.insert(name.to_owned(), value);
            }
        }
    }
    for (name, value) in headers {
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            options.metadata.insert(meta.to_owned(), text(value));
        }
    }
    options
}

fn header_u64(headers: &HeaderMap, name: &str) -> Result<Option<u64>, S3Error> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| {
                    S3Error::new(400, "InvalidArgument", format!("{name} must be a number"))
                })
        })
        .transpose()
}

pub(super) async fn put_object(
    store: &ObjectStore,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    body: Incoming,
    verified: &Verified,
) -> Result<ObjectInfo, S3Error> {
    existing_bucket(store, bucket)?;
    let limit = store.config().max_object_bytes;
    let too_large = || S3Error::from(ObjectError::EntityTooLarge(limit));
    let (decoder, declared) = match &verified.payload {
        Payload::Streaming(mode) if mode == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => (
            Some(ChunkDecoder::new(Some(verified.chunk_verifier()))),
            header_u64(headers, "x-amz-decoded-content-length")?,
        ),
        Payload::Streaming(mode) if mode == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => (
            Some(ChunkDecoder::new(None)),
            header_u64(headers, "x-amz-decoded-content-length")?,
        ),
        Payload::Streaming(mode) => return Err(not_implemented(mode)),
        _ => (None, header_u64(headers, "content-length")?),
    };
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let checks = PutChecks {
        sha256_hex: match &verified.payload {
            Payload::Sha256(hash) => Some(hash.clone()),
            _ => None,
        },
        md5: headers.get("content-md5").map(content_md5).transpose()?,
    };
    let options = put_options(headers);
    let pending = {
        let (store, bucket, key) = (store.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || store.begin_put(&bucket, &key, options, checks)).await?
    };

    // The body streams to a blocking writer (disk and hashing stay off the
    // async threads); the writer's error, if any, wins over the reader's.
    let (tx, mut rx) = mpsc::channel::<Bytes>(4);
    let writer = tokio::task::spawn_blocking(move || {
        let mut pending = pending;
        while let Some(chunk) = rx.blocking_recv() {
            pending.write(&chunk)?;
        }
        Ok::<_, ObjectError>(pending)
    });
    let read = read_body(body, decoder, tx).await;
    let pending = writer
        .await
        .map_err(|e| ObjectError::Io(io::Error::other(e)))??;
    let received = read?;
    if declared.is_some_and(|n| n != received) {
        return Err(S3Error::new(
            400,
            "IncompleteBody",
            "the body length differs from the declared length",
        ));
    }
    Ok(blocking(move || pending.commit()).await?)
}

/// Feeds the body (decoded, if aws-chunked) to the writer; returns its length.
async fn read_body(
    mut body: Incoming,
    mut decoder: Option<ChunkDecoder>,
    tx: mpsc::Sender<Bytes>,
) -> Result<u64, S3Error> {
    let chunk_error = |e: ChunkError| match e {
        ChunkError::Signature => S3Error::new(
            403,
            "SignatureDoesNotMatch",
            "a chunk signature does not match",
        ),
        ChunkError::Malformed(why) => S3Error::new(400, "IncompleteBody", why),
    };
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|_| S3Error::new(400, "IncompleteBody", "the body could not be read"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let data = match &mut decoder {
            Some(d) => {
                let mut out = Vec::with_capacity(data.len());
                d.feed(&data, &mut out).map_err(chunk_error)?;
                Bytes::from(out)
            }
            None => data,
        };
        received += data.len() as u64;
        if !data.is_empty() && tx.send(data).await.is_err() {
            // The writer stopped; it reports why.
            return Ok(received);
        }
    }
    if let Some(d) = &decoder {
        d.finish().map_err(chunk_error)?;
    }
    Ok(received)
}

fn content_md5(value: &http::HeaderValue) -> Result<[u8; 16], S3Error> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .ok()
        .and_then(|d| <[u8; 16]>::try_from(d).ok())
        .ok_or_else(|| S3Error::new(400, "InvalidDigest", "Content-MD5 is not a base64 MD5"))
}
