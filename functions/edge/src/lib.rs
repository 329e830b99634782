//! What every Dreamreel component shares: the core's [`Store`] over Spin's
//! key-value store, the core's [`Env`] over WASI, JSON responses and errors,
//! structured logs, configuration from Spin variables, and S3 object
//! storage (signed writes, presigned reads).
//!
//! Built for `wasm32-wasip2` only; everything testable lives in `dreamreel-core`.
//!
//! [`Store`]: dreamreel_core::Store
//! [`Env`]: dreamreel_core::Env

#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod cors;
pub mod env;
pub mod http;
pub mod kv;
pub mod log;
pub mod s3;
pub mod serve;

pub use env::SpinEnv;
pub use kv::KvStore;
pub use log::RequestLog;
pub use serve::{refuse_method, serve};
