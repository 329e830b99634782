//! Key-value stores in one SQLite file, with the atomic operations Spin offers.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

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
/// operation is a single short statement or transaction.
pub struct SqliteKv {
    conn: Mutex<Connection>,
}

impl SqliteKv {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::init(Connection::open(path)?)
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self> {
        // WAL lets readers run beside the writer; FULL sync makes every
        // acknowledged write survive a crash of the process or the machine.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS kv (
                 store TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (store, key)
             ) WITHOUT ROWID;",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads one value.
    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        read(&self.conn(), store, key)
    }

    /// Writes one value.
    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        write(&self.conn(), store, key, value)
    }

    /// Deletes one key (absent is fine).
    pub fn delete(&self, store: &str, key: &str) -> Result<()> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("DELETE FROM kv WHERE store = ?1 AND key = ?2")?;
        stmt.execute(params![store, key])?;
        Ok(())
    }

    /// Whether a key exists.
    pub fn exists(&self, store: &str, key: &str) -> Result<bool> {
        Ok(self.get(store, key)?.is_some())
    }

    /// Every key of a store, sorted. Only for tools and Spin's `get-keys`;
    /// request paths in Dreamreel never scan.
    pub fn keys(&self, store: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT key FROM kv WHERE store = ?1 ORDER BY key")?;
        let rows = stmt.query_map(params![store], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Reads many keys in one transaction, in order.
    pub fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let values = keys
            .iter()
            .map(|key| read(&tx, store, key))
            .collect::<Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(values)
    }

    /// Writes many keys atomically.
    pub fn set_many(&self, store: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (key, value) in entries {
            write(&tx, store, key, value)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes many keys atomically.
    pub fn delete_many(&self, store: &str, keys: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM kv WHERE store = ?1 AND key = ?2")?;
            for key in keys {
                stmt.execute(params![store, key])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds `delta` to a decimal-text counter (absent = 0), atomically.
    pub fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let current = match read(&tx, store, key)? {
            Some(bytes) => dreamreel_core::store::decode_counter(&bytes)
                .map_err(|e| KvError(format!("{key}: {e}")))?,
            None => 0,
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| KvError(format!("{key}: counter overflow")))?;
        write(&tx, store, key, next.to_string().as_bytes())?;
        tx.commit()?;
        Ok(next)
    }

    /// Writes `new` only if the value is still `expected` (`None` = absent).
    pub fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if read(&tx, store, key)?.as_deref() != expected {
            return Ok(false);
        }
        write(&tx, store, key, new)?;
        tx.commit()?;
        Ok(true)
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

    #[test]
    fn data_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        SqliteKv::open(&path).unwrap().set("s", "k", b"v").unwrap();
        let reopened = SqliteKv::open(&path).unwrap();
        assert_eq!(reopened.get("s", "k").unwrap().as_deref(), Some(&b"v"[..]));
    }
}
