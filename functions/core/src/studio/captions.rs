//! Caption embeddings. Captions are written at publish, where no model
//! runs, so the studio hands each non-empty one to the worker as an object
//! ([`crate::jobs::caption::CaptionJob`], built by [`pending`]) and the
//! worker posts its embedding back ([`store_embedding`]). The vector is kept
//! only for a live video that still carries the caption that was embedded,
//! so a late or repeated job for a deleted video changes nothing.

use crate::error::ApiError;
use crate::jobs::Quantized;
use crate::jobs::caption::{CaptionEmbedding, CaptionJob};
use crate::keys;
use crate::store::Store;
use crate::studio::{Video, get_video};
use crate::time::rfc3339_from_ms;

/// The caption job a published video still needs: `None` when it has no
/// caption, is gone, or its caption is already embedded.
pub async fn pending<S: Store>(store: &S, video: &Video) -> Result<Option<CaptionJob>, ApiError> {
    if video.caption.is_empty() || !video.is_live() {
        return Ok(None);
    }
    if store
        .get(&keys::caption_embedding(&video.id))
        .await?
        .is_some()
    {
        return Ok(None);
    }
    Ok(Some(CaptionJob {
        video_id: video.id.clone(),
        caption: video.caption.clone(),
        published_at: rfc3339_from_ms(video.published_at_ms),
    }))
}

/// Stores the worker's embedding of video `video_id`'s caption and files the
/// video in the similar source's buckets by it. 400 for a bad embedding,
/// 404 when the video is not live, 409 `caption_changed` when the caption
/// embedded is not the video's; none of them changes anything.
pub async fn store_embedding<S: Store>(
    store: &S,
    video_id: &str,
    body: CaptionEmbedding,
) -> Result<(), ApiError> {
    let q = Quantized::from_wire(&body.embedding).map_err(|e| {
        ApiError::invalid_request(e.message.replacen("prompt_embedding", "embedding", 1))
    })?;
    let video = get_video(store, video_id).await?;
    if video.caption.is_empty() || video.caption != body.caption {
        return Err(ApiError::conflict(
            "caption_changed",
            "the video does not carry the caption that was embedded",
        ));
    }
    store
        .set(&keys::caption_embedding(&video.id), &q.to_stored())
        .await?;
    crate::feed::similar::on_caption(store, &video.id, &q).await
}
