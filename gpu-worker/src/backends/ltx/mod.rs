//! LTX-Video (Lightricks) as ONNX graphs exported from diffusers by
//! `gpu-worker/models/ltx/export.py`, driven from Rust: T5 tokenizer, text
//! encoder, flow-matching sampler with classifier-free guidance around the
//! transformer, VAE decoder, then the frames resized to the clip. A spec with
//! a reference picture (a cast cameo) runs `LTXImageToVideoPipeline`'s image
//! conditioning: the picture through the VAE encoder becomes latent frame 0,
//! held fixed (timestep 0 on its tokens, no Euler step) while the rest is
//! denoised. The model has no audio: the soundtrack is the local synthesiser's.

pub mod config;
mod frames;
pub mod latents;
pub mod sampler;
pub mod stages;
pub mod tokenizer;

use std::path::{Path, PathBuf};

use crate::frame::{Soundtrack, YuvFrame};
use crate::model::{FrameSink, JobControl, ModelError, Stage, VideoModel};
use crate::spec::{Aspect, GenerationSpec, ReferenceImage};

pub use config::LtxConfig;
use latents::{Compression, LatentShape, Patch};
pub use stages::{Array, Device, Posterior, Stages};
use tokenizer::T5Tokenizer;

/// Called after each denoising step with (steps done, steps, latents); an error stops the run.
pub type AfterStep<'a> = dyn FnMut(usize, usize, &[f32]) -> Result<(), ModelError> + 'a;

/// Seed offsets for the noise drawn besides the initial latents.
const DECODE_NOISE_SEED: u64 = 0xdec0de;
const POSTERIOR_NOISE_SEED: u64 = 0x001a_7e47;

/// Text(+image)-to-video with LTX-Video from an exported model directory.
pub struct LtxModel {
    config: LtxConfig,
    stages: Stages,
    tokenizer: T5Tokenizer,
}

/// The guidance pair's text conditioning: [2, L, D] states and [2, L] mask,
/// the negative (unconditional) prompt first, as LTXPipeline concatenates them.
pub struct TextConditioning {
    /// Encoder hidden states.
    pub states: Array,
    /// 1 for real tokens, 0 for padding.
    pub mask: Array,
}

fn backend(why: impl std::fmt::Display) -> ModelError {
    ModelError::Backend(format!("ltx: {why}").into())
}

impl LtxModel {
    /// The name configuration uses for this backend.
    pub const NAME: &'static str = "ltx";

    /// Loads `dir` (graphs, config.json, tokenizer.json) on `device`.
    pub fn load(dir: &Path, device: Device) -> Result<Self, ModelError> {
        let config = LtxConfig::load(dir).map_err(backend)?;
        let tokenizer = T5Tokenizer::from_file(&dir.join("tokenizer.json")).map_err(backend)?;
        let stages = Stages::load(dir, device).map_err(backend)?;
        Ok(LtxModel {
            config,
            stages,
            tokenizer,
        })
    }

    /// The directory `DREAMREEL_MODEL_DIR` names, if set.
    pub fn dir_from_env() -> Option<PathBuf> {
        std::env::var_os("DREAMREEL_MODEL_DIR").map(PathBuf::from)
    }

    /// The export's configuration.
    pub fn config(&self) -> &LtxConfig {
        &self.config
    }

    fn compression(&self) -> Compression {
        Compression {
            temporal: self.config.temporal_compression_ratio,
            spatial: self.config.spatial_compression_ratio,
        }
    }

    fn patch(&self) -> Patch {
        Patch {
            spatial: self.config.patch_size,
            temporal: self.config.patch_size_t,
        }
    }

    /// Token ids and mask, padded to the export's sequence length.
    pub fn tokenize(&self, text: &str) -> (Vec<i64>, Vec<i64>) {
        let e = self
            .tokenizer
            .encode_padded(text, self.config.max_sequence_length);
        (e.ids, e.attention_mask)
    }

