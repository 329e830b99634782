//! `GET /v1/notifications/stream`: Server-Sent Events.
//!
//! The component follows the member's notification sequence: it polls the
//! newest number (one key) a few times a second and sends each logged change
//! as an event whose id is its sequence number. A client that reconnects
//! with `Last-Event-ID` gets everything after it, nothing twice. A comment
//! line keeps idle connections open through proxies, and the stream ends
//! itself before the host's limit so the client reconnects cleanly.

use std::time::{Duration, Instant};

use dreamreel_core::ApiError;
use dreamreel_core::notifications;
use dreamreel_edge::http;
use dreamreel_edge::{KvStore, RequestLog, auth};
use futures::SinkExt;
use http_body_util::BodyExt;
use spin_sdk::http::{BoxBody, HeaderValue, Request, Response};

/// How often the sequence is looked at: delivery within a second.
const POLL: Duration = Duration::from_millis(250);
/// An idle stream sends a comment this often.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// A stream ends after this long; the client reconnects with `Last-Event-ID`.
const LIFETIME: Duration = Duration::from_secs(240);
/// A sequence number taken but never logged (its writer stopped) is skipped
/// after this long.
const GAP_GRACE: Duration = Duration::from_secs(5);
/// What the client waits before reconnecting, in milliseconds.
const RETRY_MS: u64 = 1000;

/// Authenticates, finds where to start, and answers with the event stream.
pub async fn open(req: Request, log: &RequestLog) -> Result<Response<BoxBody>, ApiError> {
    let store = KvStore::open_default(log).await?;
    // Browsers' EventSource cannot set headers: accept the token as a query
    // parameter too (the web client's only use of it).
    let user = match http::query_param(&req, "access_token") {
        Some(token) if http::header(&req, "authorization").is_none() => {
            auth::member_from(Some(&format!("Bearer {token}")), &store, log).await?
        }
        _ => auth::member(&req, &store, log).await?,
    };
    let resume = http::header(&req, "last-event-id")
        .map(str::to_owned)
        .or_else(|| http::query_param(&req, "last_event_id").map(str::to_owned));
    let after = match resume {
        Some(id) => id.trim().parse::<u64>().map_err(|_| {
            ApiError::invalid_request("Last-Event-ID must be an event id this stream sent")
        })?,
        // A new stream starts at the present; the inbox holds the past.
        None => notifications::latest_seq(&store, &user.id).await?,
    };

    let (mut tx, body) = spin_sdk::http::body::stream::<String>();
    let user_id = user.id.clone();
    spin_sdk::wasip3::spawn(async move {
        let _ = follow(&store, &user_id, after, &mut tx).await;
    });
    let mut resp = Response::new(body.boxed_unsync());
    let headers = resp.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The body's sending half, as spin-sdk's `stream` makes it.
type Sender = futures::channel::mpsc::Sender<String>;

/// Sends events until the client goes away or the lifetime ends.
async fn follow(store: &KvStore, user: &str, mut after: u64, tx: &mut Sender) -> Result<(), ()> {
    send(tx, format!("retry: {RETRY_MS}\n: connected\n\n")).await?;
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    let mut gap: Option<(u64, Instant)> = None;
    while started.elapsed() < LIFETIME {
        let before = after;
        let batch = notifications::since(store, user, after)
            .await
            .map_err(|_| ())?;
        for (seq, view) in &batch.events {
            let data = serde_json::to_string(view).map_err(|_| ())?;
            send(
                tx,
                format!("id: {seq}\nevent: notification\ndata: {data}\n\n"),
            )
            .await?;
            quiet_since = Instant::now();
        }
        after = batch.last_seq;
        gap = match (batch.missing, gap) {
            (Some(seq), Some((waiting, since))) if seq == waiting => {
                if since.elapsed() >= GAP_GRACE {
                    after = seq;
                    None
                } else {
                    Some((waiting, since))
                }
            }
            (Some(seq), _) => Some((seq, Instant::now())),
            (None, _) => None,
        };
        if batch.events.is_empty() && quiet_since.elapsed() >= KEEP_ALIVE {
            send(tx, ": keep-alive\n\n".to_owned()).await?;
            quiet_since = Instant::now();
        }
        if batch.last_seq - before >= notifications::MAX_BATCH {
            continue; // A full batch: more are waiting, no sleep.
        }
        spin_sdk::time::sleep(POLL).await;
    }
    Ok(())
}

/// Writes one chunk, waiting while the client is slow; `Err` once it has gone.
async fn send(tx: &mut Sender, chunk: String) -> Result<(), ()> {
    tx.send(chunk).await.map_err(|_| ())
}
