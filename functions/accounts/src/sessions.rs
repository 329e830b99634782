//! Sign-up, log-in, log-out (this session or every one) and refresh.

use dreamreel_core::ApiError;
use dreamreel_core::accounts::ratelimit::retry_after_secs;
use dreamreel_core::accounts::{self, LoginRequest, SignupRequest, sessions};
use dreamreel_core::request::parse_json;
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::{RequestLog, SpinEnv};
use spin_sdk::http::{HeaderValue, Request};

use crate::routes::Route;
use crate::{open_store, settings};

/// The error envelope, saying when to come back (`Retry-After`).
fn with_retry_after(e: &ApiError, secs: u64) -> HttpResponse {
    let mut resp = http::error(e);
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from(secs));
    resp
}

/// Answers the `/v1/auth/...` routes.
pub async fn handle(
    req: Request,
    route: Route<'_>,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    let (store, cfg) = (open_store(log).await?, settings::load(log).await?);
    let client = settings::client(&req, &cfg);
    let auth = http::header(&req, "authorization").map(str::to_owned);
    let auth = auth.as_deref();
    let result = match route {
        Route::Signup => {
            let body: SignupRequest = parse_json(&http::read_body(req).await?)?;
            accounts::signup(&store, &SpinEnv, &cfg, &client, body)
                .await
                .map(|session| {
                    log.log(
                        "info",
                        "signed_up",
                        serde_json::json!({ "user_id": session.user.id }),
                    );
                    http::json(201, &session)
                })
        }
        Route::Login => {
            let body: LoginRequest = parse_json(&http::read_body(req).await?)?;
            accounts::login(&store, &SpinEnv, &cfg, &client, body)
                .await
                .map(|session| http::json(200, &session))
        }
        Route::Logout => sessions::logout(&store, &SpinEnv, &cfg, auth)
            .await
            .map(|()| http::empty(204)),
        Route::LogoutAll => sessions::logout_all(&store, &SpinEnv, &cfg, auth)
            .await
            .map(|()| http::empty(204)),
        Route::Refresh => sessions::refresh(&store, &SpinEnv, &cfg, auth)
            .await
            .map(|session| http::json(200, &session)),
        _ => Err(ApiError::not_found("no such route")),
    };
    match result {
        Err(e) if e.status == 429 => {
            log.log(
                "info",
                "rate_limited",
                serde_json::json!({ "route": format!("{route:?}") }),
            );
            Ok(with_retry_after(
                &e,
                retry_after_secs(&SpinEnv, &cfg.policy.rate),
            ))
        }
        other => other,
    }
}
