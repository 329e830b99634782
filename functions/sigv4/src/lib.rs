//! AWS Signature Version 4 for S3, with no I/O: canonical requests, signing
//! keys, `Authorization` headers, presigned URLs, streaming chunk signatures,
//! and verification for a server.
//!
//! Time is always a parameter (Unix seconds), so results are deterministic
//! and the crate builds for `wasm32-wasip2` as well as natively.

mod chunk;
mod encode;
mod request;
mod sign;
pub mod time;
mod verify;

pub use chunk::ChunkSigner;
pub use encode::{EMPTY_PAYLOAD_SHA256, encode_path, hex, percent_decode, sha256_hex, uri_encode};
pub use request::{Request, parse_query};
pub use sign::{
    ALGORITHM, AuthHeaders, Credentials, MAX_PRESIGN_EXPIRES_SECS, SignError, Signer,
    UNSIGNED_PAYLOAD, signing_key,
};
pub use verify::{MAX_CLOCK_SKEW_SECS, Payload, SecretLookup, Verified, Verifier, VerifyError};

#[cfg(test)]
mod tests;
