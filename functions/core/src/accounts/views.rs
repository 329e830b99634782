//! What clients send and see of profiles, relations, lists and invites.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::studio::MediaSigner;

/// Where a request came from, as the edge saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The client's IP address (no port), for rate limits.
    pub address: Option<String>,
    /// The country the trusted edge header names, if one is configured and present.
    pub edge_country: Option<String>,
}

/// The protections an under-18 lives with, stored on their profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinorProtections {
    /// Minutes of feed per UTC day; the feed enforces it.
    pub feed_minutes_per_day: u32,
    /// Start of the nightly push quiet hours, `HH:MM` in the device's local time.
    pub quiet_hours_start: String,
    /// End of the quiet hours (exclusive), `HH:MM`.
    pub quiet_hours_end: String,
    /// Their cameo starts as `only_me`; an under-18 may widen it only to people they approve.
    pub cameo: String,
}

/// `GET /v1/me`: the signed-in member, private fields included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeView {
    /// ULID.
    pub id: String,
    /// Handle, in the case the member chose.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Up to 160 characters.
    pub bio: String,
    /// RFC 3339.
    pub created_at: String,
    /// Under 18 today.
    pub minor: bool,
    /// Present while `minor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protections: Option<MinorProtections>,
    /// Short-lived link to the avatar, when they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// The avatar's object key, for the edge to sign; never sent.
    #[serde(skip)]
    pub avatar_key: Option<String>,
}

/// `PATCH /v1/me` body; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// 1–50 characters.
    #[serde(default)]
    pub display_name: Option<String>,
    /// At most 160 characters; empty clears it.
    #[serde(default)]
    pub bio: Option<String>,
}

/// How the viewer stands to a profile's owner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationView {
    /// The viewer follows them.
    pub following: bool,
    /// They follow the viewer.
    pub followed_by: bool,
    /// Both.
    pub mutual: bool,
    /// The viewer blocked them (someone who blocked the viewer is not found at all).
    pub blocked: bool,
}

/// `GET /v1/users/{handle}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    /// ULID.
    pub id: String,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Bio.
    pub bio: String,
    /// RFC 3339.
    pub created_at: String,
    /// People following them.
    pub followers_count: u64,
    /// People they follow.
    pub following_count: u64,
    /// Short-lived link to the avatar, when they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// The avatar's object key, for the edge to sign; never sent.
    #[serde(skip)]
    pub avatar_key: Option<String>,
    /// Only for a signed-in viewer looking at someone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<RelationView>,
}

/// A person in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// ULID.
    pub id: String,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
}

/// One page of people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    /// Newest relation first.
    pub users: Vec<UserSummary>,
    /// Pass back as `cursor`; `None` at the end.
    pub next_cursor: Option<String>,
}

/// One of the member's invite codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteView {
    /// `ABCDE-FGHJK`.
    pub code: String,
    /// `unused`, `used` or `revoked`.
    pub status: String,
    /// RFC 3339.
    pub created_at: String,
    /// Who signed up with it; `None` too when they deleted their account.
    pub used_by: Option<UserSummary>,
    /// The code was used by a member who has since deleted their account
    /// (shown as "a deleted member"; only the count survives).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub used_by_deleted: bool,
    /// RFC 3339.
    pub used_at: Option<String>,
}

/// `GET /v1/invites`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteList {
    /// Newest first.
    pub invites: Vec<InviteView>,
    /// Pass back as `cursor`; `None` at the end.
    pub next_cursor: Option<String>,
}

/// Signs the avatar link of a view that has an avatar.
fn avatar_link(key: Option<&str>, signer: &dyn MediaSigner) -> Result<Option<String>, ApiError> {
    key.map(|k| signer.url(k)).transpose()
}

impl MeView {
    /// Fills `avatar_url` with a link `signer` makes.
    pub fn sign_avatar(&mut self, signer: &dyn MediaSigner) -> Result<(), ApiError> {
        self.avatar_url = avatar_link(self.avatar_key.as_deref(), signer)?;
        Ok(())
    }
}

impl ProfileView {
    /// Fills `avatar_url` with a link `signer` makes.
    pub fn sign_avatar(&mut self, signer: &dyn MediaSigner) -> Result<(), ApiError> {
        self.avatar_url = avatar_link(self.avatar_key.as_deref(), signer)?;
        Ok(())
    }
}
