//! Key-value stores in one SQLite file, with the atomic operations Spin
//! offers, and group commit.
//!
//! Writes join an open *batch* (one SQLite transaction) and return at once;
//! a committer thread commits the batch, makes it durable (`fdatasync` of
//! the WAL) and opens the next one, so concurrent requests share one flush.
//! Every operation reports the batch its result depends on (what it wrote,
//! or the uncommitted data it read). Called plainly, an operation waits until
//! that batch is durable before returning, exactly as a flush per write did.
//! Inside [`deferred`] (the component host) it only notes the batch in the
//! request's [`Pending`], and the server holds the response until
//! [`SqliteKv::settled`]: nothing is acknowledged before it is durable.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension, params};

/// A failure of the SQLite file (I/O, corruption, a value that is not a counter).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KvError(String);

impl From<rusqlite::Error> for KvError {
    fn from(e: rusqlite::Error) -> Self {
        KvError(e.to_string())
    }
}

type Result<T> = std::result::Result<T, KvError>;

/// Every store label's keys, in one table of one SQLite file.
///
/// One connection behind a mutex: SQLite serialises writers anyway, and each
/// operation is one or two short statements inside the open batch; the
/// flush happens on the committer thread, outside the mutex.
pub struct SqliteKv {
    shared: Arc<Shared>,
    committer: Option<JoinHandle<()>>,
}

struct Shared {
    db: Mutex<Db>,
    /// Wakes the committer when a batch opens, or on shutdown.
    opened: Condvar,
    durable: Durable,
}

struct Db {
    conn: Connection,
    /// Whether a batch (a write transaction) is open.
    open: bool,
    /// The open batch's number, or the next one's.
    batch: u64,
    stop: bool,
}

/// The batches one request's key-value calls depended on; its response
/// waits until they are durable ([`SqliteKv::settled`]).
#[derive(Debug)]
pub struct Pending {
    first: AtomicU64,
    last: AtomicU64,
}

impl Default for Pending {
    fn default() -> Self {
        Self {
            first: AtomicU64::new(u64::MAX),
            last: AtomicU64::new(0),
        }
    }
}

impl Pending {
    fn note(&self, batch: u64) {
        if batch > 0 {
            self.first.fetch_min(batch, Ordering::Relaxed);
            self.last.fetch_max(batch, Ordering::Relaxed);
        }
    }

    fn range(&self) -> Option<(u64, u64)> {
        let last = self.last.load(Ordering::Relaxed);
        (last > 0).then(|| (self.first.load(Ordering::Relaxed), last))
    }
}

thread_local! {
    static DEFERRED: RefCell<Option<Arc<Pending>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's key-value calls deferring their durability
/// wait to `pending` instead of blocking. Host calls are synchronous, so the
/// scope is exactly the call.
pub fn deferred<R>(pending: &Arc<Pending>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Pending>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            DEFERRED.with(|d| *d.borrow_mut() = previous);
        }
    }
    let _restore = Restore(DEFERRED.with(|d| d.borrow_mut().replace(pending.clone())));
    f()
}

/// How far batches are durable, for blocking and async waiters.
struct Durable {
    /// Every batch up to this one is settled: durable, or in `failed`.
    through: AtomicU64,
    /// Set once any batch failed: waiters then look at `outcomes`.
    any_failed: AtomicBool,
    outcomes: Mutex<Outcomes>,
    changed: Condvar,
    /// Bumped on every change, for async waiters.
    watch: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct Outcomes {
    /// Batches rolled back: nothing that depended on them was acknowledged.
    failed: BTreeSet<u64>,
    /// A flush failed: the file's state is unknown, so nothing more is acknowledged.
    poisoned: Option<String>,
}

impl Durable {
    fn new() -> Self {
        Self {
            through: AtomicU64::new(0),
            any_failed: AtomicBool::new(false),
            outcomes: Mutex::new(Outcomes::default()),
            changed: Condvar::new(),
            watch: tokio::sync::watch::Sender::new(0),
        }
    }

