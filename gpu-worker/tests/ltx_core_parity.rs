//! LTX-Video's pure-Rust pieces against fixtures from the reference
//! implementations (written by `models/ltx/reference_core.py`):
//! - tokenizer: ids and attention masks equal `T5TokenizerFast`'s exactly,
//!   for the tiny configuration's tokenizer and a real-layout (SentencePiece
//!   converted, precompiled charsmap) one;
//! - sampler: sigmas and timesteps within 1e-6 (relative to 1 and 1000)
//!   of diffusers' `FlowMatchEulerDiscreteScheduler.set_timesteps` as
//!   `LTXPipeline` calls it, and `step` outputs within 1e-6 relative;
//! - latents: pack/unpack exact; (de)normalisation, guidance and the
//!   decode noise mix within 1e-6 relative of `LTXPipeline`'s methods.

use std::path::{Path, PathBuf};

use dreamreel_worker::backends::ltx::latents::{self, Compression, LatentShape, Patch};
use dreamreel_worker::backends::ltx::sampler::SchedulerConfig;
use dreamreel_worker::backends::ltx::tokenizer::T5Tokenizer;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ltx")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("core").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ints(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

/// Cases store the unpadded ids; the reference pads with `<pad>` (0) on the right.
fn check_tokenizer(tokenizer: &T5Tokenizer, cases: &Value) {
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 400);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let max_len = case["max_length"].as_u64().unwrap() as usize;
        let mut ids = ints(&case["ids"]);
        let real = ids.len();
        ids.resize(max_len, 0);
        let mask: Vec<i64> = (0..max_len).map(|i| i64::from(i < real)).collect();
        let got = tokenizer.encode_padded(text, max_len);
        assert_eq!(got.ids, ids, "ids of {text:?} at {max_len}");
        assert_eq!(got.attention_mask, mask, "mask of {text:?} at {max_len}");
    }
}

#[test]
fn tiny_tokenizer_matches_t5_tokenizer_fast() {
    let tokenizer = T5Tokenizer::from_file(&fixtures().join("tiny/tokenizer.json")).unwrap();
    assert_eq!(tokenizer.vocab_size(), 1000);
    check_tokenizer(&tokenizer, &load("tokenizer.json")["tiny"]);
}

#[test]
fn real_layout_tokenizer_matches_t5_tokenizer_fast() {
    let path = fixtures().join("core/t5_layout_tokenizer.json");
    let tokenizer = T5Tokenizer::from_file(&path).unwrap();
    // 1000 pieces then T5's 100 sentinels.
    assert_eq!(tokenizer.vocab_size(), 1100);
    check_tokenizer(&tokenizer, &load("tokenizer.json")["t5_layout"]);
}

