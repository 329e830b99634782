//! Provenance marks that every generated file carries, whatever model made it.

pub mod watermark;

pub use watermark::{Ink, Watermark};
