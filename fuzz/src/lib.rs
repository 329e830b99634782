//! The fuzz targets' checks, which `tests/fuzz_corpus.rs` also compiles to
//! replay the committed corpus on stable: [`harness`] for the edge's parsers,
//! [`worker`] (feature `worker`) for the generation worker's.

pub mod harness;
#[cfg(feature = "worker")]
pub mod worker;