    fn outcomes(&self) -> MutexGuard<'_, Outcomes> {
        self.outcomes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Some` once batches `first..=last` are all settled: `Ok` if all are durable.
    fn check(&self, first: u64, last: u64) -> Option<Result<()>> {
        if !self.any_failed.load(Ordering::Acquire) {
            return (last <= self.through.load(Ordering::Acquire)).then_some(Ok(()));
        }
        self.decide(&self.outcomes(), first, last)
    }

    /// [`Durable::check`] with the outcomes locked (`through` only moves under that lock).
    fn decide(&self, outcomes: &Outcomes, first: u64, last: u64) -> Option<Result<()>> {
        if let Some(why) = &outcomes.poisoned {
            return Some(Err(KvError(format!(
                "the key-value file failed to flush: {why}"
            ))));
        }
        if outcomes.failed.range(first..=last).next().is_some() {
            return Some(Err(KvError(
                "the write could not be committed; nothing of it stands".into(),
            )));
        }
        (last <= self.through.load(Ordering::Acquire)).then_some(Ok(()))
    }

    fn wait_blocking(&self, first: u64, last: u64) -> Result<()> {
        if let Some(done) = self.check(first, last) {
            return done;
        }
        let mut outcomes = self.outcomes();
        loop {
            if let Some(done) = self.decide(&outcomes, first, last) {
                return done;
            }
            outcomes = self
                .changed
                .wait(outcomes)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    fn notify(&self, change: impl FnOnce(&mut Outcomes)) {
        {
            let mut outcomes = self.outcomes();
            change(&mut outcomes);
        }
        self.changed.notify_all();
        self.watch.send_modify(|n| *n += 1);
    }

    fn advance(&self, batch: u64) {
        self.notify(|_| {
            self.through.store(batch, Ordering::Release);
        });
    }

    fn fail(&self, batch: u64) {
        self.notify(|o| {
            o.failed.insert(batch);
            self.any_failed.store(true, Ordering::Release);
        });
    }

    fn poison(&self, why: String) {
        self.notify(|o| {
            o.poisoned.get_or_insert(why);
            self.any_failed.store(true, Ordering::Release);
        });
    }
}

impl SqliteKv {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Self::init(Connection::open(path)?, Some(PathBuf::from(wal)))
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?, None)
    }

    fn init(conn: Connection, wal: Option<PathBuf>) -> Result<Self> {
        // WAL lets readers run beside the writer. NORMAL makes SQLite skip
        // the flush at COMMIT (it still flushes around checkpoints); the
        // committer flushes the WAL itself after each batch, before anyone
        // hears of it, which is FULL's guarantee for acknowledged writes.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        let wal = if mode.eq_ignore_ascii_case("wal") {
            conn.execute_batch("PRAGMA synchronous = NORMAL")?;
            wal
        } else {
            // No WAL here (an in-memory database, or a file system without
            // shared memory): SQLite's own flush at COMMIT, made under the lock.
            conn.execute_batch("PRAGMA synchronous = FULL")?;
            None
        };
        conn.execute_batch(
            "PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS kv (
                 store TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (store, key)
             ) WITHOUT ROWID;",
        )?;
        let shared = Arc::new(Shared {
            db: Mutex::new(Db {
                conn,
                open: false,
                batch: 1,
                stop: false,
            }),
            opened: Condvar::new(),
            durable: Durable::new(),
        });
        let committer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("kv-commit".into())
                .spawn(move || commit_loop(&shared, wal))
                .map_err(|e| KvError(format!("starting the committer: {e}")))?
        };
        Ok(Self {
            shared,
            committer: Some(committer),
        })
    }

    fn db(&self) -> MutexGuard<'_, Db> {
        self.shared.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` on the connection (inside the open batch when `write`) and
    /// settles the batch its result depends on.
    fn run<T>(&self, write: bool, op: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let (out, batch) = {
            let mut db = self.db();
            if write && !db.open {
                db.conn.execute_batch("BEGIN IMMEDIATE")?;
                db.open = true;
                self.shared.opened.notify_one();
            }
            let out = op(&db.conn);
            if out.is_err() && db.open && db.conn.is_autocommit() {
                // SQLite rolled the whole batch back (I/O error, full disk):
                // everyone who wrote or read in it hears of the failure.
                db.open = false;
                self.shared.durable.fail(db.batch);
                db.batch += 1;
            }
            // Reads outside a batch may see the last one, committed but
            // perhaps not yet flushed.
            let batch = if db.open { db.batch } else { db.batch - 1 };
            (out, batch)
        };
        let out = out?;
        let deferred = DEFERRED.with(|d| {
            d.borrow()
                .as_ref()
                .map(|pending| pending.note(batch))
                .is_some()
        });
        if !deferred {
            self.shared.durable.wait_blocking(batch, batch)?;
        }
        Ok(out)
    }

