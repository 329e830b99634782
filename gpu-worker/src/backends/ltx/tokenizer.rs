//! T5's tokenizer (LTX-Video's text encoder input) read from a Hugging Face
//! `tokenizer.json`: special tokens split out of the raw text, the
//! normaliser, the whitespace + Metaspace pre-tokeniser, a Unigram model
//! (Viterbi over piece scores, consecutive unknowns fused into one `<unk>`),
//! then `</s>` appended and the ids padded or truncated to a fixed length,
//! as `T5TokenizerFast(..., padding="max_length", truncation=True)` does.
//! Only the pieces T5-layout files use are implemented; anything else in the
//! file is an error rather than a silent difference.

mod charsmap;
mod text;

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use text::{Normalizer, PreTokenizer};

/// Penalty below the lowest piece score for an unknown character (as in
/// SentencePiece and `tokenizers`).
const UNK_PENALTY: f64 = 10.0;

/// Why a `tokenizer.json` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("tokenizer.json: {0}")]
pub struct TokenizerError(String);

impl TokenizerError {
    fn format(why: impl Into<String>) -> Self {
        TokenizerError(why.into())
    }
}

/// One padded prompt: what the text encoder takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    /// Token ids, `max_len` of them, `</s>` after the text, then `<pad>`.
    pub ids: Vec<i64>,
    /// 1 for the text and `</s>`, 0 for padding.
    pub attention_mask: Vec<i64>,
}

/// A loaded T5 tokenizer.
pub struct T5Tokenizer {
    normalizers: Vec<Normalizer>,
    pre: Vec<PreTokenizer>,
    pieces: HashMap<String, (u32, f64)>,
    longest_piece: usize,
    unk_score: f64,
    unk: u32,
    /// Special tokens matched in the raw text, longest first.
    added: Vec<(String, u32)>,
    eos: u32,
    pad: u32,
    vocab_size: usize,
}

