//! Dreamreel's domain: types, rules, the key schema and every read/write as
//! functions over [`store::Store`]. No I/O here: time and randomness come in
//! through [`env::Env`], storage through [`store::Store`], so every rule runs
//! the same in a WASM component, natively in tests and in operator tools.

#![warn(missing_docs)]

pub mod accounts;
pub mod cameo;
pub mod env;
pub mod error;
pub mod feed;
pub mod graph;
pub mod ids;
pub mod jobs;
pub mod keys;
pub mod notifications;
pub mod pages;
pub mod request;
pub mod safety;
pub mod social;
pub mod store;
pub mod studio;
pub mod testing;
pub mod time;

pub use env::Env;
pub use error::ApiError;
pub use store::{MemoryStore, Store, StoreError};
