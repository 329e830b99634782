//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the
//! fuzz targets' own checks on stable, then a few thousand seeded mutations
//! of each input, so every seed and every crash ever found stays fixed
//! without nightly or libFuzzer (docs/RELIABILITY.md, "Hostile input").

#[path = "../fuzz/src/harness.rs"]
mod harness;
#[path = "../fuzz/src/worker.rs"]
mod worker;

use std::fs;

use dreamreel_e2e::repo_root;

/// A fuzz target: its corpus folder and its check.
type Target = (&'static str, fn(&[u8]));

/// Mutations tried per committed input; `DREAMREEL_FUZZ_MUTATIONS` asks
/// for more (a longer run on stable, where nightly is missing).
const MUTATIONS: usize = 300;

/// A small deterministic generator (xorshift64), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `data` with a few bytes flipped, inserted, removed or duplicated.
fn mutate(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = data.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 => out.insert(at, rng.next() as u8),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 => {
                let end = (at + rng.below(16)).min(out.len());
                let piece = out[at..end].to_vec();
                out.splice(at..at, piece);
            }
            _ => {
                let tricky = b"\0\xff[{\"%./\\";
                out.insert(at, tricky[rng.below(tricky.len())]);
            }
        }
    }
    out
}

#[test]
fn the_committed_fuzz_corpus_and_its_mutations_pass_every_check() {
    let targets: [Target; 9] = [
        ("request_json", harness::request_json),
        ("cursor", harness::cursor),
        ("content_filter", harness::content_filter),
        ("object_key", harness::object_key),
        ("sigv4_query", harness::sigv4_query),
        ("s3_event", worker::s3_event),
        ("mp4_boxes", worker::mp4_boxes),
        ("provider_mp4", worker::provider_mp4),
        ("event_key", worker::event_key),
    ];
    let corpus = repo_root().join("fuzz").join("corpus");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let only = std::env::var("DREAMREEL_FUZZ_TARGET").ok();
    let mutations = std::env::var("DREAMREEL_FUZZ_MUTATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(MUTATIONS);
    for (name, check) in targets {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let dir = corpus.join(name);
        let mut inputs: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{name} has seeds");
        for input in inputs {
            let data = fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", input.display());
            for _ in 0..mutations {
                let mutated = mutate(&data, &mut rng);
                let outcome = std::panic::catch_unwind(|| check(&mutated));
                assert!(
                    outcome.is_ok(),
                    "{name}: a mutation of {} fails: {:?}",
                    input.display(),
                    String::from_utf8_lossy(&mutated)
                );
            }
        }
    }
}
