//! What a cameo is and how clients see it.

use serde::{Deserialize, Serialize};

use crate::time::rfc3339_from_ms;

use super::rules::{self, Instructions};

/// Who may cast a member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Nobody but the owner (the default, and an under-18's only choice
    /// besides `approved`).
    #[default]
    OnlyMe,
    /// People the owner approved.
    Approved,
    /// People the owner follows who follow them back, and approved people.
    Mutuals,
    /// Any member not blocked either way.
    Everyone,
}

impl Permission {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::OnlyMe => "only_me",
            Permission::Approved => "approved",
            Permission::Mutuals => "mutuals",
            Permission::Everyone => "everyone",
        }
    }
}

/// The owner's rules for their likeness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameoSettings {
    /// Who may cast them.
    pub permission: Permission,
    /// Their instructions, as written (at most [`rules::MAX_INSTRUCTIONS_CHARS`]).
    #[serde(default)]
    pub instructions: String,
}

impl CameoSettings {
    /// The instructions split into restrictions and preferences.
    pub fn parsed(&self) -> Instructions {
        rules::parse(&self.instructions)
    }
}

/// `PUT /v1/cameo/settings` body; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// `only_me`, `approved`, `mutuals` or `everyone`.
    pub permission: Option<Permission>,
    /// Plain-words instructions; empty clears them.
    pub instructions: Option<String>,
}

/// Where verification stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameoStatus {
    /// Never verified.
    #[default]
    Unverified,
    /// A challenge was issued; the recording is awaited or being checked.
    Pending,
    /// The likeness is verified and may be cast.
    Verified,
    /// The last recording was refused (see `refusal`).
    Refused,
    /// The verification lapsed with its recording (see
    /// [`VERIFICATION_TTL_MS`]): verify again to be cast. Never stored; what
    /// [`Cameo::status_at`] reports for a stored `Verified` past its time.
    Expired,
}

/// How long a verification lets a likeness be cast. The bucket keeps
/// verification recordings (biometric data) for 30 days and the model's
/// reference frame comes from that recording, so a verification lapses a
/// day before its recording can be gone.
pub const VERIFICATION_TTL_MS: u64 = 29 * 24 * 60 * 60 * 1000;

/// One liveness challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// ULID.
    pub id: String,
    /// Digits to say aloud, in order.
    pub digits: String,
    /// Head turns to make, in order (`left`, `right`, `up`, `down`).
    pub turns: Vec<String>,
    /// Object key the recording is uploaded to.
    pub upload_key: String,
    /// Unix ms the challenge was issued.
    pub issued_at_ms: u64,
    /// Unix ms after which an upload no longer counts.
    pub expires_at_ms: u64,
}

/// A member's cameo record, under [`crate::keys::cameo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cameo {
    /// The owner.
    pub user_id: String,
    /// Verification state.
    pub status: CameoStatus,
    /// The challenge being answered (pending) or last answered.
    #[serde(default)]
    pub attempt: Option<Attempt>,
    /// The verified recording's object key: the model's reference.
    #[serde(default)]
    pub reference_key: Option<String>,
    /// Unix ms of the current verification.
    #[serde(default)]
    pub verified_at_ms: Option<u64>,
    /// Why the last recording was refused.
    #[serde(default)]
    pub refusal: Option<String>,
    /// Who may cast them, and their instructions.
    #[serde(default)]
    pub settings: CameoSettings,
    /// Unix ms of the last change.
    #[serde(default)]
    pub updated_at_ms: u64,
}

impl Cameo {
    /// The verification state at `now_ms`: a verification past
    /// [`VERIFICATION_TTL_MS`] is `Expired`.
    pub fn status_at(&self, now_ms: u64) -> CameoStatus {
        match (self.status, self.expires_at_ms()) {
            (CameoStatus::Verified, Some(end)) if now_ms >= end => CameoStatus::Expired,
            (status, _) => status,
        }
    }

    /// Whether the likeness may be cast at `now_ms`.
    pub fn is_verified_at(&self, now_ms: u64) -> bool {
        self.status_at(now_ms) == CameoStatus::Verified
    }

    /// When the current verification lapses.
    fn expires_at_ms(&self) -> Option<u64> {
        (self.status == CameoStatus::Verified)
            .then(|| self.verified_at_ms.map(|v| v + VERIFICATION_TTL_MS))
            .flatten()
    }

    /// What the owner sees at `now_ms`.
    pub fn view(&self, now_ms: u64) -> CameoView {
        let parsed = self.settings.parsed();
        CameoView {
            status: self.status_at(now_ms),
            verified_at: self.verified_at_ms.map(rfc3339_from_ms),
            expires_at: self.expires_at_ms().map(rfc3339_from_ms),
            refusal: self.refusal.clone(),
            permission: self.settings.permission,
            instructions: self.settings.instructions.clone(),
            restrictions: parsed.restrictions.into_iter().map(|r| r.text).collect(),
            preferences: parsed.preferences,
        }
    }
}

/// A cameo as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameoView {
    /// Verification state.
    pub status: CameoStatus,
    /// When it was verified (RFC 3339).
    pub verified_at: Option<String>,
    /// When that verification lapses and the member must verify again.
    pub expires_at: Option<String>,
    /// Why the last recording was refused.
    pub refusal: Option<String>,
    /// Who may cast them.
    pub permission: Permission,
    /// Their instructions, as written.
    pub instructions: String,
    /// The instructions read as restrictions (enforced on prompts).
    pub restrictions: Vec<String>,
    /// The instructions read as preferences (sent to the model).
    pub preferences: Vec<String>,
}
