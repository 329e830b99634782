//! The social graph: who follows whom, who blocked whom. Functions take user
//! ids (handles are resolved by the caller) and read a bounded number of keys.
//!
//! A follow is an edge record (`follow:{a}:{b}`) whose state changes by
//! compare-and-swap, so only the request that flips it touches the counters
//! and lists: following twice is one follow, unfollowing twice is none.
//! Blocks are edge records too (`block:{a}:{b}`); blocking removes follows
//! both ways and refuses new ones while it stands.

mod block;
mod edge;
mod follow;
mod lists;

#[cfg(test)]
mod tests;

pub use block::{block, blocked_among, is_blocked_either, unblock};
pub use follow::{follow, relation, unfollow};
pub use lists::{IdPage, blocks_page, counts, followers_page, following_ids, following_page};

/// How one person stands to another, from the first one's side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// The viewer follows them.
    pub following: bool,
    /// They follow the viewer.
    pub followed_by: bool,
    /// The viewer blocked them.
    pub blocking: bool,
    /// They blocked the viewer.
    pub blocked_by: bool,
}

impl Relation {
    /// Each follows the other (the "mutuals" of the consent rules).
    pub fn mutual(&self) -> bool {
        self.following && self.followed_by
    }

    /// Either blocked the other: they must not see or reach each other.
    pub fn blocked(&self) -> bool {
        self.blocking || self.blocked_by
    }
}

/// Follower and following counts of one person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowCounts {
    /// People following them.
    pub followers: u64,
    /// People they follow.
    pub following: u64,
}
