//! What the frame checks cost a 10-second 720×1280 clip: sampling during the
//! render, then the workspace's policy module (photosensitivity graph plus
//! the test classifier) in wasmtime through wasi-nn, next to the plain render
//! of the same clip in the same run. Prints figures; asserts only that the
//! clip passes.
//!
//! Run: `cargo bench -p dreamreel-worker --bench frame_safety` (builds the
//! policy component first; needs ONNX Runtime like the worker).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use dreamreel_worker::render::render_sampled;
use dreamreel_worker::safety::FramePolicy;
use dreamreel_worker::{Aspect, GenerationSpec, LocalModel, YuvFrame, render_clip};

const RUNS: usize = 3;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "--target", "wasm32-wasip2", "--release"])
        .args(["-p", "dreamreel-safety-policy"])
        .status()
        .unwrap();
    assert!(status.success());
    let dir = tempfile::tempdir().unwrap();
    let models = root.join("safety-policy/models");
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("policy.json")).unwrap()).unwrap();
    policy["classifiers"] = serde_json::json!([{
        "graph": "test-classifier", "width": 64, "height": 64,
        "labels": ["red_dominant", "blue_dominant"],
        "block": {"red_dominant": {"threshold": 0.9, "category": "test-red"}}
    }]);
    std::fs::write(dir.path().join("policy.json"), policy.to_string()).unwrap();
    for graph in ["flash", "test-classifier"] {
        std::os::unix::fs::symlink(models.join(graph), dir.path().join(graph)).unwrap();
    }
    let module = root.join("target/wasm32-wasip2/release/dreamreel_safety_policy.wasm");
    let started = Instant::now();
    let policy = FramePolicy::load_with_module(dir.path(), &module).unwrap();
    let load = started.elapsed().as_secs_f64();

    let spec = GenerationSpec::new("a lighthouse in a storm", 10_000, Aspect::Portrait, 3);
    let cancel = AtomicBool::new(false);
    let (mut plain, mut sampled, mut check) = (Vec::new(), Vec::new(), Vec::new());
    let mut fuel = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        render_clip(&LocalModel, &spec, &|_| {}, &cancel).unwrap();
        plain.push(t.elapsed().as_secs_f64());
        let mut sampler = policy.sampler(&spec);
        let t = Instant::now();
        render_sampled(&LocalModel, &spec, &|_| {}, &cancel, Some(&mut sampler)).unwrap();
        sampled.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let verdict = policy.check(&spec, &sampler).unwrap();
        check.push(t.elapsed().as_secs_f64());
        assert_eq!(verdict.blocked, None);
        fuel = verdict.fuel_used;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (plain, sampled, check) = (median(&mut plain), median(&mut sampled), median(&mut check));
    // The sampler alone, on 240 full-size frames (the difference of the two
    // renders is within their noise).
    let frame = YuvFrame::new(spec.width, spec.height);
    let mut sampler = policy.sampler(&spec);
    let t = Instant::now();
    for _ in 0..spec.frame_count() {
        sampler.observe(&frame);
    }
    let sampling = t.elapsed().as_secs_f64();
    println!("render with sampling: {sampled:.3} s (median)");
    println!("policy load (compile + graphs, once per process): {load:.3} s");
    println!("10 s 720x1280 clip, plain render: {plain:.3} s (the baseline; median of {RUNS})");
    println!(
        "sampling 240 frames: {sampling:.3} s = {:.3}x",
        sampling / plain
    );
    println!(
        "check (module + graphs): {check:.3} s = {:.3}x, fuel {fuel}",
        check / plain
    );
    println!(
        "added per clip: {:.3} s = {:.3}x the render",
        sampling + check,
        (sampling + check) / plain
    );
}