impl T5Tokenizer {
    /// Reads and parses `path`.
    pub fn from_file(path: &Path) -> Result<Self, TokenizerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TokenizerError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&text)
    }

    /// Parses a `tokenizer.json` document.
    pub fn from_json(text: &str) -> Result<Self, TokenizerError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| TokenizerError(e.to_string()))?;
        let model = &doc["model"];
        if model["type"] != "Unigram" {
            return Err(TokenizerError::format("model is not Unigram"));
        }
        if model["byte_fallback"].as_bool() == Some(true) {
            return Err(TokenizerError::format("byte_fallback is not supported"));
        }
        let vocab = model["vocab"]
            .as_array()
            .ok_or_else(|| TokenizerError::format("model.vocab missing"))?;
        let mut pieces = HashMap::with_capacity(vocab.len());
        let mut min_score = f64::INFINITY;
        let mut longest_piece = 0;
        for (id, entry) in vocab.iter().enumerate() {
            let (Some(piece), Some(score)) = (entry[0].as_str(), entry[1].as_f64()) else {
                return Err(TokenizerError(format!(
                    "model.vocab[{id}] is not [piece, score]"
                )));
            };
            min_score = min_score.min(score);
            longest_piece = longest_piece.max(piece.len());
            // The first of duplicate pieces wins, as in `tokenizers`.
            pieces.entry(piece.to_owned()).or_insert((id as u32, score));
        }
        let unk = model["unk_id"]
            .as_u64()
            .filter(|&id| (id as usize) < vocab.len())
            .ok_or_else(|| TokenizerError::format("model.unk_id missing"))?
            as u32;
        let mut added = Vec::new();
        let mut vocab_size = vocab.len();
        for token in doc["added_tokens"].as_array().into_iter().flatten() {
            let (Some(content), Some(id)) = (token["content"].as_str(), token["id"].as_u64())
            else {
                return Err(TokenizerError::format(
                    "added_tokens entry without content/id",
                ));
            };
            if token["normalized"].as_bool() == Some(true)
                || token["lstrip"].as_bool() == Some(true)
                || token["rstrip"].as_bool() == Some(true)
                || token["single_word"].as_bool() == Some(true)
            {
                return Err(TokenizerError(format!(
                    "added token {content}: unsupported flags"
                )));
            }
            vocab_size = vocab_size.max(id as usize + 1);
            added.push((content.to_owned(), id as u32));
        }
        added.sort_by_key(|(content, _)| std::cmp::Reverse(content.len()));
        let special = |name: &str| {
            added
                .iter()
                .find(|(content, _)| content == name)
                .map(|(_, id)| *id)
                .or_else(|| pieces.get(name).map(|(id, _)| *id))
                .ok_or_else(|| TokenizerError(format!("no {name} token")))
        };
        Ok(T5Tokenizer {
            normalizers: text::normalizers(&doc["normalizer"])?,
            pre: text::pre_tokenizers(&doc["pre_tokenizer"])?,
            eos: special("</s>")?,
            pad: special("<pad>")?,
            unk_score: min_score - UNK_PENALTY,
            pieces,
            longest_piece,
            unk,
            added,
            vocab_size,
        })
    }

    /// Ids run from 0 to `vocab_size() - 1`.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The `</s>` id.
    pub fn eos_id(&self) -> u32 {
        self.eos
    }

    /// The `<pad>` id.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// The text's ids followed by `</s>`, neither truncated nor padded.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut rest = text;
        let mut first = true;
        while !rest.is_empty() {
            let (plain, special) = self.next_special(rest);
            self.encode_plain(&rest[..plain], first, &mut ids);
            first = false;
            match special {
                Some((len, id)) => {
                    ids.push(id);
                    rest = &rest[plain + len..];
                }
                None => break,
            }
        }
        ids.push(self.eos);
        ids
    }

    /// `max_len` ids and mask: the text cut to leave room for `</s>`, then padding.
    pub fn encode_padded(&self, text: &str, max_len: usize) -> Encoding {
        let mut ids = self.encode(text);
        if ids.len() > max_len {
            ids.truncate(max_len.saturating_sub(1));
            if max_len > 0 {
                ids.push(self.eos);
            }
        }
        let real = ids.len();
        ids.resize(max_len, self.pad);
        Encoding {
            ids: ids.into_iter().map(i64::from).collect(),
            attention_mask: (0..max_len).map(|i| i64::from(i < real)).collect(),
        }
    }

    /// Byte length of the plain text before the leftmost special token, and
    /// that token's (byte length, id): the longest one starting there.
    fn next_special(&self, text: &str) -> (usize, Option<(usize, u32)>) {
        for (at, _) in text.char_indices() {
            let tail = &text[at..];
            if let Some((content, id)) = self.added.iter().find(|(c, _)| tail.starts_with(c)) {
                return (at, Some((content.len(), *id)));
            }
        }
        (text.len(), None)
    }

    /// Normalise, pre-tokenise and segment text that holds no special token.
    fn encode_plain(&self, text: &str, first: bool, ids: &mut Vec<u32>) {
        let mut text = text.to_owned();
        for normalizer in &self.normalizers {
            text = normalizer.apply(&text);
        }
        let mut words = vec![text];
        for pre in &self.pre {
            words = words
                .into_iter()
                .enumerate()
                .flat_map(|(i, word)| pre.split(word, first && i == 0))
                .collect();
        }
        for word in words.iter().filter(|w| !w.is_empty()) {
            self.viterbi(word, ids);
        }
    }

    /// The best-scoring segmentation of `word` into pieces (ties: the first found).
    fn viterbi(&self, word: &str, ids: &mut Vec<u32>) {
        // best[end] = (score, start, id) of the best path ending at byte `end`.
        let mut best: Vec<Option<(f64, usize, u32)>> = vec![None; word.len() + 1];
        best[0] = Some((0.0, 0, self.unk));
        for (start, c) in word.char_indices() {
            let Some((here, _, _)) = best[start] else {
                continue;
            };
            let mut has_single = false;
            let limit = (start + self.longest_piece).min(word.len());
            for end in (start + 1..=limit).filter(|&e| word.is_char_boundary(e)) {
                if let Some(&(id, score)) = self.pieces.get(&word[start..end]) {
                    offer(&mut best[end], here + score, start, id);
                    has_single |= end - start == c.len_utf8();
                }
            }
            if !has_single {
                offer(
                    &mut best[start + c.len_utf8()],
                    here + self.unk_score,
                    start,
                    self.unk,
                );
            }
        }
        let mut path = Vec::new();
        let mut end = word.len();
        while end > 0 {
            let (_, start, id) = best[end].expect("every char boundary is reachable");
            // Consecutive unknowns become one `<unk>` (`fuse_unk`).
            if !(id == self.unk && path.last() == Some(&self.unk)) {
                path.push(id);
            }
            end = start;
        }
        ids.extend(path.into_iter().rev());
    }
}

/// Keeps the better path into one position; the earlier offer wins ties.
fn offer(slot: &mut Option<(f64, usize, u32)>, score: f64, start: usize, id: u32) {
    if slot.is_none_or(|(s, _, _)| score > s) {
        *slot = Some((score, start, id));
    }
}

#[cfg(test)]
mod tests;
