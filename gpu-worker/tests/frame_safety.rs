//! Frame checks end to end: the workspace's policy component
//! (`safety-policy/`, built here for wasm32-wasip2) and its ONNX graphs run in
//! wasmtime through wasi-nn on clips the pipeline really renders. A normal
//! clip passes; a 12 Hz strobe is refused as photosensitive; the test
//! classifier's label over its threshold refuses; broken modules are typed
//! errors within their bounds; the worker uploads nothing it refused.
//! Needs ONNX Runtime (CI installs the wheel): without it these fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{Edge, Objects, config, job_id, worker};
use dreamreel_core::jobs::media_keys;
use dreamreel_worker::render::render_sampled;
use dreamreel_worker::safety::{FramePolicy, FrameSafetyError, Verdict};
use dreamreel_worker::{
    Aspect, FrameSink, GenerationSpec, JobControl, JobOutcome, LocalModel, ModelError, Soundtrack,
    VideoModel, YuvFrame, fail_code,
};
use serde_json::{Value, json};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Builds the policy and the fault-injecting module once per test binary.
fn module(file: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(workspace())
            .args(["build", "--target", "wasm32-wasip2", "--release"])
            .args([
                "-p",
                "dreamreel-safety-policy",
                "-p",
                "dreamreel-safety-faults",
            ])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the policy components failed");
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target"))
            .join("wasm32-wasip2/release")
    });
    dir.join(file)
}

fn policy_module() -> PathBuf {
    module("dreamreel_safety_policy.wasm")
}

fn faults_module() -> PathBuf {
    module("dreamreel_safety_faults.wasm")
}

/// The workspace's default policy.json plus the test classifier.
fn test_policy() -> Value {
    let text = std::fs::read_to_string(workspace().join("safety-policy/models/policy.json"))
        .expect("the default policy.json");
    let mut policy: Value = serde_json::from_str(&text).unwrap();
    policy["classifiers"] = json!([{
        "graph": "test-classifier",
        "width": 64,
        "height": 64,
        "labels": ["red_dominant", "blue_dominant"],
        "block": {"red_dominant": {"threshold": 0.9, "category": "test-red"}}
    }]);
    policy
}

/// A policy directory: `policy` as policy.json, the workspace's graphs,
/// and `module` copied in as policy.wasm when given.
fn policy_dir(policy: &Value, module: Option<&Path>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.json"), policy.to_string()).unwrap();
    for graph in ["flash", "test-classifier"] {
        let from = workspace().join("safety-policy/models").join(graph);
        std::os::unix::fs::symlink(from, dir.path().join(graph)).unwrap();
    }
    if let Some(module) = module {
        std::fs::copy(module, dir.path().join("policy.wasm")).unwrap();
    }
    dir
}

fn load(policy: &Value, module: &Path) -> FramePolicy {
    let dir = policy_dir(policy, None);
    FramePolicy::load_with_module(dir.path(), module).expect("the policy loads")
}

fn spec(seconds: u32) -> GenerationSpec {
    GenerationSpec {
        width: 128,
        height: 128,
        ..GenerationSpec::new("a lighthouse at dusk", seconds * 1_000, Aspect::Square, 3)
    }
}

/// Renders `model` through the real pipeline while sampling, then checks.
fn render_and_check(
    policy: &FramePolicy,
    model: &dyn VideoModel,
    spec: &GenerationSpec,
) -> Result<Verdict, FrameSafetyError> {
    let mut sampler = policy.sampler(spec);
    let clip = render_sampled(
        model,
        spec,
        &|_| {},
        &AtomicBool::new(false),
        Some(&mut sampler),
    )
    .expect("the clip renders");
    assert_eq!(sampler.motion.len() as u32, clip.frames);
    policy.check(spec, &sampler)
}

fn score(verdict: &Verdict, name: &str) -> f32 {
    verdict
        .scores
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no score {name} in {:?}", verdict.scores))
        .1
}

