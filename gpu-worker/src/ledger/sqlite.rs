//! The embedded ledger for the local stack: one SQLite table.
//!
//! Each operation is a single conditional statement (an upsert or update
//! whose `WHERE` is the DynamoDB ledger's condition expression), so the two
//! implementations share their semantics line for line. Work runs on
//! tokio's blocking pool: SQLite calls block, and with `synchronous=FULL`
//! a commit waits for the disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use super::{BoxFuture, JobLedger, JobRecord, JobState, Lease, LedgerError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS worker_jobs (
    job_id      TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    holder      TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT,
    updated_ms  INTEGER NOT NULL
) STRICT;
";

/// A [`JobLedger`] in a SQLite file (or in memory). Cheap to clone.
#[derive(Clone)]
pub struct SqliteLedger {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteLedger {
    /// Opens (creating if needed) the ledger at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let conn = Connection::open(path).map_err(backend)?;
        // WAL lets readers (inspection) run beside the worker; FULL makes
        // "completed" survive a power cut, like the local stack's KV.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        Self::init(conn)
    }

    /// A ledger that lives as long as the value, for tests.
    pub fn in_memory() -> Result<Self, LedgerError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, LedgerError> {
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(SqliteLedger {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Releases every lease still held and returns those jobs' ids. Only for
    /// a ledger that one process owns (the local stack's), called as it
    /// starts: whoever held those leases was that process before a stop or
    /// crash, so waiting for them to expire would only delay the retry.
    pub fn release_abandoned(&self) -> Result<Vec<String>, LedgerError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn
            .prepare(
                "UPDATE worker_jobs SET state = 'released', holder = NULL, lease_until = 0
                 WHERE state = 'leased' RETURNING job_id",
            )
            .map_err(backend)?;
        let ids = stmt
            .query_map([], |row| row.get(0))
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(backend)?;
        Ok(ids)
    }

    /// Runs `f` with the connection on the blocking pool.
    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, LedgerError>> {
        let conn = self.conn.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // A panic elsewhere cannot leave SQLite half-written (each
                // statement is atomic), so a poisoned lock is safe to reuse.
                let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
                f(&mut conn)
            })
            .await
            .map_err(|e| LedgerError::Backend(format!("ledger task failed: {e}")))?
            .map_err(backend)
        })
    }
}

fn backend(e: rusqlite::Error) -> LedgerError {
    LedgerError::Backend(format!("sqlite: {e}"))
}

fn now_ms() -> i64 {
    crate::now_ms() as i64
}

/// Reads one row as a record; unknown states surface as an error.
fn read(conn: &Connection, job_id: &str) -> rusqlite::Result<Option<(String, JobRecord)>> {
    conn.query_row(
        "SELECT state, holder, lease_until, attempts, reason FROM worker_jobs WHERE job_id = ?1",
        [job_id],
        |row| {
            let state: String = row.get(0)?;
            Ok((
                state.clone(),
                JobRecord {
                    state: JobState::parse(&state).unwrap_or(JobState::Failed),
                    holder: row.get(1)?,
                    lease_until_ms: row.get::<_, i64>(2)? as u64,
                    attempts: row.get::<_, i64>(3)? as u32,
                    reason: row.get(4)?,
                },
            ))
        },
    )
    .optional()
}

fn checked(
    job_id: &str,
    row: Option<(String, JobRecord)>,
) -> Result<Option<JobRecord>, LedgerError> {
    match row {
        Some((raw, _)) if JobState::parse(&raw).is_none() => Err(LedgerError::Corrupt {
            job_id: job_id.to_owned(),
            detail: format!("unknown state {raw:?}"),
        }),
        other => Ok(other.map(|(_, record)| record)),
    }
}

