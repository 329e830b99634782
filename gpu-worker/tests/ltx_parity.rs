//! LTX-Video parity: each exported stage run from Rust through ONNX Runtime,
//! the guided sampler loop and the whole tiny pipeline against diffusers'
//! outputs on the tiny random-weight configuration
//! (`gpu-worker/models/ltx/export.py --tiny` writes graphs and references).
//!
//! Tolerances (float32 throughout, CPU execution provider):
//! - each stage: max |rust - torch| <= 1e-4 * max(1, max |torch|);
//! - the sampler loop (3 guided steps) and the decoded pipeline frames in 0..1:
//!   max abs error <= 1e-4.
//!
//! These need ONNX Runtime (the PyPI `onnxruntime` wheel): without it they
//! fail, they do not skip.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use dreamreel_worker::backends::ltx::{Array, Device, LtxModel, Stages};
use dreamreel_worker::semantic::safetensors::SafeTensors;
use dreamreel_worker::{GenerationSpec, render_clip};

const STAGE_TOLERANCE: f32 = 1e-4;
const PIPELINE_TOLERANCE: f32 = 1e-4;

fn tiny_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ltx/tiny")
}

fn reference(name: &str) -> SafeTensors {
    let path = tiny_dir().join("reference").join(name);
    SafeTensors::parse(std::fs::read(&path).expect("reference fixture")).expect("safetensors")
}

fn array(st: &SafeTensors, name: &str, shape: &[usize]) -> Array {
    let t = st
        .f32(name, shape)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Array {
        shape: t.shape,
        values: t.values,
    }
}

/// Max abs difference, asserted within `tolerance` scaled by the reference's magnitude.
fn assert_close(what: &str, got: &[f32], want: &Array, tolerance: f32) -> f32 {
    assert_eq!(got.len(), want.values.len(), "{what}: length");
    let scale = want.values.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(&want.values)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("{what}: max abs error {err:.2e} (reference magnitude {scale:.2})");
    assert!(
        err.is_finite() && err <= tolerance * scale,
        "{what}: max abs error {err} (scale {scale})"
    );
    err
}

fn stages() -> Stages {
    Stages::load(&tiny_dir(), Device::Cpu).expect("tiny graphs load (is onnxruntime installed?)")
}

fn model() -> LtxModel {
    LtxModel::load(&tiny_dir(), Device::Cpu).expect("tiny model loads")
}

#[test]
fn text_encoder_matches_t5() {
    let st = reference("text_encoder.safetensors");
    let ids: Vec<i64> = array(&st, "input_ids", &[2, 16])
        .values
        .iter()
        .map(|v| *v as i64)
        .collect();
    let want = array(&st, "last_hidden_state", &[2, 16, 32]);
    let got = stages().encode_text(&ids, 2).unwrap();
    assert_eq!(got.shape, want.shape);
    assert_close("text encoder", &got.values, &want, STAGE_TOLERANCE);
}

#[test]
fn transformer_matches_ltx_video_transformer() {
    let st = reference("transformer.safetensors");
    let t = array(&st, "timestep", &[2]).values[0];
    let got = stages()
        .velocity(
            &array(&st, "hidden_states", &[2, 128, 8]),
            &array(&st, "encoder_hidden_states", &[2, 16, 32]),
            t,
            &array(&st, "encoder_attention_mask", &[2, 16]),
            &array(&st, "video_coords", &[2, 3, 128]),
        )
        .unwrap();
    let want = array(&st, "velocity", &[2, 128, 8]);
    assert_eq!(got.shape, want.shape);
    assert_close("transformer", &got.values, &want, STAGE_TOLERANCE);
}

#[test]
fn rope_coordinates_match_the_pipelines() {
    // The fixture's coords are the export script's copy of the pipeline's
    // RoPE grid; the script asserts it reproduces the pipeline's velocity.
    let st = reference("transformer.safetensors");
    let m = model();
    let shape = m.latent_shape(5, 32, 32).unwrap();
    let want = array(&st, "video_coords", &[2, 3, 128]);
    assert_close("video coords", &m.video_coords(shape).values, &want, 1e-6);
}

#[test]
fn vae_decoder_matches_autoencoder_kl_ltx_video() {
    let st = reference("vae_decoder.safetensors");
    let got = stages()
        .decode(&array(&st, "latents", &[1, 8, 2, 8, 8]), 0.0)
        .unwrap();
    let want = array(&st, "video", &[1, 3, 5, 32, 32]);
    assert_eq!(got.shape, want.shape);
    assert_close("VAE decoder", &got.values, &want, STAGE_TOLERANCE);
}