/// Full-frame colours from a function of the frame index (sRGB 0..=255).
struct Painted(fn(u32) -> [u8; 3]);

/// Black and white on alternate frames: 12 flashes a second at 24 fps.
fn strobe() -> Painted {
    Painted(|i| if i % 2 == 0 { [0; 3] } else { [255; 3] })
}

impl VideoModel for Painted {
    fn name(&self) -> &str {
        "painted"
    }

    fn generate(
        &self,
        spec: &GenerationSpec,
        sink: &mut dyn FrameSink,
        control: &JobControl<'_>,
    ) -> Result<Soundtrack, ModelError> {
        let mut frame = YuvFrame::new(spec.width, spec.height);
        for i in 0..spec.frame_count() {
            control.checkpoint()?;
            let [y, u, v] = bt709(self.0(i));
            let (py, pu, pv) = frame.planes_mut();
            py.fill(y);
            pu.fill(u);
            pv.fill(v);
            sink.push(&frame)?;
        }
        Ok(Soundtrack {
            samples: vec![0.0; spec.audio_samples() * 2],
        })
    }
}

/// sRGB to BT.709 limited-range YUV, as the encoder expects.
fn bt709([r, g, b]: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0);
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let to = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    [
        to(16.0 + 219.0 * y),
        to(128.0 + 224.0 * (b - y) / 1.8556),
        to(128.0 + 224.0 * (r - y) / 1.5748),
    ]
}

#[test]
fn a_normal_clip_passes_and_the_check_is_cheap() {
    let policy = load(&test_policy(), &policy_module());
    assert_eq!(policy.graph_names(), ["flash", "test-classifier"]);
    let spec = spec(3);
    let started = Instant::now();
    let verdict = render_and_check(&policy, &LocalModel, &spec).expect("checked");
    println!(
        "local clip: {:?}, fuel {}, render+check {:?}",
        verdict.scores,
        verdict.fuel_used,
        started.elapsed()
    );
    assert_eq!(verdict.blocked, None);
    assert!(score(&verdict, "flashes-per-second") <= 3.0);
    assert!(score(&verdict, "test-classifier.red_dominant") < 0.9);
    // The default module leaves most of its fuel: the bound is for runaways.
    assert!(verdict.fuel_used < dreamreel_worker::safety::DEFAULT_FUEL / 4);
}

#[test]
fn a_strobing_clip_is_photosensitive() {
    let policy = load(&test_policy(), &policy_module());
    let verdict = render_and_check(&policy, &strobe(), &spec(2)).expect("checked");
    let blocked = verdict.blocked.clone().expect("blocked");
    assert_eq!(blocked.category, "photosensitive");
    assert!(
        blocked.reason.contains("12 large-area flashes"),
        "{blocked:?}"
    );
    assert_eq!(score(&verdict, "flashes-per-second"), 12.0);

    // Two blinks a second stays inside WCAG's three flashes.
    let slow = Painted(|i| if (i / 6) % 2 == 0 { [0; 3] } else { [255; 3] });
    let verdict = render_and_check(&policy, &slow, &spec(2)).expect("checked");
    assert_eq!(verdict.blocked, None, "{:?}", verdict.scores);
    assert_eq!(score(&verdict, "flashes-per-second"), 2.0);

    // The same strobe over a sixteenth of the frame is not a general flash.
    let verdict = render_and_check(&policy, &CornerStrobe, &spec(2)).expect("checked");
    assert_eq!(verdict.blocked, None, "{:?}", verdict.scores);
    assert_eq!(score(&verdict, "flashes-per-second"), 0.0);
}

/// Mid grey, with the top-left quarter-by-quarter block strobing at 12 Hz.
struct CornerStrobe;

impl VideoModel for CornerStrobe {
    fn name(&self) -> &str {
        "corner-strobe"
    }

