//! Frame checks before upload (docs/SAFETY.md, "Frame checks").
//!
//! A policy directory holds `policy.wasm` (a component exporting
//! `dreamreel:safety/frames`, see `safety-policy/wit`), `policy.json` (its
//! thresholds, plus how the host samples frames) and one folder per ONNX
//! graph (`<name>/model.onnx`). The worker loads it once, samples frames
//! while rendering ([`FrameSampler`], hooked into [`crate::render`]) and runs
//! the module per job in wasmtime with wasi-nn's ONNX backend, bounded in
//! fuel and memory. Policy teams ship a new module, model or threshold by
//! replacing files in the directory; the worker is not rebuilt. Every error
//! fails closed: the job is retried, then failed, never uploaded unchecked.

mod host;
mod sampler;

pub use host::{Blocked, DEFAULT_FUEL, DEFAULT_MEMORY, FramePolicy, Verdict};
pub use sampler::{FrameSampler, SampledFrame, Sampling, SamplingSink};

use std::path::PathBuf;

use thiserror::Error;

/// Why a clip could not be checked. All of them fail the job closed.
#[derive(Debug, Error)]
pub enum FrameSafetyError {
    /// The policy directory is missing a file or holds an unusable one.
    #[error("frame policy {path}: {detail}")]
    Load {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// ONNX Runtime could not be loaded.
    #[error(transparent)]
    Runtime(#[from] crate::onnx_runtime::OnnxRuntimeError),
    /// The module used up its fuel: it loops, or the budget is too small.
    #[error("frame policy module ran out of fuel ({0} units): it may loop forever")]
    OutOfFuel(u64),
    /// The module tried to grow past its memory limit.
    #[error("frame policy module went past its memory limit of {0} bytes")]
    OutOfMemory(usize),
    /// The module trapped (a panic, an unreachable, a host call failing hard).
    #[error("frame policy module trapped: {0}")]
    Trap(String),
    /// The module returned an error (bad policy.json, a graph missing or failing).
    #[error("frame policy module failed: {0}")]
    Module(String),
    /// The clip's sampled frames went past the sampler's memory bound.
    #[error("sampled frames exceed {0} bytes; lower the policy's sampling sizes")]
    TooManyFrames(usize),
}
