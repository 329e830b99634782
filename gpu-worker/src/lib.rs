//! Dreamreel's generation worker: video models behind one trait, and the
//! media pipeline that turns what they make into an MP4 phones play.
//!
//! [`render_clip`] is the entry point: spec in, fast-start MP4 (H.264 +
//! Opus) and a JPEG thumbnail out. Storage, job leasing and callbacks live
//! around it, not in it.

#![warn(missing_docs)]

pub mod backends;
pub mod frame;
pub mod media;
pub mod model;
pub mod render;
pub mod spec;

pub use backends::local::LocalModel;
pub use frame::{Soundtrack, YuvFrame};
pub use model::{FrameSink, JobControl, ModelError, Progress, Stage, VideoModel};
pub use render::{RenderError, RenderedClip, StageTimings, render_clip};
pub use spec::{Aspect, GenerationSpec, SpecError};
