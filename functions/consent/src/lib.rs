//! The consent component: a member's cameo (verification, who may cast
//! them, their instructions), permission requests and answers, the list of
//! every use of their likeness with the power to take any down, and the
//! worker's signed report on a verification recording. A thin shell over
//! `dreamreel_core::cameo`.

use dreamreel_core::accounts::User;
use dreamreel_core::accounts::profile::{load_profile, user_by_handle};
use dreamreel_core::cameo::grants::{self, GrantView};
use dreamreel_core::cameo::verify::{self, RecordingReport};
use dreamreel_core::cameo::{self, SettingsUpdate, appearances};
use dreamreel_core::request::parse_json;
use dreamreel_core::time::rfc3339_from_ms;
use dreamreel_core::{ApiError, Env};
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::s3::S3Config;
use dreamreel_edge::{KvStore, RequestLog, SpinEnv, auth, refuse_method, serve};
use serde::Deserialize;
use serde_json::json;
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

/// A challenge's upload URL lives as long as the challenge.
const UPLOAD_URL_SECS: u64 = verify::CHALLENGE_TTL_MS / 1000;
/// Page sizes of the lists.
const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 50;

/// Routes the request and logs one line for it.
#[http_service]
async fn handle(req: Request) -> HttpResponse {
    serve(req, route).await
}

/// What a path is, before its method is checked.
enum Route<'a> {
    Cameo,
    Verification,
    Settings,
    Requests,
    Answer(&'a str, bool),
    Grant(&'a str),
    Appearances,
    TakeDown(&'a str),
    Report,
}

impl Route<'_> {
    fn allowed(&self) -> &'static [Method] {
        match self {
            Route::Cameo | Route::Appearances => &[Method::GET],
            Route::Settings => &[Method::GET, Method::PUT],
            Route::Requests => &[Method::GET, Method::POST],
            Route::Grant(_) => &[Method::DELETE],
            Route::Verification | Route::Answer(..) | Route::TakeDown(_) | Route::Report => {
                &[Method::POST]
            }
        }
    }
}

fn parse_route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segments.as_slice() {
        ["v1", "cameo"] => Route::Cameo,
        ["v1", "cameo", "verification"] => Route::Verification,
        ["v1", "cameo", "settings"] => Route::Settings,
        ["v1", "cameo", "requests"] => Route::Requests,
        ["v1", "cameo", "requests", handle, "approve"] => Route::Answer(handle, true),
        ["v1", "cameo", "requests", handle, "deny"] => Route::Answer(handle, false),
        ["v1", "cameo", "grants", handle] => Route::Grant(handle),
        ["v1", "cameo", "appearances"] => Route::Appearances,
        ["v1", "cameo", "appearances", id, "take-down"] => Route::TakeDown(id),
        ["internal", "cameo", "verifications"] => Route::Report,
        _ => return None,
    })
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let Some(route) = parse_route(path) else {
        return Err(ApiError::not_found(format!("no route for {path}")));
    };
    if let Some(refused) = refuse_method(&req, path, route.allowed()) {
        return Ok(refused);
    }
    let store = KvStore::open_default(log).await?;
    if let Route::Report = route {
        return report(req, path, &store, log).await;
    }
    let me = auth::member(&req, &store, log).await?;
    match route {
        Route::Cameo => {
            let cameo = cameo::get_cameo(&store, &me.id).await?;
            let pending = cameo.attempt.as_ref().map(|a| {
                json!({
                    "attempt_id": a.id,
                    "expires_at": rfc3339_from_ms(a.expires_at_ms),
                })
            });
            let mut view =
                serde_json::to_value(cameo.view(SpinEnv.now_ms())).expect("views serialise");
            view["pending_verification"] = pending.unwrap_or(serde_json::Value::Null);
            Ok(http::json(200, &view))
        }
        Route::Verification => start_verification(&store, &me, log).await,
        Route::Settings if req.method() == Method::GET => Ok(http::json(
            200,
            &cameo::get_cameo(&store, &me.id)
                .await?
                .view(SpinEnv.now_ms()),
        )),
        Route::Settings => {
            let update: SettingsUpdate = parse_json(&http::read_body(req).await?)?;
            let now = SpinEnv.now_ms();
            let minor = load_profile(&store, &me.id).await?.minor(now);
            cameo::update_settings(&store, now, &me.id, minor, update).await?;
            Ok(http::json(
                200,
                &cameo::get_cameo(&store, &me.id)
                    .await?
                    .view(SpinEnv.now_ms()),
            ))
        }
        Route::Requests if req.method() == Method::GET => list_requests(&req, &store, &me).await,
        Route::Requests => ask(req, &store, &me, log).await,
        Route::Answer(handle, approve) => {
            let asker = member(&store, handle).await?;
            let grant = grants::answer(&store, &SpinEnv, &me, &asker, approve).await?;
            log.log(
                "info",
                "cameo_request_answered",
                json!({ "asker": asker.id, "state": grant.state }),
            );
            Ok(http::json(200, &GrantView::new(&asker, &grant)))
        }
        Route::Grant(handle) => {
            let grantee = member(&store, handle).await?;
            grants::revoke(&store, &SpinEnv, &me.id, &grantee.id).await?;
            log.log(
                "info",
                "cameo_grant_revoked",
                json!({ "grantee": grantee.id }),
            );
            Ok(http::empty(204))
        }
        Route::Appearances => {
            let limit = page_size(&req)?;
            let page =
                appearances::list(&store, &me.id, http::query_param(&req, "cursor"), limit).await?;
            Ok(http::json(
                200,
                &json!({ "appearances": page.items, "next_cursor": page.next_cursor }),
            ))
        }
        Route::TakeDown(id) => {
            let appearance = appearances::take_down(&store, &SpinEnv, &me, id).await?;
            log.log(
                "info",
                "cameo_take_down",
                json!({ "draft_id": id, "state": appearance.state }),
            );
            Ok(http::json(200, &appearance))
        }
        Route::Report => unreachable!("answered above"),
    }
}

