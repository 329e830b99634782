//! The benchmark's native baseline: the same core functions the accounts
//! component calls, run in this process on the same SQLite file.

use dreamreel_core::accounts::{self, AccountsConfig};
use dreamreel_core::testing::block_on;
use dreamreel_local::admin::SystemEnv;
use dreamreel_local::kv::{LabelledStore, SqliteKv};

use crate::TestApp;

/// The core, opened natively on a running app's data.
pub struct Baseline {
    kv: SqliteKv,
    config: AccountsConfig,
    authorization: String,
}

impl Baseline {
    /// Opens `app`'s key-value file and session key; `token` authenticates `me`.
    pub fn open(app: &TestApp, token: &str) -> Self {
        let secrets: serde_json::Value = serde_json::from_slice(
            &std::fs::read(app.config.data_dir.join("dev-secrets.json")).expect("dev secrets"),
        )
        .expect("dev secrets are JSON");
        let key = secrets["session_key"].as_str().expect("a session key");
        Self {
            kv: SqliteKv::open(&app.config.kv_path()).expect("kv opens"),
            config: AccountsConfig::from_vars(key, "", "").expect("config"),
            authorization: format!("Bearer {token}"),
        }
    }

    /// What `GET /v1/health` does: one store read, one small JSON body.
    pub fn health(&self) {
        let store = LabelledStore::new(&self.kv, "default");
        block_on(async {
            dreamreel_core::Store::get(&store, &dreamreel_core::keys::health_probe())
                .await
                .expect("store answers");
        });
        std::hint::black_box(
            serde_json::to_vec(&serde_json::json!({"status": "ok", "store": "ok"})).unwrap(),
        );
    }

    /// What `GET /v1/me` does: verify the token, load the user, serialise the view.
    pub fn me(&self) {
        let store = LabelledStore::new(&self.kv, "default");
        let view = block_on(accounts::me(
            &store,
            &SystemEnv,
            &self.config,
            Some(&self.authorization),
        ))
        .expect("token is valid");
        std::hint::black_box(serde_json::to_vec(&view).unwrap());
    }
}
