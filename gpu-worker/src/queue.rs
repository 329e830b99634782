//! A long-running event loop: events from a channel (the local object
//! store's notifications, or a queue consumer on a GPU host), with the
//! redelivery that Lambda or SQS would otherwise provide.
//!
//! A job this delivery did not settle is tried again: a busy job just after
//! the other holder's lease runs out (so a crashed worker's job is picked up),
//! a failed attempt after `retry_delay`. The ledger bounds real attempts;
//! `max_deliveries` only stops a job from cycling forever while the ledger
//! itself is down.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::log::JobLog;
use crate::outcome::JobError;
use crate::pipeline::Worker;

/// How [`Worker::run_queue`] schedules work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// Jobs rendering at once (each render uses one core).
    pub concurrency: usize,
    /// Wait before redelivering a job whose attempt failed.
    pub retry_delay: Duration,
    /// Slack added to a busy job's lease expiry before trying again.
    pub busy_slack: Duration,
    /// Deliveries per job per event, busy ones not counted.
    pub max_deliveries: u32,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            concurrency: 1,
            retry_delay: Duration::from_secs(2),
            busy_slack: Duration::from_millis(250),
            max_deliveries: 20,
        }
    }
}

impl Worker {
    /// Handles events from `events` until the channel closes and every
    /// job in flight (retries included) has settled.
    pub async fn run_queue(
        &self,
        mut events: mpsc::UnboundedReceiver<Value>,
        options: QueueOptions,
    ) {
        let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        while let Some(event) = events.recv().await {
            let (worker, permits) = (self.clone(), permits.clone());
            tasks.spawn(async move { worker.deliver(event, &permits, options).await });
            // Reap finished deliveries so the set does not grow without bound.
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn deliver(&self, event: Value, permits: &Semaphore, options: QueueOptions) {
        let report = {
            let _permit = permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            // Unreadable events are logged by handle_event; nothing to retry.
            let Ok(report) = self.handle_event(&event).await else {
                return;
            };
            report
        };
        let retries: Vec<(String, Duration)> = report
            .jobs
            .iter()
            .filter_map(|job| {
                let wait = self.wait_before_retry(job.result.as_ref().err()?, options);
                Some((job.job_id.clone(), wait))
            })
            .collect();
        for (job_id, wait) in retries {
            self.redeliver(&job_id, wait, permits, options).await;
        }
    }

    async fn redeliver(
        &self,
        job_id: &str,
        mut wait: Duration,
        permits: &Semaphore,
        options: QueueOptions,
    ) {
        let mut deliveries = 1;
        loop {
            tokio::time::sleep(wait).await;
            let result = {
                let _permit = permits
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                self.run_job(job_id).await
            };
            let Err(e) = result else { return };
            if !matches!(e, JobError::Busy { .. }) {
                deliveries += 1;
            }
            if deliveries >= options.max_deliveries {
                JobLog::new(job_id).error(
                    "redelivery limit reached; dropping the job",
                    json!({"deliveries": deliveries, "error": e.to_string()}),
                );
                return;
            }
            wait = self.wait_before_retry(&e, options);
        }
    }

    fn wait_before_retry(&self, error: &JobError, options: QueueOptions) -> Duration {
        match error {
            JobError::Busy { until_ms } => {
                Duration::from_millis(until_ms.saturating_sub(crate::now_ms())) + options.busy_slack
            }
            _ => options.retry_delay,
        }
    }
}
