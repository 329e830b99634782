//! Push delivery, in this process: `dreamreel_push::Dispatcher` follows the
//! push outbox in the app's key-value store and delivers to APNs and Web
//! Push. Off unless a platform is configured (no phone is reachable from a
//! laptop without Apple's keys); in production the same dispatcher runs as
//! its own service.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;
use dreamreel_push::{Apns, ApnsConfig, Dispatcher, Es256Key, Vapid, WebPush};
use tokio::sync::watch;

use crate::kv::{LabelledStore, SqliteKv};

/// Which push services to reach, and as whom.
#[derive(Debug, Clone, Default)]
pub struct PushSettings {
    /// APNs endpoint, team, key and topic.
    pub apns: Option<ApnsConfig>,
    /// The VAPID identity for Web Push.
    pub vapid: Option<Vapid>,
    /// Extra CA certificates (PEM) to trust for Web Push endpoints.
    pub extra_ca_pem: Option<String>,
}

impl PushSettings {
    /// From `DREAMREEL_APNS_*`, `DREAMREEL_VAPID_*` and `DREAMREEL_PUSH_CA_FILE`
    /// (see README); a platform is on when its key file is named.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let extra_ca_pem = var("DREAMREEL_PUSH_CA_FILE").map(read).transpose()?;
        let apns = match var("DREAMREEL_APNS_KEY_FILE") {
            None => None,
            Some(file) => {
                let need = |name: &str| {
                    var(name)
                        .with_context(|| format!("{name} is required with DREAMREEL_APNS_KEY_FILE"))
                };
                Some(ApnsConfig {
                    endpoint: var("DREAMREEL_APNS_ENDPOINT")
                        .unwrap_or_else(|| dreamreel_push::apns::PRODUCTION.to_owned()),
                    team_id: need("DREAMREEL_APNS_TEAM_ID")?,
                    key_id: need("DREAMREEL_APNS_KEY_ID")?,
                    topic: need("DREAMREEL_APNS_TOPIC")?,
                    key: Es256Key::from_pkcs8_pem(&read(file)?)?,
                    extra_ca_pem: extra_ca_pem.clone(),
                })
            }
        };
        let vapid = match var("DREAMREEL_VAPID_KEY_FILE") {
            None => None,
            Some(file) => Some(Vapid {
                key: Es256Key::from_pkcs8_pem(&read(file)?)?,
                subject: var("DREAMREEL_VAPID_SUBJECT")
                    .context("DREAMREEL_VAPID_SUBJECT (mailto: or https:) is required with DREAMREEL_VAPID_KEY_FILE")?,
            }),
        };
        Ok(Self {
            apns,
            vapid,
            extra_ca_pem,
        })
    }

    /// Whether any platform is configured.
    pub fn is_enabled(&self) -> bool {
        self.apns.is_some() || self.vapid.is_some()
    }
}

fn read(path: String) -> anyhow::Result<String> {
    std::fs::read_to_string(Path::new(&path)).with_context(|| format!("reading {path}"))
}

/// Starts the dispatcher on its own thread (the core's store futures are
/// not `Send`); it stops when `shutdown` changes. `None` when push is off.
pub fn start(
    kv: Arc<SqliteKv>,
    settings: &PushSettings,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    if !settings.is_enabled() {
        return Ok(None);
    }
    let apns = settings.apns.clone().map(Apns::new).transpose()?;
    let webpush = settings
        .vapid
        .clone()
        .map(|vapid| WebPush::new(vapid, settings.extra_ca_pem.as_deref()))
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the push runtime")?;
    let thread = std::thread::Builder::new()
        .name("push".into())
        .spawn(move || {
            let dispatcher = Dispatcher::new(LabelledStore::new(&kv, "default"), apns, webpush);
            runtime.block_on(dispatcher.run(shutdown));
        })
        .context("starting the push thread")?;
    Ok(Some(thread))
}
