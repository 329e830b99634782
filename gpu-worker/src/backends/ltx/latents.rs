//! LTX-Video's latent maths, on plain `Vec<f32>` in row-major order:
//! the latent shape for a clip, packing `[B, C, F, H, W]` into transformer
//! tokens `[B, F'·H'·W', C·pt·p·p]` and back, per-channel (de)normalisation,
//! classifier-free guidance (with optional rescale), the decode-time noise
//! mix, and seeded initial noise. Each mirrors the `LTXPipeline` method it is
//! named after, in the same f32 operation order.

/// Why a clip size has no latent shape.
#[derive(Debug, thiserror::Error)]
#[error("latent shape: {0}")]
pub struct LatentError(String);

/// How much the VAE shrinks time and space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Frames per latent frame (after the first).
    pub temporal: usize,
    /// Pixels per latent pixel, each way.
    pub spatial: usize,
}

impl Compression {
    /// LTX-Video's VAE: 8 in time, 32 in space.
    pub const LTX: Compression = Compression {
        temporal: 8,
        spatial: 32,
    };
}

/// The transformer's patch: `spatial` x `spatial` pixels by `temporal` frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    /// `patch_size`.
    pub spatial: usize,
    /// `patch_size_t`.
    pub temporal: usize,
}

impl Patch {
    /// LTX-Video's transformer patches are single latent pixels.
    pub const LTX: Patch = Patch {
        spatial: 1,
        temporal: 1,
    };
}

/// Dimensions of an unpacked latent video `[B, C, F, H, W]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatentShape {
    /// Videos in the batch.
    pub batch: usize,
    /// Latent channels (LTX: 128).
    pub channels: usize,
    /// Latent frames.
    pub frames: usize,
    /// Latent rows.
    pub height: usize,
    /// Latent columns.
    pub width: usize,
}

impl LatentShape {
    /// The latent shape of `frames` frames of `height` x `width` pixels:
    /// frames must be `temporal·k + 1` and sides multiples of `spatial`.
    pub fn for_video(
        batch: usize,
        channels: usize,
        (frames, height, width): (usize, usize, usize),
        ratio: Compression,
    ) -> Result<Self, LatentError> {
        if frames == 0 || (frames - 1) % ratio.temporal != 0 {
            return Err(LatentError(format!(
                "{frames} frames is not {}k+1",
                ratio.temporal
            )));
        }
        if height == 0 || width == 0 || height % ratio.spatial != 0 || width % ratio.spatial != 0 {
            return Err(LatentError(format!(
                "{width}x{height} is not a multiple of {}",
                ratio.spatial
            )));
        }
        Ok(LatentShape {
            batch,
            channels,
            frames: (frames - 1) / ratio.temporal + 1,
            height: height / ratio.spatial,
            width: width / ratio.spatial,
        })
    }

    /// Values in the tensor.
    pub fn len(&self) -> usize {
        self.batch * self.channels * self.frames * self.height * self.width
    }

    /// Whether the tensor holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens per video once packed (the sampler's sequence length with [`Patch::LTX`]).
    pub fn seq_len(&self, patch: Patch) -> usize {
        (self.frames / patch.temporal)
            * (self.height / patch.spatial)
            * (self.width / patch.spatial)
    }

    /// Each value's packed index, in unpacked order.
    fn packed_indices(&self, patch: Patch) -> impl Iterator<Item = usize> {
        let (p, pt) = (patch.spatial, patch.temporal);
        let (f2, h2, w2) = (self.frames / pt, self.height / p, self.width / p);
        let s = *self;
        let dim = s.channels * pt * p * p;
        assert!(
            f2 * pt == s.frames && h2 * p == s.height && w2 * p == s.width,
            "{s:?} is not a whole number of {patch:?}"
        );
        (0..s.batch).flat_map(move |b| {
            (0..s.channels).flat_map(move |c| {
                (0..s.frames).flat_map(move |f| {
                    (0..s.height).flat_map(move |h| {
                        (0..s.width).map(move |w| {
                            let token = ((f / pt) * h2 + h / p) * w2 + w / p;
                            let feature = ((c * pt + f % pt) * p + h % p) * p + w % p;
                            (b * f2 * h2 * w2 + token) * dim + feature
                        })
                    })
                })
            })
        })
    }
}

/// `_pack_latents`: `[B, C, F, H, W]` to `[B, F/pt·H/p·W/p, C·pt·p·p]`.
pub fn pack(latents: &[f32], shape: LatentShape, patch: Patch) -> Vec<f32> {
    assert_eq!(latents.len(), shape.len(), "latents for {shape:?}");
    let mut out = vec![0.0; latents.len()];
    for (value, to) in latents.iter().zip(shape.packed_indices(patch)) {
        out[to] = *value;
    }
    out
}

