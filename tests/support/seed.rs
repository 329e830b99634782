//! Videos written straight into the store, for tests and benches that need a
//! published catalogue without running the worker.

use dreamreel_core::studio::{DraftMedia, Video};

/// A live, published 9:16 video with the media keys the worker would write;
/// its clip is 1 s of 360×640 unless the caller sets `media`.
pub fn published_video(id: &str, owner: &str, handle: &str, prompt: &str, at_ms: u64) -> Video {
    Video {
        id: id.to_owned(),
        owner: owner.to_owned(),
        owner_handle: handle.to_owned(),
        caption: String::new(),
        prompt: prompt.to_owned(),
        aspect: "9:16".into(),
        seed: 1,
        media: media(id, 1000, (360, 640), 1),
        remix_of: None,
        cameos: vec![],
        generated_at_ms: at_ms,
        published_at_ms: at_ms,
        removed: None,
    }
}

/// The media record of video `id`: `duration_ms` of `width`×`height`, `bytes` long.
pub fn media(id: &str, duration_ms: u32, (width, height): (u32, u32), bytes: u64) -> DraftMedia {
    DraftMedia {
        video_key: format!("media/{id}/video.mp4"),
        thumbnail_key: format!("media/{id}/thumb.jpg"),
        duration_ms,
        width,
        height,
        bytes,
    }
}
