//! Operator commands that act on the local data directly, through the core's
//! rules (the same functions the components call), so nothing bypasses them.

use dreamreel_core::Env;
use dreamreel_core::accounts::invites;

use crate::kv::{LabelledStore, SqliteKv};
use crate::stack::StackConfig;

/// The issuer recorded on invites minted from the command line.
pub const OPERATOR: &str = "operator";

/// This machine's clock and randomness, for native callers of the core.
pub struct SystemEnv;

impl Env for SystemEnv {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn fill_random(&self, buf: &mut [u8]) {
        getrandom::fill(buf).expect("the OS provides randomness");
    }
}

/// Mints `count` invite codes as the operator and returns them for display.
pub async fn mint_invites(config: &StackConfig, count: u32) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(&config.data_dir)?;
    let kv = SqliteKv::open(&config.kv_path())?;
    let store = LabelledStore::new(&kv, "default");
    invites::mint(&store, &SystemEnv, OPERATOR, count)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))
}
