//! The component's export, and the `wasi:nn` calls behind it.

use crate::config::{Classifier, Photosensitivity, Policy};
use crate::rules;

wit_bindgen::generate!({ world: "policy", path: "wit", generate_all });

use exports::dreamreel::safety::frames::{
    Blocked, ClipInfo, Decision, Frame, Guest, Score, Verdict,
};
use wasi::nn::graph;
use wasi::nn::tensor::{Tensor, TensorType};

struct DefaultPolicy;

export!(DefaultPolicy);

impl Guest for DefaultPolicy {
    fn check(
        clip: ClipInfo,
        motion: Vec<Frame>,
        stills: Vec<Frame>,
        policy: String,
    ) -> Result<Verdict, String> {
        let policy = Policy::parse(&policy)?;
        let mut scores = Vec::new();
        let mut block = None;
        if let Some(rule) = &policy.photosensitivity {
            let worst = flashes(rule, &clip, &motion)?;
            scores.push(score("flashes-per-second", worst as f32));
            if worst > rule.max_flashes_per_second {
                block = Some(Blocked {
                    category: "photosensitive".into(),
                    reason: format!(
                        "{worst} large-area flashes in one second (at most {} allowed)",
                        rule.max_flashes_per_second
                    ),
                });
            }
        }
        for classifier in &policy.classifiers {
            let worst = classify(classifier, &stills)?;
            for (label, value) in classifier.labels.iter().zip(&worst) {
                scores.push(score(&format!("{}.{label}", classifier.graph), *value));
                match classifier.block.get(label) {
                    Some(rule) if *value >= rule.threshold && block.is_none() => {
                        block = Some(Blocked {
                            category: rule.category.clone(),
                            reason: format!(
                                "classifier {} scored {label} {value:.2} (threshold {})",
                                classifier.graph, rule.threshold
                            ),
                        });
                    }
                    _ => {}
                }
            }
        }
        let decision = block.map_or(Decision::Allow, Decision::Block);
        Ok(Verdict { decision, scores })
    }
}

fn score(name: &str, value: f32) -> Score {
    Score {
        name: name.into(),
        value,
    }
}

/// Runs the flash graph over every frame and counts flashes per second.
fn flashes(rule: &Photosensitivity, clip: &ClipInfo, motion: &[Frame]) -> Result<u32, String> {
    if motion.len() < 2 {
        return Ok(0);
    }
    let (w, h) = (motion[0].width, motion[0].height);
    let frames: Vec<_> = motion
        .iter()
        .map(|f| (f.width, f.height, &f.rgb[..]))
        .collect();
    let pixels = rules::to_nchw(&frames, w, h, [0.0; 3], [1.0; 3])?;
    let n = motion.len() as u32;
    let outputs = run(
        &rule.graph,
        vec![
            ("frames".into(), f32_tensor(&[n, 3, h, w], &pixels)),
            ("min_change".into(), f32_tensor(&[1], &[rule.min_change])),
            ("max_darker".into(), f32_tensor(&[1], &[rule.max_darker])),
        ],
    )?;
    let rise = output(&outputs, "rise", &rule.graph)?;
    let fall = output(&outputs, "fall", &rule.graph)?;
    if rise.len() != motion.len() - 1 || fall.len() != rise.len() {
        return Err(format!(
            "graph {} gave {} rises and {} falls for {} frames",
            rule.graph,
            rise.len(),
            fall.len(),
            motion.len()
        ));
    }
    let changes = rules::transitions(&rise, &fall, rule.min_area);
    Ok(rules::max_flashes_per_second(&changes, clip.fps))
}

/// Runs one classifier over the stills: each label's worst score.
fn classify(classifier: &Classifier, stills: &[Frame]) -> Result<Vec<f32>, String> {
    if stills.is_empty() {
        return Ok(vec![0.0; classifier.labels.len()]);
    }
    let frames: Vec<_> = stills
        .iter()
        .map(|f| (f.width, f.height, &f.rgb[..]))
        .collect();
    let (w, h) = (classifier.width, classifier.height);
    let pixels = rules::to_nchw(&frames, w, h, classifier.mean, classifier.std)?;
    let dims = [stills.len() as u32, 3, h, w];
    let outputs = run(
        &classifier.graph,
        vec![(classifier.input.clone(), f32_tensor(&dims, &pixels))],
    )?;
    let (_, first) = outputs
        .first()
        .ok_or_else(|| format!("graph {} gave no output", classifier.graph))?;
    rules::worst_scores(&f32s(first), classifier.labels.len())
        .map_err(|e| format!("graph {}: {e}", classifier.graph))
}

/// Loads a graph by name from the host's registry and runs it once.
fn run(name: &str, inputs: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>, String> {
    let nn = |what: &str, e: wasi::nn::errors::Error| {
        format!("graph {name}: {what} failed ({:?}: {})", e.code(), e.data())
    };
    let graph = graph::load_by_name(name).map_err(|e| nn("loading", e))?;
    let context = graph
        .init_execution_context()
        .map_err(|e| nn("starting", e))?;
    context.compute(inputs).map_err(|e| nn("computing", e))
}

fn output(outputs: &[(String, Tensor)], name: &str, graph: &str) -> Result<Vec<f32>, String> {
    outputs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| f32s(t))
        .ok_or_else(|| format!("graph {graph} has no output {name:?}"))
}

fn f32_tensor(dims: &[u32], values: &[f32]) -> Tensor {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    Tensor::new(dims, TensorType::Fp32, &bytes)
}

fn f32s(tensor: &Tensor) -> Vec<f32> {
    tensor
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
