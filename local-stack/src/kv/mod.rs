//! Key-value storage for components: a SQLite file behind Spin's interfaces.

pub mod faults;
pub mod host;
pub mod sqlite;

pub use faults::Faults;
pub use sqlite::{KvError, LabelledStore};
// The stack reaches the SQLite file through the fault wrapper, which passes
// everything through until a test arms its `Faults`.
pub use faults::FaultyKv as SqliteKv;
