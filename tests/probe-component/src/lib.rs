//! Host probe: each route exercises one host interface and reports what it saw,
//! so the local stack's tests check Spin behaviour through a real component.

use http_body_util::{BodyExt, Full};
use spin_sdk::experimental::wasi::keyvalue::{atomics, batch, store as wasi_kv};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{BoxBody, HeaderValue, Request, Response, StatusCode};
use spin_sdk::http_service;
use spin_sdk::key_value::Store;

fn reply(status: u16, value: serde_json::Value) -> Response<BoxBody> {
    let body = Full::new(bytes::Bytes::from(value.to_string()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

/// Server-Sent Events: `count` events `gap_ms` apart, each written as it
/// happens, so the host must stream them rather than wait for the end.
fn events(count: u32, gap_ms: u64) -> Response<BoxBody> {
    let (mut tx, body) = spin_sdk::http::body::stream::<String>();
    spin_sdk::wasip3::spawn(async move {
        for i in 0..count {
            if i > 0 {
                spin_sdk::time::sleep(std::time::Duration::from_millis(gap_ms)).await;
            }
            if tx
                .try_send(format!("id: {i}\ndata: event {i}\n\n"))
                .is_err()
            {
                return;
            }
        }
    });
    let mut resp = Response::new(body.boxed_unsync());
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/event-stream"),
    );
    resp
}

fn header(req: &Request, name: &str) -> serde_json::Value {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| serde_json::Value::String(s.to_owned()))
        .unwrap_or(serde_json::Value::Null)
}

/// Routes on the path below `/probe`.
#[http_service]
async fn handle(req: Request) -> Response<BoxBody> {
    let path = req.uri().path().trim_start_matches("/probe").to_owned();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        ["panic"] => panic!("the probe was asked to trap"),
        ["events", count, gap_ms] => match (count.parse(), gap_ms.parse()) {
            (Ok(count), Ok(gap_ms)) => events(count, gap_ms),
            _ => reply(
                400,
                serde_json::json!({ "events": "count and gap_ms are numbers" }),
            ),
        },
        ["headers", ..] => reply(
            200,
            serde_json::json!({
                "full_url": header(&req, "spin-full-url"),
                "path_info": header(&req, "spin-path-info"),
                "matched_route": header(&req, "spin-matched-route"),
                "component_route": header(&req, "spin-component-route"),
                "client_addr": header(&req, "spin-client-addr"),
                "request_id": header(&req, "x-request-id"),
                "uri": req.uri().to_string(),
            }),
        ),
        ["kv", key] => {
            let key = key.to_string();
            let method = req.method().clone();
            let body = req.into_body().bytes().await.unwrap_or_default();
            let store = match Store::open_default().await {
                Ok(s) => s,
                Err(e) => return reply(500, serde_json::json!({ "open": format!("{e:?}") })),
            };
            let result = match method.as_str() {
                "PUT" => store.set(&key, &body).await.map(|_| None),
                "DELETE" => store.delete(&key).await.map(|_| None),
                _ => store.get(&key).await,
            };
            match result {
                Ok(value) => reply(
                    200,
                    serde_json::json!({ "value": value.map(|v| String::from_utf8_lossy(&v).into_owned()) }),
                ),
                Err(e) => reply(500, serde_json::json!({ "kv": format!("{e:?}") })),
            }
        }
        ["open", label] => match Store::open(label).await {
            Ok(_) => reply(200, serde_json::json!({ "opened": label })),
            Err(e) => reply(403, serde_json::json!({ "open": format!("{e:?}") })),
        },
        ["incr", key, delta] => {
            let bucket = wasi_kv::open("default").expect("default store");
            let delta: i64 = delta.parse().unwrap_or(1);
            match atomics::increment(&bucket, key, delta) {
                Ok(n) => reply(200, serde_json::json!({ "value": n })),
                Err(e) => reply(500, serde_json::json!({ "incr": format!("{e:?}") })),
            }
        }
        ["cas", key, expected, new] => {
            // `-` stands for "absent".
            let bucket = wasi_kv::open("default").expect("default store");
            let cas = atomics::Cas::new(&bucket, key).expect("cas ticket");
            let current = cas.current().expect("current value");
            let wanted = (*expected != "-").then(|| expected.as_bytes().to_vec());
            if current != wanted {
                return reply(409, serde_json::json!({ "swapped": false }));
            }
            match atomics::swap(cas, new.as_bytes()) {
                Ok(()) => reply(200, serde_json::json!({ "swapped": true })),
                Err(_) => reply(409, serde_json::json!({ "swapped": false })),
            }
        }
        ["many", keys] => {
            let bucket = wasi_kv::open("default").expect("default store");
            let keys: Vec<String> = keys.split(',').map(str::to_owned).collect();
            match batch::get_many(&bucket, &keys) {
                Ok(pairs) => reply(
                    200,
                    serde_json::json!(
                        pairs
                            .into_iter()
                            .map(|(k, v)| (k, v.map(|v| String::from_utf8_lossy(&v).into_owned())))
                            .collect::<Vec<_>>()
                    ),
                ),
                Err(e) => reply(500, serde_json::json!({ "many": format!("{e:?}") })),
            }
        }
        ["var", name] => match spin_sdk::variables::get(name).await {
            Ok(value) => reply(200, serde_json::json!({ "value": value })),
            Err(e) => reply(404, serde_json::json!({ "variable": format!("{e:?}") })),
        },
        ["outbound"] => {
            let url = req
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("url="))
                .unwrap_or_default()
                .to_owned();
            match spin_sdk::http::get(url).await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let body = res.into_body().bytes().await.unwrap_or_default();
                    reply(
                        200,
                        serde_json::json!({ "status": status, "body": String::from_utf8_lossy(&body) }),
                    )
                }
                Err(e) => reply(502, serde_json::json!({ "outbound": format!("{e:?}") })),
            }
        }
        _ => reply(404, serde_json::json!({ "path": path })),
    }
}
