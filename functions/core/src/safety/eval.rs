//! The labelled evaluation set (`lists/labelled.tsv`): every row is run
//! through the prompt filter, and precision and recall per category must
//! stay at or above the figures recorded in `docs/SAFETY.md`.

use super::{Reason, Surface, screen};

const LABELLED: &str = include_str!("lists/labelled.tsv");

/// Least recall over all blocked rows (docs/SAFETY.md): the known misses are
/// the eight paraphrases the word filter cannot see.
const MIN_RECALL: f64 = 0.95;
/// Least precision over all rows: nothing benign may be refused.
const MIN_PRECISION: f64 = 1.0;
/// Least recall in any one category.
const MIN_CATEGORY_RECALL: f64 = 0.9;

/// One labelled row.
pub(crate) struct Row {
    pub text: String,
    /// `None` = must pass; `Some(category)` = must be refused for it.
    pub expected: Option<String>,
}

/// `\u{XXXX}` escapes to characters.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\\u{") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 3..];
        let end = tail.find('}').expect("a closed escape");
        let code = u32::from_str_radix(&tail[..end], 16).expect("hex");
        out.push(char::from_u32(code).expect("a scalar value"));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The rows of the set.
pub(crate) fn rows() -> Vec<Row> {
    LABELLED
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "bad labelled row {l:?}");
            let expected = match cols[1] {
                "block" => Some(cols[2].to_owned()),
                "allow" => None,
                other => panic!("bad decision {other:?}"),
            };
            Row {
                text: unescape(cols[0]),
                expected,
            }
        })
        .collect()
}

/// The category a prompt is refused for, by name; `None` when it passes.
fn verdict(text: &str) -> Option<String> {
    match screen(text, Surface::Prompt, &[]) {
        Ok(()) => None,
        Err(Reason::Category(c)) => Some(c.as_str().to_owned()),
        Err(other) => Some(other.code().to_owned()),
    }
}

#[derive(Default, Debug)]
struct Tally {
    /// Refused for this category, and labelled so.
    hit: u32,
    /// Labelled this category, not refused for it.
    missed: u32,
    /// Refused for this category, labelled otherwise.
    wrong: u32,
}

#[test]
fn precision_and_recall_hold_on_the_labelled_set() {
    let rows = rows();
    assert!(rows.len() >= 300, "the set has {} rows", rows.len());
    let mut per: std::collections::BTreeMap<String, Tally> = Default::default();
    let (mut blocked_ok, mut blocked_total, mut refused, mut refused_ok) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for row in &rows {
        let got = verdict(&row.text);
        if let Some(want) = &row.expected {
            blocked_total += 1;
            if got.as_ref() == Some(want) {
                blocked_ok += 1;
                per.entry(want.clone()).or_default().hit += 1;
            } else {
                per.entry(want.clone()).or_default().missed += 1;
                misses.push(format!("{:?}: want {want}, got {got:?}", row.text));
            }
        }
        if let Some(got) = &got {
            refused += 1;
            if row.expected.as_ref() == Some(got) {
                refused_ok += 1;
            } else {
                per.entry(got.clone()).or_default().wrong += 1;
                if row.expected.is_none() {
                    misses.push(format!("{:?}: benign, refused as {got}", row.text));
                }
            }
        }
    }
    let recall = f64::from(blocked_ok) / f64::from(blocked_total);
    let precision = f64::from(refused_ok) / f64::from(refused.max(1));
    println!(
        "labelled set: {} rows, recall {recall:.3}, precision {precision:.3}",
        rows.len()
    );
    for (cat, t) in &per {
        let r = f64::from(t.hit) / f64::from((t.hit + t.missed).max(1));
        let p = f64::from(t.hit) / f64::from((t.hit + t.wrong).max(1));
        println!("  {cat:18} precision {p:.3} recall {r:.3} ({t:?})");
        assert!(
            p >= MIN_PRECISION,
            "{cat} precision {p:.3}\n{}",
            misses.join("\n")
        );
        assert!(
            r >= MIN_CATEGORY_RECALL,
            "{cat} recall {r:.3}\n{}",
            misses.join("\n")
        );
    }
    for m in &misses {
        println!("  miss: {m}");
    }
    assert!(
        precision >= MIN_PRECISION,
        "precision {precision:.3}\n{}",
        misses.join("\n")
    );
    assert!(
        recall >= MIN_RECALL,
        "recall {recall:.3}\n{}",
        misses.join("\n")
    );
}

#[test]
fn the_filter_is_fast_enough_for_every_request() {
    let rows = rows();
    // Warm the compiled lists.
    let _ = verdict("warm up");
    let start = std::time::Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        for row in &rows {
            std::hint::black_box(verdict(&row.text));
        }
    }
    let per_sec = (rounds * rows.len()) as f64 / start.elapsed().as_secs_f64();
    println!("safety filter: {per_sec:.0} prompts per second (debug build)");
    // Generous even for an unoptimised build: a request spends well under a millisecond.
    assert!(per_sec > 1000.0, "{per_sec:.0} prompts/s");
}
