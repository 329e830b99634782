//! The BERT encoder of all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads,
//! intermediate 1536), inference only, one sentence at a time, then the
//! sentence-transformers recipe: mean of the token vectors, L2-normalised.

use super::SemanticError;
use super::safetensors::SafeTensors;

/// Width of the model's vectors, and of an embedding.
pub const HIDDEN: usize = 384;
const LAYERS: usize = 6;
const HEADS: usize = 12;
const HEAD_DIM: usize = HIDDEN / HEADS;
const INTERMEDIATE: usize = 1536;
const MAX_POSITIONS: usize = 512;
const VOCAB: usize = 30522;
const LAYER_NORM_EPS: f32 = 1e-12;

/// A dense layer: `y = x·Wᵀ + b`, `W` stored `[out, in]` as PyTorch does.
struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// The encoder's weights.
pub struct Bert {
    words: Vec<f32>,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl Bert {
    /// Takes the weights out of the model's safetensors, checking every shape.
    pub fn load(st: &SafeTensors) -> Result<Self, SemanticError> {
        let linear = |name: &str, outputs: usize, inputs: usize| -> Result<Linear, SemanticError> {
            Ok(Linear {
                weight: st
                    .f32(&format!("{name}.weight"), &[outputs, inputs])?
                    .values,
                bias: st.f32(&format!("{name}.bias"), &[outputs])?.values,
                inputs,
                outputs,
            })
        };
        let norm = |name: &str| -> Result<LayerNorm, SemanticError> {
            Ok(LayerNorm {
                gamma: st.f32(&format!("{name}.weight"), &[HIDDEN])?.values,
                beta: st.f32(&format!("{name}.bias"), &[HIDDEN])?.values,
            })
        };
        let layers = (0..LAYERS)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    query: linear(&format!("{p}.attention.self.query"), HIDDEN, HIDDEN)?,
                    key: linear(&format!("{p}.attention.self.key"), HIDDEN, HIDDEN)?,
                    value: linear(&format!("{p}.attention.self.value"), HIDDEN, HIDDEN)?,
                    attention_out: linear(&format!("{p}.attention.output.dense"), HIDDEN, HIDDEN)?,
                    attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                    intermediate: linear(&format!("{p}.intermediate.dense"), INTERMEDIATE, HIDDEN)?,
                    output: linear(&format!("{p}.output.dense"), HIDDEN, INTERMEDIATE)?,
                    output_norm: norm(&format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<_, SemanticError>>()?;
        Ok(Bert {
            words: st
                .f32("embeddings.word_embeddings.weight", &[VOCAB, HIDDEN])?
                .values,
            positions: st
                .f32(
                    "embeddings.position_embeddings.weight",
                    &[MAX_POSITIONS, HIDDEN],
                )?
                .values,
            token_type: st
                .f32("embeddings.token_type_embeddings.weight", &[2, HIDDEN])?
                .values,
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
        })
    }

    /// The unit-length mean of the last layer's token vectors.
    pub fn embed(&self, ids: &[u32]) -> [f32; HIDDEN] {
        let tokens = ids.len().min(MAX_POSITIONS);
        let mut x = vec![0f32; tokens * HIDDEN];
        for (t, row) in x.chunks_exact_mut(HIDDEN).enumerate() {
            let id = (ids[t] as usize).min(VOCAB - 1);
            let word = &self.words[id * HIDDEN..(id + 1) * HIDDEN];
            let position = &self.positions[t * HIDDEN..(t + 1) * HIDDEN];
            for (i, v) in row.iter_mut().enumerate() {
                // Token type 0 throughout: one segment.
                *v = word[i] + position[i] + self.token_type[i];
            }
        }
        layer_norm(&mut x, &self.embedding_norm);
        for layer in &self.layers {
            x = layer.forward(&x, tokens);
        }
        let mut pooled = [0f32; HIDDEN];
        for row in x.chunks_exact(HIDDEN) {
            for (p, v) in pooled.iter_mut().zip(row) {
                *p += v;
            }
        }
        let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        // Dividing by the token count first would not change the direction.
        pooled.iter_mut().for_each(|v| *v /= norm);
        pooled
    }
}

impl Layer {
    fn forward(&self, x: &[f32], tokens: usize) -> Vec<f32> {
        let q = self.query.apply(x, tokens);
        let k = self.key.apply(x, tokens);
        let v = self.value.apply(x, tokens);
        let mut context = vec![0f32; tokens * HIDDEN];
        let mut scores = vec![0f32; tokens * tokens];
        let scale = 1.0 / (HEAD_DIM as f32).sqrt();
        for h in 0..HEADS {
            let off = h * HEAD_DIM;
            // scores = q_h · k_hᵀ / √d; the heads are column slices of q, k, v.
            gemm(
                tokens,
                HEAD_DIM,
                tokens,
                scale,
                (&q[off..], HIDDEN, 1),
                (&k[off..], 1, HIDDEN),
                (&mut scores, tokens, 1),
            );
            scores.chunks_exact_mut(tokens).for_each(softmax);
            gemm(
                tokens,
                tokens,
                HEAD_DIM,
                1.0,
                (&scores, tokens, 1),
                (&v[off..], HIDDEN, 1),
                (&mut context[off..], HIDDEN, 1),
            );
        }
        let mut attended = self.attention_out.apply(&context, tokens);
        attended.iter_mut().zip(x).for_each(|(a, r)| *a += r);
        layer_norm(&mut attended, &self.attention_norm);
        let mut inner = self.intermediate.apply(&attended, tokens);
        inner.iter_mut().for_each(|v| *v = gelu(*v));
        let mut out = self.output.apply(&inner, tokens);
        out.iter_mut().zip(&attended).for_each(|(o, r)| *o += r);
        layer_norm(&mut out, &self.output_norm);
        out
    }
}

impl Linear {
    fn apply(&self, x: &[f32], tokens: usize) -> Vec<f32> {
        let mut y: Vec<f32> = self
            .bias
            .iter()
            .copied()
            .cycle()
            .take(tokens * self.outputs)
            .collect();
        // Wᵀ is W read with its strides swapped; beta 1 keeps the bias.
        gemm_acc(
            tokens,
            self.inputs,
            self.outputs,
            1.0,
            (x, self.inputs, 1),
            (&self.weight, 1, self.inputs),
            (&mut y, self.outputs, 1),
            1.0,
        );
        y
    }
}

/// `c = alpha·a·b` for an `m×k` by `k×n` product; each operand is (data, row stride, column stride).
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    c: (&mut [f32], usize, usize),
) {
    gemm_acc(m, k, n, alpha, a, b, c, 0.0);
}

/// `c = alpha·a·b + beta·c`.
#[allow(clippy::too_many_arguments)]
fn gemm_acc(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    c: (&mut [f32], usize, usize),
    beta: f32,
) {
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    // The bounds sgemm relies on, checked once here.
    assert!(m > 0 && k > 0 && n > 0);
    assert!(last(m, k, a.1, a.2) < a.0.len());
    assert!(last(k, n, b.1, b.2) < b.0.len());
    assert!(last(m, n, c.1, c.2) < c.0.len());
    // SAFETY: every element the product reads or writes lies inside its slice
    // (asserted above), and `c` is borrowed mutably, so it aliases neither input.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.0.as_ptr(),
            a.1 as isize,
            a.2 as isize,
            b.0.as_ptr(),
            b.1 as isize,
            b.2 as isize,
            beta,
            c.0.as_mut_ptr(),
            c.1 as isize,
            c.2 as isize,
        );
    }
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    row.iter_mut().for_each(|v| *v /= sum);
}

fn layer_norm(x: &mut [f32], norm: &LayerNorm) {
    for row in x.chunks_exact_mut(HIDDEN) {
        let mean = row.iter().sum::<f32>() / HIDDEN as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / HIDDEN as f32;
        let inv = 1.0 / (var + LAYER_NORM_EPS).sqrt();
        for ((v, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// BERT's exact GELU, `x·Φ(x)`.
fn gelu(x: f32) -> f32 {
    let x = f64::from(x);
    (0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))) as f32
}

/// The error function to about 1e-7 (Abramowitz and Stegun 7.1.26), enough for f32 activations.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_and_gelu_match_known_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
        ] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x})");
        }
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((gelu(-3.0) + 0.004_049_7).abs() < 1e-6);
    }

    #[test]
    fn strided_products_match_a_plain_loop() {
        // a is 2x3, b = wᵀ where w is 2x3 stored row-major.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let w = [1.0, 0.0, -1.0, 2.0, 1.0, 0.5];
        let mut c = [0.0; 4];
        gemm(2, 3, 2, 1.0, (&a, 3, 1), (&w, 1, 3), (&mut c, 2, 1));
        assert_eq!(c, [-2.0, 5.5, -2.0, 16.0]);
    }
}
