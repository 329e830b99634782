//! The studio component: generation requests, drafts, publishing, and the
//! worker's signed callbacks. A thin shell: parse the request, call
//! `dreamreel_core::studio`, write the job (or, at publish, the caption to
//! embed) to object storage, write the response.

use dreamreel_core::jobs::caption::caption_key;
use dreamreel_core::jobs::job_key;
use dreamreel_core::request::parse_json;
use dreamreel_core::studio::callbacks::{self, Answer};
use dreamreel_core::studio::{self, GenerationRequest, PublishRequest};
use dreamreel_core::{ApiError, Env};
use dreamreel_edge::http::{self, HttpResponse};
use dreamreel_edge::s3::S3Config;
use dreamreel_edge::{KvStore, RequestLog, SpinEnv, auth, config, refuse_method, serve};
use serde_json::json;
use spin_sdk::http::{HeaderValue, Method, Request};
use spin_sdk::http_service;

/// Routes the request and logs one line for it.
#[http_service]
async fn handle(req: Request) -> HttpResponse {
    serve(req, route).await
}

/// What a path is, before its method is checked.
enum Route<'a> {
    Generations,
    Drafts,
    Draft(&'a str),
    Publish(&'a str),
    Callback(&'a str, &'a str),
    CaptionEmbedding(&'a str),
}

impl Route<'_> {
    fn allowed(&self) -> &'static [Method] {
        match self {
            Route::Draft(_) => &[Method::GET, Method::DELETE],
            Route::Drafts => &[Method::GET],
            Route::Generations
            | Route::Publish(_)
            | Route::Callback(..)
            | Route::CaptionEmbedding(_) => &[Method::POST],
        }
    }
}

fn parse_route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match segments.as_slice() {
        ["v1", "generations"] => Route::Generations,
        ["v1", "drafts"] => Route::Drafts,
        ["v1", "drafts", id] => Route::Draft(id),
        ["v1", "drafts", id, "publish"] => Route::Publish(id),
        [
            "internal",
            "jobs",
            id,
            action @ ("start" | "progress" | "complete" | "fail"),
        ] => Route::Callback(id, action),
        ["internal", "videos", id, "caption-embedding"] => Route::CaptionEmbedding(id),
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
    match route {
        Route::Generations => generate(req, log).await,
        Route::Drafts => list_drafts(req, log).await,
        Route::Draft(id) if req.method() == Method::DELETE => delete_draft(req, id, log).await,
        Route::Draft(id) => get_draft(req, id, log).await,
        Route::Publish(id) => publish(req, id, log).await,
        Route::Callback(id, action) => callback(req, path, id, action, log).await,
        Route::CaptionEmbedding(id) => caption_embedding(req, path, id, log).await,
    }
}

async fn open_store(log: &RequestLog) -> Result<KvStore, ApiError> {
    Ok(KvStore::open_default(log).await?)
}

/// `POST /v1/generations`: check, charge, store the draft, write the job.
async fn generate(req: Request, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    let user = auth::member(&req, &store, log).await?;
    let idempotency_key = http::header(&req, "idempotency-key").map(str::to_owned);
    let body: GenerationRequest = parse_json(&http::read_body(req).await?)?;
    let (cfg, s3) = (
        config::studio(log).await?,
        S3Config::from_variables(log).await?,
    );
    let accepted = studio::create_generation(
        &store,
        &SpinEnv,
        &cfg,
        &user,
        log.request_id(),
        idempotency_key.as_deref(),
        body,
    )
    .await?;
    let draft = &accepted.draft;
    if let Some(job) = &accepted.job {
        let spec = serde_json::to_vec(job).expect("job specs serialise");
        let written = s3
            .put_object(
                &job_key(&job.job_id),
                "application/json",
                spec,
                SpinEnv.now_ms() / 1000,
            )
            .await;
        if let Err(detail) = written {
            log.log(
                "error",
                "job_write_failed",
                json!({ "draft_id": draft.id, "detail": detail, "replayed": accepted.replayed }),
            );
            // A replay's draft belongs to the first request, which may yet succeed.
            if !accepted.replayed
                && let Err(e) = studio::abandon_generation(&store, draft).await
            {
                log.log(
                    "error",
                    "rollback_failed",
                    json!({ "draft_id": draft.id, "code": e.code }),
                );
            }
            return Err(ApiError::unavailable(
                "generation_unavailable",
                "the generation could not be queued and nothing was charged; try again",
            ));
        }
    }
    log.log(
        "info",
        "generation_accepted",
        json!({
            "draft_id": draft.id,
            "user_id": user.id,
            "replayed": accepted.replayed,
            "duration_ms": draft.duration_ms,
            "aspect": draft.aspect,
        }),
    );
    let view = draft.view(&s3.media_signer(SpinEnv.now_ms()))?;
    let mut resp = http::json(202, &view);
    let headers = resp.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/drafts/{}", draft.id)) {
        headers.insert("location", location);
    }
    if accepted.replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// `GET /v1/drafts`: the caller's drafts, newest first.