    /// Waits until everything `pending` depended on is durable; an error
    /// when any of it was rolled back (then the request must fail).
    pub async fn settled(&self, pending: &Pending) -> Result<()> {
        let Some((first, last)) = pending.range() else {
            return Ok(());
        };
        let durable = &self.shared.durable;
        let mut changes = durable.watch.subscribe();
        loop {
            if let Some(done) = durable.check(first, last) {
                return done;
            }
            if changes.changed().await.is_err() {
                return Err(KvError("the key-value store closed".into()));
            }
        }
    }

    /// Reads one value.
    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.run(false, |conn| read(conn, store, key))
    }

    /// Writes one value.
    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        self.run(true, |conn| write(conn, store, key, value))
    }

    /// Deletes one key (absent is fine).
    pub fn delete(&self, store: &str, key: &str) -> Result<()> {
        self.run(true, |conn| remove(conn, store, key))
    }

    /// Whether a key exists.
    pub fn exists(&self, store: &str, key: &str) -> Result<bool> {
        Ok(self.get(store, key)?.is_some())
    }

    /// Every key of a store, sorted. Only for tools and Spin's `get-keys`;
    /// request paths in Dreamreel never scan.
    pub fn keys(&self, store: &str) -> Result<Vec<String>> {
        self.run(false, |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT key FROM kv WHERE store = ?1 ORDER BY key")?;
            let rows = stmt.query_map(params![store], |r| r.get(0))?;
            Ok(rows.collect::<std::result::Result<_, _>>()?)
        })
    }

    /// Reads many keys from one snapshot, in order.
    pub fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.run(false, |conn| {
            // Inside a batch the connection already reads one snapshot.
            let own = conn.is_autocommit();
            if own {
                conn.execute_batch("BEGIN")?;
            }
            let values = keys
                .iter()
                .map(|key| read(conn, store, key))
                .collect::<Result<Vec<_>>>();
            if own {
                conn.execute_batch("COMMIT")?;
            }
            values
        })
    }

    /// Writes many keys atomically.
    pub fn set_many(&self, store: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        self.run(true, |conn| {
            all_or_nothing(conn, || {
                entries
                    .iter()
                    .try_for_each(|(key, value)| write(conn, store, key, value))
            })
        })
    }

    /// Deletes many keys atomically.
    pub fn delete_many(&self, store: &str, keys: &[String]) -> Result<()> {
        self.run(true, |conn| {
            all_or_nothing(conn, || {
                keys.iter().try_for_each(|key| remove(conn, store, key))
            })
        })
    }

    /// Adds `delta` to a decimal-text counter (absent = 0), atomically.
    pub fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64> {
        self.run(true, |conn| {
            let current = match read(conn, store, key)? {
                Some(bytes) => dreamreel_core::store::decode_counter(&bytes)
                    .map_err(|e| KvError(format!("{key}: {e}")))?,
                None => 0,
            };
            let next = current
                .checked_add(delta)
                .ok_or_else(|| KvError(format!("{key}: counter overflow")))?;
            write(conn, store, key, next.to_string().as_bytes())?;
            Ok(next)
        })
    }

    /// Writes `new` only if the value is still `expected` (`None` = absent).
    pub fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool> {
        self.run(true, |conn| {
            if read(conn, store, key)?.as_deref() != expected {
                return Ok(false);
            }
            write(conn, store, key, new)?;
            Ok(true)
        })
    }
}

impl Drop for SqliteKv {
    fn drop(&mut self) {
        self.db().stop = true;
        self.shared.opened.notify_one();
        if let Some(committer) = self.committer.take() {
            let _ = committer.join();
        }
    }
}

/// Commits each open batch, flushes the WAL outside the mutex (writes go on
/// into the next batch meanwhile) and tells the waiters. Until stopped.
fn commit_loop(shared: &Shared, wal: Option<PathBuf>) {
    let mut wal_file: Option<File> = None;
    loop {
        let (batch, committed) = {
            let mut db = shared.db.lock().unwrap_or_else(|e| e.into_inner());
            while !db.open && !db.stop {
                db = shared.opened.wait(db).unwrap_or_else(|e| e.into_inner());
            }
            if !db.open {
                return;
            }
            let committed = db.conn.execute_batch("COMMIT");
            if committed.is_err() && !db.conn.is_autocommit() {
                let _ = db.conn.execute_batch("ROLLBACK");
            }
            db.open = false;
            db.batch += 1;
            (db.batch - 1, committed)
        };
        if let Err(e) = committed {
            crate::log::error(
                "-",
                &format!("key-value batch {batch} failed to commit: {e}"),
            );
            shared.durable.fail(batch);
            continue;
        }
        match flush(wal.as_deref(), &mut wal_file) {
            Ok(()) => shared.durable.advance(batch),
            Err(e) => {
                crate::log::error("-", &format!("key-value file failed to flush: {e}"));
                shared.durable.poison(e.to_string());
            }
        }
    }
}

