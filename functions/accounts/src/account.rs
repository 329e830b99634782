//! The member's avatar (upload slot, confirmation, removal), avatar links
//! on profile views, and account deletion.

use dreamreel_core::accounts::avatar::{self, AvatarConfirm, AvatarRequest, Confirmation};
use dreamreel_core::accounts::deletion;
use dreamreel_core::accounts::profile::me_view;
use dreamreel_core::accounts::ratelimit::retry_after_secs;
use dreamreel_core::accounts::{MeView, ProfileView};
use dreamreel_core::request::parse_json;
use dreamreel_core::time::rfc3339_from_ms;
use dreamreel_core::{ApiError, Env};
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::s3::S3Config;
use dreamreel_edge::{RequestLog, SpinEnv, auth};
use serde_json::json;
use spin_sdk::http::{HeaderValue, Method, Request};

use crate::{open_store, settings};

/// Fills the avatar link of the member's own view (storage is configured
/// only when there is an avatar to link).
pub async fn sign_me(view: &mut MeView, log: &RequestLog) -> Result<(), ApiError> {
    if view.avatar_key.is_some() {
        let s3 = S3Config::from_variables(log).await?;
        view.sign_avatar(&s3.media_signer(SpinEnv.now_ms()))?;
    }
    Ok(())
}

/// Fills the avatar link of a public profile.
pub async fn sign_profile(view: &mut ProfileView, log: &RequestLog) -> Result<(), ApiError> {
    if view.avatar_key.is_some() {
        let s3 = S3Config::from_variables(log).await?;
        view.sign_avatar(&s3.media_signer(SpinEnv.now_ms()))?;
    }
    Ok(())
}

/// `POST` (an upload slot), `PUT` (confirm) and `DELETE` `/v1/me/avatar`.
pub async fn avatar(req: Request, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    let me = auth::member(&req, &store, log).await?;
    let method = req.method().clone();
    let profile = match method {
        Method::POST => {
            let body: AvatarRequest = parse_json(&http::read_body(req).await?)?;
            let upload = avatar::start(&store, &SpinEnv, &me.id, body).await?;
            let s3 = S3Config::from_variables(log).await?;
            let url = s3
                .presigned_put(
                    &upload.key,
                    &upload.content_type,
                    avatar::UPLOAD_URL_SECS,
                    upload.issued_at_ms / 1000,
                )
                .map_err(|_| ApiError::internal("an upload link could not be made"))?;
            return Ok(http::json(
                201,
                &json!({
                    "upload_id": upload.id,
                    "expires_at": rfc3339_from_ms(upload.url_expires_at_ms()),
                    "upload": {
                        "method": "PUT",
                        "url": url,
                        "headers": { "content-type": upload.content_type },
                        "max_bytes": avatar::MAX_AVATAR_BYTES,
                    },
                }),
            ));
        }
        Method::PUT => {
            let body: AvatarConfirm = parse_json(&http::read_body(req).await?)?;
            match avatar::pending(&store, &SpinEnv, &me.id, &body.upload_id).await? {
                Confirmation::Done(profile) => profile,
                Confirmation::Check(upload) => {
                    let s3 = S3Config::from_variables(log).await?;
                    let found = s3
                        .head_object(&upload.key, SpinEnv.now_ms() / 1000)
                        .await
                        .map_err(|detail| {
                            log.log("error", "storage_failed", json!({ "detail": detail }));
                            ApiError::unavailable(
                                "storage_unavailable",
                                "object storage did not answer; try again",
                            )
                        })?;
                    let profile = avatar::confirm(&store, &me.id, &upload, found).await?;
                    log.log("info", "avatar_set", json!({ "user_id": me.id }));
                    profile
                }
            }
        }
        _ => avatar::remove(&store, &me.id).await?,
    };
    let mut view = me_view(&me, &profile, SpinEnv.now_ms());
    sign_me(&mut view, log).await?;
    Ok(http::json(200, &view))
}

/// `DELETE /v1/me`: 200 when the account is gone, 202 when more calls are needed.
pub async fn delete(req: Request, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let (store, cfg) = (open_store(log).await?, settings::load(log).await?);
    let client = settings::client(&req, &cfg);
    let authorization = http::header(&req, "authorization").map(str::to_owned);
    let body = http::read_body(req).await?;
    let result = deletion::delete_account(
        &store,
        &SpinEnv,
        &cfg,
        &client,
        authorization.as_deref(),
        &body,
    )
    .await;
    match result {
        Ok(view) => {
            log.log("info", "account_deletion", json!({ "status": view.status }));
            Ok(http::json(if view.finished() { 200 } else { 202 }, &view))
        }
        Err(e) if e.status == 429 => {
            let mut resp = http::error(&e);
            let secs = retry_after_secs(&SpinEnv, &cfg.policy.rate);
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}
