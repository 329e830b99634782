//! The moderation component: `POST /v1/reports` for every member, and for
//! admins the report queue (`GET /v1/admin/reports`,
//! `POST /v1/admin/reports/{id}/resolve`) and the rights registry
//! (`GET`/`POST /v1/admin/rights`, `DELETE /v1/admin/rights/{id}`). A thin
//! shell over `dreamreel_core::safety`.

use dreamreel_core::ApiError;
use dreamreel_core::accounts::AccessPolicy;
use dreamreel_core::accounts::policy::PolicyVars;
use dreamreel_core::request::parse_json;
use dreamreel_core::safety::{self, reports::Report};
use dreamreel_core::time::rfc3339_from_ms;
use dreamreel_edge::config::{self, misconfigured};
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::{KvStore, RequestLog, SpinEnv, auth, refuse_method, serve};
use serde_json::json;
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

/// Routes the request and logs one line for it.
#[http_service]
async fn handle(req: Request) -> HttpResponse {
    serve(req, route).await
}

/// What a path is, before its method is checked.
enum Route<'a> {
    Reports,
    Queue,
    Resolve(&'a str),
    Rights,
    Right(&'a str),
}

fn parse_route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segments.as_slice() {
        ["v1", "reports"] => Route::Reports,
        ["v1", "admin", "reports"] => Route::Queue,
        ["v1", "admin", "reports", id, "resolve"] if !id.is_empty() => Route::Resolve(id),
        ["v1", "admin", "rights"] => Route::Rights,
        ["v1", "admin", "rights", id] if !id.is_empty() => Route::Right(id),
        _ => return None,
    })
}

fn limit(req: &Request) -> Result<Option<usize>, ApiError> {
    http::query_param(req, "limit")
        .map(|l| {
            l.parse()
                .map_err(|_| ApiError::invalid_request("limit must be a number"))
        })
        .transpose()
}

/// The admin role from `admin_handles`, read on every request so removing a
/// handle takes the role away at once.
async fn policy(log: &RequestLog) -> Result<AccessPolicy, ApiError> {
    let vars = PolicyVars {
        admin_handles: config::optional("admin_handles", log)
            .await?
            .unwrap_or_default(),
        ..PolicyVars::default()
    };
    AccessPolicy::from_vars(&vars).map_err(|e| misconfigured(&e.to_string(), log))
}

/// A report with its times in RFC 3339.
fn report_json(report: &Report) -> serde_json::Value {
    let mut view = serde_json::to_value(report.view()).expect("a view serialises");
    if let Some(r) = &report.resolution {
        view["resolution"] = json!({
            "action": r.action,
            "by": r.by,
            "note": r.note,
            "at": rfc3339_from_ms(r.at_ms),
        });
    }
    view
}

async fn route(req: Request, path: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let Some(route) = parse_route(path) else {
        return Err(ApiError::not_found(format!("no route for {path}")));
    };
    let allowed: &[Method] = match route {
        Route::Reports | Route::Resolve(_) => &[Method::POST],
        Route::Queue => &[Method::GET],
        Route::Rights => &[Method::GET, Method::POST],
        Route::Right(_) => &[Method::DELETE],
    };
    if let Some(refused) = refuse_method(&req, path, allowed) {
        return Ok(refused);
    }
    let store = KvStore::open_default(log).await?;
    let user = auth::member(&req, &store, log).await?;
    if let Route::Reports = route {
        let body = parse_json(&http::read_body(req).await?)?;
        let report = safety::create_report(&store, &SpinEnv, &user, body).await?;
        log.log(
            "info",
            "report_filed",
            json!({ "report_id": report.id, "target_type": report.target_type.as_str(), "target_id": report.target_id }),
        );
        return Ok(http::json(201, &report_json(&report)));
    }
    let policy = policy(log).await?;
    let cursor = http::query_param(&req, "cursor");
    match route {
        Route::Queue => {
            let page = safety::list_reports(&store, &policy, &user, cursor, limit(&req)?).await?;
            Ok(http::json(200, &page))
        }
        Route::Resolve(id) => {
            safety::require_admin(&policy, &user)?;
            let body = parse_json(&http::read_body(req).await?)?;
            let report = safety::resolve_report(&store, &SpinEnv, &policy, &user, id, body).await?;
            let action = report.resolution.as_ref().map(|r| r.action.as_str());
            // The moderation log: who did what to which content.
            log.log(
                "info",
                "report_resolved",
                json!({ "report_id": report.id, "admin_id": user.id, "action": action,
                        "target_type": report.target_type.as_str(), "target_id": report.target_id }),
            );
            Ok(http::json(200, &report_json(&report)))
        }
        Route::Rights if req.method() == Method::POST => {
            safety::require_admin(&policy, &user)?;
            let body = parse_json(&http::read_body(req).await?)?;
            let entry = safety::add_rights(&store, &SpinEnv, &policy, &user, body).await?;
            log.log(
                "info",
                "rights_added",
                json!({ "entry_id": entry.id, "admin_id": user.id, "policy": entry.policy }),
            );
            Ok(http::json(201, &entry))
        }
        Route::Rights => {
            let page = safety::list_rights(&store, &policy, &user, cursor, limit(&req)?).await?;
            Ok(http::json(200, &page))
        }
        Route::Right(id) => {
            safety::delete_rights(&store, &policy, &user, id).await?;
            log.log(
                "info",
                "rights_removed",
                json!({ "entry_id": id, "admin_id": user.id }),
            );
            Ok(http::empty(204))
        }
        Route::Reports => unreachable!("answered above"),
    }
}
