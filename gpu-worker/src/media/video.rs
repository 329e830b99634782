//! H.264 encoding with OpenH264 (Cisco's BSD-licensed encoder, built from source).

use openh264::OpenH264API;
use openh264::Timestamp;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSource;

use super::MediaError;
use crate::frame::YuvFrame;

// ~0.1 bit per pixel: 2.2 Mbit/s at 720×1280×24, plenty for flat synthetic
// scenes and in line with what feeds deliver on phones.
const BITS_PER_PIXEL: f64 = 0.1;
// A keyframe every two seconds keeps seeking and scrubbing snappy.
const KEYFRAME_SECONDS: u32 = 2;

/// One encoded picture in Annex B form (start codes, SPS/PPS on keyframes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Annex B bytes of every NAL unit of the picture.
    pub data: Vec<u8>,
    /// True for IDR pictures, where playback can start.
    pub keyframe: bool,
}

/// Encodes frames of one clip, in order, one call per frame.
pub struct H264Encoder {
    encoder: Encoder,
    width: u32,
    height: u32,
    fps: u32,
    index: u64,
}

impl H264Encoder {
    /// An encoder for `width`×`height` at `fps`, single-threaded and deterministic.
    pub fn new(width: u32, height: u32, fps: u32) -> Result<Self, MediaError> {
        let bitrate = f64::from(width) * f64::from(height) * f64::from(fps) * BITS_PER_PIXEL;
        let config = EncoderConfig::new()
            // Constrained-baseline-compatible output plays on every phone.
            .profile(Profile::Baseline)
            // OpenH264 refuses the non-real-time camera mode; this one only tunes defaults.
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bitrate as u32))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            // A skipped frame would leave a hole in the timeline: never skip.
            .skip_frames(false)
            .complexity(Complexity::Low)
            .intra_frame_period(IntraFramePeriod::from_num_frames(fps * KEYFRAME_SECONDS))
            // One thread: the worker scales by jobs, and threads would make
            // the bitstream depend on scheduling.
            .num_threads(1)
            .vui(VuiConfig::bt709());
        let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| MediaError::Video(e.to_string()))?;
        quiet_init_warnings(&mut encoder);
        Ok(H264Encoder {
            encoder,
            width,
            height,
            fps,
            index: 0,
        })
    }

    /// Encodes the next frame; every input frame yields exactly one output frame.
    pub fn encode(&mut self, frame: &YuvFrame) -> Result<EncodedFrame, MediaError> {
        if (frame.width(), frame.height()) != (self.width, self.height) {
            return Err(MediaError::Video(format!(
                "frame is {}x{}, encoder expects {}x{}",
                frame.width(),
                frame.height(),
                self.width,
                self.height
            )));
        }
        let millis = self.index * 1000 / u64::from(self.fps);
        let stream = self
            .encoder
            .encode_at(&Planes(frame), Timestamp::from_millis(millis))
            .map_err(|e| MediaError::Video(e.to_string()))?;
        let keyframe = match stream.frame_type() {
            FrameType::IDR => true,
            FrameType::I | FrameType::P => false,
            other => {
                return Err(MediaError::Video(format!(
                    "frame {} came back as {other:?}",
                    self.index
                )));
            }
        };
        let data = stream.to_vec();
        if data.is_empty() {
            return Err(MediaError::Video(format!("frame {} is empty", self.index)));
        }
        self.index += 1;
        Ok(EncodedFrame { data, keyframe })
    }
}

/// Keeps OpenH264's initialisation warnings off stderr.
///
/// Bitrate mode without frame skipping makes OpenH264 print a warning when it
/// initialises on the first frame; the worker's logs are structured, so only
/// errors may pass. The crate sets its quiet level only after that point.
fn quiet_init_warnings(encoder: &mut Encoder) {
    let mut level = openh264_sys2::WELS_LOG_ERROR as u32;
    // SAFETY: the encoder exists and is not initialised yet, the one state in
    // which OpenH264 accepts this option; it reads the u32 during the call only.
    let rc = unsafe {
        encoder.raw_api().set_option(
            openh264_sys2::ENCODER_OPTION_TRACE_LEVEL,
            (&raw mut level).cast(),
        )
    };
    debug_assert_eq!(rc, 0, "OpenH264 refused its trace level");
}

/// Lends a [`YuvFrame`]'s planes to OpenH264 without copying.
struct Planes<'a>(&'a YuvFrame);

impl YUVSource for Planes<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width() as usize, self.0.height() as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let w = self.0.width() as usize;
        (w, w / 2, w / 2)
    }

    fn y(&self) -> &[u8] {
        self.0.y()
    }

    fn u(&self) -> &[u8] {
        self.0.u()
    }

    fn v(&self) -> &[u8] {
        self.0.v()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_frame_is_an_idr_with_parameter_sets() {
        let mut enc = H264Encoder::new(64, 64, 24).unwrap();
        let first = enc.encode(&YuvFrame::new(64, 64)).unwrap();
        assert!(first.keyframe);
        // NAL types 7 (SPS) and 8 (PPS) follow 4-byte start codes.
        let types: Vec<u8> = first
            .data
            .windows(5)
            .filter(|w| w[..4] == [0, 0, 0, 1])
            .map(|w| w[4] & 0x1f)
            .collect();
        assert!(types.contains(&7) && types.contains(&8) && types.contains(&5));
        let second = enc.encode(&YuvFrame::new(64, 64)).unwrap();
        assert!(!second.keyframe);
    }

    #[test]
    fn keyframes_every_two_seconds() {
        let mut enc = H264Encoder::new(64, 64, 24).unwrap();
        let frame = YuvFrame::new(64, 64);
        let keys: Vec<usize> = (0..100)
            .filter(|_| enc.encode(&frame).unwrap().keyframe)
            .collect();
        assert_eq!(keys, vec![0, 48, 96]);
    }

    #[test]
    fn wrong_size_frames_are_refused() {
        let mut enc = H264Encoder::new(64, 64, 24).unwrap();
        assert!(matches!(
            enc.encode(&YuvFrame::new(32, 64)),
            Err(MediaError::Video(_))
        ));
    }
}