    /// Runs the text encoder on the negative and positive prompts' ids.
    ///
    /// LTXPipeline gives T5 no mask (padding is attended to); the mask only
    /// reaches the transformer. Both prompts go in one batch.
    pub fn encode(
        &self,
        negative: (&[i64], &[i64]),
        positive: (&[i64], &[i64]),
    ) -> Result<TextConditioning, ModelError> {
        let len = positive.0.len();
        if negative.0.len() != len || negative.1.len() != len || positive.1.len() != len {
            return Err(backend("prompt ids and masks must have one length"));
        }
        let ids = [negative.0, positive.0].concat();
        let states = self.stages.encode_text(&ids, 2).map_err(backend)?;
        let mask = [negative.1, positive.1]
            .concat()
            .into_iter()
            .map(|m| m as f32)
            .collect();
        Ok(TextConditioning {
            states,
            mask: Array {
                shape: vec![2, len],
                values: mask,
            },
        })
    }

    /// A reference picture as the VAE encoder's input [1, 3, 1, H, W] at the
    /// model's size for a clip of `clip` (width, height), placed where the
    /// clip's cover crop will show it.
    pub fn reference_pixels(
        &self,
        reference: &ReferenceImage,
        clip: (u32, u32),
    ) -> Result<Array, ModelError> {
        let aspect = aspect_of(clip.0, clip.1);
        let (w, h) = self.config.resolution(aspect);
        let values =
            frames::reference_pixels(reference, (clip.0 as usize, clip.1 as usize), (w, h))
                .map_err(ModelError::Rejected)?;
        Ok(Array {
            shape: vec![1, 3, 1, h, w],
            values,
        })
    }

    /// Whether this export has the VAE encoder and per-token timesteps image conditioning needs.
    pub fn conditions_on_images(&self) -> bool {
        self.stages.conditions_on_images()
    }

    /// Normalised first-frame latents [1, C, 1, h, w] for `pixels` [1, 3, 1, H, W]:
    /// the VAE posterior sampled as `mean + std * noise` (`noise` standard
    /// normal, the mean's size), then `_normalize_latents` (which the image
    /// pipeline calls with scaling factor 1, whatever the VAE's config says).
    pub fn reference_latents(&self, pixels: &Array, noise: &[f32]) -> Result<Vec<f32>, ModelError> {
        if !self.conditions_on_images() {
            return Err(ModelError::Rejected(
                "ltx: this model export cannot condition on a reference picture (no \
                 vae_encoder.onnx, or a transformer taking one timestep per video): \
                 re-export it with gpu-worker/models/ltx/export.py"
                    .into(),
            ));
        }
        let Posterior { mean, std } = self.stages.encode_image(pixels).map_err(backend)?;
        let c = &self.config;
        let [1, channels, 1, h, w] = mean.shape[..] else {
            return Err(ModelError::InvalidOutput(format!(
                "VAE posterior shape {:?}",
                mean.shape
            )));
        };
        if channels != c.latent_channels
            || std.shape != mean.shape
            || noise.len() != mean.values.len()
        {
            return Err(backend("VAE posterior and noise shapes disagree"));
        }
        let mut x: Vec<f32> = mean
            .values
            .iter()
            .zip(&std.values)
            .zip(noise)
            .map(|((m, s), n)| m + s * n)
            .collect();
        let shape = LatentShape {
            batch: 1,
            channels,
            frames: 1,
            height: h,
            width: w,
        };
        latents::normalize(&mut x, shape, &c.latents_mean, &c.latents_std, 1.0);
        Ok(x)
    }

