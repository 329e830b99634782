//! The CPU-only backend: a deterministic renderer that turns a prompt into a
//! moving scene with a soundtrack, so the whole product runs without a GPU.

mod mood;
mod music;
mod paint;
mod rng;
mod scene;

use crate::frame::{Soundtrack, YuvFrame};
use crate::model::{FrameSink, JobControl, ModelError, Stage, VideoModel};
use crate::spec::GenerationSpec;

use mood::Mood;
use rng::Rng;
use scene::Scene;

/// Renders prompt-driven abstract animation on the CPU; same prompt+seed, same clip.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalModel;

impl LocalModel {
    /// The name configuration uses for this backend.
    pub const NAME: &'static str = "local";
}

/// The soundtrack the local synthesiser scores `spec` with, for backends
/// whose output has no usable sound.
pub(crate) fn soundtrack(spec: &GenerationSpec) -> Soundtrack {
    let mut music_rng = Rng::from_prompt(&spec.prompt, spec.seed).fork(0x5011d);
    let mood = Mood::from_prompt(&spec.prompt);
    music::compose(&mut music_rng, &mood, spec.audio_samples())
}

impl VideoModel for LocalModel {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn generate(
        &self,
        spec: &GenerationSpec,
        sink: &mut dyn FrameSink,
        control: &JobControl<'_>,
    ) -> Result<Soundtrack, ModelError> {
        let mut rng = Rng::from_prompt(&spec.prompt, spec.seed);
        let mood = Mood::from_prompt(&spec.prompt);
        // Separate streams so the picture and the music vary independently.
        let mut picture_rng = rng.fork(0x5ce9e);
        let mut music_rng = rng.fork(0x5011d);
        let scene = Scene::new(&mut picture_rng, &mood, spec.width, spec.height);

        let frames = spec.frame_count();
        let mut frame = YuvFrame::new(spec.width, spec.height);
        for i in 0..frames {
            control.checkpoint()?;
            scene.paint(&mut frame, i as f32 / spec.fps as f32);
            sink.push(&frame)?;
            control.report(Stage::Generating, i + 1, frames);
        }
        control.checkpoint()?;
        Ok(music::compose(&mut music_rng, &mood, spec.audio_samples()))
    }
}
