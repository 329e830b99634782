//! The worker as an AWS Lambda function: S3 `ObjectCreated` notifications
//! for `jobs/{id}.json` (or SQS batches carrying them) in, videos out. Off
//! Lambda (`AWS_LAMBDA_RUNTIME_API` unset) with `DREAMREEL_QUEUE_URL` set, it
//! is the GPU host's long-running queue consumer instead ([`Worker::run_sqs`]),
//! stopping gracefully on SIGTERM.
//!
//! Build: `cargo lambda build --release --bin gpu-worker`. Configuration is
//! the environment (see gpu-worker/README.md).
//!
//! The payload is taken as raw JSON rather than `aws_lambda_events`' typed
//! `S3Event`: S3's `s3:TestEvent` has no `Records` and would fail typed
//! decoding before our code runs; the worker's parser still reads every
//! record with the typed `S3EventRecord`.
//!
//! A returned error makes Lambda retry the invocation (asynchronous
//! invocations are retried twice, with delays): that is how a busy job
//! (another worker's lease), a failed attempt, or a crashed invocation gets
//! its next attempt. Unreadable events return success, since no retry can
//! fix them.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use dreamreel_worker::{
    AwsSettings, DynamoLedger, JobLedger, S3Storage, SqliteLedger, SqsOptions, Worker, WorkerConfig,
};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (worker, aws) = build_worker().context("configuring the worker")?;
    dreamreel_worker::log::worker_event(
        "info",
        "worker started",
        json!({"worker_id": worker.config().worker_id, "model": worker.config().model}),
    );
    if var("AWS_LAMBDA_RUNTIME_API").is_none()
        && let Some(queue_url) = var("DREAMREEL_QUEUE_URL")
    {
        let mut options = SqsOptions::new(queue_url);
        if let Some(n) = var("DREAMREEL_CONCURRENCY") {
            options.concurrency = n
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| anyhow!("DREAMREEL_CONCURRENCY must be a positive integer"))?;
        }
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        let stop = async move {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        worker.run_sqs(aws.sqs_client(), options, stop).await;
        dreamreel_worker::log::worker_event("info", "worker stopped", json!({}));
        return Ok(());
    }
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(worker, event).await
    }))
    .await
}

fn build_worker() -> anyhow::Result<(Worker, AwsSettings)> {
    let config = WorkerConfig::from_env()?;
    let aws = AwsSettings::from_env()?;
    let storage = Arc::new(S3Storage::new(aws.s3_client(), config.bucket.clone()));
    dreamreel_worker::model_sync::sync_configured(&config, storage.as_ref())?;
    let worker = Worker::with_backend(config, ledger(&aws)?, storage)?;
    Ok((worker, aws))
}

/// DynamoDB when `DREAMREEL_LEDGER_TABLE` is set (production); a SQLite
/// file at `DREAMREEL_LEDGER_SQLITE` for a single worker host.
fn ledger(aws: &AwsSettings) -> anyhow::Result<Arc<dyn JobLedger>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(table) = var("DREAMREEL_LEDGER_TABLE") {
        return Ok(Arc::new(DynamoLedger::new(aws.dynamodb_client(), table)));
    }
    if let Some(path) = var("DREAMREEL_LEDGER_SQLITE") {
        return Ok(Arc::new(SqliteLedger::open(path)?));
    }
    Err(anyhow!(
        "set DREAMREEL_LEDGER_TABLE (DynamoDB) or DREAMREEL_LEDGER_SQLITE (a file path)"
    ))
}

async fn handle(worker: &Worker, event: LambdaEvent<Value>) -> anyhow::Result<Value> {
    let Ok(report) = worker.handle_event(&event.payload).await else {
        // Logged by the worker; a retry would read the same bytes.
        return Ok(json!({"skipped": "unreadable event"}));
    };
    let retry: Vec<&str> = report.retry_ids().collect();
    if !retry.is_empty() {
        return Err(anyhow!("jobs not settled, retry: {}", retry.join(", ")));
    }
    Ok(json!({
        "test_event": report.test_event,
        "jobs": report.jobs.iter().map(|j| json!({
            "job_id": j.job_id,
            "outcome": format!("{:?}", j.result.as_ref().ok()),
        })).collect::<Vec<_>>(),
        "skipped": report.skipped.len(),
    }))
}
