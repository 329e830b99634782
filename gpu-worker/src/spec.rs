//! What to generate: the job's creative and technical parameters.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Shortest clip the product offers, in milliseconds.
pub const MIN_DURATION_MS: u32 = 1_000;
/// Longest clip the product offers, in milliseconds.
pub const MAX_DURATION_MS: u32 = 10_000;
/// Frame rate the feed is produced at.
pub const DEFAULT_FPS: u32 = 24;
/// Audio sample rate of every soundtrack (Opus only runs at 48 kHz).
pub const AUDIO_SAMPLE_RATE: u32 = 48_000;
/// Channels of every soundtrack.
pub const AUDIO_CHANNELS: u16 = 2;
/// Longest prompt accepted, in bytes; the edge enforces its own, tighter limit.
pub const MAX_PROMPT_BYTES: usize = 4_096;

// Frame rates whose frame duration is a whole number of 48 kHz samples and of
// 90 kHz MP4 ticks, so audio and video line up exactly.
const SUPPORTED_FPS: [u32; 3] = [24, 25, 30];
// Sizes outside this range are either useless on a phone or beyond what the
// H.264 level we target allows; real backends may narrow it further.
const MIN_SIDE: u32 = 64;
const MAX_SIDE: u32 = 1_920;

/// Shape of the clip as offered to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Aspect {
    /// Vertical 9:16 at 720×1280, the feed's native shape.
    #[default]
    #[serde(rename = "9:16")]
    Portrait,
    /// Horizontal 16:9 at 1280×720.
    #[serde(rename = "16:9")]
    Landscape,
    /// Square 1:1 at 720×720.
    #[serde(rename = "1:1")]
    Square,
}

impl Aspect {
    /// Pixel size (width, height) of this preset.
    pub const fn size(self) -> (u32, u32) {
        match self {
            Aspect::Portrait => (720, 1280),
            Aspect::Landscape => (1280, 720),
            Aspect::Square => (720, 720),
        }
    }

    /// Parses the ratio notation the API uses ("9:16", "16:9", "1:1").
    pub fn parse(text: &str) -> Option<Aspect> {
        match text {
            "9:16" => Some(Aspect::Portrait),
            "16:9" => Some(Aspect::Landscape),
            "1:1" => Some(Aspect::Square),
            _ => None,
        }
    }
}

/// Everything a model needs to produce one clip.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GenerationSpec {
    /// The user's prompt, already through the content filter.
    pub prompt: String,
    /// Requested length in milliseconds (1000..=10000).
    pub duration_ms: u32,
    /// Frame width in pixels (even).
    pub width: u32,
    /// Frame height in pixels (even).
    pub height: u32,
    /// Frames per second (24 for the feed).
    pub fps: u32,
    /// Seed that makes generation repeatable.
    pub seed: u64,
    /// The picture the clip starts from (a cast member's verified likeness),
    /// for backends with image conditioning; others go by the prompt alone.
    #[serde(skip)]
    pub reference: Option<ReferenceImage>,
}

/// An RGB picture at the clip's size that conditions the model: a frame of a
/// cast member's verification recording.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReferenceImage {
    /// Handle of the person it shows, for logs and the provider's request.
    pub handle: String,
    /// Width in pixels (the spec's width).
    pub width: u32,
    /// Height in pixels (the spec's height).
    pub height: u32,
    /// Row-major RGB, three bytes per pixel.
    pub rgb: Vec<u8>,
}

impl GenerationSpec {
    /// A spec at the preset size for `aspect`, at 24 fps.
    pub fn new(prompt: impl Into<String>, duration_ms: u32, aspect: Aspect, seed: u64) -> Self {
        let (width, height) = aspect.size();
        GenerationSpec {
            prompt: prompt.into(),
            duration_ms,
            width,
            height,
            fps: DEFAULT_FPS,
            seed,
            reference: None,
        }
    }