/// `_unpack_latents`: the inverse of [`pack`].
pub fn unpack(packed: &[f32], shape: LatentShape, patch: Patch) -> Vec<f32> {
    assert_eq!(packed.len(), shape.len(), "packed latents for {shape:?}");
    shape
        .packed_indices(patch)
        .map(|from| packed[from])
        .collect()
}

/// Each value's channel in an unpacked `[B, C, F, H, W]` tensor.
fn channels(shape: LatentShape) -> impl Iterator<Item = usize> {
    let plane = shape.frames * shape.height * shape.width;
    (0..shape.batch * shape.channels)
        .flat_map(move |bc| std::iter::repeat_n(bc % shape.channels, plane))
}

/// `_normalize_latents`: `(x - mean[c]) * scaling / std[c]`, in place.
pub fn normalize(latents: &mut [f32], shape: LatentShape, mean: &[f32], std: &[f32], scaling: f32) {
    assert!(
        latents.len() == shape.len() && mean.len() == shape.channels && std.len() == shape.channels
    );
    for (x, c) in latents.iter_mut().zip(channels(shape)) {
        *x = (*x - mean[c]) * scaling / std[c];
    }
}

/// `_denormalize_latents`: `x * std[c] / scaling + mean[c]`, in place.
pub fn denormalize(
    latents: &mut [f32],
    shape: LatentShape,
    mean: &[f32],
    std: &[f32],
    scaling: f32,
) {
    assert!(
        latents.len() == shape.len() && mean.len() == shape.channels && std.len() == shape.channels
    );
    for (x, c) in latents.iter_mut().zip(channels(shape)) {
        *x = *x * std[c] / scaling + mean[c];
    }
}

/// `LTXImageToVideoPipeline.prepare_latents`' mix `first * mask + noise * (1 - mask)`
/// with the mask 1 on latent frame 0: frame 0 of each channel of `latents`
/// `[B, C, F, H, W]` becomes `first` `[B, C, 1, H, W]` (`x * 1 + n * 0` is `x`).
pub fn condition_first_frame(latents: &mut [f32], first: &[f32], shape: LatentShape) {
    let plane = shape.height * shape.width;
    assert!(latents.len() == shape.len() && first.len() == shape.batch * shape.channels * plane);
    for (video, picture) in latents
        .chunks_exact_mut(shape.frames * plane)
        .zip(first.chunks_exact(plane))
    {
        video[..plane].copy_from_slice(picture);
    }
}

/// The per-token timestep `t * (1 - mask)` for `tokens` packed tokens whose
/// first `fixed` (the conditioning frame's) have mask 1.
pub fn token_timesteps(t: f32, tokens: usize, fixed: usize) -> Vec<f32> {
    (0..tokens)
        .map(|i| t * (1.0 - if i < fixed { 1.0 } else { 0.0 }))
        .collect()
}

/// Classifier-free guidance: `uncond + scale * (cond - uncond)`.
pub fn guidance(uncond: &[f32], cond: &[f32], scale: f32) -> Vec<f32> {
    assert_eq!(uncond.len(), cond.len(), "guidance halves");
    uncond
        .iter()
        .zip(cond)
        .map(|(u, c)| u + scale * (c - u))
        .collect()
}

/// `rescale_noise_cfg` (guidance_rescale > 0): per video, scale the guided
/// prediction to the conditional one's standard deviation, then mix
/// `rescale` of that with `1 - rescale` of the guided prediction.
pub fn rescale_guidance(guided: &mut [f32], cond: &[f32], batch: usize, rescale: f32) {
    assert!(guided.len() == cond.len() && batch > 0 && guided.len().is_multiple_of(batch));
    let per = guided.len() / batch;
    let keep = 1.0 - rescale;
    for (g, c) in guided.chunks_mut(per).zip(cond.chunks(per)) {
        let ratio = std_dev(c) / std_dev(g);
        for x in g.iter_mut() {
            *x = rescale * (*x * ratio) + keep * *x;
        }
    }
}

/// Sample standard deviation (torch's default, n - 1), accumulated in f64.
fn std_dev(values: &[f32]) -> f32 {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let square = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>();
    (square / (n - 1.0)).sqrt() as f32
}

/// The decode-time noise mix of timestep-conditioned VAEs:
/// `(1 - scale) * latents + scale * noise`, in place.
pub fn decode_noise_mix(latents: &mut [f32], noise: &[f32], scale: f32) {
    assert_eq!(latents.len(), noise.len(), "noise for latents");
    let keep = 1.0 - scale;
    for (x, n) in latents.iter_mut().zip(noise) {
        *x = keep * *x + scale * n;
    }
}

