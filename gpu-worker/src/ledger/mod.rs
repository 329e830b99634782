//! The job ledger: exactly-once effect on at-least-once delivery.
//!
//! S3 notifications and queue messages may arrive twice, late, or while
//! another worker is still on the job. Before any work a worker takes a
//! *lease* on the job: one holder at a time, with an expiry so a crashed
//! worker's job is picked up again. Every lease counts an attempt; a job that
//! completed or failed terminally is never leased again.
//!
//! The trait is async (boxed futures, so it stays object-safe and a
//! `Worker` can hold `Arc<dyn JobLedger>`): DynamoDB is a network call, and
//! the SQLite ledger moves its work to the blocking pool.
//!
//! Leases are held by a *token* (see [`lease_token`]) rather than the bare
//! worker id, so two deliveries of one job to the same process never mistake
//! each other's lease for their own.

pub mod dynamo;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use thiserror::Error;

pub use dynamo::DynamoLedger;
pub use sqlite::SqliteLedger;

/// A boxed, sendable future, as the ledger and storage traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What [`JobLedger::lease`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// The caller now holds the lease; `attempt` counts from 1.
    Leased {
        /// Which attempt this is, counting every lease ever taken.
        attempt: u32,
        /// Reason recorded by the previous failed attempt, if any.
        last_error: Option<String>,
    },
    /// Another holder's lease is live; try again after it expires.
    Busy {
        /// When that lease runs out, Unix milliseconds.
        until_ms: u64,
    },
    /// Completed or failed terminally: never redo.
    Done,
}

/// A job's state in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Someone holds (or held, if expired) the lease.
    Leased,
    /// The last attempt failed and let go; the next delivery may retry.
    Released,
    /// Finished: the video was reported to the edge.
    Completed,
    /// Given up on, or refused by the edge; never retried.
    Failed,
}

impl JobState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Leased => "leased",
            JobState::Released => "released",
            JobState::Completed => "done",
            JobState::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<JobState> {
        [
            JobState::Leased,
            JobState::Released,
            JobState::Completed,
            JobState::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// True for states that must never be worked on again.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed)
    }
}

/// One job's ledger entry, for inspection and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// Where the job stands.
    pub state: JobState,
    /// Lease token of the current (or last) holder, while leased.
    pub holder: Option<String>,
    /// Lease expiry, Unix milliseconds (0 when not leased).
    pub lease_until_ms: u64,
    /// Leases taken so far.
    pub attempts: u32,
    /// Last failure or refusal reason.
    pub reason: Option<String>,
}

/// Why the ledger could not answer. Always worth retrying later.
#[derive(Debug, Error)]
pub enum LedgerError {
    /// The backing store failed (SQLite, DynamoDB, the network).
    #[error("job ledger unavailable: {0}")]
    Backend(String),
    /// A stored record is not one this code wrote.
    #[error("job ledger record for {job_id} is corrupt: {detail}")]
    Corrupt {
        /// The job.
        job_id: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// Exactly-once bookkeeping for jobs delivered at least once.
pub trait JobLedger: Send + Sync {
    /// Takes the lease on `job_id` for `holder` until `now_ms + lease_ms`,
    /// unless a live lease exists (`Busy`) or the job is final (`Done`).
    /// An expired lease is taken over; every successful lease counts an attempt.
    fn lease<'a>(
        &'a self,
        job_id: &'a str,
        holder: &'a str,
        now_ms: u64,
        lease_ms: u64,
    ) -> BoxFuture<'a, Result<Lease, LedgerError>>;

    /// Extends `holder`'s lease to `now_ms + lease_ms`; `false` if it no
    /// longer holds it (expired and taken over, or the job ended).
    fn renew<'a>(
        &'a self,
        job_id: &'a str,
        holder: &'a str,
        now_ms: u64,
        lease_ms: u64,
    ) -> BoxFuture<'a, Result<bool, LedgerError>>;

    /// Marks the job completed, whoever holds it: the video exists, so it is never redone.
    fn complete<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<(), LedgerError>>;

    /// Records a failed attempt and releases `holder`'s lease so a
    /// redelivery may retry at once; returns the attempts so far.
    /// A holder that lost its lease leaves the new holder's lease alone.
    fn record_failure<'a>(
        &'a self,
        job_id: &'a str,
        holder: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<u32, LedgerError>>;

    /// Ends the job as failed with `reason`; never retried. A completed job stays completed.
    fn fail_terminally<'a>(
        &'a self,
        job_id: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), LedgerError>>;

    /// The job's entry, if it was ever leased.
    fn get<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<JobRecord>, LedgerError>>;
}

/// A fresh lease token for `worker_id`: the id plus 8 random bytes.
pub fn lease_token(worker_id: &str) -> String {
    format!("{worker_id}#{}", crate::random_hex(8))
}

pub mod conformance {
    //! The semantics every [`JobLedger`] must have, as one check that tests
    //! run against each implementation (this crate's, and any added later).
    //! It panics on the first violation.

    use super::*;

    const JOB: &str = "01JD0000000000000000000000";

    /// Runs the whole contract on a fresh (empty) ledger, with explicit
    /// clock values so expiry is tested without sleeping.
    pub async fn check(ledger: &dyn JobLedger) {
        first_lease_then_busy_then_takeover(ledger, "01JDA000000000000000000000").await;
        failures_release_and_count(ledger, "01JDB000000000000000000000").await;
        final_states_are_never_redone(ledger, "01JDC000000000000000000000").await;
        renew_needs_the_lease(ledger, "01JDD000000000000000000000").await;
        racing_leases_have_one_winner(ledger, "01JDE000000000000000000000").await;
        assert_eq!(ledger.get(JOB).await.unwrap(), None);
    }

