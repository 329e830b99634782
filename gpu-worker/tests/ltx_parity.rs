//! LTX-Video parity: each exported stage run from Rust through ONNX Runtime,
//! the guided sampler loop and the whole tiny pipeline, text to video
//! (`LTXPipeline`) and image to video (`LTXImageToVideoPipeline`), against
//! diffusers' outputs on the tiny configuration (random weights, the VAE
//! briefly trained as an autoencoder; `gpu-worker/models/ltx/export.py --tiny`
//! writes graphs and references).
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

use dreamreel_worker::backends::ltx::{Array, Device, LtxModel, Stages, latents};
use dreamreel_worker::frame::YuvFrame;
use dreamreel_worker::model::{FrameSink, JobControl, ModelError, VideoModel};
use dreamreel_worker::semantic::safetensors::SafeTensors;
use dreamreel_worker::spec::ReferenceImage;
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
    // The pipeline's per-token timestep (the image pipeline's, first frame at
    // 0) and the text pipeline's one per video, which the worker spreads over tokens.
    let per_token = array(&st, "timestep_per_token", &[2, 128]).values;
    let stages = stages();
    for (what, timesteps, velocity) in [
        ("transformer", vec![t; 128], "velocity"),
        (
            "transformer, per-token timestep",
            per_token[..128].to_vec(),
            "velocity_per_token",
        ),
    ] {
        let got = stages
            .velocity(
                &array(&st, "hidden_states", &[2, 128, 8]),
                &array(&st, "encoder_hidden_states", &[2, 16, 32]),
                &timesteps,
                &array(&st, "encoder_attention_mask", &[2, 16]),
                &array(&st, "video_coords", &[2, 3, 128]),
            )
            .unwrap();
        let want = array(&st, velocity, &[2, 128, 8]);
        assert_eq!(got.shape, want.shape);
        assert_close(what, &got.values, &want, STAGE_TOLERANCE);
    }
    assert_eq!(per_token[..64], [0.0; 64]);
    assert_eq!(&per_token[..128], &per_token[128..]);
}

/// The fixture's 8-bit RGB picture [H, W, 3] as the worker receives it.
fn picture(st: &SafeTensors, side: usize) -> ReferenceImage {
    let rgb = array(st, "picture", &[side, side, 3]).values;
    ReferenceImage {
        handle: "ana".into(),
        width: side as u32,
        height: side as u32,
        rgb: rgb.iter().map(|v| *v as u8).collect(),
    }
}