    fn generate(
        &self,
        spec: &GenerationSpec,
        sink: &mut dyn FrameSink,
        _: &JobControl<'_>,
    ) -> Result<Soundtrack, ModelError> {
        let (w, h) = (spec.width as usize, spec.height as usize);
        let mut frame = YuvFrame::new(spec.width, spec.height);
        for i in 0..spec.frame_count() {
            let (py, pu, pv) = frame.planes_mut();
            py.fill(126);
            pu.fill(128);
            pv.fill(128);
            for row in py.chunks_mut(w).take(h / 4) {
                row[..w / 4].fill(if i % 2 == 0 { 16 } else { 235 });
            }
            sink.push(&frame)?;
        }
        Ok(Soundtrack {
            samples: vec![0.0; spec.audio_samples() * 2],
        })
    }
}

#[test]
fn the_classifier_slot_blocks_a_label_over_its_threshold() {
    let policy = load(&test_policy(), &policy_module());
    let red = Painted(|_| [250, 10, 10]);
    let verdict = render_and_check(&policy, &red, &spec(1)).expect("checked");
    let blocked = verdict.blocked.clone().expect("blocked");
    assert_eq!(blocked.category, "test-red");
    assert!(score(&verdict, "test-classifier.red_dominant") >= 0.9);
    assert!(score(&verdict, "test-classifier.blue_dominant") < 0.1);

    // Blue scores high too, but only red is a blocking label in this policy.
    let blue = Painted(|_| [10, 10, 250]);
    let verdict = render_and_check(&policy, &blue, &spec(1)).expect("checked");
    assert_eq!(verdict.blocked, None);
    assert!(score(&verdict, "test-classifier.blue_dominant") >= 0.9);

    // Raising the threshold in policy.json alone lets the red clip through.
    let mut lenient = test_policy();
    lenient["classifiers"][0]["block"]["red_dominant"]["threshold"] = json!(0.999);
    let policy = load(&lenient, &policy_module());
    let verdict = render_and_check(&policy, &red, &spec(1)).expect("checked");
    assert_eq!(verdict.blocked, None);
}

#[test]
fn broken_policies_are_typed_errors_within_bounds() {
    let spec = spec(1);
    let clip = Painted(|_| [90, 90, 90]);

    // A policy naming a graph the directory lacks.
    let mut missing = test_policy();
    missing["classifiers"][0]["graph"] = json!("absent");
    let err = render_and_check(&load(&missing, &policy_module()), &clip, &spec).unwrap_err();
    assert!(
        matches!(&err, FrameSafetyError::Module(m) if m.contains("absent")),
        "{err}"
    );
    // A policy.json the module cannot read.
    let mut typo = test_policy();
    typo["photosensitivity"]["min_aera"] = json!(0.5);
    let err = render_and_check(&load(&typo, &policy_module()), &clip, &spec).unwrap_err();
    assert!(
        matches!(&err, FrameSafetyError::Module(m) if m.contains("min_aera")),
        "{err}"
    );

    // A module that traps.
    let err = render_and_check(
        &load(&json!({"fault": "trap"}), &faults_module()),
        &clip,
        &spec,
    )
    .unwrap_err();
    assert!(matches!(err, FrameSafetyError::Trap(_)), "{err}");

    // A module that loops forever stops on its fuel, at the default budget.
    let started = Instant::now();
    let err = render_and_check(
        &load(&json!({"fault": "spin"}), &faults_module()),
        &clip,
        &spec,
    )
    .unwrap_err();
    let spun = started.elapsed();
    println!("a spinning module stopped after {spun:?}");
    assert!(matches!(err, FrameSafetyError::OutOfFuel(_)), "{err}");
    assert!(spun < Duration::from_secs(30), "{spun:?}");

    // A module that grows without end stops at its memory limit.
    let bloat = load(&json!({"fault": "bloat"}), &faults_module())
        .with_limits(dreamreel_worker::safety::DEFAULT_FUEL, 32 << 20);
    let err = render_and_check(&bloat, &clip, &spec).unwrap_err();
    assert!(
        matches!(err, FrameSafetyError::OutOfMemory(n) if n == 32 << 20),
        "{err}"
    );

    // A directory without a module, and a module that is not a component.
    let empty = policy_dir(&test_policy(), None);
    let err = FramePolicy::load(empty.path()).unwrap_err();
    assert!(
        matches!(&err, FrameSafetyError::Load { path, .. } if path.ends_with("policy.wasm")),
        "{err}"
    );
    std::fs::write(empty.path().join("policy.wasm"), b"not wasm").unwrap();
    let err = FramePolicy::load(empty.path()).unwrap_err();
    assert!(err.to_string().contains("not a usable component"), "{err}");
}

