//! Encoding: H.264 video, Opus audio, fast-start MP4 muxing and a JPEG
//! thumbnail; reading: a bounded MP4 reader and H.264 decoding (a
//! provider's clip, a cameo's reference frame); PNG for reference images.

mod audio;
pub(crate) mod decode;
pub mod mp4;
mod mux;
pub mod png;
pub mod reference;
mod thumbnail;
mod video;

pub use audio::{EncodedAudio, OPUS_FRAME_SAMPLES, encode_opus};
pub use mux::{mux_mp4, top_level_boxes};
pub use thumbnail::jpeg_thumbnail;
pub use video::{EncodedFrame, H264Encoder};

use thiserror::Error;

/// Why encoding or muxing failed. Library errors are kept as text because
/// their types are not all `Send + Sync`.
#[derive(Debug, Error)]
pub enum MediaError {
    /// The H.264 encoder failed or misbehaved.
    #[error("H.264 encoding failed: {0}")]
    Video(String),
    /// The Opus encoder failed.
    #[error("Opus encoding failed: {0}")]
    Audio(String),
    /// The MP4 muxer refused the streams.
    #[error("MP4 muxing failed: {0}")]
    Mux(String),
    /// The thumbnail could not be encoded.
    #[error("thumbnail encoding failed: {0}")]
    Thumbnail(String),
}
