//! Throughput of the safety filter: `cargo bench -p dreamreel-core --bench safety`.
//! Runs every row of the labelled set through the store-free screen and
//! through the full prompt check (rights registry lookups included) on the
//! in-memory store, and prints prompts per second.

use std::time::Instant;

use dreamreel_core::MemoryStore;
use dreamreel_core::safety::{Surface, check_prompt, screen};
use dreamreel_core::testing::block_on;

const LABELLED: &str = include_str!("../src/safety/lists/labelled.tsv");

fn prompts() -> Vec<String> {
    LABELLED
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .map(|t| t.replace("\\u{200B}", "\u{200B}"))
        .collect()
}

fn main() {
    let prompts = prompts();
    let rounds = 200;
    let _ = screen("warm up", Surface::Prompt, &[]);
    let start = Instant::now();
    for _ in 0..rounds {
        for p in &prompts {
            std::hint::black_box(screen(p, Surface::Prompt, &[]).is_ok());
        }
    }
    let n = (rounds * prompts.len()) as f64;
    println!(
        "safety screen: {:.0} prompts/s ({} prompts x {rounds})",
        n / start.elapsed().as_secs_f64(),
        prompts.len()
    );
    let store = MemoryStore::new();
    let start = Instant::now();
    for _ in 0..rounds {
        for p in &prompts {
            std::hint::black_box(block_on(check_prompt(&store, p, None, &[])).is_ok());
        }
    }
    println!(
        "safety check_prompt (with registry lookup): {:.0} prompts/s",
        n / start.elapsed().as_secs_f64()
    );
}
