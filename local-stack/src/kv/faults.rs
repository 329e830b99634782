//! Fault injection for tests: the key-value file and the object store fail
//! on command, so tests can show that a failed write leaves nothing half
//! done and that the client hears a clear error.
//!
//! Off by default: an unarmed [`Faults`] costs one atomic load per
//! operation. Tests arm it through [`crate::StackConfig::faults`], which the
//! stack shares with its key-value store and its object store.

use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::KvError;
use super::sqlite::SqliteKv as Inner;

type Result<T> = std::result::Result<T, KvError>;

/// A shared, armable set of faults; clones share one plan.
#[derive(Clone, Default)]
pub struct Faults {
    armed: Arc<AtomicBool>,
    plan: Arc<Mutex<Plan>>,
}

/// Which operations fail, and what has been seen since the plan was armed.
#[derive(Debug, Default)]
struct Plan {
    /// Key-value writes seen since arming (a write is counted before it may fail).
    writes: u64,
    /// The write (1-based, counted from arming) that fails, once.
    nth_write: Option<u64>,
    /// Writes to keys starting with these fail (`None` = always, else this many more times).
    write_prefixes: Vec<(String, Option<u32>)>,
    /// Reads of keys starting with these fail.
    read_prefixes: Vec<String>,
    /// Object PUTs to keys starting with these fail (`None` = always, else this many more times).
    object_puts: Vec<(String, Option<u32>)>,
    /// Faults injected since arming.
    injected: u64,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("armed", &self.armed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Faults {
    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn arm(&self, change: impl FnOnce(&mut Plan)) {
        change(&mut self.plan());
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Starts counting key-value writes (see [`Faults::writes`]) without failing any.
    pub fn count_writes(&self) {
        self.arm(|_| {});
    }

    /// The `n`th key-value write from now (1 = the next one) fails, once.
    pub fn fail_nth_write(&self, n: u64) {
        self.arm(|p| p.nth_write = Some(p.writes + n.max(1)));
    }

    /// Every key-value write to a key starting with `prefix` fails until [`Faults::clear`].
    pub fn fail_writes(&self, prefix: &str) {
        self.arm(|p| p.write_prefixes.push((prefix.to_owned(), None)));
    }

    /// Every key-value read of a key starting with `prefix` fails until [`Faults::clear`].
    pub fn fail_reads(&self, prefix: &str) {
        self.arm(|p| p.read_prefixes.push(prefix.to_owned()));
    }

    /// Object PUTs to keys starting with `prefix` fail with S3's 503: the
    /// next `times` of them, or every one when `None`.
    pub fn fail_object_puts(&self, prefix: &str, times: Option<u32>) {
        self.arm(|p| p.object_puts.push((prefix.to_owned(), times)));
    }

    /// Disarms everything and resets the counters.
    pub fn clear(&self) {
        self.armed.store(false, Ordering::SeqCst);
        *self.plan() = Plan::default();
    }

    /// Key-value writes seen since the plan was armed (failed ones included).
    pub fn writes(&self) -> u64 {
        self.plan().writes
    }

    /// Faults injected since the plan was armed.
    pub fn injected(&self) -> u64 {
        self.plan().injected
    }

    /// Whether a key-value write to `key` fails now; counts the write.
    fn write_fails(&self, key: &str) -> bool {
        if !self.armed.load(Ordering::Relaxed) {
            return false;
        }
        let mut plan = self.plan();
        plan.writes += 1;
        let nth = plan.nth_write == Some(plan.writes);
        let fails = nth || take(&mut plan.write_prefixes, key);
        if fails {
            plan.injected += 1;
        }
        fails
    }

    /// Whether a key-value read of `key` fails now.
    fn read_fails(&self, key: &str) -> bool {
        if !self.armed.load(Ordering::Relaxed) {
            return false;
        }
        let mut plan = self.plan();
        let fails = plan.read_prefixes.iter().any(|p| key.starts_with(p));
        if fails {
            plan.injected += 1;
        }
        fails
    }

    /// Whether an object PUT to `key` fails now (the object store asks).
    pub fn object_put_fails(&self, key: &str) -> bool {
        if !self.armed.load(Ordering::Relaxed) {
            return false;
        }
        let mut plan = self.plan();
        let fails = take(&mut plan.object_puts, key);
        if fails {
            plan.injected += 1;
        }
        fails
    }
}

/// Whether a rule matches `key`, using up one of its remaining times.
fn take(rules: &mut [(String, Option<u32>)], key: &str) -> bool {
    for (prefix, times) in rules.iter_mut() {
        if !key.starts_with(prefix.as_str()) {
            continue;
        }
        match times {
            None => return true,
            Some(0) => {}
            Some(n) => {
                *n -= 1;
                return true;
            }
        }
    }
    false
}

/// The error an injected fault returns: what a failing disk gives SQLite.
fn injected() -> KvError {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some("injected fault".to_owned()),
    )
    .into()
}

/// The SQLite store with [`Faults`] in front of every read and write.
/// Everything else reaches the SQLite store through `Deref`.
pub struct FaultyKv {
    inner: Inner,
    faults: Faults,
}

impl Deref for FaultyKv {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl FaultyKv {
    /// Opens (creating if needed) the database file at `path`; no faults armed.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self::from(Inner::open(path)?))
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Self> {
        Ok(Self::from(Inner::in_memory()?))
    }

    /// The same store, failing as `faults` says.
    pub fn with_faults(self, faults: Faults) -> Self {
        Self { faults, ..self }
    }

    /// The faults this store obeys.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    fn read(&self, key: &str) -> Result<()> {
        if self.faults.read_fails(key) {
            return Err(injected());
        }
        Ok(())
    }

    fn write(&self, key: &str) -> Result<()> {
        if self.faults.write_fails(key) {
            return Err(injected());
        }
        Ok(())
    }

    /// Reads one value.
    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.read(key)?;
        self.inner.get(store, key)
    }

    /// Whether a key exists.
    pub fn exists(&self, store: &str, key: &str) -> Result<bool> {
        self.read(key)?;
        self.inner.exists(store, key)
    }

    /// Reads many keys in one transaction, in order.
    pub fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter().try_for_each(|k| self.read(k))?;
        self.inner.get_many(store, keys)
    }

