//! Render progress → the edge's one number and stage name.
//!
//! The render reports per-stage counts; users see one bar. The model phase
//! (frames made and encoded) fills 0–85 %, audio/mux/thumbnail 85–95 %, the
//! upload the rest. A model that reports its own steps and then streams
//! frames gets half of the model phase for each; one that streams frames
//! as it makes them (the local backend reports both per frame) moves
//! smoothly. The bar never goes backwards.

use crate::callback::CallbackStage;
use crate::model::{Progress, Stage};

/// Where the model phase ends on the bar.
const MODEL_END: f32 = 0.85;
/// Where encoding ends and uploading starts.
pub const UPLOAD_START: f32 = 0.95;

/// Folds render progress reports into a monotonic (stage, fraction).
#[derive(Debug, Default, Clone)]
pub struct ProgressMap {
    generating: Option<f32>,
    encoding: f32,
    last: f32,
}

impl ProgressMap {
    /// A bar at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one report; returns the stage to show and the overall fraction.
    pub fn update(&mut self, p: Progress) -> (CallbackStage, f32) {
        let f = p.fraction().clamp(0.0, 1.0);
        let (stage, value) = match p.stage {
            Stage::Generating => {
                self.generating = Some(f);
                (CallbackStage::Generating, self.model_phase())
            }
            Stage::EncodingVideo => {
                self.encoding = f;
                (CallbackStage::Generating, self.model_phase())
            }
            Stage::Finishing => (
                CallbackStage::Encoding,
                MODEL_END + (UPLOAD_START - MODEL_END) * f,
            ),
        };
        self.last = self.last.max(value);
        (stage, self.last)
    }

    fn model_phase(&self) -> f32 {
        let done = match self.generating {
            Some(g) => (g + self.encoding) / 2.0,
            None => self.encoding,
        };
        MODEL_END * done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(stage: Stage, done: u32, total: u32) -> Progress {
        Progress { stage, done, total }
    }

    #[test]
    fn streaming_models_fill_the_bar_smoothly() {
        let mut map = ProgressMap::new();
        map.update(p(Stage::Generating, 12, 24));
        let (stage, v) = map.update(p(Stage::EncodingVideo, 12, 24));
        assert_eq!(stage, CallbackStage::Generating);
        assert!((v - 0.425).abs() < 1e-6);
        let (stage, v) = map.update(p(Stage::Finishing, 3, 3));
        assert_eq!((stage, v), (CallbackStage::Encoding, UPLOAD_START));
    }

    #[test]
    fn two_phase_models_never_go_backwards() {
        let mut map = ProgressMap::new();
        let (_, after_steps) = map.update(p(Stage::Generating, 50, 50));
        assert!((after_steps - 0.425).abs() < 1e-6);
        let (_, v) = map.update(p(Stage::EncodingVideo, 1, 240));
        assert!(v >= after_steps);
        let (_, v) = map.update(p(Stage::EncodingVideo, 240, 240));
        assert!((v - MODEL_END).abs() < 1e-6);
        // A frame-only model (no Generating reports) uses the frames alone.
        let mut map = ProgressMap::new();
        let (_, v) = map.update(p(Stage::EncodingVideo, 240, 240));
        assert!((v - MODEL_END).abs() < 1e-6);
    }
}
