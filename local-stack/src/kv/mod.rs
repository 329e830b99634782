//! Key-value storage for components: a SQLite file behind Spin's interfaces.

pub mod host;
pub mod sqlite;

pub use sqlite::{KvError, LabelledStore, SqliteKv};