    /// Writes one value.
    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        self.write(key)?;
        self.inner.set(store, key, value)
    }

    /// Deletes one key (absent is fine).
    pub fn delete(&self, store: &str, key: &str) -> Result<()> {
        self.write(key)?;
        self.inner.delete(store, key)
    }

    /// Writes many keys atomically: one fault fails the whole batch.
    pub fn set_many(&self, store: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        entries.iter().try_for_each(|(k, _)| self.write(k))?;
        self.inner.set_many(store, entries)
    }

    /// Deletes many keys atomically: one fault fails the whole batch.
    pub fn delete_many(&self, store: &str, keys: &[String]) -> Result<()> {
        keys.iter().try_for_each(|k| self.write(k))?;
        self.inner.delete_many(store, keys)
    }

    /// Adds `delta` to a decimal-text counter (absent = 0), atomically.
    pub fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64> {
        self.write(key)?;
        self.inner.increment(store, key, delta)
    }

    /// Writes `new` only if the value is still `expected` (`None` = absent).
    pub fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool> {
        self.write(key)?;
        self.inner.compare_and_swap(store, key, expected, new)
    }
}

impl From<Inner> for FaultyKv {
    fn from(inner: Inner) -> Self {
        Self {
            inner,
            faults: Faults::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv() -> (FaultyKv, Faults) {
        let faults = Faults::default();
        let kv = FaultyKv::in_memory().unwrap().with_faults(faults.clone());
        (kv, faults)
    }

    #[test]
    fn unarmed_faults_change_nothing() {
        let (kv, faults) = kv();
        kv.set("s", "k", b"v").unwrap();
        assert_eq!(kv.get("s", "k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!((faults.writes(), faults.injected()), (0, 0));
    }

    #[test]
    fn the_nth_write_fails_once_and_writes_nothing() {
        let (kv, faults) = kv();
        faults.fail_nth_write(2);
        kv.set("s", "a", b"1").unwrap();
        assert!(kv.increment("s", "c", 1).is_err());
        assert_eq!(kv.get("s", "c").unwrap(), None);
        assert_eq!(kv.increment("s", "c", 1).unwrap(), 1);
        assert_eq!((faults.writes(), faults.injected()), (3, 1));
    }

    #[test]
    fn prefix_faults_last_until_cleared_or_used_up() {
        let (kv, faults) = kv();
        faults.fail_writes("like:");
        faults.fail_reads("secret:");
        assert!(kv.set("s", "like:1", b"x").is_err());
        assert!(kv.compare_and_swap("s", "other", None, b"x").unwrap());
        assert!(
            kv.set_many("s", &[("ok".into(), vec![]), ("like:2".into(), vec![])])
                .is_err()
        );
        assert_eq!(
            kv.get("s", "ok").unwrap(),
            None,
            "a failed batch writes nothing"
        );
        assert!(kv.get_many("s", &["secret:1".into()]).is_err());
        faults.clear();
        kv.set("s", "like:1", b"x").unwrap();
        assert!(kv.get("s", "secret:1").unwrap().is_none());

        faults.fail_object_puts("media/", Some(2));
        assert!(faults.object_put_fails("media/a.mp4"));
        assert!(!faults.object_put_fails("jobs/a.json"));
        assert!(faults.object_put_fails("media/b.mp4"));
        assert!(!faults.object_put_fails("media/c.mp4"));
    }
}