/// A member by handle; 404 when there is none.
async fn member(store: &KvStore, handle: &str) -> Result<User, ApiError> {
    user_by_handle(store, handle)
        .await?
        .ok_or_else(|| ApiError::not_found("no such member"))
}

/// `limit` query parameter: 1-50, default 20.
fn page_size(req: &Request) -> Result<usize, ApiError> {
    match http::query_param(req, "limit") {
        None => Ok(DEFAULT_PAGE),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::invalid_request(format!("limit must be 1-{MAX_PAGE}"))),
    }
}

/// `POST /v1/cameo/verification`: a new challenge and where to upload.
async fn start_verification(
    store: &KvStore,
    me: &User,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    let attempt = verify::start(store, &SpinEnv, &me.id).await?;
    let s3 = S3Config::from_variables(log).await?;
    let url = s3
        .presigned_put(
            &attempt.upload_key,
            verify::RECORDING_TYPE,
            UPLOAD_URL_SECS,
            attempt.issued_at_ms / 1000,
        )
        .map_err(|_| ApiError::internal("an upload link could not be made"))?;
    log.log(
        "info",
        "cameo_verification_started",
        json!({ "attempt_id": attempt.id }),
    );
    Ok(http::json(
        201,
        &json!({
            "attempt_id": attempt.id,
            "digits": attempt.digits,
            "turns": attempt.turns,
            "expires_at": rfc3339_from_ms(attempt.expires_at_ms),
            "upload": {
                "method": "PUT",
                "url": url,
                "headers": { "content-type": verify::RECORDING_TYPE },
                "max_bytes": verify::MAX_RECORDING_BYTES,
            },
        }),
    ))
}

/// `POST /v1/cameo/requests` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AskRequest {
    /// Whom to ask.
    handle: String,
    /// Why, for them to read.
    note: Option<String>,
}

/// `POST /v1/cameo/requests`: ask someone to let me cast them.
async fn ask(
    req: Request,
    store: &KvStore,
    me: &User,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    let body: AskRequest = parse_json(&http::read_body(req).await?)?;
    let owner = member(store, body.handle.trim_start_matches('@')).await?;
    let (grant, created) = grants::ask(store, &SpinEnv, me, &owner, body.note.as_deref()).await?;
    log.log(
        "info",
        "cameo_requested",
        json!({ "owner": owner.id, "created": created }),
    );
    Ok(http::json(
        if created { 201 } else { 200 },
        &GrantView::new(&owner, &grant),
    ))
}

/// `GET /v1/cameo/requests?direction=incoming|outgoing`.
async fn list_requests(
    req: &Request,
    store: &KvStore,
    me: &User,
) -> Result<HttpResponse, ApiError> {
    let incoming = match http::query_param(req, "direction").unwrap_or("incoming") {
        "incoming" => true,
        "outgoing" => false,
        _ => {
            return Err(ApiError::invalid_request(
                "direction must be incoming or outgoing",
            ));
        }
    };
    let limit = page_size(req)?;
    let page = grants::list(
        store,
        &me.id,
        incoming,
        http::query_param(req, "cursor"),
        limit,
    )
    .await?;
    Ok(http::json(
        200,
        &json!({ "requests": page.items, "next_cursor": page.next_cursor }),
    ))
}

/// `POST /internal/cameo/verifications`: the worker's signed report on a
/// recording; the edge judges it.
async fn report(
    req: Request,
    path: &str,
    store: &KvStore,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    let body = auth::worker_call(req, path, store, log).await?;
    let report: RecordingReport = parse_json(&body)?;
    let Some((user_id, attempt_id)) = verify::parse_recording_key(&report.object_key) else {
        return Err(ApiError::invalid_request(
            "object_key is not a cameo recording",
        ));
    };
    if attempt_id != report.attempt_id {
        return Err(ApiError::invalid_request(
            "attempt_id does not match object_key",
        ));
    }
    let cameo = verify::finish(store, &SpinEnv, user_id, &report).await?;
    log.log(
        "info",
        "cameo_verification_judged",
        json!({ "user_id": user_id, "attempt_id": attempt_id, "status": cameo.status }),
    );
    Ok(http::json(
        200,
        &json!({ "status": cameo.status, "refusal": cameo.refusal }),
    ))
}
