//! Follows the push outbox shard by shard and delivers each queued
//! notification to every device of its member.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use dreamreel_core::notifications::push::{self, PUSH_SHARDS, PushIntent};
use dreamreel_core::notifications::{Device, NotificationView, Target, remove_device};
use dreamreel_core::{ApiError, Store};
use serde_json::json;
use tokio::sync::watch;

use crate::{Apns, SendError, WebPush};

/// Intents read from one shard per round.
const BATCH: usize = 50;
/// Temporary failures before a push is given up.
const MAX_ATTEMPTS: u32 = 5;
/// Pause between rounds when the outbox is empty.
const IDLE: Duration = Duration::from_millis(200);

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    /// Pushes the services accepted.
    pub sent: usize,
    /// Devices removed because the service said they are gone.
    pub removed_devices: usize,
    /// Pushes given up (refused, or too many temporary failures).
    pub dropped: usize,
    /// Shards left waiting on a temporary failure.
    pub retrying: usize,
}

/// Delivers the outbox of `store`.
pub struct Dispatcher<S> {
    store: S,
    apns: Option<Apns>,
    webpush: Option<WebPush>,
    attempts: Mutex<HashMap<(String, u64), u32>>,
}

impl<S: Store> Dispatcher<S> {
    /// A dispatcher; a platform without a sender is skipped (logged).
    pub fn new(store: S, apns: Option<Apns>, webpush: Option<WebPush>) -> Self {
        Self {
            store,
            apns,
            webpush,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The store it reads and writes.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Rounds until `shutdown` changes.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let busy = match self.run_once().await {
                Ok(report) => report.sent + report.dropped + report.removed_devices > 0,
                Err(e) => {
                    log("error", "push round failed", json!({ "error": e.message }));
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(IDLE) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One pass over every shard.
    pub async fn run_once(&self) -> Result<DispatchReport, ApiError> {
        let mut report = DispatchReport::default();
        for shard in 0..PUSH_SHARDS {
            let pending = push::pending(&self.store, shard, BATCH).await?;
            let mut done = None;
            for (intent, cursor) in &pending {
                match self.deliver(intent, &mut report).await? {
                    Outcome::Settled => done = Some(*cursor),
                    Outcome::Retry => {
                        report.retrying += 1;
                        break;
                    }
                }
            }
            if let Some(cursor) = done {
                push::commit(&self.store, shard, cursor).await?;
            }
        }
        Ok(report)
    }

    /// Sends one intent to each device; `Retry` leaves it for the next round.
    async fn deliver(
        &self,
        intent: &PushIntent,
        report: &mut DispatchReport,
    ) -> Result<Outcome, ApiError> {
        let now_ms = crate::now_secs() * 1000;
        let Some((view, devices)) = push::prepare(&self.store, intent, now_ms).await? else {
            return Ok(Outcome::Settled);
        };
        let mut retry = None;
        for device in &devices {
            match self.send(device, &view).await {
                Ok(()) => report.sent += 1,
                Err(SendError::Gone(why)) => {
                    if remove_device(&self.store, &intent.user, &device.id).await? {
                        report.removed_devices += 1;
                    }
                    log(
                        "info",
                        "device gone",
                        json!({ "device_id": device.id, "why": why }),
                    );
                }
                Err(SendError::Rejected(why)) => {
                    report.dropped += 1;
                    log(
                        "warn",
                        "push refused",
                        json!({ "device_id": device.id, "why": why }),
                    );
                }
                Err(SendError::Retry(why)) => retry = Some(why),
            }
        }
        let Some(why) = retry else {
            self.forget(intent);
            return Ok(Outcome::Settled);
        };
        let attempts = self.count_attempt(intent);
        if attempts >= MAX_ATTEMPTS {
            report.dropped += 1;
            log(
                "warn",
                "push given up",
                json!({ "user_id": intent.user, "seq": intent.seq, "why": why }),
            );
            self.forget(intent);
            return Ok(Outcome::Settled);
        }
        Ok(Outcome::Retry)
    }

    async fn send(&self, device: &Device, view: &NotificationView) -> Result<(), SendError> {
        match (&device.target, &self.apns, &self.webpush) {
            (Target::Apns { token }, Some(apns), _) => apns.send(token, view).await,
            (
                Target::Webpush {
                    endpoint,
                    p256dh,
                    auth,
                },
                _,
                Some(webpush),
            ) => webpush.send(endpoint, p256dh, auth, view).await,
            _ => Err(SendError::Rejected(
                "this platform is not configured".into(),
            )),
        }
    }

    fn count_attempt(&self, intent: &PushIntent) -> u32 {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let n = attempts
            .entry((intent.user.clone(), intent.seq))
            .or_insert(0);
        *n += 1;
        *n
    }

    fn forget(&self, intent: &PushIntent) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.remove(&(intent.user.clone(), intent.seq));
    }
}

enum Outcome {
    Settled,
    Retry,
}

fn log(level: &str, message: &str, fields: serde_json::Value) {
    let mut line = json!({ "level": level, "source": "push", "message": message });
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    eprintln!("{line}");
}
