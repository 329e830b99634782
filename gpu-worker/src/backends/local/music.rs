//! The local backend's soundtrack: a four-chord loop with pad, bass, arpeggio
//! and (for lively prompts) drums, written note by note into a stereo buffer.

use super::mood::Mood;
use super::rng::{Rng, sin_turns};
use crate::frame::Soundtrack;
use crate::spec::AUDIO_SAMPLE_RATE;

const MAJOR: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];
// Chord roots as scale degrees, one chord per bar.
const MAJOR_LOOPS: [[usize; 4]; 4] = [[0, 4, 5, 3], [0, 3, 4, 3], [5, 3, 0, 4], [0, 5, 3, 4]];
const MINOR_LOOPS: [[usize; 4]; 4] = [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 6], [0, 2, 3, 4]];
const RATE: f32 = AUDIO_SAMPLE_RATE as f32;

/// One note to add into the mix.
struct Note {
    start: usize,
    len: usize,
    hz: f32,
    gain: f32,
    pan: f32,
    /// Amplitudes of the 1st, 2nd and 3rd harmonics.
    harmonics: [f32; 3],
    attack: f32,
    /// Exponential decay time constant in seconds; `None` holds then releases.
    decay: Option<f32>,
}

/// Composes `frames` stereo samples per channel of music in the prompt's mood.
pub(crate) fn compose(rng: &mut Rng, mood: &Mood, frames: usize) -> Soundtrack {
    let minor = mood.minor.unwrap_or(rng.below(2) == 0);
    let scale = if minor { MINOR } else { MAJOR };
    let chords = if minor { MINOR_LOOPS } else { MAJOR_LOOPS }[rng.below(4)];
    let root = 45 + rng.below(12) as i32; // A2..G#3
    let bpm = 70.0 + 58.0 * mood.energy + rng.range(-6.0, 6.0);
    let beat = (RATE * 60.0 / bpm) as usize;
    let arp_pattern = rng.below(3);
    let drums = mood.energy >= 0.5 && rng.below(4) != 0;

    let mut notes = Vec::new();
    let bars = frames.div_ceil(beat * 4);
    for bar in 0..bars {
        let start = bar * beat * 4;
        let degree = chords[bar % 4];
        let triad = [0, 2, 4].map(|step| pitch(&scale, degree + step));
        for (i, &p) in triad.iter().enumerate() {
            notes.push(Note {
                start,
                len: beat * 4 + beat / 2,
                hz: midi_hz(root + 12 + p),
                gain: 0.07,
                pan: [-0.5, 0.0, 0.5][i],
                harmonics: [1.0, 0.3, 0.1],
                attack: 0.25,
                decay: None,
            });
        }
        let bass_every = if mood.energy < 0.3 { 2 } else { 1 };
        for b in (0..4).step_by(bass_every) {
            notes.push(Note {
                start: start + b * beat,
                len: beat * bass_every,
                hz: midi_hz(root - 12 + triad[0]),
                gain: 0.22,
                pan: 0.0,
                harmonics: [1.0, 0.5, 0.15],
                attack: 0.005,
                decay: Some(0.3),
            });
        }
        for step in 0..8 {
            if rng.unit() > 0.45 + 0.5 * mood.energy {
                continue;
            }
            let idx = match arp_pattern {
                0 => step % 3,
                1 => 2 - step % 3,
                _ => rng.below(3),
            };
            notes.push(Note {
                start: start + step * beat / 2,
                len: beat,
                hz: midi_hz(root + 24 + triad[idx]),
                gain: 0.06,
                pan: if step % 2 == 0 { -0.4 } else { 0.4 },
                harmonics: [1.0, 0.2, 0.25],
                attack: 0.003,
                decay: Some(0.15),
            });
        }
    }

    let mut left = vec![0.0f32; frames];
    let mut right = vec![0.0f32; frames];
    for note in &notes {
        add_note(&mut left, &mut right, note);
    }
    if drums {
        let mut noise = rng.fork(9);
        add_drums(&mut left, &mut right, beat, mood.energy, &mut noise);
    }
    master(&mut left, &mut right);
    let mut samples = Vec::with_capacity(frames * 2);
    for (l, r) in left.iter().zip(&right) {
        samples.push(*l);
        samples.push(*r);
    }
    Soundtrack { samples }
}

/// Semitones above the root of scale degree `degree` (may pass the octave).
fn pitch(scale: &[i32; 7], degree: usize) -> i32 {
    scale[degree % 7] + 12 * (degree / 7) as i32
}

fn midi_hz(note: i32) -> f32 {
    // Equal temperament from A4 by repeated multiplication: exact and portable.
    const SEMITONE: f64 = 1.059_463_094_359_295_3;
    let mut hz = 440.0f64;
    let steps = note - 69;
    for _ in 0..steps.unsigned_abs() {
        hz = if steps > 0 {
            hz * SEMITONE
        } else {
            hz / SEMITONE
        };
    }
    hz as f32
}