/// Makes every committed frame of the WAL durable (nothing for in-memory).
fn flush(wal: Option<&Path>, file: &mut Option<File>) -> std::io::Result<()> {
    let Some(path) = wal else {
        return Ok(());
    };
    if file.is_none() {
        *file = Some(File::open(path)?);
    }
    file.as_ref().expect("opened above").sync_data()
}

/// Runs `f` as one unit inside the batch: on error its writes are undone
/// and the batch's other writes stand.
fn all_or_nothing(conn: &Connection, f: impl FnOnce() -> Result<()>) -> Result<()> {
    conn.execute_batch("SAVEPOINT op")?;
    match f() {
        Ok(()) => {
            conn.execute_batch("RELEASE op")?;
            Ok(())
        }
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK TO op; RELEASE op");
            }
            Err(e)
        }
    }
}

const SELECT: &str = "SELECT value FROM kv WHERE store = ?1 AND key = ?2";
const UPSERT: &str = "INSERT INTO kv (store, key, value) VALUES (?1, ?2, ?3)
     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value";

/// Reads one value inside a transaction (or on a connection).
fn read(conn: &Connection, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
    let mut stmt = conn.prepare_cached(SELECT)?;
    Ok(stmt
        .query_row(params![store, key], |r| r.get(0))
        .optional()?)
}

/// Writes one value inside a transaction (or on a connection).
fn write(conn: &Connection, store: &str, key: &str, value: &[u8]) -> Result<()> {
    conn.prepare_cached(UPSERT)?
        .execute(params![store, key, value])?;
    Ok(())
}

/// Deletes one key inside a transaction.
fn remove(conn: &Connection, store: &str, key: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM kv WHERE store = ?1 AND key = ?2")?
        .execute(params![store, key])?;
    Ok(())
}

/// The same store through the domain's [`dreamreel_core::store::Store`] trait,
/// so operator commands reuse the core's rules natively.
pub struct LabelledStore<'a> {
    kv: &'a SqliteKv,
    label: &'a str,
}

impl<'a> LabelledStore<'a> {
    /// Views store `label` of `kv`.
    pub fn new(kv: &'a SqliteKv, label: &'a str) -> Self {
        Self { kv, label }
    }
}

impl dreamreel_core::store::Store for LabelledStore<'_> {
    async fn get(
        &self,
        key: &str,
    ) -> std::result::Result<Option<Vec<u8>>, dreamreel_core::store::StoreError> {
        self.kv.get(self.label, key).map_err(into_store_error)
    }

    async fn get_many(
        &self,
        keys: &[String],
    ) -> std::result::Result<Vec<Option<Vec<u8>>>, dreamreel_core::store::StoreError> {
        self.kv.get_many(self.label, keys).map_err(into_store_error)
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
    ) -> std::result::Result<(), dreamreel_core::store::StoreError> {
        self.kv
            .set(self.label, key, value)
            .map_err(into_store_error)
    }

    async fn delete(
        &self,
        key: &str,
    ) -> std::result::Result<(), dreamreel_core::store::StoreError> {
        self.kv.delete(self.label, key).map_err(into_store_error)
    }

    async fn increment(
        &self,
        key: &str,
        delta: i64,
    ) -> std::result::Result<i64, dreamreel_core::store::StoreError> {
        self.kv
            .increment(self.label, key, delta)
            .map_err(into_store_error)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> std::result::Result<bool, dreamreel_core::store::StoreError> {
        self.kv
            .compare_and_swap(self.label, key, expected, new)
            .map_err(into_store_error)
    }
}

