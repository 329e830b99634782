//! LTX-Video backend speed: seconds per denoising step and end-to-end seconds
//! for a 10-second 720×1280 clip, against the local CPU backend rendering the
//! same spec in the same run, and the same clip conditioned on a cameo's
//! reference picture (image to video). Prints figures; asserts nothing.
//!
//! Run: `cargo bench -p dreamreel-worker --bench ltx` (the tiny random-weight
//! export on CPU). With `DREAMREEL_MODEL_DIR` set to a real export
//! (`export.py --random-real` or `--weights`) on a CUDA host with the
//! `onnxruntime-gpu` wheel (`DREAMREEL_ONNXRUNTIME`), the same figures come
//! from the GPU, plus its utilisation sampled by `nvidia-smi` during the run.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use dreamreel_worker::backends::ltx::{Device, LtxModel};
use dreamreel_worker::spec::ReferenceImage;
use dreamreel_worker::{
    Aspect, GenerationSpec, LocalModel, Progress, Stage, StageTimings, VideoModel, render_clip,
};

/// `nvidia-smi` sampling GPU utilisation every 100 ms until stopped.
fn start_gpu_sampler() -> Option<Child> {
    Command::new("nvidia-smi")
        .args([
            "--query-gpu=utilization.gpu,memory.used",
            "--format=csv,noheader,nounits",
            "-lms",
            "100",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// Mean and peak utilisation (%) and peak memory (MiB) from the sampler's lines.
fn stop_gpu_sampler(mut child: Child) -> Option<(f64, f64, f64)> {
    use std::io::Read;
    let _ = child.kill();
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    let _ = child.wait();
    let rows: Vec<(f64, f64)> = out
        .lines()
        .filter_map(|l| {
            let (u, m) = l.split_once(',')?;
            Some((u.trim().parse().ok()?, m.trim().parse().ok()?))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mean = rows.iter().map(|r| r.0).sum::<f64>() / rows.len() as f64;
    let peak = rows.iter().map(|r| r.0).fold(0.0, f64::max);
    let mem = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    Some((mean, peak, mem))
}

/// Where one render's time went.
struct Run {
    /// Wall time of `render_clip`.
    total: Duration,
    /// Denoising steps 2..: step 1's gap also holds the text encoder.
    step_gaps: Vec<Duration>,
    /// From the last step's report to the decode's report.
    decode: Duration,
    /// The model's own time (H.264 excluded) after the decode: frame resizing.
    frames: Duration,
    /// `render_clip`'s stage timings.
    timings: StageTimings,
}

/// Renders `spec` with `model`, timing it through its progress reports
/// (the LTX backend reports 0, one per step, then one after the VAE decode).
fn run(model: &dyn VideoModel, spec: &GenerationSpec) -> Run {
    let marks = Mutex::new(Vec::new());
    let progress = |p: Progress| {
        if p.stage == Stage::Generating {
            marks.lock().unwrap().push(Instant::now());
        }
    };
    let t = Instant::now();
    let clip = render_clip(model, spec, &progress, &AtomicBool::new(false)).expect("clip renders");
    let total = t.elapsed();
    let marks = marks.into_inner().unwrap();
    let gaps: Vec<Duration> = marks.windows(2).map(|w| w[1] - w[0]).collect();
    let n = gaps.len();
    let (step_gaps, decode) = if n >= 2 {
        (gaps[1..n - 1].to_vec(), gaps[n - 1])
    } else {
        (Vec::new(), Duration::ZERO)
    };
    let until_decoded = marks.last().map_or(Duration::ZERO, |m| *m - t);
    Run {
        total,
        step_gaps,
        decode,
        frames: clip.timings.generate.saturating_sub(until_decoded),
        timings: clip.timings,
    }
}

fn main() {
    let real = LtxModel::dir_from_env();
    let dir = real.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ltx/tiny")
    });
    let device = if real.is_some() {
        Device::from_env()
    } else {
        Device::Cpu
    };
    let t = Instant::now();
    let model = LtxModel::load(&dir, device).expect("LTX export loads");
    let load = t.elapsed();
    let c = model.config();
    let spec = GenerationSpec::new(
        "a lighthouse in a storm at night",
        10_000,
        Aspect::Portrait,
        42,
    );
    let (w, h) = c.resolution(Aspect::Portrait);
    println!(
        "ltx {} ({}): {} steps at {w}x{h}, {} model frames -> {}x{} {} frames; load {:.2} s",
        c.variant,
        dir.display(),
        c.num_inference_steps,
        c.frames_for(spec.duration_ms as f32 / 1000.0),
        spec.width,
        spec.height,
        spec.frame_count(),
        load.as_secs_f64()
    );

    let baseline = run(&LocalModel, &spec).total;
    println!(
        "baseline: local CPU backend, same spec: {:.2} s end to end",
        baseline.as_secs_f64()
    );

    // One warm-up run (graph optimisation, CUDA kernels), then the measured one.
    let _ = run(&model, &spec);
    let gpu = start_gpu_sampler().filter(|_| real.is_some());
    let measured = run(&model, &spec);
    let (total, gaps, timings) = (measured.total, &measured.step_gaps, measured.timings);
    let usage = gpu.and_then(stop_gpu_sampler);
    let per_step = gaps.iter().map(Duration::as_secs_f64).sum::<f64>() / gaps.len().max(1) as f64;
    let base = baseline.as_secs_f64();
    println!(
        "ltx: {per_step:.3} s per denoising step ({:.3}x the baseline's whole clip), {:.2} s end to end ({:.2}x baseline)",
        per_step / base,
        total.as_secs_f64(),
        total.as_secs_f64() / base
    );
    println!(
        "ltx: of which model {:.2} s (VAE decode {:.2} s, frame resize {:.2} s), H.264 {:.2} s",
        timings.generate.as_secs_f64(),
        measured.decode.as_secs_f64(),
        measured.frames.as_secs_f64(),
        timings.video_encode.as_secs_f64()
    );
    if model.conditions_on_images() {
        // A smooth synthetic picture stands in for a cameo's verification frame.
        let (w, h) = (spec.width, spec.height);
        let rgb = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [(x * 255 / w) as u8, (y * 255 / h) as u8, 128]
            })
            .collect();
        let cameo = GenerationSpec {
            reference: Some(ReferenceImage {
                handle: "bench".into(),
                width: w,
                height: h,
                rgb,
            }),
            ..spec.clone()
        };
        let i2v = run(&model, &cameo);
        let per_step = i2v.step_gaps.iter().map(Duration::as_secs_f64).sum::<f64>()
            / i2v.step_gaps.len().max(1) as f64;
        println!(
            "ltx image to video: {per_step:.3} s per denoising step, {:.2} s end to end ({:+.2} s for the reference)",
            i2v.total.as_secs_f64(),
            i2v.total.as_secs_f64() - total.as_secs_f64()
        );
    }
    match usage {
        Some((mean, peak, mem)) => {
            println!("gpu: utilisation mean {mean:.0}%, peak {peak:.0}%, memory peak {mem:.0} MiB")
        }
        None if real.is_some() => println!("gpu: nvidia-smi unavailable, no utilisation figure"),
        None => {}
    }
}