fn add_note(left: &mut [f32], right: &mut [f32], n: &Note) {
    if n.start >= left.len() {
        return;
    }
    let end = (n.start + n.len).min(left.len());
    let release = 0.08 * RATE;
    let step = f64::from(n.hz) / f64::from(RATE);
    let decay_per_sample = n.decay.map(|tau| (-1.0 / (tau * RATE)).exp());
    let (gl, gr) = (n.gain * (1.0 - n.pan) * 0.5, n.gain * (1.0 + n.pan) * 0.5);
    let mut level = 1.0f32;
    for (i, idx) in (n.start..end).enumerate() {
        let t = i as f32;
        // f64 keeps the phase exact over long notes; f32 would drift audibly.
        let phase = (step * i as f64).fract() as f32;
        let tone = n.harmonics[0] * sin_turns(phase)
            + n.harmonics[1] * sin_turns(2.0 * phase)
            + n.harmonics[2] * sin_turns(3.0 * phase);
        let attack = (t / (n.attack * RATE)).min(1.0);
        let tail = ((n.len - i) as f32 / release).min(1.0);
        let env = attack * tail * level;
        if let Some(d) = decay_per_sample {
            level *= d;
        }
        left[idx] += tone * env * gl;
        right[idx] += tone * env * gr;
    }
}

fn add_drums(left: &mut [f32], right: &mut [f32], beat: usize, energy: f32, noise: &mut Rng) {
    let kick_every = if energy > 0.8 { 1 } else { 2 };
    let mut b = 0;
    while b * beat < left.len() {
        let start = b * beat;
        if b % kick_every == 0 {
            // Kick: a sine sweeping down from ~140 Hz with a fast decay.
            let mut phase = 0.0f32;
            for i in 0..(0.35 * RATE) as usize {
                let idx = start + i;
                if idx >= left.len() {
                    break;
                }
                let t = i as f32 / RATE;
                phase += (45.0 + 95.0 * (-t / 0.04).exp()) / RATE;
                let s = 0.45 * sin_turns(phase) * (-t / 0.18).exp();
                left[idx] += s;
                right[idx] += s;
            }
        }
        // Hat on the off-beat: differenced noise (a crude high-pass), very short.
        let hat = start + beat / 2;
        let mut prev = 0.0f32;
        for i in 0..(0.05 * RATE) as usize {
            let idx = hat + i;
            if idx >= left.len() {
                break;
            }
            let white = noise.unit() * 2.0 - 1.0;
            let s = 0.05 * (white - prev) * (-(i as f32) / (0.012 * RATE)).exp();
            prev = white;
            left[idx] += s * 0.8;
            right[idx] += s;
        }
        b += 1;
    }
}

/// Normalises to -1 dBFS, then fades in and out so the clip starts and ends clean.
fn master(left: &mut [f32], right: &mut [f32]) {
    let peak = left
        .iter()
        .chain(right.iter())
        .fold(0.0f32, |m, s| m.max(s.abs()));
    let gain = if peak > 0.0 { 0.89 / peak } else { 0.0 };
    let len = left.len();
    let fade_in = (0.01 * RATE) as usize;
    let fade_out = (0.25 * RATE) as usize;
    for (i, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
        let a = (i as f32 / fade_in as f32).min(1.0);
        let b = ((len - i) as f32 / fade_out as f32).min(1.0);
        let g = gain * a * b;
        *l *= g;
        *r *= g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(prompt: &str, seconds: usize) -> Soundtrack {
        let mut rng = Rng::from_prompt(prompt, 11);
        compose(&mut rng, &Mood::from_prompt(prompt), seconds * 48_000)
    }

    #[test]
    fn a4_is_440_and_octaves_double() {
        assert!((midi_hz(69) - 440.0).abs() < 1e-3);
        assert!((midi_hz(57) - 220.0).abs() < 1e-3);
        assert!((midi_hz(81) - 880.0).abs() < 1e-2);
    }

    #[test]
    fn exact_length_loud_but_not_clipping_and_silent_at_the_edges() {
        let t = track("a dance party on the moon", 3);
        assert_eq!(t.len_per_channel(), 144_000);
        let peak = t.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.5 && peak <= 0.9, "peak {peak}");
        assert_eq!(t.samples[0], 0.0);
        assert!(t.samples.last().unwrap().abs() < 0.01);
    }

    #[test]
    fn prompts_sound_different_and_repeat_exactly() {
        assert_eq!(
            track("rain on a tin roof", 2),
            track("rain on a tin roof", 2)
        );
        assert_ne!(track("rain on a tin roof", 2), track("sunny beach", 2));
    }
}
