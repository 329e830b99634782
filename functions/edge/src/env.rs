//! [`Env`] for components: the WASI wall clock and the host's CSPRNG.

use std::time::{SystemTime, UNIX_EPOCH};

use dreamreel_core::Env;
use spin_sdk::wasip3::random::random::get_random_bytes;

/// Time and randomness from the host.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpinEnv;

impl Env for SpinEnv {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn fill_random(&self, buf: &mut [u8]) {
        // wasi:random may return fewer bytes than asked (a short read), so loop.
        let mut filled = 0;
        while filled < buf.len() {
            let chunk = get_random_bytes((buf.len() - filled) as u64);
            let n = chunk.len().min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&chunk[..n]);
            filled += n;
        }
    }
}
