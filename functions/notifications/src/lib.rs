//! The notifications component: the inbox, the unread count, marking read,
//! settings, and `GET /v1/notifications/stream`, a Server-Sent Events stream
//! that follows the member's notification sequence. A thin shell over
//! `dreamreel_core::notifications`.

mod stream;

use dreamreel_core::ApiError;
use dreamreel_core::notifications::{self, Device, MarkRead, SettingsUpdate, Target};
use dreamreel_core::request::parse_json;
use dreamreel_core::time::rfc3339_from_ms;
use dreamreel_edge::cors;
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::serve::{harden, render, serve};
use dreamreel_edge::{KvStore, RequestLog, SpinEnv, auth, refuse_method};
use http_body_util::BodyExt;
use serde_json::json;
use spin_sdk::http::{BoxBody, Method, Request, Response};
use spin_sdk::http_service;

/// Routes the request and logs one line for it. The live stream answers
/// with a streaming body; everything else through the shared shell.
#[http_service]
async fn handle(req: Request) -> Response<BoxBody> {
    let path = req.uri().path().to_owned();
    if path == "/v1/notifications/stream" && req.method() == Method::GET {
        let log = RequestLog::new(&req, &path);
        let origin = cors::allowed_origin(&req, &log).await;
        let resp = match stream::open(req, &log).await {
            Ok(resp) => resp,
            Err(e) => boxed(render(&path, &log, &e)),
        };
        let resp = harden(resp, origin.as_deref());
        log.finish(resp.status().as_u16());
        return resp;
    }
    boxed(serve(req, route).await)
}

/// `POST/GET /v1/devices`, `DELETE /v1/devices/{id}`: where pushes go.
async fn devices(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let id = path.strip_prefix("/v1/devices/");
    let allowed: &[Method] = match id {
        None => &[Method::GET, Method::POST],
        Some(_) => &[Method::DELETE],
    };
    if let Some(refused) = refuse_method(&req, path, allowed) {
        return Ok(refused);
    }
    let store = KvStore::open_default(log).await?;
    let user = auth::member(&req, &store, log).await?;
    match id {
        Some(id) => {
            if !notifications::remove_device(&store, &user.id, id).await? {
                return Err(ApiError::not_found("no such device"));
            }
            log.log("info", "device_removed", json!({ "device_id": id }));
            Ok(http::empty(204))
        }
        None if req.method() == Method::POST => {
            let body = parse_json(&http::read_body(req).await?)?;
            let (device, created) =
                notifications::register_device(&store, &SpinEnv, &user.id, body).await?;
            if created {
                log.log(
                    "info",
                    "device_registered",
                    json!({ "device_id": device.id }),
                );
            }
            Ok(http::json(
                if created { 201 } else { 200 },
                &device_view(&device),
            ))
        }
        None => {
            let devices = notifications::list_devices(&store, &user.id).await?;
            let views: Vec<_> = devices.iter().map(device_view).collect();
            Ok(http::json(200, &json!({ "devices": views })))
        }
    }
}

/// A device as its owner sees it: the platform and when, never the token.
fn device_view(device: &Device) -> serde_json::Value {
    let platform = match device.target {
        Target::Apns { .. } => "apns",
        Target::Webpush { .. } => "webpush",
    };
    json!({
        "id": device.id,
        "platform": platform,
        "registered_at": rfc3339_from_ms(device.registered_at_ms),
        "utc_offset_minutes": device.utc_offset_minutes,
    })
}

fn boxed(response: HttpResponse) -> Response<BoxBody> {
    response.map(|body| body.map_err(|never| match never {}).boxed_unsync())
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    if path == "/v1/devices" || path.starts_with("/v1/devices/") {
        return devices(req, path, log).await;
    }
    let allowed: &[Method] = match path {
        "/v1/notifications" | "/v1/notifications/unread" | "/v1/notifications/stream" => {
            &[Method::GET]
        }
        "/v1/notifications/read" => &[Method::POST],
        "/v1/notifications/settings" => &[Method::GET, Method::PUT],
        _ => return Err(ApiError::not_found(format!("no route for {path}"))),
    };
    if let Some(refused) = refuse_method(&req, path, allowed) {
        return Ok(refused);
    }
    let store = KvStore::open_default(log).await?;
    let user = auth::member(&req, &store, log).await?;
    match (path, req.method().clone()) {
        ("/v1/notifications", _) => {
            let limit = http::query_param(&req, "limit")
                .map(|l| {
                    l.parse()
                        .map_err(|_| ApiError::invalid_request("limit must be a number"))
                })
                .transpose()?;
            let inbox =
                notifications::list(&store, &user.id, http::query_param(&req, "cursor"), limit)
                    .await?;
            Ok(http::json(
                200,
                &json!({
                    "notifications": inbox.items,
                    "next_cursor": inbox.next_cursor,
                    "unread": inbox.unread,
                }),
            ))
        }
        ("/v1/notifications/unread", _) => {
            let unread = notifications::unread_count(&store, &user.id).await?;
            Ok(http::json(200, &json!({ "unread": unread })))
        }
        ("/v1/notifications/read", _) => {
            let body: MarkRead = parse_json(&http::read_body(req).await?)?;
            let unread = notifications::mark_read(&store, &user.id, body).await?;
            Ok(http::json(200, &json!({ "unread": unread })))
        }
        (_, Method::PUT) => {
            let body: SettingsUpdate = parse_json(&http::read_body(req).await?)?;
            let settings = notifications::update_settings(&store, &user.id, body).await?;
            Ok(http::json(200, &settings))
        }
        _ => {
            let settings = notifications::get_settings(&store, &user.id).await?;
            Ok(http::json(200, &settings))
        }
    }
}