fn into_store_error(e: KvError) -> dreamreel_core::store::StoreError {
    dreamreel_core::store::StoreError(e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_separate_and_values_round_trip() {
        let kv = SqliteKv::in_memory().unwrap();
        kv.set("a", "k", b"1").unwrap();
        kv.set("b", "k", b"2").unwrap();
        assert_eq!(kv.get("a", "k").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(kv.keys("b").unwrap(), ["k"]);
        kv.delete("a", "k").unwrap();
        assert!(!kv.exists("a", "k").unwrap());
        assert!(kv.exists("b", "k").unwrap());
    }

    #[test]
    fn increment_counts_from_zero_and_refuses_non_counters() {
        let kv = SqliteKv::in_memory().unwrap();
        assert_eq!(kv.increment("s", "c", 5).unwrap(), 5);
        assert_eq!(kv.increment("s", "c", -2).unwrap(), 3);
        kv.set("s", "text", b"hello").unwrap();
        assert!(kv.increment("s", "text", 1).is_err());
        assert_eq!(kv.get("s", "text").unwrap().as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn compare_and_swap_writes_only_on_match() {
        let kv = SqliteKv::in_memory().unwrap();
        assert!(kv.compare_and_swap("s", "k", None, b"v1").unwrap());
        assert!(!kv.compare_and_swap("s", "k", None, b"v2").unwrap());
        assert!(!kv.compare_and_swap("s", "k", Some(b"zz"), b"v2").unwrap());
        assert!(kv.compare_and_swap("s", "k", Some(b"v1"), b"v2").unwrap());
        assert_eq!(kv.get("s", "k").unwrap().as_deref(), Some(&b"v2"[..]));
    }

    #[test]
    fn batch_reads_keep_order_and_writes_are_visible() {
        let kv = SqliteKv::in_memory().unwrap();
        kv.set_many(
            "s",
            &[("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())],
        )
        .unwrap();
        let got = kv
            .get_many("s", &["b".into(), "x".into(), "a".into()])
            .unwrap();
        assert_eq!(got, vec![Some(b"2".to_vec()), None, Some(b"1".to_vec())]);
        kv.delete_many("s", &["a".into(), "b".into()]).unwrap();
        assert!(kv.keys("s").unwrap().is_empty());
    }

    #[tokio::test]
    async fn deferred_writes_return_at_once_and_settle_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        let kv = SqliteKv::open(&path).unwrap();
        let pending = Arc::new(Pending::default());
        assert!(pending.range().is_none());
        deferred(&pending, || {
            kv.set("s", "k", b"v").unwrap();
            assert_eq!(kv.increment("s", "n", 2).unwrap(), 2);
        });
        let (first, last) = pending.range().expect("the writes are noted");
        assert!(first >= 1 && last >= first);
        kv.settled(&pending).await.unwrap();
        // Another connection sees exactly what was acknowledged.
        let other = SqliteKv::open(&path).unwrap();
        assert_eq!(other.get("s", "k").unwrap().as_deref(), Some(&b"v"[..]));
        // A read outside the scope waits for its batch and records nothing.
        let idle = Arc::new(Pending::default());
        assert_eq!(kv.get("s", "n").unwrap().as_deref(), Some(&b"2"[..]));
        kv.settled(&idle).await.unwrap();
    }

    #[test]
    fn concurrent_writers_share_batches_and_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        let kv = SqliteKv::open(&path).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let kv = &kv;
                s.spawn(move || {
                    for i in 0..50 {
                        kv.increment("s", "count", 1).unwrap();
                        kv.set("s", &format!("k{t}-{i}"), b"x").unwrap();
                    }
                });
            }
        });
        drop(kv);
        let reopened = SqliteKv::open(&path).unwrap();
        assert_eq!(
            reopened.get("s", "count").unwrap().as_deref(),
            Some(&b"200"[..])
        );
        assert_eq!(reopened.keys("s").unwrap().len(), 201);
    }

    #[test]
    fn a_failed_batch_write_undoes_only_itself() {
        let kv = SqliteKv::in_memory().unwrap();
        let pending = Arc::new(Pending::default());
        deferred(&pending, || {
            kv.set("s", "kept", b"1").unwrap();
            // "c" is not a counter: the increment fails, the batch goes on.
            assert!(kv.set_many("s", &[("c".into(), b"x".to_vec())]).is_ok());
            assert!(kv.increment("s", "c", 1).is_err());
        });
        assert_eq!(kv.get("s", "kept").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(kv.get("s", "c").unwrap().as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn data_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        SqliteKv::open(&path).unwrap().set("s", "k", b"v").unwrap();
        let reopened = SqliteKv::open(&path).unwrap();
        assert_eq!(reopened.get("s", "k").unwrap().as_deref(), Some(&b"v"[..]));
    }
}
