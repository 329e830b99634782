//! S3's REST API over HTTP/1.1, path-style (`/{bucket}/{key}`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use dreamreel_sigv4::Request;
use http::{Method, Response};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::get::get_object;
use super::put::put_object;
use super::response::{ObjectBody, Reply, S3Error, auth_error, not_implemented, reply, xml_reply};
use super::store::random_hex;
use super::{
    ListQuery, MAX_KEYS, ObjectError, ObjectEvents, ObjectStore, check_bucket, check_key, xml,
};

/// Sub-resources this store does not implement; refused rather than
/// silently answered as a plain read or listing.
const UNSUPPORTED: [&str; 22] = [
    "acl",
    "attributes",
    "cors",
    "delete",
    "encryption",
    "legal-hold",
    "lifecycle",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "replication",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versioning",
    "versions",
    "website",
];

/// Serves the store until `shutdown` changes.
pub async fn serve(
    listener: TcpListener,
    store: ObjectStore,
    events: Arc<dyn ObjectEvents>,
    shutdown: watch::Receiver<bool>,
) {
    crate::server::accept_loop(listener, "object store", shutdown, move |req, client| {
        let (store, events) = (store.clone(), events.clone());
        async move { answer(&store, &*events, req, client).await }
    })
    .await
}

async fn answer(
    store: &ObjectStore,
    events: &dyn ObjectEvents,
    req: http::Request<Incoming>,
    client: SocketAddr,
) -> Response<ObjectBody> {
    let started = Instant::now();
    let request_id = random_hex(8).to_uppercase();
    let method = req.method().clone();
    let resource = req.uri().path().to_owned();
    let has_origin = req.headers().contains_key("origin");
    let outcome = if method == Method::OPTIONS {
        // A CORS preflight for a presigned upload or read.
        Ok(reply(204, Vec::new(), ObjectBody::Empty))
    } else {
        route(store, events, req, client, &request_id).await
    };
    let mut response = match outcome {
        Ok(r) => r,
        Err(e) => {
            let body = if method == Method::HEAD {
                ObjectBody::Empty
            } else {
                ObjectBody::Full(Some(
                    xml::error(e.code, &e.message, &resource, &request_id).into(),
                ))
            };
            let mut headers = e.headers;
            headers.push(("content-type", "application/xml".into()));
            reply(e.status, headers, body)
        }
    };
    let headers = response.headers_mut();
    crate::security::object_cors(headers, &method, has_origin);
    for (name, value) in [
        ("x-amz-request-id", request_id.clone()),
        ("x-amz-id-2", super::event::host_id(&request_id)),
    ] {
        headers.insert(
            name,
            value
                .parse()
                .expect("hex and base64 are valid header values"),
        );
    }
    crate::log::info(
        &request_id,
        &format!(
            "object store: {method} {resource} -> {} in {:.1} ms",
            response.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        ),
    );
    response
}

/// What a path names.
enum Target {
    Service,
    Bucket(String),
    Object(String, String),
}

fn target(path: &str) -> Result<Target, S3Error> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| S3Error::new(400, "InvalidURI", "the path must start with /"))?;
    let (bucket, key) = match rest.split_once('/') {
        _ if rest.is_empty() => return Ok(Target::Service),
        None => (rest, ""),
        Some((bucket, key)) => (bucket, key),
    };
    check_bucket(bucket)?;
    if key.is_empty() {
        return Ok(Target::Bucket(bucket.to_owned()));
    }
    check_key(key)?;
    Ok(Target::Object(bucket.to_owned(), key.to_owned()))
}

