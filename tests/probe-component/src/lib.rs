//! Host probe: each route exercises one host interface and reports what it saw,
//! so the local stack's tests check Spin behaviour through a real component.

use spin_sdk::experimental::wasi::keyvalue::{atomics, batch, store as wasi_kv};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{IntoResponse, Request, StatusCode};
use spin_sdk::http_service;
use spin_sdk::key_value::Store;

fn reply(status: u16, value: serde_json::Value) -> impl IntoResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, spin_sdk::http::Json(value))
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
async fn handle(req: Request) -> impl IntoResponse {
    let path = req.uri().path().trim_start_matches("/probe").to_owned();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        ["panic"] => panic!("the probe was asked to trap"),
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
