//! Cameos: a member's verified likeness, who may cast it, and every use.
//!
//! A likeness is usable only once verified: the member records a short
//! liveness clip answering a random challenge, the worker checks the upload
//! and reports back, and the edge decides ([`verify`]). Its owner says who
//! may cast them ([`Permission`]) and adds instructions in plain words;
//! restrictive ones ("never in political content") refuse prompts that
//! break them, the rest go to the model with every generation
//! ([`rules`]). Others ask for permission, which the owner approves,
//! denies or later revokes ([`grants`]). Every generation that casts
//! someone is checked when it is asked for and again when the worker
//! starts it ([`cast`]), and is listed among the owner's appearances,
//! which the owner can take down ([`appearances`]).

pub mod appearances;
pub mod cast;
pub mod grants;
mod model;
pub mod rules;
mod store;
pub mod verify;

#[cfg(test)]
mod tests;

pub use model::{
    Attempt, Cameo, CameoSettings, CameoStatus, CameoView, Permission, SettingsUpdate,
    VERIFICATION_TTL_MS,
};
pub use store::{get_cameo, update_settings};
