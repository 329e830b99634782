//! MP4 muxing with muxide (pure Rust): fast-start layout, exact timestamps.

use muxide::api::{AudioCodec, MuxerBuilder, VideoCodec};

use super::MediaError;
use super::audio::{EncodedAudio, OPUS_FRAME_SAMPLES};
use super::video::EncodedFrame;
use crate::spec::{AUDIO_CHANNELS, AUDIO_SAMPLE_RATE};

/// Muxes H.264 frames and Opus packets into an MP4 with `moov` before `mdat`.
///
/// Timestamps are `i / fps` and `k * 960 / 48000` seconds, which are whole
/// ticks of muxide's 90 kHz media clock, so the duration comes out exact.
pub fn mux_mp4(
    video: &[EncodedFrame],
    width: u32,
    height: u32,
    fps: u32,
    audio: &EncodedAudio,
) -> Result<Vec<u8>, MediaError> {
    let err = |e: muxide::api::MuxerError| MediaError::Mux(e.to_string());
    if video.is_empty() || audio.packets.is_empty() {
        return Err(MediaError::Mux("both tracks need samples".into()));
    }
    let payload: usize = video.iter().map(|f| f.data.len()).sum::<usize>()
        + audio.packets.iter().map(Vec::len).sum::<usize>();
    let mut muxer = MuxerBuilder::new(Vec::with_capacity(payload + 64 * 1024))
        .video(VideoCodec::H264, width, height, f64::from(fps))
        .audio(AudioCodec::Opus, AUDIO_SAMPLE_RATE, AUDIO_CHANNELS)
        // Phones start playing before the download ends only with moov first.
        .with_fast_start(true)
        .build()
        .map_err(err)?;
    for (i, frame) in video.iter().enumerate() {
        let pts = i as f64 / f64::from(fps);
        muxer
            .write_video(pts, &frame.data, frame.keyframe)
            .map_err(err)?;
    }
    let packet_seconds = OPUS_FRAME_SAMPLES as f64 / f64::from(AUDIO_SAMPLE_RATE);
    for (k, packet) in audio.packets.iter().enumerate() {
        muxer
            .write_audio(k as f64 * packet_seconds, packet)
            .map_err(err)?;
    }
    muxer.finish_in_place().map_err(err)?;
    Ok(muxer.into_writer())
}

/// Top-level MP4 box types in file order, for checks and tests.
pub fn top_level_boxes(mp4: &[u8]) -> Vec<[u8; 4]> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= mp4.len() {
        let size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
        boxes.push(mp4[at + 4..at + 8].try_into().unwrap());
        if size < 8 {
            break; // 0 (to end) or 1 (64-bit) sizes are not produced by muxide.
        }
        at += size;
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Soundtrack, YuvFrame};
    use crate::media::{H264Encoder, encode_opus};

    #[test]
    fn one_second_muxes_with_moov_before_mdat() {
        let mut enc = H264Encoder::new(64, 64, 24).unwrap();
        let frame = YuvFrame::new(64, 64);
        let video: Vec<_> = (0..24).map(|_| enc.encode(&frame).unwrap()).collect();
        let audio = encode_opus(&Soundtrack {
            samples: vec![0.0; 96_000],
        })
        .unwrap();
        let mp4 = mux_mp4(&video, 64, 64, 24, &audio).unwrap();
        let boxes = top_level_boxes(&mp4);
        let pos = |t: &[u8; 4]| boxes.iter().position(|b| b == t).unwrap();
        assert_eq!(boxes[0], *b"ftyp");
        assert!(pos(b"moov") < pos(b"mdat"));
    }

    #[test]
    fn empty_tracks_are_refused() {
        let audio = EncodedAudio {
            packets: vec![],
            pre_skip: 312,
        };
        assert!(mux_mp4(&[], 64, 64, 24, &audio).is_err());
    }
}
