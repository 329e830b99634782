//! Test helpers for this crate and its users: a deterministic [`Env`] and a
//! tiny executor for the core's async functions over [`crate::MemoryStore`].

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use crate::env::Env;

/// An [`Env`] with a settable clock and a seeded, repeatable byte stream.
/// Never use it outside tests: its "randomness" is predictable by design.
#[derive(Debug)]
pub struct FixedEnv {
    now_ms: AtomicU64,
    state: AtomicU64,
}

impl FixedEnv {
    /// Starts at `now_ms` with the byte stream seeded by `seed`.
    pub fn new(now_ms: u64, seed: u64) -> Self {
        Self {
            now_ms: AtomicU64::new(now_ms),
            state: AtomicU64::new(seed),
        }
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set_now_ms(&self, ms: u64) {
        self.now_ms.store(ms, Ordering::SeqCst);
    }
}

impl Default for FixedEnv {
    /// 2025-01-01T00:00:00Z, seed 1.
    fn default() -> Self {
        Self::new(1_735_689_600_000, 1)
    }
}

impl Env for FixedEnv {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    fn fill_random(&self, buf: &mut [u8]) {
        // SplitMix64: simple, well distributed, and repeatable for a given seed.
        for chunk in buf.chunks_mut(8) {
            let mut z = self
                .state
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Runs a future to completion on this thread. Enough for the core's async
/// functions over [`crate::MemoryStore`], which never wait on anything.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_different_seed_different_bytes() {
        let (mut a, mut b, mut c) = ([0u8; 13], [0u8; 13], [0u8; 13]);
        FixedEnv::new(0, 7).fill_random(&mut a);
        FixedEnv::new(0, 7).fill_random(&mut b);
        FixedEnv::new(0, 8).fill_random(&mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn successive_draws_differ() {
        let env = FixedEnv::default();
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        env.fill_random(&mut a);
        env.fill_random(&mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn the_clock_moves_only_when_told() {
        let env = FixedEnv::new(1_000, 1);
        assert_eq!(env.now_ms(), 1_000);
        env.advance_ms(500);
        assert_eq!(env.now_ms(), 1_500);
        env.set_now_ms(7);
        assert_eq!(env.now_ms(), 7);
    }

    #[test]
    fn block_on_returns_the_output() {
        assert_eq!(block_on(async { 40 + 2 }), 42);
    }
}

/// A [`Store`](crate::Store) that counts the keys read and the read calls
/// made through it, to check that a request's reads stay bounded.
#[derive(Debug)]
pub struct ReadCounter<'a, S> {
    inner: &'a S,
    keys: std::cell::Cell<usize>,
    calls: std::cell::Cell<usize>,
}

impl<'a, S> ReadCounter<'a, S> {
    /// Counts the reads made of `inner` from now on.
    pub fn new(inner: &'a S) -> Self {
        ReadCounter {
            inner,
            keys: std::cell::Cell::new(0),
            calls: std::cell::Cell::new(0),
        }
    }

    /// Keys read and read calls made since the start or the last [`Self::reset`].
    pub fn reads(&self) -> (usize, usize) {
        (self.keys.get(), self.calls.get())
    }

    /// Starts counting afresh.
    pub fn reset(&self) {
        self.keys.set(0);
        self.calls.set(0);
    }

    fn count(&self, keys: usize) {
        self.keys.set(self.keys.get() + keys);
        self.calls.set(self.calls.get() + 1);
    }
}

impl<S: crate::Store> crate::Store for ReadCounter<'_, S> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::StoreError> {
        self.count(1);
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, crate::StoreError> {
        self.count(keys.len());
        self.inner.get_many(keys).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), crate::StoreError> {
        self.inner.set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), crate::StoreError> {
        self.inner.delete(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, crate::StoreError> {
        self.inner.increment(key, delta).await
    }
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, crate::StoreError> {
        self.inner.compare_and_swap(key, expected, new).await
    }
}

/// A [`Store`](crate::Store) whose writes to keys under a chosen prefix fail,
/// to check what a request leaves behind when part of its writing fails.
#[derive(Debug, Default)]
pub struct FailingWrites<S> {
    inner: S,
    prefix: std::cell::RefCell<Option<String>>,
}

impl<S> FailingWrites<S> {
    /// Wraps `inner`; nothing fails until [`Self::fail_under`].
    pub fn new(inner: S) -> Self {
        FailingWrites {
            inner,
            prefix: std::cell::RefCell::new(None),
        }
    }

    /// Writes to keys starting with `prefix` fail from now on; `None` heals.
    pub fn fail_under(&self, prefix: Option<&str>) {
        *self.prefix.borrow_mut() = prefix.map(str::to_owned);
    }

    fn check(&self, key: &str) -> Result<(), crate::StoreError> {
        match &*self.prefix.borrow() {
            Some(p) if key.starts_with(p.as_str()) => {
                Err(crate::StoreError(format!("write to {key} failed")))
            }
            _ => Ok(()),
        }
    }
}

impl<S: crate::Store> crate::Store for FailingWrites<S> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, crate::StoreError> {
        self.inner.get_many(keys).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), crate::StoreError> {
        self.check(key)?;
        self.inner.set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), crate::StoreError> {
        self.check(key)?;
        self.inner.delete(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, crate::StoreError> {
        self.check(key)?;
        self.inner.increment(key, delta).await
    }
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, crate::StoreError> {
        self.check(key)?;
        self.inner.compare_and_swap(key, expected, new).await
    }
}
