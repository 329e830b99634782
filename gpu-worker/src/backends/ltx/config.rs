//! `config.json` of an exported LTX-Video directory (written by
//! `gpu-worker/models/ltx/export.py`): the shapes and constants the Rust side
//! needs around the three graphs.

use std::path::Path;

use serde::Deserialize;

use super::sampler::SchedulerConfig;
use crate::spec::Aspect;

/// The model's constants and default operating point.
#[derive(Debug, Clone, Deserialize)]
pub struct LtxConfig {
    /// "tiny-random" for the test fixtures, "ltx-video" for real exports.
    pub variant: String,
    /// Latent channels C of the VAE.
    pub latent_channels: usize,
    /// Transformer patch size in space (p).
    pub patch_size: usize,
    /// Transformer patch size in time (pt).
    pub patch_size_t: usize,
    /// Pixels per latent cell along each side.
    pub spatial_compression_ratio: usize,
    /// Frames per latent frame (after the first).
    pub temporal_compression_ratio: usize,
    /// Per-channel latent mean (length C).
    pub latents_mean: Vec<f32>,
    /// Per-channel latent standard deviation (length C).
    pub latents_std: Vec<f32>,
    /// The VAE's latent scaling factor.
    pub scaling_factor: f32,
    /// Whether the VAE decoder takes a timestep (LTX-Video 0.9.1 and later).
    pub vae_timestep_conditioning: bool,
    /// Width of the text encoder's hidden states.
    pub caption_channels: usize,
    /// Token count every prompt is padded or cut to.
    pub max_sequence_length: usize,
    /// diffusers' scheduler configuration.
    pub scheduler: SchedulerConfig,
    /// Native width in landscape (the long side).
    pub width: usize,
    /// Native height in landscape (the short side).
    pub height: usize,
    /// Frames of the reference clip (the export's default; clips may differ).
    pub num_frames: usize,
    /// Frame rate the model is conditioned on (RoPE time scale).
    pub frame_rate: f32,
    /// Denoising steps per clip.
    pub num_inference_steps: usize,
    /// Classifier-free guidance scale (> 1 runs the guidance pair).
    pub guidance_scale: f32,
    /// Timestep the VAE decodes at (timestep-conditioned VAEs only).
    pub decode_timestep: f32,
    /// Share of fresh noise mixed into the latents before decoding.
    pub decode_noise_scale: f32,
}

impl LtxConfig {
    /// Reads and checks `dir/config.json`.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join("config.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config: LtxConfig =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        let c = self.latent_channels;
        if c == 0 || self.latents_mean.len() != c || self.latents_std.len() != c {
            return Err(format!("latents_mean/std must have {c} entries"));
        }
        if self.latents_std.contains(&0.0) || self.scaling_factor == 0.0 {
            return Err("latents_std and scaling_factor must be non-zero".into());
        }
        let sizes = [
            self.patch_size,
            self.patch_size_t,
            self.spatial_compression_ratio,
            self.temporal_compression_ratio,
            self.max_sequence_length,
            self.num_inference_steps,
        ];
        if sizes.contains(&0) || self.width < self.height || self.height < self.cell() {
            return Err("sizes must be positive, width >= height >= one latent cell".into());
        }
        // Written so NaN fails too.
        if self.frame_rate.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err("frame_rate must be positive".into());
        }
        Ok(())
    }

    /// Pixels per transformer token along a side: every model size is a multiple.
    pub fn cell(&self) -> usize {
        self.spatial_compression_ratio * self.patch_size
    }

    /// The size (width, height) the model renders a clip of `aspect` at:
    /// the native landscape size, turned for portrait, its short side for square.
    pub fn resolution(&self, aspect: Aspect) -> (usize, usize) {
        let (long, short) = (self.width, self.height);
        match aspect {
            Aspect::Landscape => (long, short),
            Aspect::Portrait => (short, long),
            Aspect::Square => (short, short),
        }
    }

    /// Frames the model renders for `duration_s` seconds: at its own frame
    /// rate, rounded up to the VAE's `k * temporal_ratio + 1` (and the patch).
    pub fn frames_for(&self, duration_s: f32) -> usize {
        let step = self.temporal_compression_ratio * self.patch_size_t;
        let wanted = (duration_s * self.frame_rate).ceil().max(1.0) as usize;
        wanted.saturating_sub(1).div_ceil(step) * step + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> LtxConfig {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ltx/tiny");
        LtxConfig::load(&dir).expect("tiny config")
    }

    #[test]
    fn tiny_config_loads_with_its_shapes() {
        let c = tiny();
        assert_eq!(
            (c.latent_channels, c.cell(), c.temporal_compression_ratio),
            (8, 4, 4)
        );
        assert_eq!(c.resolution(Aspect::Portrait), (32, 32));
        assert!(c.scheduler.use_dynamic_shifting);
    }

    #[test]
    fn frames_round_up_to_whole_latent_frames() {
        let c = tiny();
        // 25 fps, 4 frames per latent frame: 1 s wants 25 frames = 4 * 6 + 1.
        assert_eq!(c.frames_for(1.0), 25);
        assert_eq!(c.frames_for(0.2), 5);
        assert_eq!(c.frames_for(10.0), 253);
    }

    #[test]
    fn real_sizes_turn_with_the_aspect() {
        let c = LtxConfig {
            width: 768,
            height: 512,
            ..tiny()
        };
        assert_eq!(c.resolution(Aspect::Portrait), (512, 768));
        assert_eq!(c.resolution(Aspect::Landscape), (768, 512));
        assert_eq!(c.resolution(Aspect::Square), (512, 512));
    }
}
