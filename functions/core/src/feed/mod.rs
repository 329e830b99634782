//! The feed: For You (ranked, learning from viewing signals), Following
//! (newest first from the people a viewer follows), a creator's videos, one
//! video and its remix tree.
//!
//! For You runs in four steps, each a small module:
//!
//! 1. [`candidates`] gathers ids from bounded sources: the newest uploads
//!    (`fresh`), the recent window (`trending`, scored with time decay), a
//!    walk deeper into the catalogue as the viewer exhausts the top
//!    (`catalogue`), the newest videos of followed creators (`following`)
//!    and of creators the viewer engaged with (`affinity`), and videos whose
//!    prompt embedding is close to the viewer's taste ([`similar`]).
//! 2. [`rank`] scores them, explainably: freshness, engagement (smoothed
//!    completion, replay and skip rates), affinity (learned creator and prompt
//!    term weights, follows) and trust (few "not interested"), then re-ranks
//!    for diversity and mixes in exploration slots. Scoring runs in two
//!    stages: everything on what costs no read, then a shortlist with its
//!    counters. Blocks are checked on the picks, re-picking until clean.
//! 3. [`seen`] records what was shown, so a session never repeats a video
//!    until the pool is exhausted; videos met that can never show (removed,
//!    one's own, blocked) are recorded too so they are skipped cheaply. A
//!    reset clears it.
//! 4. [`events`] turns the client's batched signals into per-video counters
//!    (atomic increments) and the viewer's [`Profile`] (one compare-and-swap
//!    per batch), so the next page already reflects them.
//!
//! An under-18's feeds stop for the day once their daily minutes are
//! watched ([`budget`]).
//!
//! Every request reads a bounded number of keys: the limits are the
//! constants of each module (a 10-item For You page reads at most about 440
//! keys in about 22 batched reads; its items take one batched read, four
//! count keys each, plus one read of 28 more per item for the rare videos
//! whose counters went wide; see `tests::a_for_you_page_reads_...`).

pub mod budget;
pub mod candidates;
pub mod cursor;
pub mod events;
mod index;
mod items;
pub mod profile;
pub mod rank;
pub mod seen;
mod service;
pub mod similar;
pub mod stats;
pub mod steer;
pub mod terms;

pub use events::{Event, EventBatch, EventOutcome, record_events, record_like};
pub use index::{creator_videos, on_published};
pub use items::{Cameo, Counts, Explain, FeedItem, FeedPage, RemixTree};
pub use profile::Profile;
pub use seen::Seen;
pub use service::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, following, for_you, page_size, remix_tree, reset,
    user_videos, video,
};
pub use stats::VideoStats;
pub use steer::{PreferencesRequest, Steering, preferences, set_preferences};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
