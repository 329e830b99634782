//! Studio: from a prompt to a draft to a published video.
//!
//! A member asks for a generation ([`create_generation`]); the edge checks
//! it, counts it against the member's daily quota, stores a [`Draft`]
//! (`queued`) and hands back the [`crate::jobs::JobSpec`] the shell writes to
//! object storage. The worker then reports through signed callbacks
//! ([`callbacks`]): `start` (the edge may still refuse), `progress`,
//! `complete` or `fail`. The draft moves
//!
//! ```text
//! queued ─start─▶ running ─complete─▶ ready ─publish─▶ (a Video; the draft stays ready)
//!    │               │
//!    └───────────────┴─fail─▶ failed (quota refunded)     start refused ─▶ refused (refunded)
//! ```
//!
//! Every change to a draft is a compare-and-swap on its record, retried on
//! conflict, so concurrent and repeated callbacks settle to one outcome, and
//! a refund is claimed in the same swap that ends the draft, so it happens
//! at most once. Deleting a draft leaves a tombstone that refuses later
//! callbacks.

pub mod callbacks;
pub mod captions;
pub mod config;
mod drafts;
mod generate;
mod model;
mod publish;
mod record;
pub mod validate;

pub use callbacks::{Answer, Decision};
pub use config::{ConfigError, StudioConfig};
pub use drafts::{DraftList, delete_draft, get_draft, list_drafts};
pub use generate::{Accepted, abandon_generation, create_generation};
pub use model::{
    Draft, DraftMedia, DraftStatus, DraftView, Failure, GenerationRequest, IdempotencyRecord,
    MediaSigner, MediaView, PublishRequest, Removal, Video, VideoView,
};
pub use publish::{Published, RemixList, get_video, list_remixes, publish, remove_video};

#[cfg(test)]
mod tests;