#[test]
fn vae_encoder_matches_autoencoder_kl_ltx_video() {
    let st = reference("vae_encoder.safetensors");
    // diffusers' preprocess of the picture, at the model's own size: exact.
    let pixels = model()
        .reference_pixels(&picture(&st, 32), (32, 32))
        .unwrap();
    let want = array(&st, "pixels", &[1, 3, 1, 32, 32]);
    assert_eq!(pixels, want);
    let got = stages().encode_image(&pixels).unwrap();
    for (what, got, name) in [
        ("VAE encoder mean", got.mean, "mean"),
        ("VAE encoder std", got.std, "std"),
    ] {
        let want = array(&st, name, &[1, 8, 1, 8, 8]);
        assert_eq!(got.shape, want.shape);
        assert_close(what, &got.values, &want, STAGE_TOLERANCE);
    }
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
        false,
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

/// diffusers' `output_type="np"` ([B, F, H, W, 3] in 0..1) from decoded pixels [1, 3, F, H, W].
fn as_np(video: &Array) -> Vec<f32> {
    let [_, _, f, h, w] = video.shape[..] else {
        panic!("{:?}", video.shape)
    };
    let plane = f * h * w;
    (0..plane)
        .flat_map(|p| (0..3).map(move |ch| (ch, p)))
        .map(|(ch, p)| (video.values[ch * plane + p] / 2.0 + 0.5).clamp(0.0, 1.0))
        .collect()
}

#[test]
fn tiny_image_to_video_matches_diffusers_step_by_step_and_decoded() {
    let text_st = reference("pipeline.safetensors");
    let st = reference("image_to_video.safetensors");
    let m = model();
    let c = m.config();
    let shape = m.latent_shape(c.num_frames, c.width, c.height).unwrap();
    let as_ids = |a: Array| a.values.iter().map(|v| *v as i64).collect::<Vec<_>>();
    let ids = as_ids(array(&text_st, "input_ids", &[2, 16]));
    let mask = as_ids(array(&text_st, "attention_mask", &[2, 16]));
    let text = m
        .encode((&ids[16..], &mask[16..]), (&ids[..16], &mask[..16]))
        .unwrap();

    // The picture through the encoder, sampled with the pipeline's own draw.
    let pixels = m.reference_pixels(&picture(&st, 32), (32, 32)).unwrap();
    let posterior_noise = array(&st, "posterior_noise", &[1, 8, 1, 8, 8]).values;
    let first = m.reference_latents(&pixels, &posterior_noise).unwrap();
    let mut noise = array(&st, "initial_noise", &[1, 8, 2, 8, 8]).values;
    latents::condition_first_frame(&mut noise, &first, shape);
    let mut packed = latents::pack(&noise, shape, latents::Patch::LTX);

    let schedule = c.scheduler.schedule(c.num_inference_steps, 128).unwrap();
    assert_close(
        "timesteps",
        &schedule.timesteps,
        &array(&st, "timesteps", &[3]),
        1e-6,
    );
    let mut seen = 0;
    m.denoise(
        &mut packed,
        shape,
        &text,
        c.num_inference_steps,
        c.guidance_scale,
        true,
        &mut |i, _, x| {
            let want = array(&st, &format!("latents_after_step_{}", i - 1), &[1, 128, 8]);
            assert_close(
                &format!("image to video: latents after step {i}"),
                x,
                &want,
                PIPELINE_TOLERANCE,
            );
            // Frame 0 (the first 64 tokens) is the picture's latents throughout.
            assert_eq!(
                x[..64 * 8],
                latents::pack(&noise, shape, latents::Patch::LTX)[..64 * 8]
            );
            seen += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, 3);
    let video = m.decode(&packed, shape, None).unwrap();
    let want = array(&st, "frames", &[1, 5, 32, 32, 3]);
    assert_close(
        "image to video: decoded frames",
        &as_np(&video),
        &want,
        PIPELINE_TOLERANCE,
    );
}

/// Keeps the first frame a model pushes.
struct FirstFrame(Option<YuvFrame>);

impl FrameSink for FirstFrame {
    fn push(&mut self, frame: &YuvFrame) -> Result<(), ModelError> {
        if self.0.is_none() {
            self.0 = Some(frame.clone());
        }
        Ok(())
    }
}

fn first_frame(m: &LtxModel, spec: &GenerationSpec) -> Result<YuvFrame, ModelError> {
    let cancel = AtomicBool::new(false);
    let progress = |_: dreamreel_worker::Progress| {};
    let mut sink = FirstFrame(None);
    m.generate(spec, &mut sink, &JobControl::new(&cancel, &progress))?;
    Ok(sink.0.expect("a frame"))
}

/// Mean squared luma difference between a frame and a reference picture of its size.
fn luma_error(frame: &YuvFrame, picture: &ReferenceImage) -> f64 {
    let sum: f64 = picture
        .rgb
        .chunks_exact(3)
        .zip(frame.y())
        .map(|(p, &y)| {
            // BT.709 studio-range luma, as the clip's frames are coded.
            let [r, g, b] = [p[0], p[1], p[2]].map(f64::from);
            let want = 16.0 + 219.0 * (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255.0;
            (want - f64::from(y)).powi(2)
        })
        .sum();
    sum / frame.y().len() as f64
}

/// The tiny VAE encoder's reference picture, scaled up to a 64x64 clip.
fn cameo() -> ReferenceImage {
    let small = picture(&reference("vae_encoder.safetensors"), 32);
    let rgb = (0..64 * 64)
        .flat_map(|i| {
            let (x, y) = (i % 64 / 2, i / 64 / 2);
            small.rgb[(y * 32 + x) * 3..][..3].to_vec()
        })
        .collect();
    ReferenceImage {
        width: 64,
        height: 64,
        rgb,
        ..small
    }
}

#[test]
fn a_cameo_reference_shows_in_the_first_frame() {
    // What a user notices: the clip opens on the cameo. Same prompt and seed
    // with and without the reference; the reference brings the first frame
    // much closer to it (the tiny VAE only keeps coarse shapes and colours).
    let m = model();
    let reference = cameo();
    let plain = GenerationSpec {
        width: 64,
        height: 64,
        ..GenerationSpec::new(
            "ana waves at the camera",
            1_000,
            dreamreel_worker::Aspect::Square,
            3,
        )
    };
    let with = GenerationSpec {
        reference: Some(reference.clone()),
        ..plain.clone()
    };
    let unconditioned = luma_error(&first_frame(&m, &plain).unwrap(), &reference);
    let conditioned = luma_error(&first_frame(&m, &with).unwrap(), &reference);
    eprintln!(
        "first frame luma MSE to the reference: {conditioned:.0} with it, {unconditioned:.0} without"
    );
    assert!(
        conditioned * 2.0 < unconditioned,
        "{conditioned} vs {unconditioned}"
    );
}

#[test]
fn an_export_without_the_vae_encoder_renders_text_only_and_refuses_references() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "config.json",
        "tokenizer.json",
        "text_encoder.onnx",
        "transformer.onnx",
        "vae_decoder.onnx",
    ] {
        std::fs::copy(tiny_dir().join(file), dir.path().join(file)).unwrap();
    }
    let m = LtxModel::load(dir.path(), Device::Cpu).expect("a text-only export loads");
    assert!(!m.conditions_on_images());
    let plain = GenerationSpec {
        width: 64,
        height: 64,
        ..GenerationSpec::new("a red fox", 1_000, dreamreel_worker::Aspect::Square, 7)
    };
    first_frame(&m, &plain).expect("text to video still works");
    let with = GenerationSpec {
        reference: Some(cameo()),
        ..plain
    };
    let err = first_frame(&m, &with).expect_err("no encoder, no conditioning");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("vae_encoder.onnx"), "{err}");
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
