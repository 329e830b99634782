//! Per-chunk signatures of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` uploads:
//! each chunk's signature chains from the previous one, starting at the
//! request's own signature.

use std::fmt;

use hmac::Mac;
use sha2::{Digest, Sha256};

use crate::encode::{EMPTY_PAYLOAD_SHA256, hex, hex_array};
use crate::sign::{HmacSha256, hmac};
use crate::verify::VerifyError;

/// Signs or checks the chunks of one streaming upload, in order.
#[derive(Clone)]
pub struct ChunkSigner {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    previous: [u8; 32],
}

impl fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    pub(crate) fn new(key: [u8; 32], amz_date: &str, scope: &str, seed: [u8; 32]) -> Self {
        ChunkSigner {
            key,
            amz_date: amz_date.to_owned(),
            scope: scope.to_owned(),
            previous: seed,
        }
    }

    /// The hex signature of the next chunk (the final chunk is empty).
    pub fn sign_chunk(&mut self, data: &[u8]) -> String {
        let sig = hmac(
            &self.key,
            self.string_to_sign(&Sha256::digest(data).into()).as_bytes(),
        );
        self.previous = sig;
        hex(&sig)
    }

    /// Checks the next chunk's claimed signature in constant time.
    pub fn verify_chunk(&mut self, claimed_hex: &str, data: &[u8]) -> Result<(), VerifyError> {
        self.verify_chunk_digest(claimed_hex, &Sha256::digest(data).into())
    }

    /// [`ChunkSigner::verify_chunk`] for a chunk whose SHA-256 was computed
    /// while streaming it, so the chunk need not be held in memory.
    pub fn verify_chunk_digest(
        &mut self,
        claimed_hex: &str,
        data_sha256: &[u8; 32],
    ) -> Result<(), VerifyError> {
        let claimed = hex_array::<32>(claimed_hex).ok_or_else(|| {
            VerifyError::Malformed("chunk-signature must be 64 hex digits".into())
        })?;
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(self.string_to_sign(data_sha256).as_bytes());
        mac.verify_slice(&claimed)
            .map_err(|_| VerifyError::SignatureMismatch)?;
        self.previous = claimed;
        Ok(())
    }

    fn string_to_sign(&self, data_sha256: &[u8; 32]) -> String {
        format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_PAYLOAD_SHA256}\n{}",
            self.amz_date,
            self.scope,
            hex(&self.previous),
            hex(data_sha256)
        )
    }
}
