//! Sharing: each member gets one short link per video (`/s/{code}`), and a
//! video's share count counts each member who shared it once, so a retried
//! share neither makes a second link nor counts twice. The link opens a
//! small HTML page whose Open Graph tags preview the clip.

use crate::accounts::User;
use crate::env::Env;
use crate::error::ApiError;
use crate::keys;
use crate::notifications::{Kind, Subject};
use crate::pages::{MAX_CAS_TRIES, busy};
use crate::store::Store;
use crate::studio::{MediaSigner, Video, get_video};

use super::counts::{self, Counter};
use super::likes::reachable_video;
use super::notify_of;

/// Characters in a short code: 62^10 ≈ 8·10^17 codes, not guessable.
pub const CODE_LEN: usize = 10;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What sharing answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// The member's short code for the video.
    pub code: String,
    /// The video's share count.
    pub shares: u64,
    /// Whether this call made the link (and counted the share).
    pub created: bool,
}

/// A random base62 code (rejection sampling keeps every character equally likely).
fn new_code(env: &dyn Env) -> String {
    let mut code = String::with_capacity(CODE_LEN);
    while code.len() < CODE_LEN {
        let mut buf = [0u8; 16];
        env.fill_random(&mut buf);
        for b in buf {
            // 248 = 4 × 62: bytes above would favour the first characters.
            if b < 248 && code.len() < CODE_LEN {
                code.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    code
}

/// `user` shares video `video_id` (live, not blocked): their short link,
/// made and counted on the first share only.
pub async fn share<S: Store>(
    store: &S,
    env: &dyn Env,
    user: &User,
    video_id: &str,
) -> Result<Shared, ApiError> {
    let video = reachable_video(store, &user.id, video_id).await?;
    let link_key = keys::share_link(video_id, &user.id);
    if let Some(code) = store.get(&link_key).await? {
        return shared(store, video_id, code, false).await;
    }
    for _ in 0..MAX_CAS_TRIES {
        let code = new_code(env);
        if !store
            .compare_and_swap(&keys::share(&code), None, video_id.as_bytes())
            .await?
        {
            continue; // A collision: astronomically rare, but never reuse a code.
        }
        if !store
            .compare_and_swap(&link_key, None, code.as_bytes())
            .await?
        {
            // A concurrent retry made the link; ours stays unused (it opens the same video).
            let code = store.get(&link_key).await?.ok_or_else(busy)?;
            return shared(store, video_id, code, false).await;
        }
        // A share stands only counted and noticed; otherwise the link goes
        // again, so the retry makes a new one and counts and notifies it.
        let take_back = async || {
            let _ = store.delete(&link_key).await;
            let _ = store.delete(&keys::share(&code)).await;
        };
        if let Err(e) = counts::add(store, env, Counter::Shares, video_id, &user.id, 1).await {
            take_back().await;
            return Err(e);
        }
        let subject = Subject {
            video_id: Some(video_id.to_owned()),
            ..Subject::default()
        };
        if let Err(e) = notify_of(store, env, &video.owner, Kind::Share, user, subject, None).await
            && counts::add(store, env, Counter::Shares, video_id, &user.id, -1)
                .await
                .is_ok()
        {
            take_back().await;
            return Err(e);
        }
        return shared(store, video_id, code.into_bytes(), true).await;
    }
    Err(busy())
}

async fn shared<S: Store>(
    store: &S,
    video_id: &str,
    code: Vec<u8>,
    created: bool,
) -> Result<Shared, ApiError> {
    let counts = counts::video_counts(store, &[video_id.to_owned()]).await?;
    Ok(Shared {
        code: String::from_utf8_lossy(&code).into_owned(),
        shares: counts[0].shares,
        created,
    })
}

/// The live video short code `code` opens; 404 for unknown codes and
/// removed videos.
pub async fn resolve_share<S: Store>(store: &S, code: &str) -> Result<Video, ApiError> {
    let well_formed = code.len() == CODE_LEN && code.bytes().all(|b| b.is_ascii_alphanumeric());
    let unknown = || ApiError::not_found("no such link");
    if !well_formed {
        return Err(unknown());
    }
    let id = store.get(&keys::share(code)).await?.ok_or_else(unknown)?;
    get_video(store, &String::from_utf8_lossy(&id)).await
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The share page: Open Graph and Twitter tags previewing `video` (title,
/// thumbnail, MP4 from `signer`), a deep link into the app, and `page_url`
/// as the canonical address. Every interpolated value is HTML-escaped.
pub fn share_page(
    video: &Video,
    signer: &dyn MediaSigner,
    page_url: &str,
) -> Result<String, ApiError> {
    let title = if video.caption.is_empty() {
        format!("@{} on Dreamreel", video.owner_handle)
    } else {
        format!("{} (@{} on Dreamreel)", video.caption, video.owner_handle)
    };
    let description: String = video.prompt.chars().take(200).collect();
    let image = signer.url(&video.media.thumbnail_key)?;
    let clip = signer.url(&video.media.video_key)?;
    let deep_link = format!("dreamreel://v/{}", video.id);
    let (t, d, i, v, u, l) = (
        escape(&title),
        escape(&description),
        escape(&image),
        escape(&clip),
        escape(page_url),
        escape(&deep_link),
    );
    let (w, h) = (video.media.width, video.media.height);
    Ok(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t}</title>
<meta name="description" content="{d}">
<meta property="og:type" content="video.other">
<meta property="og:site_name" content="Dreamreel">
<meta property="og:title" content="{t}">
<meta property="og:description" content="{d}">
<meta property="og:url" content="{u}">
<meta property="og:image" content="{i}">
<meta property="og:video" content="{v}">
<meta property="og:video:type" content="video/mp4">
<meta property="og:video:width" content="{w}">
<meta property="og:video:height" content="{h}">
<meta name="twitter:card" content="player">
<meta name="twitter:title" content="{t}">
<meta name="twitter:image" content="{i}">
<meta property="al:ios:url" content="{l}">
<meta property="al:android:url" content="{l}">
<link rel="canonical" href="{u}">
</head>
<body>
<h1>{t}</h1>
<video src="{v}" poster="{i}" controls playsinline loop width="{w}" height="{h}"></video>
<p><a href="{l}">Open in Dreamreel</a></p>
</body>
</html>
"#
    ))
}