    /// RoPE positions [2, 3, N] for a latent grid, in packing order: what
    /// LTXVideoRotaryPosEmbed derives from `rope_interpolation_scale`.
    pub fn video_coords(&self, shape: LatentShape) -> Array {
        let c = &self.config;
        let (p, pt) = (c.patch_size, c.patch_size_t);
        let (f, h, w) = (shape.frames / pt, shape.height / p, shape.width / p);
        let time = c.temporal_compression_ratio as f32 / c.frame_rate;
        let space = c.spatial_compression_ratio as f32;
        let n = f * h * w;
        let mut one = vec![0.0; 3 * n];
        for (token, (fi, hi, wi)) in (0..f)
            .flat_map(|fi| (0..h).flat_map(move |hi| (0..w).map(move |wi| (fi, hi, wi))))
            .enumerate()
        {
            // Same operation order as the reference: index * scale * patch.
            one[token] = fi as f32 * time * pt as f32;
            one[n + token] = hi as f32 * space * p as f32;
            one[2 * n + token] = wi as f32 * space * p as f32;
        }
        Array {
            shape: vec![2, 3, n],
            values: one.repeat(2),
        }
    }

    /// Denoises packed latents [1, N, D] in place over `steps` guided steps,
    /// calling `after_step(done, total, latents)` after each (its error stops the run).
    /// `first_frame_fixed`: latent frame 0 is a conditioning picture, as in
    /// `LTXImageToVideoPipeline` (its tokens get timestep 0 and keep their values).
    #[allow(clippy::too_many_arguments)]
    pub fn denoise(
        &self,
        packed: &mut [f32],
        shape: LatentShape,
        text: &TextConditioning,
        steps: usize,
        guidance: f32,
        first_frame_fixed: bool,
        after_step: &mut AfterStep<'_>,
    ) -> Result<(), ModelError> {
        // The pipeline's sequence length for the shift is the unpatched latent grid.
        let seq = shape.frames * shape.height * shape.width;
        let schedule = self
            .config
            .scheduler
            .schedule(steps, seq)
            .map_err(backend)?;
        let coords = self.video_coords(shape);
        let n = shape.seq_len(self.patch());
        let dim = packed.len() / n.max(1);
        let guided = guidance > 1.0;
        // With 1x1x1 patches, frame 0 is the first H*W tokens (the image
        // pipeline's mask packing only supports those patches too).
        let fixed = match first_frame_fixed {
            false => 0,
            true if self.patch() == Patch::LTX => shape.height * shape.width,
            true => {
                return Err(backend(
                    "image conditioning needs 1x1x1 transformer patches",
                ));
            }
        };
        for (i, &t) in schedule.timesteps.iter().enumerate() {
            let pair = Array {
                shape: vec![2, n, dim],
                values: packed.repeat(2),
            };
            let timesteps = latents::token_timesteps(t, n, fixed);
            let velocity = self
                .stages
                .velocity(&pair, &text.states, &timesteps, &text.mask, &coords)
                .map_err(backend)?;
            let (uncond, cond) = velocity.values.split_at(packed.len());
            let v = if guided {
                latents::guidance(uncond, cond, guidance)
            } else {
                cond.to_vec()
            };
            // The Euler step on frames 1.. only: frame 0 is carried over.
            schedule.step(i, &mut packed[fixed * dim..], &v[fixed * dim..]);
            after_step(i + 1, schedule.steps(), packed)?;
        }
        Ok(())
    }

    /// Decodes packed latents [1, N, D] to pixels [1, 3, F', H', W'] (about -1..1).
    /// `noise` (the latents' size) is mixed in when the VAE is timestep-conditioned.
    pub fn decode(
        &self,
        packed: &[f32],
        shape: LatentShape,
        noise: Option<&[f32]>,
    ) -> Result<Array, ModelError> {
        let c = &self.config;
        let mut latents = latents::unpack(packed, shape, self.patch());
        latents::denormalize(
            &mut latents,
            shape,
            &c.latents_mean,
            &c.latents_std,
            c.scaling_factor,
        );
        if let (true, Some(noise)) = (c.vae_timestep_conditioning, noise) {
            latents::decode_noise_mix(&mut latents, noise, c.decode_noise_scale);
        }
        let grid = Array {
            shape: vec![1, shape.channels, shape.frames, shape.height, shape.width],
            values: latents,
        };
        self.stages
            .decode(&grid, c.decode_timestep)
            .map_err(backend)
    }

