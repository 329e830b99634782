//! The local stack: Dreamreel's Spin app on one machine, without Spin.
//!
//! It reads `spin.toml`, builds and compiles the components, and serves them
//! on 127.0.0.1 the way Spin does (routing, Spin's request headers, key-value
//! on a SQLite file, variables, outbound HTTP limited to allowed hosts).

pub mod admin;
pub mod body;
pub mod compile_cache;
pub mod components;
pub mod kv;
pub mod log;
pub mod manifest;
pub mod objects;
pub mod outbound;
pub mod push;
pub mod router;
pub mod runtime;
pub mod secrets;
pub mod security;
pub mod server;
pub mod stack;
pub mod variables;
pub mod worker;

pub use stack::{Stack, StackConfig};
