//! The contract between the edge and the generation worker: the job spec the
//! edge writes to object storage, and the signed callbacks the worker sends
//! back. Both sides use these types, so they cannot drift apart.

pub mod callback;
pub mod caption;
pub mod embedding;
pub mod spec;

pub use callback::{CallbackAuth, CallbackError, SignedHeaders};
pub use embedding::{Quantized, WireEmbedding};
pub use spec::{JobSpec, job_key, media_keys};
