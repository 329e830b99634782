//! The member's invite codes, and the admin routes that mint more.

use dreamreel_core::ApiError;
use dreamreel_core::accounts::admin::{self, MintRequest};
use dreamreel_core::accounts::invites;
use dreamreel_core::request::parse_json;
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::{RequestLog, SpinEnv, auth};
use serde_json::json;
use spin_sdk::http::Request;

use crate::routes::Route;
use crate::{open_store, paging, settings};

/// Answers `/v1/invites...` and `/v1/admin/...`.
pub async fn handle(
    req: Request,
    route: Route<'_>,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    let me = auth::member(&req, &store, log).await?;
    match route {
        Route::Invites => {
            let (cursor, limit) = paging(&req)?;
            Ok(http::json(
                200,
                &invites::list(&store, &me.id, cursor, limit).await?,
            ))
        }
        Route::Invite(code) => {
            invites::revoke(&store, &SpinEnv, &me.id, code).await?;
            Ok(http::empty(204))
        }
        Route::AdminInvites | Route::AdminGrant(_) => {
            let cfg = settings::load(log).await?;
            // The role is checked before the body is even read.
            admin::require_admin(&cfg, &me)?;
            let body: MintRequest = parse_json(&http::read_body(req).await?)?;
            let minted = match route {
                Route::AdminGrant(handle) => {
                    admin::grant(&store, &SpinEnv, &cfg, &me, handle, body).await?
                }
                _ => admin::mint(&store, &SpinEnv, &cfg, &me, body).await?,
            };
            log.log(
                "info",
                "invites_minted",
                json!({ "admin_id": me.id, "count": minted.codes.len() }),
            );
            Ok(http::json(201, &minted))
        }
        _ => Err(ApiError::not_found("no such route")),
    }
}
