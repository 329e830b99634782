//! Push delivery: takes the notifications the edge queued in its push
//! outbox (`dreamreel_core::notifications::push`) and delivers them to
//! phones through the Apple Push Notification service (HTTP/2, ES256
//! provider tokens) and to browsers through Web Push (RFC 8030, VAPID per
//! RFC 8292, payload encryption per RFC 8291). Dead tokens are removed,
//! muted kinds are never sent, and a notification folded into a burst
//! replaces the one on screen (`apns-collapse-id`, Web Push `Topic`).
//!
//! The local stack runs [`Dispatcher`] in-process; in production it runs as
//! its own small service beside the worker (see docs/ARCHITECTURE.md).

#![warn(missing_docs)]

pub mod apns;
pub mod client;
pub mod dispatcher;
pub mod jwt;
pub mod payload;
#[cfg(feature = "test-server")]
pub mod testing;
pub mod webpush;

pub use apns::{Apns, ApnsConfig};
pub use dispatcher::{DispatchReport, Dispatcher};

pub use jwt::Es256Key;
pub use webpush::{Vapid, WebPush};

/// Why one delivery did not happen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// The service says the token or subscription is dead: forget the device.
    #[error("the device is gone: {0}")]
    Gone(String),
    /// Worth trying again later (rate limit, service trouble, network).
    #[error("temporary failure: {0}")]
    Retry(String),
    /// Refused for good (a malformed request, a payload too large).
    #[error("refused: {0}")]
    Rejected(String),
}

/// A configuration problem (a key that does not load, a bad URL).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Unix seconds now.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
