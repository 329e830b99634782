//! The generation worker, in this process: the same `dreamreel_worker::Worker`
//! the Lambda runs, fed by the object store's events, talking S3 to the
//! object store with the app's own credentials and calling the app back.
//!
//! Events live in memory, so a stop would lose the ones not yet settled. S3
//! and a queue would deliver those again; the stack does the same at start:
//! every job spec in the bucket that the ledger has not settled is announced
//! again, and leases the previous run held are released at once. Caption
//! jobs (`captions/`) are deleted once done, so every one still there is
//! announced again too.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use dreamreel_core::jobs::caption::{CAPTIONS_PREFIX, caption_id_from_key};
use dreamreel_core::jobs::spec::{JOBS_PREFIX, job_id_from_key};
use dreamreel_worker::{
    AwsSettings, JobLedger, QueueOptions, S3Storage, SqliteLedger, Worker, WorkerConfig,
};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::objects::{ListQuery, ObjectStore};
use crate::stack::{DEFAULT_BUCKET, StackConfig};
use crate::variables::Variables;

/// Where the worker's events come from and go to.
pub struct EventChannel {
    /// Feeds the worker (the object store holds a clone).
    pub sender: mpsc::UnboundedSender<Value>,
    /// What the worker reads.
    pub receiver: mpsc::UnboundedReceiver<Value>,
}

/// Starts the worker when the app uses object storage and callbacks (its
/// manifest declares `callback_key` and S3 credentials); `None` otherwise.
pub fn start(
    config: &StackConfig,
    variables: &Variables,
    app: SocketAddr,
    objects: (SocketAddr, &ObjectStore),
    events: EventChannel,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let (Some(callback_key), Some(key_id), Some(secret)) = (
        variables.app("callback_key"),
        variables.app("s3_access_key_id"),
        variables.app("s3_secret_access_key"),
    ) else {
        return Ok(None);
    };
    let bucket = variables.app("s3_bucket").unwrap_or(DEFAULT_BUCKET);
    let mut aws = AwsSettings::new(
        variables.app("s3_region").unwrap_or("us-east-1"),
        key_id,
        secret,
    );
    aws.s3_endpoint = Some(format!("http://{}", objects.0));
    let storage = Arc::new(S3Storage::new(aws.s3_client(), bucket));
    let ledger = SqliteLedger::open(config.data_dir.join("jobs.sqlite"))
        .context("opening the job ledger")?;
    let released = ledger
        .release_abandoned()
        .context("releasing leases of the previous run")?;
    let mut settings = WorkerConfig::new(bucket, &format!("http://{app}"), callback_key.as_bytes());
    settings.worker_id = "local-stack".to_owned();
    // Off unless asked for: loading the model costs seconds at every start.
    settings.embedding_model = config
        .embedding_model
        .clone()
        .or_else(|| std::env::var_os("DREAMREEL_EMBEDDING_MODEL").map(std::path::PathBuf::from));
    // Frame checks run when a policy directory is named (docs/SAFETY.md,
    // "Frame checks"): off by default, so the stack starts without one.
    settings.frame_policy = std::env::var_os("DREAMREEL_FRAME_POLICY").map(Into::into);
    // Local videos are signed too, with a development chain made once here.
    settings.c2pa = Some(
        dreamreel_worker::provenance::development_signer(&config.data_dir.join("c2pa"))
            .context("C2PA development credentials")?,
    );
    let worker = Worker::with_backend(settings, Arc::new(ledger.clone()), storage)?;
    let recovery = Recovery {
        objects: objects.1.clone(),
        bucket: bucket.to_owned(),
        ledger,
        events: events.sender,
        released: released.len(),
    };
    Ok(Some(tokio::spawn(async move {
        recovery.run().await;
        worker
            .run_queue(events.receiver, QueueOptions::default())
            .await
    })))
}

/// Announces again the jobs a previous run left unsettled.
struct Recovery {
    objects: ObjectStore,
    bucket: String,
    ledger: SqliteLedger,
    events: mpsc::UnboundedSender<Value>,
    released: usize,
}

impl Recovery {
    async fn run(self) {
        match self.announce_unsettled().await {
            Ok(0) => {}
            Ok(n) => crate::log::info(
                "worker-recovery",
                &format!(
                    "{n} unsettled job(s) and caption(s) announced again; {} lease(s) released",
                    self.released
                ),
            ),
            Err(e) => crate::log::error(
                "worker-recovery",
                &format!("could not look for unsettled jobs: {e:#}"),
            ),
        }
    }

    /// Walks `jobs/` and `captions/` (a start-up sweep, never a request
    /// path) and sends an `ObjectCreated` event for each spec whose job is
    /// not final and each caption job still there.
    async fn announce_unsettled(&self) -> anyhow::Result<usize> {
        Ok(self.announce(JOBS_PREFIX).await? + self.announce(CAPTIONS_PREFIX).await?)
    }

    async fn announce(&self, prefix: &str) -> anyhow::Result<usize> {
        let mut query = ListQuery {
            prefix: prefix.to_owned(),
            ..ListQuery::default()
        };
        let mut announced = 0;
        loop {
            let page = self.objects.list(&self.bucket, &query).await?;
            for object in &page.objects {
                let Some(job_id) =
                    job_id_from_key(&object.key).or_else(|| caption_id_from_key(&object.key))
                else {
                    continue;
                };
                // Only job specs have a ledger entry.
                let settled = prefix == JOBS_PREFIX
                    && self
                        .ledger
                        .get(job_id)
                        .await?
                        .is_some_and(|record| record.state.is_final());
                if !settled {
                    let event = self.objects.object_created_event(
                        &self.bucket,
                        object,
                        "dreamreel-local",
                        "127.0.0.1",
                        &format!("recovery-{job_id}"),
                    );
                    // A closed channel means the stack is stopping.
                    if self.events.send(event).is_err() {
                        return Ok(announced);
                    }
                    announced += 1;
                }
            }
            match page.next_continuation_token {
                Some(token) if page.is_truncated => query.continuation_token = Some(token),
                _ => return Ok(announced),
            }
        }
    }
}
