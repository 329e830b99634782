//! The core's [`Store`] over the component's Spin key-value store.
//!
//! Plain reads and writes use `spin:key-value@3.0.0` (async). Batch reads,
//! counters and compare-and-swap use `wasi:keyvalue@0.2.0-draft2` (`batch`,
//! `atomics`) on the same store label, which Spin and the local stack back
//! with the same data.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt::Debug;

use dreamreel_core::{Store, StoreError};
use spin_sdk::experimental::wasi::keyvalue::{atomics, batch, store as wasi_kv};
use spin_sdk::key_value;

use crate::RequestLog;

/// A Spin key-value store as a [`Store`].
pub struct KvStore {
    label: String,
    spin: key_value::Store,
    /// Opened on first use: most requests never need atomics or batch reads.
    bucket: OnceCell<wasi_kv::Bucket>,
    log: RequestLog,
}

impl KvStore {
    /// Opens the store labelled `label` (it must be listed in the component's
    /// `key_value_stores`); failures are logged under `log`'s request id.
    pub async fn open(label: &str, log: &RequestLog) -> Result<Self, StoreError> {
        let spin = key_value::Store::open(label)
            .await
            .map_err(|e| fail(log, "open", label, e))?;
        Ok(Self {
            label: label.to_owned(),
            spin,
            bucket: OnceCell::new(),
            log: log.clone(),
        })
    }

    /// Opens the store labelled `default`.
    pub async fn open_default(log: &RequestLog) -> Result<Self, StoreError> {
        Self::open("default", log).await
    }

    fn bucket(&self) -> Result<&wasi_kv::Bucket, StoreError> {
        if let Some(bucket) = self.bucket.get() {
            return Ok(bucket);
        }
        let bucket = wasi_kv::open(&self.label).map_err(|e| self.fail("open", &self.label, e))?;
        Ok(self.bucket.get_or_init(|| bucket))
    }

    fn fail(&self, op: &str, key: &str, e: impl Debug) -> StoreError {
        fail(&self.log, op, key, e)
    }
}

/// Logs the backend's detail (which must not reach clients) and wraps it.
/// Only the key's prefix is logged: keys can hold invite codes.
fn fail(log: &RequestLog, op: &str, key: &str, e: impl Debug) -> StoreError {
    let detail = format!("{e:?}");
    let prefix = key.split(':').next().unwrap_or_default();
    log.log(
        "error",
        "kv_error",
        serde_json::json!({ "op": op, "key_prefix": prefix, "detail": detail }),
    );
    StoreError(format!("{op} {key}: {detail}"))
}

impl Store for KvStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.spin
            .get(key)
            .await
            .map_err(|e| self.fail("get", key, e))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let pairs = batch::get_many(self.bucket()?, keys)
            .map_err(|e| self.fail("get_many", &keys[0], e))?;
        // The interface does not promise result order, so match values by key.
        let found: HashMap<String, Option<Vec<u8>>> = pairs.into_iter().collect();
        Ok(keys
            .iter()
            .map(|k| found.get(k).cloned().flatten())
            .collect())
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.spin
            .set(key, value)
            .await
            .map_err(|e| self.fail("set", key, e))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.spin
            .delete(key)
            .await
            .map_err(|e| self.fail("delete", key, e))
    }

    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(self.bucket()?, key, delta).map_err(|e| self.fail("increment", key, e))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let cas = atomics::Cas::new(self.bucket()?, key).map_err(|e| self.fail("cas", key, e))?;
        let current = cas.current().map_err(|e| self.fail("cas", key, e))?;
        if current.as_deref() != expected {
            return Ok(false);
        }
        match atomics::swap(cas, new) {
            Ok(()) => Ok(true),
            // Someone wrote between `current` and `swap`: the caller lost the race.
            Err(atomics::CasError::CasFailed(_)) => Ok(false),
            Err(atomics::CasError::StoreError(e)) => Err(self.fail("cas", key, e)),
        }
    }
}
