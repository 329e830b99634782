//! The provider's AAC track → the spec's soundtrack: AAC-LC decoded by
//! symphonia from the packets our MP4 reader found, resampled to 48 kHz
//! stereo with a windowed-sinc filter, cut or padded to the clip's length.

use std::f64::consts::PI;
use std::panic::{AssertUnwindSafe, catch_unwind};

use symphonia_codec_aac::AacDecoder;
use symphonia_core::audio::SampleBuffer;
use symphonia_core::codecs::{CODEC_TYPE_AAC, CodecParameters, Decoder, DecoderOptions};
use symphonia_core::formats::Packet;

use crate::frame::Soundtrack;
use crate::media::mp4::AudioTrack;
use crate::model::JobControl;
use crate::spec::{AUDIO_SAMPLE_RATE, GenerationSpec};

/// Samples in one AAC-LC frame: a packet that fails to decode is this much silence.
const FRAME: usize = 1024;
/// Zero crossings of the sinc on each side of an output sample.
const HALF_TAPS: f64 = 16.0;
/// Kernel table entries per source-sample step (linear interpolation between).
const TABLE_STEPS: f64 = 512.0;

/// Why the provider's sound could not be used (the caller falls back).
#[derive(Debug)]
pub enum AudioError {
    /// The job was cancelled while decoding.
    Cancelled,
    /// The track does not decode.
    Undecodable(String),
}

/// Decodes `track` and returns exactly `spec.audio_samples()` stereo
/// samples at 48 kHz: the provider's sound on the clip's timeline.
pub fn soundtrack(
    file: &[u8],
    track: &AudioTrack,
    spec: &GenerationSpec,
    control: &JobControl<'_>,
) -> Result<Soundtrack, AudioError> {
    let (rate, [left, right]) = decode(file, track, spec, control)?;
    let want = spec.audio_samples();
    let left = resample(&left, rate, want);
    let right = resample(&right, rate, want);
    let samples = left
        .iter()
        .zip(&right)
        .flat_map(|(&l, &r)| [l, r])
        .map(|s| {
            if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        })
        .collect();
    Ok(Soundtrack { samples })
}

/// The track's sample rate and its two channels (mono is copied to both),
/// the priming dropped, no longer than the clip needs.
fn decode(
    file: &[u8],
    track: &AudioTrack,
    spec: &GenerationSpec,
    control: &JobControl<'_>,
) -> Result<(u32, [Vec<f32>; 2]), AudioError> {
    let undecodable = |e: String| AudioError::Undecodable(e);
    let mut params = CodecParameters::new();
    params
        .for_codec(CODEC_TYPE_AAC)
        .with_extra_data(track.config.clone().into_boxed_slice());
    let mut decoder = AacDecoder::try_new(&params, &DecoderOptions::default())
        .map_err(|e| undecodable(format!("AAC setup: {e}")))?;
    let (mut channels, mut rate) = (None, 0u32);
    let mut out = [Vec::new(), Vec::new()];
    let (mut failed, mut skip, mut need) = (0usize, 0usize, usize::MAX);
    for (i, range) in track.packets.iter().enumerate() {
        if i % 64 == 0 && control.checkpoint().is_err() {
            return Err(AudioError::Cancelled);
        }
        let packet =
            Packet::new_from_slice(0, (i * FRAME) as u64, FRAME as u64, &file[range.clone()]);
        // symphonia-codec-aac 0.5.5 can index out of bounds on hostile
        // packets (found by fuzz `provider_mp4`): a panic there means the
        // track is unusable, never a dead worker.
        let decoded = catch_unwind(AssertUnwindSafe(|| match decoder.decode(&packet) {
            Ok(buf) => {
                let spec = *buf.spec();
                let mut interleaved = SampleBuffer::<f32>::new(buf.capacity() as u64, spec);
                interleaved.copy_interleaved_ref(buf);
                Some((spec.rate, spec.channels.count(), interleaved))
            }
            Err(_) => None,
        }))
        .map_err(|_| undecodable(format!("the AAC decoder panicked on packet {i}")))?;
        match decoded {
            Some((r, n, buf)) if n > 0 && r > 0 => {
                if channels.is_none() {
                    // The clip's length in source samples, plus the filter's reach.
                    let ratio = f64::from(r) / f64::from(AUDIO_SAMPLE_RATE);
                    let reach = (HALF_TAPS * ratio.max(1.0)).ceil() as usize;
                    need = (spec.audio_samples() as f64 * ratio).ceil() as usize + reach;
                    skip = (track.skip * f64::from(r)).round().min(need as f64) as usize;
                    need += skip;
                    (channels, rate) = (Some(n), r);
                }
                if channels != Some(n) || rate != r {
                    return Err(undecodable("the AAC stream changes its format".into()));
                }
                for frame in buf.samples().chunks_exact(n) {
                    out[0].push(frame[0]);
                    out[1].push(frame[n.min(2) - 1]);
                }
            }
            _ => {
                // A damaged packet is a gap of silence; many mean a bad track.
                failed += 1;
                out[0].extend([0.0; FRAME]);
                out[1].extend([0.0; FRAME]);
                // Bounded before the first good packet sets `need`, too.
                if failed > 8 && failed * 10 > i + 1 {
                    break;
                }
            }
        }
        if out[0].len() >= need {
            break;
        }
    }
    let decoded = out[0].len() / FRAME;
    if channels.is_none() || failed * 10 > decoded.max(1) {
        return Err(undecodable(format!(
            "{failed} of {decoded} AAC packets do not decode"
        )));
    }
    for channel in &mut out {
        channel.truncate(need);
        channel.drain(..skip.min(channel.len()));
    }
    Ok((rate, out))
}

