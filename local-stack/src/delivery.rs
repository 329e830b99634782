//! Delivers object-storage events to the worker in this process, the way a
//! queue would in production: one event at a time, and an event whose
//! handling fails is delivered again after a growing delay (like a queue's
//! visibility timeout), up to a bound. The worker's ledger makes redelivery
//! safe: a finished job is never redone.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};

/// Handles one event; an error asks for redelivery.
pub type Handler = Arc<dyn Fn(Value) -> anyhow::Result<()> + Send + Sync>;

/// How redelivery behaves.
#[derive(Debug, Clone, Copy)]
pub struct Redelivery {
    /// Deliveries of one event before it is dropped (and logged).
    pub max_deliveries: u32,
    /// Delay before the first redelivery; doubles each time.
    pub first_delay: Duration,
}

impl Default for Redelivery {
    fn default() -> Self {
        Self {
            max_deliveries: 8,
            first_delay: Duration::from_millis(500),
        }
    }
}

/// Runs until `shutdown` changes or the event channel closes. Handling runs on
/// a blocking thread: rendering a clip is CPU-bound.
pub async fn run(
    mut events: mpsc::UnboundedReceiver<Value>,
    handler: Handler,
    policy: Redelivery,
    mut shutdown: watch::Receiver<bool>,
) {
    let (retry_tx, mut retries) = mpsc::unbounded_channel::<(Value, u32)>();
    loop {
        let (event, delivery) = tokio::select! {
            Some(event) = events.recv() => (event, 1),
            Some(retry) = retries.recv() => retry,
            _ = shutdown.changed() => return,
            else => return,
        };
        let handler = handler.clone();
        let copy = event.clone();
        let outcome = tokio::task::spawn_blocking(move || handler(copy)).await;
        let error = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => format!("{e:#}"),
            Err(panic) => format!("the handler panicked: {panic}"),
        };
        if delivery >= policy.max_deliveries {
            crate::log::error(
                "-",
                &format!("worker: dropping an event after {delivery} deliveries: {error}"),
            );
            continue;
        }
        crate::log::error(
            "-",
            &format!("worker: delivery {delivery} failed, will redeliver: {error}"),
        );
        let delay = policy.first_delay * 2u32.saturating_pow(delivery - 1);
        let retry_tx = retry_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = retry_tx.send((event, delivery + 1));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn policy() -> Redelivery {
        Redelivery {
            max_deliveries: 3,
            first_delay: Duration::from_millis(5),
        }
    }

    async fn deliver(events: Vec<Value>, handler: Handler) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        for e in events {
            tx.send(e).unwrap();
        }
        let task = tokio::spawn(run(rx, handler, policy(), stopped));
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.send(true).unwrap();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn failed_deliveries_are_retried_until_they_succeed() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handler: Handler = Arc::new(move |e: Value| {
            let mut log = log.lock().unwrap();
            log.push(e.clone());
            // Fails on its first delivery only.
            if log.iter().filter(|v| **v == e).count() == 1 {
                anyhow::bail!("transient");
            }
            Ok(())
        });
        deliver(vec![Value::from(1)], handler).await;
        assert_eq!(*seen.lock().unwrap(), vec![Value::from(1), Value::from(1)]);
    }

    #[tokio::test]
    async fn an_event_that_always_fails_is_dropped_after_the_bound() {
        let count = Arc::new(Mutex::new(0));
        let c = count.clone();
        let handler: Handler = Arc::new(move |_| {
            *c.lock().unwrap() += 1;
            anyhow::bail!("always")
        });
        deliver(vec![Value::from("x")], handler).await;
        assert_eq!(*count.lock().unwrap(), 3);
    }
}
