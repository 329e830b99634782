//! Compiled components kept on disk, so a restart skips Cranelift.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Loads the component at `source`, compiling it only when `cache_dir` has no
/// artifact for these exact bytes and this exact engine configuration.
pub fn load(engine: &Engine, source: &Path, cache_dir: &Path) -> anyhow::Result<Component> {
    let bytes = std::fs::read(source).with_context(|| {
        format!(
            "reading {} (build the components first: `dreamreel-local build`)",
            source.display()
        )
    })?;
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let mut digest = Sha256::new();
    digest.update(&bytes);
    digest.update(engine_hash.finish().to_le_bytes());
    let key: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cached = cache_dir.join(format!("{key}.cwasm"));
    if let Some(component) = load_cached(engine, &cached) {
        return Ok(component);
    }
    // One compile at a time in this process: stacks started side by side (the
    // tests) then wait for the first compile instead of all repeating it.
    static COMPILING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = COMPILING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(component) = load_cached(engine, &cached) {
        return Ok(component);
    }
    let component = Component::new(engine, &bytes)?;
    std::fs::create_dir_all(cache_dir)?;
    // A unique temporary name: tests compile the same component concurrently.
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
    let tmp = cache_dir.join(format!("{key}.{}.tmp", u64::from_le_bytes(nonce)));
    std::fs::write(&tmp, component.serialize()?)?;
    std::fs::rename(&tmp, &cached)?;
    Ok(component)
}

fn load_cached(engine: &Engine, cached: &Path) -> Option<Component> {
    if !cached.exists() {
        return None;
    }
    // SAFETY: the file was written by `Component::serialize` of an engine
    // with the same compatibility hash, into a folder only this tool writes.
    unsafe { Component::deserialize_file(engine, cached) }.ok()
}