/// `input` at `rate` Hz → exactly `len` samples at 48 kHz, with a
/// Blackman-windowed sinc (low-passed below the lower Nyquist rate, so
/// downsampling does not alias); a short input is padded with silence.
fn resample(input: &[f32], rate: u32, len: usize) -> Vec<f32> {
    if rate == AUDIO_SAMPLE_RATE {
        let mut out: Vec<f32> = input.iter().copied().take(len).collect();
        out.resize(len, 0.0);
        return out;
    }
    let step = f64::from(rate) / f64::from(AUDIO_SAMPLE_RATE);
    // Cut-off as a fraction of the source rate's Nyquist frequency.
    let cutoff = (1.0 / step).min(1.0);
    let reach = HALF_TAPS / cutoff;
    // The kernel is even: tabulate one side once instead of sin/cos per tap.
    let table: Vec<f64> = (0..=(reach * TABLE_STEPS) as usize + 1)
        .map(|i| kernel(i as f64 / TABLE_STEPS, cutoff, reach))
        .collect();
    let weight = |d: f64| {
        let at = d.abs() * TABLE_STEPS;
        let i = at as usize;
        match (table.get(i), table.get(i + 1)) {
            (Some(a), Some(b)) => a + (b - a) * (at - i as f64),
            _ => 0.0,
        }
    };
    (0..len)
        .map(|n| {
            let t = n as f64 * step;
            let first = (t - reach).ceil().max(0.0) as usize;
            let last = ((t + reach).floor() as usize).min(input.len().saturating_sub(1));
            let mut sum = 0.0;
            for (k, &x) in input.iter().enumerate().take(last + 1).skip(first) {
                sum += f64::from(x) * weight(t - k as f64);
            }
            sum as f32
        })
        .collect()
}

/// The windowed-sinc weight of a source sample `d` samples from the output instant.
fn kernel(d: f64, cutoff: f64, reach: f64) -> f64 {
    if d.abs() >= reach {
        return 0.0;
    }
    let x = d * cutoff;
    let sinc = if x == 0.0 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    };
    // Blackman over [-reach, reach].
    let w = 0.5 + d / (2.0 * reach);
    let window = 0.42 - 0.5 * (2.0 * PI * w).cos() + 0.08 * (4.0 * PI * w).cos();
    cutoff * sinc * window
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * PI * freq * i as f64 / f64::from(rate)).sin() as f32 * 0.5)
            .collect()
    }

    #[test]
    fn resampling_keeps_a_tone_and_its_level() {
        for rate in [44_100, 24_000, 96_000, 16_000] {
            let input = sine(440.0, rate, rate as usize);
            let out = resample(&input, rate, 48_000);
            assert_eq!(out.len(), 48_000);
            // Away from the edges the output is the same tone sampled at 48 kHz.
            let expected = sine(440.0, 48_000, 48_000);
            let worst = (2_000..46_000)
                .map(|i| (out[i] - expected[i]).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 0.01, "{rate} Hz: error {worst}");
        }
    }

    #[test]
    fn downsampling_filters_what_48_khz_cannot_hold() {
        // 30 kHz is above 48 kHz's Nyquist frequency: it must not fold back.
        let input = sine(30_000.0, 96_000, 96_000);
        let out = resample(&input, 96_000, 48_000);
        let rms = (out[2_000..46_000].iter().map(|s| s * s).sum::<f32>() / 44_000.0).sqrt();
        assert!(rms < 0.01, "aliased energy {rms}");
    }

    #[test]
    fn short_input_is_padded_and_long_input_cut() {
        assert_eq!(resample(&[0.5; 10], 48_000, 20)[10..], [0.0; 10]);
        assert_eq!(resample(&[0.5; 30], 48_000, 20), vec![0.5; 20]);
        assert_eq!(resample(&[], 44_100, 5), vec![0.0; 5]);
    }

    #[test]
    fn a_packet_that_panics_the_decoder_is_an_error() {
        let file = include_bytes!(
            "../../../../fuzz/corpus/provider_mp4/seed-regression-aac-decoder-panic"
        );
        let movie = crate::media::mp4::read(file).unwrap();
        let track = movie.audio.unwrap().unwrap();
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let progress = |_| {};
        let control = JobControl::new(&cancel, &progress);
        let spec = GenerationSpec::new("x", 1_000, crate::spec::Aspect::Portrait, 1);
        let result = soundtrack(file, &track, &spec, &control);
        assert!(
            matches!(result, Err(AudioError::Undecodable(_))),
            "{result:?}"
        );
    }

    #[test]
    fn a_bad_config_is_an_error_not_a_panic() {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let progress = |_| {};
        let control = JobControl::new(&cancel, &progress);
        let spec = GenerationSpec::new("x", 1_000, crate::spec::Aspect::Portrait, 1);
        let file = [0u8; 64];
        for config in [vec![0, 0], vec![0xff, 0xff], vec![0x2b, 0x92]] {
            let track = AudioTrack {
                config,
                packets: vec![0..10, 10..64],
                skip: 0.0,
            };
            assert!(soundtrack(&file, &track, &spec, &control).is_err());
        }
    }
}