    /// Checks the spec against what the pipeline can produce.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.prompt.trim().is_empty() {
            return Err(SpecError::EmptyPrompt);
        }
        if self.prompt.len() > MAX_PROMPT_BYTES {
            return Err(SpecError::PromptTooLong(self.prompt.len()));
        }
        if !(MIN_DURATION_MS..=MAX_DURATION_MS).contains(&self.duration_ms) {
            return Err(SpecError::Duration(self.duration_ms));
        }
        if !SUPPORTED_FPS.contains(&self.fps) {
            return Err(SpecError::FrameRate(self.fps));
        }
        let side_ok = |s: u32| (MIN_SIDE..=MAX_SIDE).contains(&s) && s.is_multiple_of(2);
        // 4:2:0 chroma needs even sides; the bounds keep buffers sane.
        if !side_ok(self.width) || !side_ok(self.height) {
            return Err(SpecError::Size {
                width: self.width,
                height: self.height,
            });
        }
        Ok(())
    }

    /// Number of frames in the clip: the duration rounded to whole frames.
    pub fn frame_count(&self) -> u32 {
        let frames = (u64::from(self.duration_ms) * u64::from(self.fps) + 500) / 1000;
        frames.max(1) as u32
    }

    /// Audio samples per channel that cover one video frame exactly.
    pub fn samples_per_frame(&self) -> u32 {
        AUDIO_SAMPLE_RATE / self.fps
    }

    /// Audio samples per channel for the whole clip (same length as the video).
    pub fn audio_samples(&self) -> usize {
        self.frame_count() as usize * self.samples_per_frame() as usize
    }

    /// The clip's real length: whole frames at `fps`, in milliseconds.
    pub fn rendered_duration_ms(&self) -> u32 {
        (u64::from(self.frame_count()) * 1000 / u64::from(self.fps)) as u32
    }
}

/// Why a spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpecError {
    /// The prompt is blank.
    #[error("the prompt is empty")]
    EmptyPrompt,
    /// The prompt is longer than the worker accepts.
    #[error("the prompt is {0} bytes, more than {MAX_PROMPT_BYTES}")]
    PromptTooLong(usize),
    /// The duration is outside 1–10 s.
    #[error("duration {0} ms is outside {MIN_DURATION_MS}..={MAX_DURATION_MS} ms")]
    Duration(u32),
    /// The frame rate is not one the pipeline produces.
    #[error("frame rate {0} is not supported (24, 25 or 30)")]
    FrameRate(u32),
    /// The frame size is odd or out of range.
    #[error("frame size {width}x{height} must be even and within {MIN_SIDE}..={MAX_SIDE}")]
    Size {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GenerationSpec {
        GenerationSpec::new("a cat surfing at dusk", 10_000, Aspect::Portrait, 7)
    }

    #[test]
    fn presets_have_product_sizes() {
        assert_eq!(Aspect::default().size(), (720, 1280));
        assert_eq!(Aspect::Landscape.size(), (1280, 720));
        assert_eq!(Aspect::Square.size(), (720, 720));
        assert_eq!(Aspect::parse("16:9"), Some(Aspect::Landscape));
        assert_eq!(Aspect::parse("4:3"), None);
    }

    #[test]
    fn aspect_serialises_as_ratio() {
        let json = serde_json::to_string(&Aspect::Square).unwrap();
        assert_eq!(json, "\"1:1\"");
        let back: Aspect = serde_json::from_str("\"9:16\"").unwrap();
        assert_eq!(back, Aspect::Portrait);
    }

    #[test]
    fn ten_seconds_is_240_frames_and_exact_audio() {
        let s = spec();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.frame_count(), 240);
        assert_eq!(s.samples_per_frame(), 2_000);
        assert_eq!(s.audio_samples(), 480_000);
        assert_eq!(s.rendered_duration_ms(), 10_000);
    }

    #[test]
    fn durations_outside_one_to_ten_seconds_are_refused() {
        for ms in [0, 999, 10_001, 11_000] {
            let s = GenerationSpec {
                duration_ms: ms,
                ..spec()
            };
            assert_eq!(s.validate(), Err(SpecError::Duration(ms)));
        }
        for ms in [1_000, 10_000] {
            let s = GenerationSpec {
                duration_ms: ms,
                ..spec()
            };
            assert_eq!(s.validate(), Ok(()));
        }
    }

    #[test]
    fn odd_or_extreme_sizes_are_refused() {
        for (width, height) in [(721, 1280), (720, 1279), (0, 720), (32, 32), (4096, 720)] {
            let s = GenerationSpec {
                width,
                height,
                ..spec()
            };
            assert_eq!(s.validate(), Err(SpecError::Size { width, height }));
        }
    }

    #[test]
    fn blank_prompt_and_odd_fps_are_refused() {
        let s = GenerationSpec {
            prompt: "  ".into(),
            ..spec()
        };
        assert_eq!(s.validate(), Err(SpecError::EmptyPrompt));
        let s = GenerationSpec { fps: 60, ..spec() };
        assert_eq!(s.validate(), Err(SpecError::FrameRate(60)));
    }
}
