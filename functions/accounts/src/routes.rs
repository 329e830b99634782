//! The paths this component answers and the methods each accepts.

use spin_sdk::http::Method;

const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];
const GET_PATCH_DELETE: &[Method] = &[Method::GET, Method::PATCH, Method::DELETE];
const POST_PUT_DELETE: &[Method] = &[Method::POST, Method::PUT, Method::DELETE];
const PUT_DELETE: &[Method] = &[Method::PUT, Method::DELETE];
const DELETE: &[Method] = &[Method::DELETE];

/// One routed path, with its parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    Health,
    OpenApi,
    Signup,
    Login,
    Logout,
    LogoutAll,
    Refresh,
    Me,
    MyAvatar,
    MyBlocks,
    User(&'a str),
    Follow(&'a str),
    Followers(&'a str),
    Following(&'a str),
    Block(&'a str),
    Invites,
    Invite(&'a str),
    AdminInvites,
    AdminGrant(&'a str),
}

impl<'a> Route<'a> {
    /// The route `path` names, if any.
    pub fn parse(path: &'a str) -> Option<Self> {
        let parts: Vec<&str> = path.strip_prefix("/v1/")?.split('/').collect();
        Some(match parts[..] {
            ["health"] => Route::Health,
            ["openapi.json"] => Route::OpenApi,
            ["auth", "signup"] => Route::Signup,
            ["auth", "login"] => Route::Login,
            ["auth", "logout"] => Route::Logout,
            ["auth", "logout-all"] => Route::LogoutAll,
            ["auth", "refresh"] => Route::Refresh,
            ["me"] => Route::Me,
            ["me", "avatar"] => Route::MyAvatar,
            ["me", "blocks"] => Route::MyBlocks,
            ["users", h] if !h.is_empty() => Route::User(h),
            ["users", h, "follow"] if !h.is_empty() => Route::Follow(h),
            ["users", h, "followers"] if !h.is_empty() => Route::Followers(h),
            ["users", h, "following"] if !h.is_empty() => Route::Following(h),
            ["users", h, "block"] if !h.is_empty() => Route::Block(h),
            ["invites"] => Route::Invites,
            ["invites", code] if !code.is_empty() => Route::Invite(code),
            ["admin", "invites"] => Route::AdminInvites,
            ["admin", "users", h, "invites"] if !h.is_empty() => Route::AdminGrant(h),
            _ => return None,
        })
    }

    /// The methods the route accepts.
    pub fn methods(&self) -> &'static [Method] {
        match self {
            Route::Health
            | Route::OpenApi
            | Route::MyBlocks
            | Route::User(_)
            | Route::Followers(_)
            | Route::Following(_)
            | Route::Invites => GET,
            Route::Signup
            | Route::Login
            | Route::Logout
            | Route::LogoutAll
            | Route::Refresh
            | Route::AdminInvites
            | Route::AdminGrant(_) => POST,
            Route::Me => GET_PATCH_DELETE,
            Route::MyAvatar => POST_PUT_DELETE,
            Route::Follow(_) | Route::Block(_) => PUT_DELETE,
            Route::Invite(_) => DELETE,
        }
    }
}
