//! Opus encoding of the soundtrack (libopus, BSD-licensed, royalty-free).

use opus::{Application, Bitrate, Channels, Encoder};

use super::MediaError;
use crate::frame::Soundtrack;
use crate::spec::{AUDIO_CHANNELS, AUDIO_SAMPLE_RATE};

/// Samples per channel in one Opus packet (20 ms, the codec's sweet spot).
pub const OPUS_FRAME_SAMPLES: usize = 960;
// Music at 96 kbit/s stereo is transparent for most listeners.
const BITRATE: i32 = 96_000;
// Largest packet libopus can emit, per its documentation.
const MAX_PACKET: usize = 1_275 * 3 + 7;

/// A soundtrack as Opus packets, each [`OPUS_FRAME_SAMPLES`] long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedAudio {
    /// Raw Opus packets in order (no Ogg framing; the MP4 muxer wants them bare).
    pub packets: Vec<Vec<u8>>,
    /// Encoder delay the decoder must drop, in 48 kHz samples.
    pub pre_skip: u16,
}

/// Encodes a 48 kHz stereo soundtrack; a short last packet is padded with silence.
pub fn encode_opus(track: &Soundtrack) -> Result<EncodedAudio, MediaError> {
    let err = |e: opus::Error| MediaError::Audio(e.to_string());
    let mut encoder =
        Encoder::new(AUDIO_SAMPLE_RATE, Channels::Stereo, Application::Audio).map_err(err)?;
    encoder.set_bitrate(Bitrate::Bits(BITRATE)).map_err(err)?;
    let pre_skip = encoder.get_lookahead().map_err(err)?;

    let chunk = OPUS_FRAME_SAMPLES * usize::from(AUDIO_CHANNELS);
    let mut packets = Vec::with_capacity(track.samples.len().div_ceil(chunk));
    let mut buffer = vec![0u8; MAX_PACKET];
    let mut padded = vec![0.0f32; chunk];
    for samples in track.samples.chunks(chunk) {
        let input = if samples.len() == chunk {
            samples
        } else {
            padded[..samples.len()].copy_from_slice(samples);
            padded[samples.len()..].fill(0.0);
            &padded[..]
        };
        let n = encoder.encode_float(input, &mut buffer).map_err(err)?;
        packets.push(buffer[..n].to_vec());
    }
    Ok(EncodedAudio {
        packets,
        pre_skip: u16::try_from(pre_skip).map_err(|_| MediaError::Audio("bad lookahead".into()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_second_is_fifty_packets_and_decodes() {
        let samples = (0..48_000 * 2)
            .map(|i| ((i / 2) as f32 * 440.0 / 48_000.0 * std::f32::consts::TAU).sin() * 0.5)
            .collect();
        let audio = encode_opus(&Soundtrack { samples }).unwrap();
        assert_eq!(audio.packets.len(), 50);
        // The MP4 muxer writes a fixed 312-sample pre-skip; ours must match.
        assert_eq!(audio.pre_skip, 312);
        let mut dec = opus::Decoder::new(48_000, Channels::Stereo).unwrap();
        let mut out = vec![0f32; 960 * 2];
        assert_eq!(
            dec.decode_float(&audio.packets[10], &mut out, false)
                .unwrap(),
            960
        );
    }

    #[test]
    fn partial_last_packet_is_padded() {
        let audio = encode_opus(&Soundtrack {
            samples: vec![0.0; 1000 * 2],
        })
        .unwrap();
        assert_eq!(audio.packets.len(), 2);
    }
}