    /// Latent grid for `frames` frames of `width`x`height` pixels.
    pub fn latent_shape(
        &self,
        frames: usize,
        width: usize,
        height: usize,
    ) -> Result<LatentShape, ModelError> {
        LatentShape::for_video(
            1,
            self.config.latent_channels,
            (frames, height, width),
            self.compression(),
        )
        .map_err(backend)
    }
}

/// The preset whose shape a clip of `width` x `height` is closest to.
fn aspect_of(width: u32, height: u32) -> Aspect {
    match width.cmp(&height) {
        std::cmp::Ordering::Greater => Aspect::Landscape,
        std::cmp::Ordering::Less => Aspect::Portrait,
        std::cmp::Ordering::Equal => Aspect::Square,
    }
}

impl VideoModel for LtxModel {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn generate(
        &self,
        spec: &GenerationSpec,
        sink: &mut dyn FrameSink,
        control: &JobControl<'_>,
    ) -> Result<Soundtrack, ModelError> {
        let c = &self.config;
        let (width, height) = c.resolution(aspect_of(spec.width, spec.height));
        let model_frames = c.frames_for(spec.duration_ms as f32 / 1000.0);
        let shape = self.latent_shape(model_frames, width, height)?;
        let steps = c.num_inference_steps;
        control.report(Stage::Generating, 0, steps as u32 + 1);

        // The reference first: a job this export cannot condition fails before any work.
        let first_frame = match &spec.reference {
            Some(reference) => {
                let pixels = self.reference_pixels(reference, (spec.width, spec.height))?;
                let size = c.latent_channels * shape.height * shape.width;
                let noise = latents::initial_noise(spec.seed ^ POSTERIOR_NOISE_SEED, size);
                Some(self.reference_latents(&pixels, &noise)?)
            }
            None => None,
        };
        let (ids, mask) = self.tokenize(&spec.prompt);
        let (neg_ids, neg_mask) = self.tokenize("");
        let text = self.encode((&neg_ids, &neg_mask), (&ids, &mask))?;
        control.checkpoint()?;

        // Our own seeded noise: torch's generator cannot be reproduced, so the
        // parity tests pass the reference's initial latents explicitly.
        let mut noise = latents::initial_noise(spec.seed, shape.len());
        if let Some(first) = &first_frame {
            latents::condition_first_frame(&mut noise, first, shape);
        }
        let mut packed = latents::pack(&noise, shape, self.patch());
        self.denoise(
            &mut packed,
            shape,
            &text,
            steps,
            c.guidance_scale,
            first_frame.is_some(),
            &mut |done, total, _| {
                control.report(Stage::Generating, done as u32, total as u32 + 1);
                control.checkpoint()
            },
        )?;
        let decode_noise = latents::initial_noise(spec.seed ^ DECODE_NOISE_SEED, shape.len());
        let video = self.decode(&packed, shape, Some(&decode_noise))?;
        control.report(Stage::Generating, steps as u32 + 1, steps as u32 + 1);

        let [_, _, frames, h, w] = video.shape[..] else {
            return Err(ModelError::InvalidOutput(format!(
                "VAE output shape {:?}",
                video.shape
            )));
        };
        let video = frames::Video {
            frames,
            height: h,
            width: w,
            values: &video.values,
        };
        let mut frame = YuvFrame::new(spec.width, spec.height);
        let mut scratch = Vec::new();
        for i in 0..spec.frame_count() {
            control.checkpoint()?;
            let index = frames::source_index(i, spec.fps, c.frame_rate, frames);
            frames::render(&video, index, &mut frame, &mut scratch);
            sink.push(&frame)?;
        }
        Ok(super::local::soundtrack(spec))
    }
}