async fn list_drafts(req: Request, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    let user = auth::member(&req, &store, log).await?;
    let list = studio::list_drafts(
        &store,
        &user.id,
        http::query_param(&req, "cursor"),
        http::query_param(&req, "limit"),
    )
    .await?;
    let s3 = S3Config::from_variables(log).await?;
    let signer = s3.media_signer(SpinEnv.now_ms());
    let drafts = list
        .drafts
        .iter()
        .map(|d| d.view(&signer))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(http::json(
        200,
        &json!({ "drafts": drafts, "next_cursor": list.next_cursor }),
    ))
}

/// `GET /v1/drafts/{id}`.
async fn get_draft(req: Request, id: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    let user = auth::member(&req, &store, log).await?;
    let draft = studio::get_draft(&store, &user.id, id).await?;
    let s3 = S3Config::from_variables(log).await?;
    Ok(http::json(
        200,
        &draft.view(&s3.media_signer(SpinEnv.now_ms()))?,
    ))
}

/// `DELETE /v1/drafts/{id}`.
async fn delete_draft(req: Request, id: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    let user = auth::member(&req, &store, log).await?;
    studio::delete_draft(&store, &SpinEnv, &user.id, id).await?;
    log.log("info", "draft_deleted", json!({ "draft_id": id }));
    Ok(http::empty(204))
}

/// `POST /v1/drafts/{id}/publish`: 201 the first time, 200 after.
async fn publish(req: Request, id: &str, log: &RequestLog) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    let user = auth::member(&req, &store, log).await?;
    let raw = http::read_body(req).await?;
    // An empty body means "no caption".
    let body: PublishRequest = if raw.iter().all(u8::is_ascii_whitespace) {
        PublishRequest::default()
    } else {
        parse_json(&raw)?
    };
    let s3 = S3Config::from_variables(log).await?;
    let published = studio::publish(&store, &SpinEnv, &user, id, body).await?;
    if published.created {
        log.log(
            "info",
            "video_published",
            json!({ "video_id": published.video.id, "remix_of": published.video.remix_of }),
        );
    }
    queue_caption(&store, &s3, &published.video, log).await?;
    let view = published.video.view(&s3.media_signer(SpinEnv.now_ms()))?;
    Ok(http::json(if published.created { 201 } else { 200 }, &view))
}

/// Hands a published video's caption to the worker to embed (its object's
/// event reaches the worker like a job spec's), while it is not embedded.
/// The video is already published, so a failed write cannot undo that: it
/// is logged and answered 503, and the client's retry (publishing is
/// idempotent) writes the object again, as it finishes anything else a
/// publish left half-done.
async fn queue_caption(
    store: &KvStore,
    s3: &S3Config,
    video: &studio::Video,
    log: &RequestLog,
) -> Result<(), ApiError> {
    let Some(job) = studio::captions::pending(store, video).await? else {
        return Ok(());
    };
    let body = serde_json::to_vec(&job).expect("caption jobs serialise");
    let written = s3
        .put_object(
            &caption_key(&job.video_id),
            "application/json",
            body,
            SpinEnv.now_ms() / 1000,
        )
        .await;
    if let Err(detail) = written {
        log.log(
            "error",
            "caption_job_write_failed",
            json!({ "video_id": job.video_id, "detail": detail }),
        );
        return Err(ApiError::unavailable(
            "caption_unavailable",
            "the video is published, but its caption could not be queued for the feed; publish again to finish",
        ));
    }
    Ok(())
}

/// `POST /internal/videos/{id}/caption-embedding`: the worker's signed
/// embedding of a published video's caption. 204 once stored.
async fn caption_embedding(
    req: Request,
    path: &str,
    id: &str,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    let body = auth::worker_call(req, path, &store, log).await?;
    let stored = studio::captions::store_embedding(&store, id, parse_json(&body)?).await;
    log.log(
        "info",
        "caption_embedding",
        json!({ "video_id": id, "status": stored.as_ref().map_or_else(|e| e.status, |_| 204) }),
    );
    stored?;
    Ok(http::empty(204))
}

/// `POST /internal/jobs/{id}/{action}`: a signed call from the worker.
async fn callback(
    req: Request,
    path: &str,
    id: &str,
    action: &str,
    log: &RequestLog,
) -> Result<HttpResponse, ApiError> {
    let store = open_store(log).await?;
    let body = auth::worker_call(req, path, &store, log).await?;
    let answer: Answer = match action {
        "start" => callbacks::start(&store, &SpinEnv, id, parse_json(&body)?).await?,
        "progress" => callbacks::progress(&store, &SpinEnv, id, parse_json(&body)?).await?,
        "complete" => callbacks::complete(&store, &SpinEnv, id, parse_json(&body)?).await?,
        _ => callbacks::fail(&store, &SpinEnv, id, parse_json(&body)?).await?,
    };
    // Progress is chatty; log it only when it changes the job's course.
    if action != "progress" || answer.status != 200 {
        log.log(
            "info",
            "callback",
            json!({
                "job_id": id,
                "action": action,
                "status": answer.status,
                "proceed": answer.decision.proceed,
                "reason": answer.decision.reason,
            }),
        );
    }
    Ok(http::json(answer.status, &answer.decision))
}
