//! The HTTP front door: accepts connections on a local address and hands each
//! request to the [`Runtime`], with body limits and request ids.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::runtime::{Response, Runtime, error_response};

/// Largest request body accepted, as `spin.toml` documents for production.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// Serves the app until `shutdown` changes.
pub async fn serve(
    listener: TcpListener,
    runtime: Arc<Runtime>,
    max_body_bytes: usize,
    shutdown: watch::Receiver<bool>,
) {
    accept_loop(listener, "app", shutdown, move |req, client| {
        let runtime = runtime.clone();
        async move { answer(&runtime, req, client, max_body_bytes).await }
    })
    .await
}

/// Accepts HTTP/1.1 connections until `shutdown` changes, each on its own
/// task, and answers every request with `handler`. Shared by the app and the
/// object store.
pub async fn accept_loop<H, F, B>(
    listener: TcpListener,
    name: &'static str,
    mut shutdown: watch::Receiver<bool>,
    handler: H,
) where
    H: Fn(http::Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    crate::log::error("-", &format!("{name}: accept failed: {e}"));
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let response = handler(req, client);
                async move { Ok::<_, Infallible>(response.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    runtime: &Runtime,
    req: http::Request<Incoming>,
    client: SocketAddr,
    max_body_bytes: usize,
) -> Response {
    let started = Instant::now();
    let request_id = request_id(req.headers());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (mut parts, body) = req.into_parts();
    let response = match Limited::new(body, max_body_bytes).collect().await {
        Ok(body) => {
            parts.headers.insert(
                "x-request-id",
                http::HeaderValue::from_str(&request_id).expect("ids are ASCII"),
            );
            let req = http::Request::from_parts(parts, body.to_bytes());
            runtime.handle(req, client, &request_id).await
        }
        Err(e) if e.is::<http_body_util::LengthLimitError>() => error_response(
            413,
            "payload_too_large",
            &format!("request bodies are limited to {max_body_bytes} bytes"),
        ),
        Err(_) => error_response(
            400,
            "bad_request_body",
            "the request body could not be read",
        ),
    };
    crate::log::info(
        &request_id,
        &format!(
            "{method} {path} -> {} in {:.1} ms",
            response.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        ),
    );
    let (mut parts, body) = response.into_parts();
    if let Ok(value) = http::HeaderValue::from_str(&request_id) {
        parts.headers.insert("x-request-id", value);
    }
    // Security and CORS headers also on the host's own answers (404, 413, 500).
    let allowed = runtime
        .app_variable("cors_allowed_origins")
        .unwrap_or_default();
    crate::security::harden_app(&mut parts.headers, origin.as_deref(), &allowed);
    http::Response::from_parts(parts, body)
}

/// Keeps a caller's well-formed `x-request-id`, so a client can follow its
/// request through the logs; otherwise makes a new one.
fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 12];
            getrandom::fill(&mut bytes).expect("the OS has randomness");
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        })
}
