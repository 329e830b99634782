//! The GPU host's queue consumer: S3 notifications from an SQS queue.
//!
//! Each message body is an S3 notification (what the Lambda gets). A
//! message is deleted once the worker has settled every job it names, or
//! when its body cannot be read (no redelivery can fix it). Otherwise it
//! stays in the queue and comes back after a delay set with
//! ChangeMessageVisibility (a busy job: when the other lease runs out);
//! the queue's redrive policy moves it to the dead-letter queue after a
//! few receives, and the ledger bounds real attempts meanwhile.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::Message;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::log::worker_event;
use crate::outcome::{JobError, Report};
use crate::pipeline::Worker;

/// SQS's cap on messages per ReceiveMessage.
const MAX_BATCH: usize = 10;
/// SQS's cap on a visibility timeout (12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// How [`Worker::run_sqs`] polls and schedules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsOptions {
    /// The queue's URL.
    pub queue_url: String,
    /// Messages handled at once.
    pub concurrency: usize,
    /// Long-poll wait per ReceiveMessage (SQS allows up to 20 s).
    pub wait: Duration,
    /// Delay before a message whose attempt failed is received again.
    pub retry_delay: Duration,
    /// Slack added to a busy job's lease expiry before it is received again.
    pub busy_slack: Duration,
    /// Pause after a failed ReceiveMessage (SQS or the network down).
    pub error_backoff: Duration,
}

impl SqsOptions {
    /// Production defaults for `queue_url`: one message at a time, 20 s polls.
    pub fn new(queue_url: impl Into<String>) -> Self {
        SqsOptions {
            queue_url: queue_url.into(),
            concurrency: 1,
            wait: Duration::from_secs(20),
            retry_delay: Duration::from_secs(30),
            busy_slack: Duration::from_secs(5),
            error_backoff: Duration::from_secs(5),
        }
    }
}

impl Worker {
    /// Consumes `options.queue_url` until `stop` completes (SIGTERM), then
    /// finishes the messages in hand and returns. A poll in progress when
    /// `stop` comes is abandoned; anything it had received becomes visible
    /// again after the queue's visibility timeout, so nothing is lost.
    pub async fn run_sqs(
        &self,
        sqs: aws_sdk_sqs::Client,
        options: SqsOptions,
        stop: impl Future<Output = ()>,
    ) {
        let options = Arc::new(options);
        let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        tokio::pin!(stop);
        worker_event(
            "info",
            "consuming the job queue",
            json!({"queue_url": options.queue_url, "concurrency": options.concurrency}),
        );
        loop {
            // Ask only for as many messages as there are free slots, so none
            // waits here while its visibility timeout runs.
            let first = tokio::select! {
                permit = permits.clone().acquire_owned() => permit.expect("never closed"),
                () = &mut stop => break,
            };
            let mut slots = vec![first];
            while slots.len() < MAX_BATCH {
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => slots.push(permit),
                    Err(_) => break,
                }
            }
            let received = tokio::select! {
                received = receive(&sqs, &options, slots.len()) => received,
                () = &mut stop => break,
            };
            match received {
                Ok(messages) => {
                    for (message, permit) in messages.into_iter().zip(slots) {
                        let (worker, sqs, options) = (self.clone(), sqs.clone(), options.clone());
                        tasks.spawn(async move {
                            worker.handle_message(&sqs, &options, message).await;
                            drop(permit);
                        });
                    }
                }
                Err(error) => {
                    worker_event(
                        "error",
                        "receiving from the job queue failed",
                        json!({"error": error}),
                    );
                    tokio::select! {
                        () = tokio::time::sleep(options.error_backoff) => {}
                        () = &mut stop => break,
                    }
                }
            }
            while tasks.try_join_next().is_some() {}
        }
        worker_event(
            "info",
            "stopping: finishing the messages in hand",
            json!({"in_flight": tasks.len()}),
        );
        while tasks.join_next().await.is_some() {}
    }

    async fn handle_message(
        &self,
        sqs: &aws_sdk_sqs::Client,
        options: &SqsOptions,
        message: Message,
    ) {
        let id = message.message_id().unwrap_or_default().to_owned();
        let Some(receipt) = message.receipt_handle() else {
            return;
        };
        let body = message.body().unwrap_or_default();
        let event: Value = match serde_json::from_str(body) {
            Ok(event) => event,
            Err(e) => {
                worker_event(
                    "error",
                    "unreadable queue message deleted",
                    json!({"message_id": id, "error": e.to_string()}),
                );
                delete(sqs, options, &id, receipt).await;
                return;
            }
        };
        // Err: unreadable as an S3 notification, logged by handle_event.
        let Ok(report) = self.handle_event(&event).await else {
            delete(sqs, options, &id, receipt).await;
            return;
        };
        if !report.needs_retry() {
            delete(sqs, options, &id, receipt).await;
            return;
        }
        let delay = retry_delay(&report, options).min(MAX_VISIBILITY);
        let retry: Vec<&str> = report.retry_ids().collect();
        worker_event(
            "warn",
            "jobs not settled; the message will be received again",
            json!({"message_id": id, "retry": retry, "delay_s": delay.as_secs()}),
        );
        let changed = sqs
            .change_message_visibility()
            .queue_url(&options.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_seconds(delay))
            .send()
            .await;
        if let Err(e) = changed {
            // The queue's own visibility timeout still brings it back.
            worker_event(
                "warn",
                "could not shorten the message's visibility",
                json!({"message_id": id, "error": error_text(&e)}),
            );
        }
    }
}

/// The longest wait any unsettled job in `report` asks for.
fn retry_delay(report: &Report, options: &SqsOptions) -> Duration {
    let job_waits = report.jobs.iter().filter_map(|job| {
        Some(match job.result.as_ref().err()? {
            JobError::Busy { until_ms } => {
                Duration::from_millis(until_ms.saturating_sub(crate::now_ms())) + options.busy_slack
            }
            _ => options.retry_delay,
        })
    });
    let captions = (!report.captions_unsettled.is_empty()).then_some(options.retry_delay);
    job_waits
        .chain(captions)
        .max()
        .unwrap_or(options.retry_delay)
}

/// `delay` in whole seconds, rounded up so a busy job is not received
/// again before its lease runs out.
fn whole_seconds(delay: Duration) -> i32 {
    let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    options: &SqsOptions,
    max: usize,
) -> Result<Vec<Message>, String> {
    let output = sqs
        .receive_message()
        .queue_url(&options.queue_url)
        .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
        .wait_time_seconds(options.wait.as_secs().min(20) as i32)
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    Ok(output.messages.unwrap_or_default())
}

async fn delete(sqs: &aws_sdk_sqs::Client, options: &SqsOptions, id: &str, receipt: &str) {
    let deleted = sqs
        .delete_message()
        .queue_url(&options.queue_url)
        .receipt_handle(receipt)
        .send()
        .await;
    if let Err(e) = deleted {
        // The job is settled in the ledger: a redelivery finds it done.
        worker_event(
            "warn",
            "could not delete a handled message",
            json!({"message_id": id, "error": error_text(&e)}),
        );
    }
}

/// The SDK error with its causes (its Display alone says "service error").
fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