async fn route(
    store: &ObjectStore,
    events: &dyn ObjectEvents,
    req: http::Request<Incoming>,
    client: SocketAddr,
    request_id: &str,
) -> Reply {
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let signed = Request::from_wire(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        headers,
    )
    .ok_or_else(|| {
        S3Error::new(
            400,
            "InvalidURI",
            "the URI has a broken %-escape or is not UTF-8",
        )
    })?;
    // Bad names are refused before authentication: nothing is revealed, and
    // a client that sends them learns why straight away.
    let target = target(&signed.path)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let presigned = signed.header("authorization").is_none();
    let verified = store
        .verifier()
        .verify(&signed, now)
        .map_err(|e| auth_error(e, presigned))?;
    let query = |name: &str| signed.query_param(name);
    let unsupported = signed
        .query
        .iter()
        .find(|(n, _)| UNSUPPORTED.contains(&n.as_str()));

    match (&parts.method, target) {
        (&Method::GET, Target::Service) => {
            let buckets = store.buckets().await?;
            Ok(xml_reply(xml::list_buckets(&buckets, super::OWNER_ID)))
        }
        (_, Target::Bucket(_) | Target::Object(..)) if unsupported.is_some() => Err(
            not_implemented(&format!("`?{}`", unsupported.expect("checked").0)),
        ),
        (&Method::PUT, Target::Bucket(bucket)) => {
            store.create_bucket(&bucket).await?;
            Ok(reply(
                200,
                vec![("location", format!("/{bucket}"))],
                ObjectBody::Empty,
            ))
        }
        (&Method::HEAD, Target::Bucket(bucket)) => {
            existing_bucket(store, &bucket)?;
            let region = store.config().region.clone();
            Ok(reply(
                200,
                vec![("x-amz-bucket-region", region)],
                ObjectBody::Empty,
            ))
        }
        (&Method::GET, Target::Bucket(bucket)) if query("location").is_some() => {
            existing_bucket(store, &bucket)?;
            Ok(xml_reply(xml::location(&store.config().region)))
        }
        (&Method::GET, Target::Bucket(bucket)) => list_objects(store, &bucket, &signed).await,
        (&Method::PUT, Target::Object(bucket, key)) => {
            if parts.headers.contains_key("x-amz-copy-source") {
                return Err(not_implemented("CopyObject"));
            }
            if store.config().faults.object_put_fails(&key) {
                return Err(S3Error::new(503, "ServiceUnavailable", "injected fault"));
            }
            let object = put_object(store, &bucket, &key, &parts.headers, body, &verified).await?;
            events.object_created(store.object_created_event(
                &bucket,
                &object,
                &verified.access_key_id,
                &client.ip().to_string(),
                request_id,
            ));
            Ok(reply(200, vec![("etag", object.etag)], ObjectBody::Empty))
        }
        (&Method::GET | &Method::HEAD, Target::Object(bucket, key)) => {
            get_object(store, &bucket, &key, &signed, parts.method == Method::HEAD).await
        }
        (&Method::DELETE, Target::Object(bucket, key)) => {
            store.delete(&bucket, &key).await?;
            Ok(reply(204, Vec::new(), ObjectBody::Empty))
        }
        (&Method::POST | &Method::DELETE, _) => Err(not_implemented(&format!(
            "{} on this resource",
            parts.method
        ))),
        _ => Err(S3Error::new(
            405,
            "MethodNotAllowed",
            "the method is not allowed on this resource",
        )),
    }
}

pub(super) fn existing_bucket(store: &ObjectStore, bucket: &str) -> Result<(), S3Error> {
    if store.bucket_exists(bucket) {
        Ok(())
    } else {
        Err(ObjectError::NoSuchBucket(bucket.to_owned()).into())
    }
}

async fn list_objects(store: &ObjectStore, bucket: &str, req: &Request) -> Reply {
    let param = |name: &str| req.query_param(name).map(str::to_owned);
    let max_keys = match param("max-keys") {
        None => MAX_KEYS,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| {
                S3Error::new(
                    400,
                    "InvalidArgument",
                    "max-keys must be a non-negative integer",
                )
            })?
            .min(MAX_KEYS),
    };
    let q = ListQuery {
        prefix: param("prefix").unwrap_or_default(),
        delimiter: param("delimiter"),
        max_keys,
        // ListObjects (v1) calls the same thing `marker`.
        start_after: param("start-after").or_else(|| param("marker")),
        continuation_token: param("continuation-token"),
    };
    let page = store.list(bucket, &q).await?;
    let url = req.query_param("encoding-type") == Some("url");
    Ok(xml_reply(xml::list_v2(bucket, &q, &page, url)))
}