#[test]
fn tiny_pipeline_matches_diffusers_step_by_step_and_decoded() {
    let st = reference("pipeline.safetensors");
    let m = model();
    let c = m.config();
    let shape = m.latent_shape(c.num_frames, c.width, c.height).unwrap();
    let ids = array(&st, "input_ids", &[2, 16]);
    let mask = array(&st, "attention_mask", &[2, 16]);
    let as_ids = |a: &[f32]| a.iter().map(|v| *v as i64).collect::<Vec<_>>();
    let (ids, mask) = (as_ids(&ids.values), as_ids(&mask.values));
    // Row 0 is the prompt, row 1 the empty negative prompt.
    let text = m
        .encode((&ids[16..], &mask[16..]), (&ids[..16], &mask[..16]))
        .unwrap();

    // The schedule diffusers used.
    let schedule = c.scheduler.schedule(c.num_inference_steps, 128).unwrap();
    assert_close(
        "timesteps",
        &schedule.timesteps,
        &array(&st, "timesteps", &[3]),
        1e-6,
    );
    assert_close(
        "sigmas",
        &schedule.sigmas,
        &array(&st, "sigmas", &[4]),
        1e-6,
    );

    let mut latents = array(&st, "initial_latents", &[1, 128, 8]).values;
    let mut seen = Vec::new();
    m.denoise(
        &mut latents,
        shape,
        &text,
        c.num_inference_steps,
        c.guidance_scale,
        &mut |i, n, x| {
            assert_eq!(n, 3);
            let want = array(&st, &format!("latents_after_step_{}", i - 1), &[1, 128, 8]);
            seen.push(assert_close(
                &format!("latents after step {i}"),
                x,
                &want,
                PIPELINE_TOLERANCE,
            ));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen.len(), 3);

    let video = m.decode(&latents, shape, None).unwrap();
    assert_eq!(video.shape, [1, 3, 5, 32, 32]);
    // diffusers' output_type="np": [B, F, H, W, 3] in 0..1.
    let want = array(&st, "frames", &[1, 5, 32, 32, 3]);
    let plane = 5 * 32 * 32;
    let got: Vec<f32> = (0..plane)
        .flat_map(|p| (0..3).map(move |ch| (ch, p)))
        .map(|(ch, p)| (video.values[ch * plane + p] / 2.0 + 0.5).clamp(0.0, 1.0))
        .collect();
    assert_close("decoded frames", &got, &want, PIPELINE_TOLERANCE);
}

#[test]
fn ltx_model_renders_a_clip_of_the_spec() {
    let m = model();
    let spec = GenerationSpec {
        width: 96,
        height: 64,
        ..GenerationSpec::new(
            "a red fox in the snow",
            1_000,
            dreamreel_worker::Aspect::Landscape,
            7,
        )
    };
    let reports = std::sync::Mutex::new(Vec::new());
    let progress = |p: dreamreel_worker::Progress| reports.lock().unwrap().push(p);
    let clip = render_clip(&m, &spec, &progress, &AtomicBool::new(false)).expect("clip renders");
    assert_eq!(
        (clip.width, clip.height, clip.frames),
        (96, 64, spec.frame_count())
    );
    assert_eq!(&clip.thumbnail[..2], &[0xFF, 0xD8]);
    let reports = reports.lock().unwrap();
    let steps = m.config().num_inference_steps as u32;
    let generating: Vec<_> = reports
        .iter()
        .filter(|p| p.stage == dreamreel_worker::Stage::Generating)
        .map(|p| (p.done, p.total))
        .collect();
    assert_eq!(generating.first(), Some(&(0, steps + 1)));
    assert_eq!(generating.last(), Some(&(steps + 1, steps + 1)));
}

#[test]
fn a_cancelled_job_stops_between_steps() {
    let m = model();
    let spec = GenerationSpec {
        width: 64,
        height: 64,
        ..GenerationSpec::new("a red fox", 1_000, dreamreel_worker::Aspect::Square, 7)
    };
    let cancel = AtomicBool::new(false);
    let progress = |p: dreamreel_worker::Progress| {
        if p.stage == dreamreel_worker::Stage::Generating && p.done == 1 {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let result = render_clip(&m, &spec, &progress, &cancel);
    assert!(
        matches!(result, Err(dreamreel_worker::RenderError::Cancelled)),
        "{result:?}"
    );
}

#[test]
fn a_directory_without_an_export_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let err = LtxModel::load(empty.path(), Device::Cpu)
        .err()
        .expect("nothing to load");
    assert!(err.to_string().contains("config.json"), "{err}");
    // Config present, graphs missing: the missing file is named.
    std::fs::copy(
        tiny_dir().join("config.json"),
        empty.path().join("config.json"),
    )
    .unwrap();
    std::fs::copy(
        tiny_dir().join("tokenizer.json"),
        empty.path().join("tokenizer.json"),
    )
    .unwrap();
    let err = LtxModel::load(empty.path(), Device::Cpu)
        .err()
        .expect("no graphs");
    assert!(err.to_string().contains(".onnx is missing"), "{err}");
}