impl JobLedger for SqliteLedger {
    fn lease<'a>(
        &'a self,
        job_id: &'a str,
        holder: &'a str,
        now_ms: u64,
        lease_ms: u64,
    ) -> BoxFuture<'a, Result<Lease, LedgerError>> {
        let (id, holder) = (job_id.to_owned(), holder.to_owned());
        let (now, until) = (now_ms as i64, now_ms.saturating_add(lease_ms) as i64);
        let work = self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // New job, or a non-final one whose lease has run out (a released
            // job's lease_until is 0): take it and count the attempt.
            let taken = tx
                .query_row(
                    "INSERT INTO worker_jobs (job_id, state, holder, lease_until, attempts, updated_ms)
                     VALUES (?1, 'leased', ?2, ?3, 1, ?4)
                     ON CONFLICT (job_id) DO UPDATE SET
                         state = 'leased', holder = excluded.holder,
                         lease_until = excluded.lease_until,
                         attempts = worker_jobs.attempts + 1, updated_ms = excluded.updated_ms
                     WHERE worker_jobs.state IN ('leased', 'released')
                       AND worker_jobs.lease_until <= ?4
                     RETURNING attempts, reason",
                    params![id, holder, until, now],
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?)),
                )
                .optional()?;
            let found = match taken {
                Some(_) => None,
                None => read(&tx, &id)?,
            };
            tx.commit()?;
            Ok((taken, found))
        });
        Box::pin(async move {
            match work.await? {
                (Some((attempt, last_error)), _) => Ok(Lease::Leased {
                    attempt: attempt as u32,
                    last_error,
                }),
                (None, found) => match checked(job_id, found)? {
                    Some(r) if r.state.is_final() => Ok(Lease::Done),
                    Some(r) => Ok(Lease::Busy {
                        until_ms: r.lease_until_ms,
                    }),
                    None => Err(LedgerError::Backend("lease neither taken nor found".into())),
                },
            }
        })
    }

    fn renew<'a>(
        &'a self,
        job_id: &'a str,
        holder: &'a str,
        now_ms: u64,
        lease_ms: u64,
    ) -> BoxFuture<'a, Result<bool, LedgerError>> {
        let (id, holder) = (job_id.to_owned(), holder.to_owned());
        let until = now_ms.saturating_add(lease_ms) as i64;
        self.with(move |conn| {
            let changed = conn.execute(
                "UPDATE worker_jobs SET lease_until = ?3, updated_ms = ?4
                 WHERE job_id = ?1 AND state = 'leased' AND holder = ?2",
                params![id, holder, until, now_ms as i64],
            )?;
            Ok(changed == 1)
        })
    }

    fn complete<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<(), LedgerError>> {
        let id = job_id.to_owned();
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO worker_jobs (job_id, state, updated_ms) VALUES (?1, 'done', ?2)
                 ON CONFLICT (job_id) DO UPDATE SET
                     state = 'done', holder = NULL, lease_until = 0, updated_ms = excluded.updated_ms",
                params![id, now_ms()],
            )?;
            Ok(())
        })
    }

    fn record_failure<'a>(
        &'a self,
        job_id: &'a str,
        holder: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<u32, LedgerError>> {
        let (id, holder, reason) = (job_id.to_owned(), holder.to_owned(), reason.to_owned());
        self.with(move |conn| {
            let released = conn
                .query_row(
                    "UPDATE worker_jobs SET state = 'released', holder = NULL, lease_until = 0,
                         reason = ?3, updated_ms = ?4
                     WHERE job_id = ?1 AND state = 'leased' AND holder = ?2
                     RETURNING attempts",
                    params![id, holder, reason, now_ms()],
                    |row| row.get::<_, i64>(0),
                )
                .optional()?;
            match released {
                Some(attempts) => Ok(attempts as u32),
                // Lost the lease: report the count without touching the new holder.
                None => Ok(read(conn, &id)?.map_or(0, |(_, r)| r.attempts)),
            }
        })
    }

    fn fail_terminally<'a>(
        &'a self,
        job_id: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), LedgerError>> {
        let (id, reason) = (job_id.to_owned(), reason.to_owned());
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO worker_jobs (job_id, state, reason, updated_ms) VALUES (?1, 'failed', ?2, ?3)
                 ON CONFLICT (job_id) DO UPDATE SET
                     state = 'failed', holder = NULL, lease_until = 0,
                     reason = excluded.reason, updated_ms = excluded.updated_ms
                 WHERE worker_jobs.state <> 'done'",
                params![id, reason, now_ms()],
            )?;
            Ok(())
        })
    }

    fn get<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<JobRecord>, LedgerError>> {
        let id = job_id.to_owned();
        let work = self.with(move |conn| read(conn, &id));
        Box::pin(async move { checked(job_id, work.await?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_ledger_keeps_the_contract() {
        let ledger = SqliteLedger::in_memory().unwrap();
        super::super::conformance::check(&ledger).await;
    }

    #[tokio::test]
    async fn the_ledger_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let job = "01JD0000000000000000000000";
        {
            let ledger = SqliteLedger::open(&path).unwrap();
            assert!(matches!(
                ledger.lease(job, "a", 1, 10).await.unwrap(),
                Lease::Leased { attempt: 1, .. }
            ));
            ledger.complete(job).await.unwrap();
        }
        let ledger = SqliteLedger::open(&path).unwrap();
        assert_eq!(ledger.lease(job, "b", 99, 10).await.unwrap(), Lease::Done);
    }

    #[tokio::test]
    async fn a_restarted_owner_takes_back_abandoned_leases_at_once() {
        let ledger = SqliteLedger::in_memory().unwrap();
        let (held, done) = ("01JD0000000000000000000001", "01JD0000000000000000000002");
        ledger.lease(held, "old", 1_000, 60_000).await.unwrap();
        ledger.lease(done, "old", 1_000, 60_000).await.unwrap();
        ledger.complete(done).await.unwrap();
        assert!(matches!(
            ledger.lease(held, "new", 2_000, 60_000).await.unwrap(),
            Lease::Busy { .. }
        ));

        assert_eq!(ledger.release_abandoned().unwrap(), vec![held.to_owned()]);
        assert!(matches!(
            ledger.lease(held, "new", 2_000, 60_000).await.unwrap(),
            Lease::Leased { attempt: 2, .. }
        ));
        assert_eq!(
            ledger.lease(done, "new", 2_000, 60_000).await.unwrap(),
            Lease::Done
        );
    }

    #[tokio::test]
    async fn racing_leases_have_one_winner() {
        let ledger = SqliteLedger::in_memory().unwrap();
        let job = "01JD0000000000000000000000";
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let ledger = ledger.clone();
                tokio::spawn(async move { ledger.lease(job, &format!("w{i}"), 5, 1_000).await })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if matches!(task.await.unwrap().unwrap(), Lease::Leased { .. }) {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }
}