    async fn first_lease_then_busy_then_takeover(ledger: &dyn JobLedger, job: &str) {
        assert_eq!(
            ledger.lease(job, "a", 1_000, 500).await.unwrap(),
            Lease::Leased {
                attempt: 1,
                last_error: None
            }
        );
        // Same process or another: a live lease is busy until it expires.
        assert_eq!(
            ledger.lease(job, "b", 1_499, 500).await.unwrap(),
            Lease::Busy { until_ms: 1_500 }
        );
        assert_eq!(
            ledger.lease(job, "b", 1_500, 500).await.unwrap(),
            Lease::Leased {
                attempt: 2,
                last_error: None
            }
        );
        // The old holder lost it: it cannot renew, and its failure does not release b.
        assert!(!ledger.renew(job, "a", 1_600, 500).await.unwrap());
        assert_eq!(ledger.record_failure(job, "a", "late").await.unwrap(), 2);
        let record = ledger.get(job).await.unwrap().unwrap();
        assert_eq!(record.state, JobState::Leased);
        assert_eq!(record.holder.as_deref(), Some("b"));
        assert_eq!(record.lease_until_ms, 2_000);
    }

    async fn failures_release_and_count(ledger: &dyn JobLedger, job: &str) {
        assert!(matches!(
            ledger.lease(job, "a", 1_000, 60_000).await.unwrap(),
            Lease::Leased { attempt: 1, .. }
        ));
        assert_eq!(
            ledger
                .record_failure(job, "a", "model crashed")
                .await
                .unwrap(),
            1
        );
        let record = ledger.get(job).await.unwrap().unwrap();
        assert_eq!(record.state, JobState::Released);
        assert_eq!(record.reason.as_deref(), Some("model crashed"));
        // Released: the next delivery retries at once, long before the old expiry.
        assert_eq!(
            ledger.lease(job, "b", 1_001, 60_000).await.unwrap(),
            Lease::Leased {
                attempt: 2,
                last_error: Some("model crashed".into())
            }
        );
    }

    async fn final_states_are_never_redone(ledger: &dyn JobLedger, job: &str) {
        let failed = format!("{}F", &job[..25]);
        assert!(matches!(
            ledger.lease(job, "a", 1_000, 500).await.unwrap(),
            Lease::Leased { .. }
        ));
        ledger.complete(job).await.unwrap();
        // Far past any expiry, and again: done is done.
        for now in [1_001, 1_000_000] {
            assert_eq!(ledger.lease(job, "b", now, 500).await.unwrap(), Lease::Done);
        }
        ledger.fail_terminally(job, "too late").await.unwrap();
        assert_eq!(
            ledger.get(job).await.unwrap().unwrap().state,
            JobState::Completed
        );

        assert!(matches!(
            ledger.lease(&failed, "a", 1_000, 500).await.unwrap(),
            Lease::Leased { .. }
        ));
        ledger.fail_terminally(&failed, "bad spec").await.unwrap();
        assert_eq!(
            ledger.lease(&failed, "b", 1_000_000, 500).await.unwrap(),
            Lease::Done
        );
        let record = ledger.get(&failed).await.unwrap().unwrap();
        assert_eq!(record.state, JobState::Failed);
        assert_eq!(record.reason.as_deref(), Some("bad spec"));
        assert_eq!(record.holder, None);
    }

    async fn racing_leases_have_one_winner(ledger: &dyn JobLedger, job: &str) {
        // Four workers at the same instant, in flight together.
        let results = tokio::join!(
            ledger.lease(job, "a", 1_000, 500),
            ledger.lease(job, "b", 1_000, 500),
            ledger.lease(job, "c", 1_000, 500),
            ledger.lease(job, "d", 1_000, 500),
        );
        let results = [results.0, results.1, results.2, results.3].map(Result::unwrap);
        let winners = results
            .iter()
            .filter(|r| matches!(r, Lease::Leased { attempt: 1, .. }))
            .count();
        assert_eq!(winners, 1, "{results:?}");
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Lease::Leased { .. } | Lease::Busy { until_ms: 1_500 }))
        );
        // After expiry, two racers again: one takes attempt 2.
        let (x, y) = tokio::join!(
            ledger.lease(job, "x", 1_500, 500),
            ledger.lease(job, "y", 1_500, 500)
        );
        let leased = [x.unwrap(), y.unwrap()]
            .into_iter()
            .filter(|r| matches!(r, Lease::Leased { attempt: 2, .. }))
            .count();
        assert_eq!(leased, 1);
    }

    async fn renew_needs_the_lease(ledger: &dyn JobLedger, job: &str) {
        assert!(!ledger.renew(job, "a", 1_000, 500).await.unwrap());
        assert!(matches!(
            ledger.lease(job, "a", 1_000, 500).await.unwrap(),
            Lease::Leased { .. }
        ));
        assert!(ledger.renew(job, "a", 1_400, 500).await.unwrap());
        // Renewed to 1900: at 1600 the lease is still live.
        assert_eq!(
            ledger.lease(job, "b", 1_600, 500).await.unwrap(),
            Lease::Busy { until_ms: 1_900 }
        );
        ledger.complete(job).await.unwrap();
        assert!(!ledger.renew(job, "a", 1_700, 500).await.unwrap());
    }
}
