//! What a push shows, from the notification as it stood.

use dreamreel_core::notifications::NotificationView;
use serde_json::{Value, json};

/// The title every push carries.
pub const TITLE: &str = "Dreamreel";

/// APNs payload: an alert, grouped by kind on the lock screen, with what
/// the app needs to open the right screen.
pub fn apns(view: &NotificationView) -> Value {
    json!({
        "aps": {
            "alert": { "title": TITLE, "body": body(view) },
            "sound": "default",
            "thread-id": view.kind,
        },
        "notification_id": view.id,
        "kind": view.kind,
        "deep_link": view.deep_link,
        "seq": view.seq,
    })
}

/// Web Push payload (encrypted before sending): the service worker shows it.
pub fn webpush(view: &NotificationView) -> Value {
    json!({
        "title": TITLE,
        "body": body(view),
        "notification_id": view.id,
        "kind": view.kind,
        "deep_link": view.deep_link,
        "seq": view.seq,
    })
}

/// The summary, then the words that matter (a comment, a refusal reason).
fn body(view: &NotificationView) -> String {
    match &view.text {
        Some(text) => format!("{}\n{text}", view.summary),
        None => view.summary.clone(),
    }
}