fn floats(value: &Value) -> Vec<f32> {
    let values = value.as_array().unwrap();
    values.iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

/// Each value within `tol` of the reference, relative to max(1, |reference|).
fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

fn scheduler(fixture: &Value, name: &str) -> SchedulerConfig {
    serde_json::from_value(fixture["configs"][name].clone()).unwrap()
}

#[test]
fn schedules_match_ltx_pipeline_set_timesteps() {
    let fixture = load("sampler.json");
    let cases = fixture["schedules"].as_array().unwrap();
    assert!(cases.len() >= 40);
    for case in cases {
        let name = case["config"].as_str().unwrap();
        let config = scheduler(&fixture, name);
        let steps = case["steps"].as_u64().unwrap() as usize;
        let seq_len = case["seq_len"].as_u64().unwrap() as usize;
        let what = format!("{name} {steps} steps, {seq_len} tokens");
        assert!(
            (config.mu(seq_len) - case["mu"].as_f64().unwrap()).abs() < 1e-12,
            "{what}: mu"
        );
        if case["sigmas"].is_null() {
            assert!(
                config.schedule(steps, seq_len).is_err(),
                "{what}: the reference's NaN"
            );
            continue;
        }
        let schedule = config.schedule(steps, seq_len).unwrap();
        // Sigmas lie in [0, 1]; timesteps are sigmas x 1000, so 1e-6 of 1000.
        assert_close(&schedule.sigmas, &floats(&case["sigmas"]), 1e-6, &what);
        let timesteps: Vec<f32> = schedule.timesteps.iter().map(|t| t / 1000.0).collect();
        let want: Vec<f32> = floats(&case["timesteps"])
            .iter()
            .map(|t| t / 1000.0)
            .collect();
        assert_close(&timesteps, &want, 1e-6, &what);
    }
}

#[test]
fn euler_steps_match_the_scheduler_over_whole_loops() {
    let fixture = load("sampler.json");
    for case in fixture["loops"].as_array().unwrap() {
        let name = case["config"].as_str().unwrap();
        let steps = case["steps"].as_u64().unwrap() as usize;
        let seq_len = case["seq_len"].as_u64().unwrap() as usize;
        let schedule = scheduler(&fixture, name).schedule(steps, seq_len).unwrap();
        for step in case["loop"].as_array().unwrap() {
            let index = step["index"].as_u64().unwrap() as usize;
            let mut sample = floats(&step["sample"]);
            schedule.step(index, &mut sample, &floats(&step["velocity"]));
            assert_close(
                &sample,
                &floats(&step["out"]),
                1e-6,
                &format!("{name} step {index}"),
            );
        }
    }
}

fn shape_of(value: &Value) -> LatentShape {
    let d: Vec<usize> = ints(value).into_iter().map(|v| v as usize).collect();
    LatentShape {
        batch: d[0],
        channels: d[1],
        frames: d[2],
        height: d[3],
        width: d[4],
    }
}

#[test]
fn packing_matches_ltx_pipeline_exactly() {
    for case in load("latents.json")["pack"].as_array().unwrap() {
        let shape = shape_of(&case["shape"]);
        let patch = Patch {
            spatial: case["patch"].as_u64().unwrap() as usize,
            temporal: case["patch_t"].as_u64().unwrap() as usize,
        };
        let packed_shape = ints(&case["packed_shape"]);
        assert_eq!(packed_shape[1] as usize, shape.seq_len(patch));
        let x = floats(&case["latents"]);
        let packed = latents::pack(&x, shape, patch);
        assert_eq!(packed, floats(&case["packed"]), "{patch:?}");
        assert_eq!(latents::unpack(&packed, shape, patch), x, "{patch:?}");
    }
}

#[test]
fn normalisation_matches_ltx_pipeline() {
    for case in load("latents.json")["normalize"].as_array().unwrap() {
        let shape = shape_of(&case["shape"]);
        let (mean, std) = (floats(&case["mean"]), floats(&case["std"]));
        let scaling = case["scaling"].as_f64().unwrap() as f32;
        let mut x = floats(&case["latents"]);
        latents::normalize(&mut x, shape, &mean, &std, scaling);
        assert_close(&x, &floats(&case["normalized"]), 1e-6, "normalize");
        let mut x = floats(&case["latents"]);
        latents::denormalize(&mut x, shape, &mean, &std, scaling);
        assert_close(&x, &floats(&case["denormalized"]), 1e-6, "denormalize");
    }
}

#[test]
fn guidance_and_decode_noise_match_ltx_pipeline() {
    let fixture = load("latents.json");
    for case in fixture["guidance"].as_array().unwrap() {
        let (uncond, cond) = (floats(&case["uncond"]), floats(&case["cond"]));
        let scale = case["scale"].as_f64().unwrap() as f32;
        let rescale = case["rescale"].as_f64().unwrap() as f32;
        let mut guided = latents::guidance(&uncond, &cond, scale);
        if rescale > 0.0 {
            let batch = case["batch"].as_u64().unwrap() as usize;
            latents::rescale_guidance(&mut guided, &cond, batch, rescale);
        }
        assert_close(&guided, &floats(&case["guided"]), 1e-6, "guidance");
    }
    for case in fixture["decode_noise"].as_array().unwrap() {
        let mut x = floats(&case["latents"]);
        let scale = case["scale"].as_f64().unwrap() as f32;
        latents::decode_noise_mix(&mut x, &floats(&case["noise"]), scale);
        assert_close(&x, &floats(&case["mixed"]), 1e-6, "decode noise");
    }
}

#[test]
fn latent_shapes_match_ltx_pipeline() {
    for case in load("latents.json")["shapes"].as_array().unwrap() {
        let size = |k: &str| case[k].as_u64().unwrap() as usize;
        let clip = (size("frames"), size("height"), size("width"));
        let shape = LatentShape::for_video(1, 128, clip, Compression::LTX).unwrap();
        let latent = ints(&case["latent"]);
        assert_eq!(
            [shape.frames, shape.height, shape.width].map(|v| v as i64),
            latent[..],
            "{clip:?}"
        );
        assert_eq!(shape.seq_len(Patch::LTX), size("seq_len"));
    }
}
