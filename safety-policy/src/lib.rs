//! Dreamreel's default frame policy, a WebAssembly component the worker runs
//! before upload (docs/SAFETY.md, "Frame checks"). It exports
//! `dreamreel:safety/frames` (wit/frames.wit) and runs the policy
//! directory's ONNX graphs through `wasi:nn`: the photosensitivity graph on
//! every frame and each configured image classifier on the stills. Its
//! thresholds come from policy.json, so tuning them needs no rebuild at all.
//!
//! The rules are plain functions ([`rules`], [`config`]) tested natively; the
//! `wasi:nn` glue only exists on wasm32. `wit/deps/wasi-nn/wasi-nn.wit` is the
//! `wasi:nn` interface exactly as `wasmtime-wasi-nn` 48.0.8 implements it
//! (Apache-2.0, the WebAssembly wasi-nn proposal), vendored so module and
//! host agree on one version.

pub mod config;
pub mod rules;

#[cfg(target_arch = "wasm32")]
mod component;
