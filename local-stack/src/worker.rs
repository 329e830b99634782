//! The generation worker, in this process: the same `dreamreel_worker::Worker`
//! the Lambda runs, fed by the object store's events, talking S3 to the
//! object store with the app's own credentials and calling the app back.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use dreamreel_worker::{AwsSettings, QueueOptions, S3Storage, SqliteLedger, Worker, WorkerConfig};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::stack::{DEFAULT_BUCKET, StackConfig};
use crate::variables::Variables;

/// Starts the worker when the app uses object storage and callbacks (its
/// manifest declares `callback_key` and S3 credentials); `None` otherwise.
pub fn start(
    config: &StackConfig,
    variables: &Variables,
    app: SocketAddr,
    objects: SocketAddr,
    events: mpsc::UnboundedReceiver<Value>,
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
    aws.s3_endpoint = Some(format!("http://{objects}"));
    let storage = Arc::new(S3Storage::new(aws.s3_client(), bucket));
    let ledger = Arc::new(
        SqliteLedger::open(config.data_dir.join("jobs.sqlite"))
            .context("opening the job ledger")?,
    );
    let mut settings = WorkerConfig::new(bucket, &format!("http://{app}"), callback_key.as_bytes());
    settings.worker_id = "local-stack".to_owned();
    let worker = Worker::with_backend(settings, ledger, storage)?;
    Ok(Some(tokio::spawn(async move {
        worker.run_queue(events, QueueOptions::default()).await
    })))
}
