//! Times each stage of a 10-second 720×1280 clip with the local backend and
//! the H.264 encoder's speed on one core. Prints figures; asserts nothing.
//!
//! Run: `cargo bench -p dreamreel-worker --bench pipeline`

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use dreamreel_worker::media::{H264Encoder, encode_opus, jpeg_thumbnail, mux_mp4};
use dreamreel_worker::{
    Aspect, FrameSink, GenerationSpec, JobControl, LocalModel, ModelError, VideoModel, YuvFrame,
    render_clip,
};

const RUNS: usize = 3;

/// Drops frames: measures the renderer alone.
struct Discard;
impl FrameSink for Discard {
    fn push(&mut self, _: &YuvFrame) -> Result<(), ModelError> {
        Ok(())
    }
}

/// Keeps frames so encoding can be timed apart from rendering.
struct Keep(Vec<YuvFrame>);
impl FrameSink for Keep {
    fn push(&mut self, frame: &YuvFrame) -> Result<(), ModelError> {
        self.0.push(frame.clone());
        Ok(())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and best of `RUNS` timings of `f`, plus its last result.
fn time<T>(mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[RUNS / 2], times[0], last.unwrap())
}

fn main() {
    let spec = GenerationSpec::new(
        "a lighthouse in a storm at night",
        10_000,
        Aspect::Portrait,
        42,
    );
    let frames = spec.frame_count();
    let cancel = AtomicBool::new(false);
    let quiet = |_| {};
    let control = JobControl::new(&cancel, &quiet);
    println!(
        "clip: {}x{} @ {} fps, {} frames, {} ms; {RUNS} runs each (median / best)",
        spec.width, spec.height, spec.fps, frames, spec.duration_ms
    );

    let (render, render_best, soundtrack) =
        time(|| LocalModel.generate(&spec, &mut Discard, &control).unwrap());

    let mut kept = Keep(Vec::with_capacity(frames as usize));
    LocalModel.generate(&spec, &mut kept, &control).unwrap();
    let raw = kept.0;
    let (video, video_best, encoded) = time(|| {
        let mut enc = H264Encoder::new(spec.width, spec.height, spec.fps).unwrap();
        raw.iter()
            .map(|f| enc.encode(f).unwrap())
            .collect::<Vec<_>>()
    });
    let (audio, audio_best, opus) = time(|| encode_opus(&soundtrack).unwrap());
    let (mux, mux_best, mp4) =
        time(|| mux_mp4(&encoded, spec.width, spec.height, spec.fps, &opus).unwrap());
    let poster = &raw[raw.len() / 2];
    let (thumb, thumb_best, jpeg) = time(|| jpeg_thumbnail(poster, 82).unwrap());

    println!("stage            median ms    best ms");
    for (name, median, best) in [
        ("render (model)", render, render_best),
        ("video encode", video, video_best),
        ("audio encode", audio, audio_best),
        ("mux", mux, mux_best),
        ("thumbnail", thumb, thumb_best),
    ] {
        println!("{name:<16} {:>9.1} {:>10.1}", ms(median), ms(best));
    }
    let fps = |d: Duration| f64::from(frames) / d.as_secs_f64();
    let realtime = f64::from(spec.fps);
    println!(
        "H.264 encoder, 1 thread: {:.0} fps median ({:.1}x real time), {:.0} fps best ({:.1}x); target >= 96 fps (4x)",
        fps(video),
        fps(video) / realtime,
        fps(video_best),
        fps(video_best) / realtime
    );
    let media = video + audio + mux + thumb;
    println!(
        "media stages (all but the model): {:.0} ms for {:.0} ms of video; output {} KiB MP4 ({:.2} Mbit/s), {} KiB JPEG",
        ms(media),
        f64::from(spec.duration_ms),
        mp4.len() / 1024,
        mp4.len() as f64 * 8.0 / f64::from(spec.duration_ms) / 1000.0,
        jpeg.len() / 1024
    );

    // The real entry point, frames streamed from model to encoder.
    let (whole, whole_best, clip) =
        time(|| render_clip(&LocalModel, &spec, &quiet, &cancel).unwrap());
    let t = clip.timings;
    println!(
        "render_clip end to end: {:.0} ms median, {:.0} ms best (last run: generate {:.0}, video {:.0}, audio {:.0}, mux {:.0}, thumbnail {:.0} ms)",
        ms(whole),
        ms(whole_best),
        ms(t.generate),
        ms(t.video_encode),
        ms(t.audio_encode),
        ms(t.mux),
        ms(t.thumbnail)
    );
}