/// `len` standard-normal values from `seed` (xoshiro256** seeded by
/// SplitMix64, Box–Muller). Deterministic per seed, but NOT torch's
/// `randn`: no Rust generator reproduces torch's, so parity fixtures pass
/// explicit initial latents instead of seeds.
pub fn initial_noise(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed;
    let mut splitmix = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut s = [splitmix(), splitmix(), splitmix(), splitmix()];
    let mut next = move || {
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    };
    // Uniform in (0, 1]: 53 random bits, never 0 (ln 0 is -inf).
    let mut uniform = move || ((next() >> 11) + 1) as f64 / (1u64 << 53) as f64;
    let mut out = Vec::with_capacity(len + 1);
    while out.len() < len {
        let (radius, angle) = (
            (-2.0 * uniform().ln()).sqrt(),
            std::f64::consts::TAU * uniform(),
        );
        out.push((radius * angle.cos()) as f32);
        out.push((radius * angle.sin()) as f32);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> LatentShape {
        LatentShape {
            batch: 2,
            channels: 3,
            frames: 4,
            height: 2,
            width: 6,
        }
    }

    #[test]
    fn ltx_shapes_follow_the_compression_ratios() {
        let s = LatentShape::for_video(1, 128, (121, 512, 768), Compression::LTX).unwrap();
        assert_eq!((s.frames, s.height, s.width), (16, 16, 24));
        assert_eq!(s.seq_len(Patch::LTX), 16 * 16 * 24);
        assert!(LatentShape::for_video(1, 128, (120, 512, 768), Compression::LTX).is_err());
        assert!(LatentShape::for_video(1, 128, (121, 500, 768), Compression::LTX).is_err());
    }

    #[test]
    fn packing_puts_channels_last_per_token() {
        let s = shape();
        let x: Vec<f32> = (0..s.len()).map(|i| i as f32).collect();
        let packed = pack(&x, s, Patch::LTX);
        // Token (b=0, f=0, h=0, w=1) holds channels 0..3 of that pixel.
        let plane = 4 * 2 * 6;
        assert_eq!(
            &packed[3..6],
            &[1.0, 1.0 + plane as f32, 1.0 + 2.0 * plane as f32]
        );
        assert_eq!(unpack(&packed, s, Patch::LTX), x);
        let p = Patch {
            spatial: 2,
            temporal: 2,
        };
        assert_eq!(unpack(&pack(&x, s, p), s, p), x);
    }

    #[test]
    fn normalize_and_denormalize_invert_each_other() {
        let s = shape();
        let x: Vec<f32> = initial_noise(1, s.len());
        let (mean, std) = ([0.5, -1.0, 0.25], [2.0, 0.5, 1.0]);
        let mut y = x.clone();
        normalize(&mut y, s, &mean, &std, 1.0);
        assert_eq!(y[0], (x[0] - 0.5) / 2.0);
        denormalize(&mut y, s, &mean, &std, 1.0);
        assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn the_first_frame_is_replaced_and_its_tokens_get_timestep_zero() {
        let s = shape();
        let mut x = vec![5.0; s.len()];
        let first: Vec<f32> = (0..s.batch * s.channels * 12).map(|i| i as f32).collect();
        condition_first_frame(&mut x, &first, s);
        // Channel 1 of video 0: frame 0 is first[12..24], frame 1 untouched.
        assert_eq!(&x[48..60], &first[12..24]);
        assert!(x[60..96].iter().all(|&v| v == 5.0));
        assert_eq!(token_timesteps(700.0, 4, 1), [0.0, 700.0, 700.0, 700.0]);
    }

    #[test]
    fn guidance_extrapolates_from_uncond_towards_cond() {
        assert_eq!(guidance(&[1.0, 0.0], &[2.0, -1.0], 3.0), [4.0, -3.0]);
        let mut g = vec![2.0, -2.0, 4.0, -4.0];
        rescale_guidance(&mut g, &[1.0, -1.0, 1.0, -1.0], 2, 1.0);
        assert!(g.iter().all(|v| (v.abs() - 1.0).abs() < 1e-6));
        let mut x = vec![1.0, 3.0];
        decode_noise_mix(&mut x, &[3.0, 1.0], 0.25);
        assert_eq!(x, [1.5, 2.5]);
    }

    #[test]
    fn noise_is_seeded_and_standard_normal() {
        let a = initial_noise(7, 20_001);
        assert_eq!(a, initial_noise(7, 20_001));
        assert_ne!(a[..8], initial_noise(8, 8)[..]);
        let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64;
        let var = a
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / a.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
