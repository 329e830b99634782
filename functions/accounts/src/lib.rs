//! The accounts component: health, the OpenAPI document, invite-only
//! sign-up, log-in and the signed-in member. A thin shell: parse the
//! request, call `dreamreel_core::accounts`, write the response.

use dreamreel_core::accounts::{self, LoginRequest, SignupRequest};
use dreamreel_core::request::parse_json;
use dreamreel_core::{ApiError, Store, keys};
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::{KvStore, RequestLog, SpinEnv, config};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

/// The API description, served as-is so it cannot drift from the file.
const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Every route this component answers, with the one method it accepts.
const ROUTES: &[(&str, Method)] = &[
    ("/v1/health", Method::GET),
    ("/v1/openapi.json", Method::GET),
    ("/v1/auth/signup", Method::POST),
    ("/v1/auth/login", Method::POST),
    ("/v1/me", Method::GET),
];

/// Routes the request and logs one line for it.
#[http_service]
async fn handle(req: Request) -> HttpResponse {
    let path = req.uri().path().to_owned();
    let log = RequestLog::new(&req, &path);
    let response = match route(req, &path, &log).await {
        Ok(response) => response,
        Err(e) => {
            if e.status >= 500 {
                log.log("error", "failed", serde_json::json!({ "code": e.code }));
            }
            http::error(&e)
        }
    };
    log.finish(response.status().as_u16());
    response
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let Some((_, allowed)) = ROUTES.iter().find(|(p, _)| *p == path) else {
        return Err(ApiError::not_found(format!("no route for {path}")));
    };
    if req.method() != allowed {
        return Ok(http::method_not_allowed(
            req.method().as_str(),
            path,
            allowed.as_str(),
        ));
    }
    match path {
        "/v1/health" => health(log).await,
        "/v1/openapi.json" => Ok(http::json_text(200, OPENAPI)),
        "/v1/auth/signup" => {
            let body: SignupRequest = parse_json(&http::read_body(req).await?)?;
            let (store, cfg) = (open_store(log).await?, config::accounts(log).await?);
            let session = accounts::signup(&store, &SpinEnv, &cfg, body).await?;
            log.log(
                "info",
                "signed_up",
                serde_json::json!({ "user_id": session.user.id }),
            );
            Ok(http::json(201, &session))
        }
        "/v1/auth/login" => {
            let body: LoginRequest = parse_json(&http::read_body(req).await?)?;
            let (store, cfg) = (open_store(log).await?, config::accounts(log).await?);
            Ok(http::json(
                200,
                &accounts::login(&store, &SpinEnv, &cfg, body).await?,
            ))
        }
        "/v1/me" => {
            let (store, cfg) = (open_store(log).await?, config::accounts(log).await?);
            let auth = http::header(&req, "authorization");
            Ok(http::json(
                200,
                &accounts::me(&store, &SpinEnv, &cfg, auth).await?,
            ))
        }
        _ => Err(ApiError::not_found(format!("no route for {path}"))),
    }
}

async fn open_store(log: &RequestLog) -> Result<KvStore, ApiError> {
    Ok(KvStore::open_default(log).await?)
}

/// Proves the store answers with a read; 503 when it does not.
async fn health(log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let unavailable = |_| ApiError::unavailable("storage_unavailable", "the store does not answer");
    let store = KvStore::open_default(log).await.map_err(unavailable)?;
    store
        .get(&keys::health_probe())
        .await
        .map_err(unavailable)?;
    Ok(http::json(
        200,
        &serde_json::json!({ "status": "ok", "store": "ok" }),
    ))
}