#[tokio::test]
async fn a_refused_clip_is_never_uploaded_and_the_job_fails_with_its_category() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let dir = policy_dir(&test_policy(), Some(&policy_module()));
    let mut settings = config(&edge);
    settings.frame_policy = Some(dir.path().to_owned());
    let (worker, _) = worker(&objects, settings, Arc::new(strobe()));

    let job = job_id();
    let event = objects.put_spec(&job).await;
    let report = worker.handle_event(&event).await.unwrap();
    assert!(
        matches!(&report.jobs[0].result, Ok(JobOutcome::Failed { code, reported: true, attempts: 1, .. })
            if *code == fail_code::CONTENT_BLOCKED_FRAMES),
        "{:?}",
        report.jobs[0].result
    );
    assert_eq!(edge.actions(&job).last().map(String::as_str), Some("fail"));
    let fail = edge.calls(&job).last().unwrap().body.clone();
    assert_eq!(fail["code"], "content_blocked_frames");
    let reason = fail["reason"].as_str().unwrap();
    assert!(reason.starts_with("category photosensitive"), "{reason}");
    let (video, thumbnail) = media_keys(&job);
    assert!(objects.object(&video).await.is_none(), "nothing uploaded");
    assert!(objects.object(&thumbnail).await.is_none());

    // The same worker publishes an ordinary clip.
    let (worker, _) = worker_with(&objects, &edge, dir.path(), Arc::new(LocalModel));
    let fine = job_id();
    let event = objects.put_spec(&fine).await;
    let report = worker.handle_event(&event).await.unwrap();
    assert!(
        matches!(&report.jobs[0].result, Ok(JobOutcome::Completed { .. })),
        "{:?}",
        report.jobs[0].result
    );
}

#[tokio::test]
async fn a_module_that_fails_fails_the_job_closed() {
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let dir = policy_dir(&json!({"fault": "trap"}), Some(&faults_module()));
    let (worker, _) = worker_with(&objects, &edge, dir.path(), Arc::new(LocalModel));
    let job = job_id();
    let event = objects.put_spec(&job).await;
    let report = worker.handle_event(&event).await.unwrap();
    assert!(
        matches!(&report.jobs[0].result, Ok(JobOutcome::Failed { code, .. })
            if *code == fail_code::GENERATION_FAILED),
        "{:?}",
        report.jobs[0].result
    );
    let reason = edge.calls(&job).last().unwrap().body["reason"].clone();
    assert!(reason.as_str().unwrap().contains("trapped"), "{reason}");
    assert!(objects.object(&media_keys(&job).0).await.is_none());
}

/// A one-attempt worker checking frames with the policy in `dir`.
fn worker_with(
    objects: &Objects,
    edge: &Edge,
    dir: &Path,
    model: Arc<dyn VideoModel>,
) -> (
    dreamreel_worker::Worker,
    Arc<dreamreel_worker::SqliteLedger>,
) {
    let mut settings = config(edge);
    settings.max_attempts = 1;
    settings.frame_policy = Some(dir.to_owned());
    worker(objects, settings, model)
}
