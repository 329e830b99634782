//! Accounts: invite-only sign-up, log-in, and who is signed in.
//!
//! Stored records and the JSON clients see are separate types ([`User`] vs
//! [`UserView`]) so a password hash can never reach a response by accident.

use serde::{Deserialize, Serialize};

use crate::time::rfc3339_from_ms;

pub mod admin;
pub mod age;
pub mod avatar;
pub mod config;
pub mod deletion;
pub mod invites;
pub mod password;
pub mod policy;
pub mod profile;
pub mod ratelimit;
mod service;
pub mod sessions;
pub mod social;
pub mod token;
pub mod validate;
mod views;

pub use config::{AccountsConfig, ConfigError};
pub use policy::AccessPolicy;
pub use profile::{Profile, protections};
pub use service::{authenticate, authenticate_session, login, me, signup};
pub use views::{
    Client, InviteList, InviteView, MeView, MinorProtections, ProfileUpdate, ProfileView,
    RelationView, UserPage, UserSummary,
};

/// A member as stored under [`crate::keys::user`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// ULID.
    pub id: String,
    /// The handle as the member typed it; uniqueness ignores case.
    pub handle: String,
    /// Shown next to the handle.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Unix milliseconds.
    pub created_at_ms: u64,
    /// The normalised invite code the member signed up with.
    pub invite_code: String,
}

impl User {
    /// What clients may see of this user.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id.clone(),
            handle: self.handle.clone(),
            display_name: self.display_name.clone(),
            created_at: rfc3339_from_ms(self.created_at_ms),
        }
    }
}

/// A member as clients see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// ULID.
    pub id: String,
    /// Handle, in the case the member chose.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// RFC 3339.
    pub created_at: String,
}

/// A signed-in session: the bearer token, when it expires, and who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
    /// The signed-in member.
    pub user: UserView,
}

/// `POST /v1/auth/signup` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// An unused invite code; case and separators do not matter.
    pub invite_code: String,
    /// 3–24 of `[A-Za-z0-9_.]`, starting with a letter.
    pub handle: String,
    /// 10–128 characters.
    pub password: String,
    /// At most 50 characters; defaults to the handle.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `YYYY-MM-DD`; under-13s are refused.
    pub birth_date: String,
    /// ISO 3166-1 alpha-2, as the client declares it; a trusted edge header wins.
    #[serde(default)]
    pub country: Option<String>,
}

/// `POST /v1/auth/login` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Any case.
    pub handle: String,
    /// The password.
    pub password: String,
}

#[cfg(test)]
mod tests;
