//! The prompt embedding the worker sends with `complete`: an
//! all-MiniLM-L6-v2 sentence vector (384 numbers, unit length), quantised
//! to one signed byte per number plus a scale, so it travels and is stored
//! compactly (388 bytes) and is cheap to compare (cosine over bytes).
//!
//! Wire form (JSON): `{"model": "all-MiniLM-L6-v2", "scale": s, "values":
//! "<standard base64 of 384 signed bytes>"}`; number `i` is `values[i] * s`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Numbers per embedding.
pub const DIM: usize = 384;
/// The model whose vectors these are; vectors of different models do not compare.
pub const MODEL: &str = "all-MiniLM-L6-v2";
/// Bytes of the stored form: the scale (f32, little-endian), then the values.
pub const STORED_BYTES: usize = 4 + DIM;

/// A quantised unit vector: number `i` is `values[i] as f32 * scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// Size of one step; positive and finite.
    pub scale: f32,
    /// [`DIM`] signed steps.
    pub values: Vec<i8>,
}

/// What the `complete` callback carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireEmbedding {
    /// Must be [`MODEL`].
    pub model: String,
    /// Size of one step.
    pub scale: f32,
    /// Standard base64 of [`DIM`] signed bytes.
    pub values: String,
}

fn invalid(detail: &str) -> ApiError {
    ApiError::invalid_request(format!("prompt_embedding {detail}"))
}

impl Quantized {
    /// Quantises `v` (normalised first); `None` for a zero, non-finite or
    /// wrongly sized vector.
    pub fn from_f32(v: &[f32]) -> Option<Self> {
        if v.len() != DIM || v.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        if norm <= 0.0 || max <= 0.0 {
            return None;
        }
        let scale = max / norm / 127.0;
        let values = v
            .iter()
            .map(|x| (x / norm / scale).round().clamp(-127.0, 127.0) as i8)
            .collect();
        Some(Quantized { scale, values })
    }

    /// The numbers, rescaled to unit length.
    pub fn to_unit(&self) -> Vec<f32> {
        let norm = self
            .values
            .iter()
            .map(|&q| f32::from(q) * f32::from(q))
            .sum::<f32>()
            .sqrt();
        let k = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        self.values.iter().map(|&q| f32::from(q) * k).collect()
    }

    /// The wire form.
    pub fn to_wire(&self) -> WireEmbedding {
        WireEmbedding {
            model: MODEL.to_owned(),
            scale: self.scale,
            values: STANDARD.encode(self.bytes().collect::<Vec<u8>>()),
        }
    }

    /// Checks and decodes the wire form: 400 for another model, a bad
    /// scale, bad base64, the wrong length or an all-zero vector.
    pub fn from_wire(w: &WireEmbedding) -> Result<Self, ApiError> {
        if w.model != MODEL {
            return Err(invalid(&format!("model must be {MODEL}")));
        }
        if !w.scale.is_finite() || w.scale <= 0.0 || w.scale > 1.0 {
            return Err(invalid("scale must be a number above 0, at most 1"));
        }
        let bytes = STANDARD
            .decode(w.values.as_bytes())
            .map_err(|_| invalid("values must be standard base64"))?;
        if bytes.len() != DIM {
            return Err(invalid(&format!("values must hold {DIM} bytes")));
        }
        let values: Vec<i8> = bytes.iter().map(|&b| b as i8).collect();
        if values.iter().all(|&q| q == 0) {
            return Err(invalid("values must not all be zero"));
        }
        Ok(Quantized {
            scale: w.scale,
            values,
        })
    }

    /// The stored form ([`STORED_BYTES`]).
    pub fn to_stored(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STORED_BYTES);
        out.extend_from_slice(&self.scale.to_le_bytes());
        out.extend(self.bytes());
        out
    }

    /// Reads the stored form; `None` when it is not one.
    pub fn from_stored(raw: &[u8]) -> Option<Self> {
        if raw.len() != STORED_BYTES {
            return None;
        }
        let scale = f32::from_le_bytes(raw[..4].try_into().ok()?);
        (scale.is_finite() && scale > 0.0).then(|| Quantized {
            scale,
            values: raw[4..].iter().map(|&b| b as i8).collect(),
        })
    }

    /// Standard base64 of the stored form (for JSON records).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.to_stored())
    }

    /// Reads [`Quantized::to_base64`]'s output.
    pub fn from_base64(s: &str) -> Option<Self> {
        Self::from_stored(&STANDARD.decode(s.as_bytes()).ok()?)
    }

    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.values.iter().map(|&q| q as u8)
    }
}

/// Cosine of two unit vectors of the same length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(seed: u32) -> Vec<f32> {
        (0..DIM)
            .map(|i| ((i as u32 * 7919 + seed * 104_729) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn quantising_keeps_direction_and_round_trips() {
        let v = vector(3);
        let q = Quantized::from_f32(&v).expect("a real vector");
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let unit: Vec<f32> = v.iter().map(|x| x / norm).collect();
        assert!(cosine(&unit, &q.to_unit()) > 0.999);
        let wire = q.to_wire();
        assert_eq!(wire.values.len(), 512, "384 bytes of base64");
        assert_eq!(Quantized::from_wire(&wire).unwrap(), q);
        assert_eq!(Quantized::from_stored(&q.to_stored()).unwrap(), q);
        assert_eq!(Quantized::from_base64(&q.to_base64()).unwrap(), q);
    }

    #[test]
    fn bad_vectors_and_wire_forms_are_refused() {
        assert!(Quantized::from_f32(&[0.0; DIM]).is_none());
        assert!(Quantized::from_f32(&[1.0; 10]).is_none());
        let mut nan = vector(1);
        nan[5] = f32::NAN;
        assert!(Quantized::from_f32(&nan).is_none());

        let good = Quantized::from_f32(&vector(2)).unwrap().to_wire();
        let with = |f: &dyn Fn(&mut WireEmbedding)| {
            let mut w = good.clone();
            f(&mut w);
            Quantized::from_wire(&w).unwrap_err().code
        };
        assert_eq!(with(&|w| w.model = "other".into()), "invalid_request");
        assert_eq!(with(&|w| w.scale = 0.0), "invalid_request");
        assert_eq!(with(&|w| w.scale = f32::INFINITY), "invalid_request");
        assert_eq!(with(&|w| w.values = "%%%".into()), "invalid_request");
        assert_eq!(
            with(&|w| w.values = STANDARD.encode([1u8; 383])),
            "invalid_request"
        );
        assert_eq!(
            with(&|w| w.values = STANDARD.encode([0u8; DIM])),
            "invalid_request"
        );
        assert!(Quantized::from_stored(&[0; 10]).is_none());
    }
}
