//! The domain's only sources of time and randomness, so every rule is
//! deterministic under test (see [`crate::testing::FixedEnv`]).

/// Wall-clock time and cryptographic randomness, supplied by the host.
pub trait Env {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Fills `buf` with cryptographically secure random bytes.
    fn fill_random(&self, buf: &mut [u8]);
}

/// `N` random bytes from `env`.
pub fn random_bytes<const N: usize>(env: &dyn Env) -> [u8; N] {
    let mut buf = [0u8; N];
    env.fill_random(&mut buf);
    buf
}
