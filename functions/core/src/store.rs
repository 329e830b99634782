//! The storage boundary: everything the domain persists goes through [`Store`].
//!
//! The trait mirrors what Spin gives a component (`spin:key-value` plus
//! `wasi:keyvalue` atomics and batch) and what DynamoDB offers in production,
//! so the same domain code runs in a WASM component, natively in tests, and in
//! the local stack's admin commands.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A failure of the underlying store (I/O, quota, unreachable backend).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failure: {0}")]
pub struct StoreError(pub String);

/// Key-value storage with the few atomic operations the domain relies on.
#[allow(async_fn_in_trait)] // Components are single-threaded; no `Send` bound wanted.
pub trait Store {
    /// Reads one value; `None` when the key is absent.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Reads many values in one round trip, in the order of `keys`.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// Writes one value, replacing any previous one.
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Removes one key; removing an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Atomically adds `delta` to a signed 64-bit counter (absent = 0) and returns the new value.
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Atomically writes `new` only if the current value equals `expected`
    /// (`None` = the key must be absent). Returns whether the write happened.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError>;
}

/// An in-memory [`Store`], for unit tests and tools; not durable.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys held, so tests can assert that a refused request wrote nothing.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of every key and value, for before/after comparisons in tests.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let map = self.lock();
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock().insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let mut map = self.lock();
        let current = match map.get(key) {
            Some(bytes) => decode_counter(bytes)?,
            None => 0,
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| StoreError(format!("counter {key} overflows")))?;
        map.insert(key.to_owned(), next.to_string().into_bytes());
        Ok(next)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let mut map = self.lock();
        if map.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        map.insert(key.to_owned(), new.to_vec());
        Ok(true)
    }
}

/// Counters are stored as decimal text, the way Spin's key-value atomics store them.
pub fn decode_counter(bytes: &[u8]) -> Result<i64, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| StoreError("value is not a counter".into()))
}
