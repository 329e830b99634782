//! Reads f32 tensors from a `.safetensors` file: an 8-byte little-endian
//! header length, a JSON header (`name -> {dtype, shape, data_offsets}`),
//! then the raw data.

use std::collections::HashMap;

use serde::Deserialize;

use super::SemanticError;

/// One tensor's entry in the header.
#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// A loaded file: the header plus the data section.
pub struct SafeTensors {
    entries: HashMap<String, Entry>,
    data: Vec<u8>,
}

/// A tensor as f32 values in row-major order.
pub struct Tensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub values: Vec<f32>,
}

impl SafeTensors {
    /// Parses the header of `bytes` and keeps the data section.
    pub fn parse(mut bytes: Vec<u8>) -> Result<Self, SemanticError> {
        let bad = |why: &str| SemanticError::Model(format!("safetensors: {why}"));
        let len_bytes: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("file too short"))?;
        let header_len = usize::try_from(u64::from_le_bytes(len_bytes))
            .ok()
            .filter(|n| 8 + n <= bytes.len())
            .ok_or_else(|| bad("header length past the end"))?;
        let header: HashMap<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..8 + header_len])
                .map_err(|e| bad(&format!("header: {e}")))?;
        let mut entries = HashMap::new();
        for (name, value) in header {
            if name == "__metadata__" {
                continue;
            }
            let entry: Entry =
                serde_json::from_value(value).map_err(|e| bad(&format!("entry {name}: {e}")))?;
            entries.insert(name, entry);
        }
        bytes.drain(..8 + header_len);
        Ok(SafeTensors {
            entries,
            data: bytes,
        })
    }

    /// The f32 tensor `name`, checked against the `shape` the model expects.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Tensor, SemanticError> {
        let bad = |why: String| SemanticError::Model(format!("tensor {name}: {why}"));
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| bad("missing".into()))?;
        if entry.dtype != "F32" {
            return Err(bad(format!("dtype {} (want F32)", entry.dtype)));
        }
        if entry.shape != shape {
            return Err(bad(format!("shape {:?} (want {shape:?})", entry.shape)));
        }
        let [start, end] = entry.data_offsets;
        let count: usize = shape.iter().product();
        if end < start || end - start != count * 4 || end > self.data.len() {
            return Err(bad(format!("data offsets {start}..{end} do not fit")));
        }
        let values = self.data[start..end]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(Tensor {
            shape: shape.to_vec(),
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[f32]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(data.iter().flat_map(|v| v.to_le_bytes()));
        bytes
    }

    #[test]
    fn reads_tensors_and_checks_them() {
        let header = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}}"#;
        let st = SafeTensors::parse(file(header, &[1.0, 2.0, 3.0, -4.5, 0.0, 0.0])).unwrap();
        let a = st.f32("a", &[2, 2]).unwrap();
        assert_eq!(a.values, [1.0, 2.0, 3.0, -4.5]);
        assert_eq!(a.shape, [2, 2]);
        assert!(st.f32("a", &[4]).is_err());
        assert!(st.f32("b", &[1]).is_err());
        assert!(st.f32("c", &[1]).is_err());
        assert!(SafeTensors::parse(vec![200, 0, 0, 0, 0, 0, 0, 0, b'{']).is_err());
    }
}
