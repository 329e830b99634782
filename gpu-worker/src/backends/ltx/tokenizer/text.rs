//! The text passes before segmentation: normalisers and pre-tokenisers as
//! a `tokenizer.json` describes them, for the kinds T5-layout files use.

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::TokenizerError;
use super::charsmap::CharsMap;

/// SentencePiece's word-boundary mark.
const SPACE: char = '▁';

pub(super) enum Normalizer {
    Nfkc,
    Nfc,
    Nfd,
    Nfkd,
    Lowercase,
    Strip {
        left: bool,
        right: bool,
    },
    Precompiled(CharsMap),
    /// `Replace` with a literal pattern.
    Replace {
        from: String,
        to: String,
    },
    /// `Replace` with the regex ` {2,}`: runs of spaces become `to`.
    CollapseSpaces {
        to: String,
    },
}

pub(super) enum PreTokenizer {
    WhitespaceSplit,
    Metaspace { prepend: Prepend, split: bool },
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Prepend {
    Always,
    First,
    Never,
}

impl Normalizer {
    pub(super) fn apply(&self, text: &str) -> String {
        match self {
            Normalizer::Nfkc => text.nfkc().collect(),
            Normalizer::Nfc => text.nfc().collect(),
            Normalizer::Nfd => text.nfd().collect(),
            Normalizer::Nfkd => text.nfkd().collect(),
            Normalizer::Lowercase => text.to_lowercase(),
            Normalizer::Strip { left, right } => {
                let t = if *left { text.trim_start() } else { text };
                (if *right { t.trim_end() } else { t }).to_owned()
            }
            Normalizer::Precompiled(map) => map.normalize(text),
            Normalizer::Replace { from, to } => text.replace(from.as_str(), to),
            Normalizer::CollapseSpaces { to } => {
                let mut out = String::with_capacity(text.len());
                let mut run = 0;
                for c in text.chars().chain(std::iter::once('\0')) {
                    if c == ' ' {
                        run += 1;
                        continue;
                    }
                    match run {
                        0 => {}
                        1 => out.push(' '),
                        _ => out.push_str(to),
                    }
                    run = 0;
                    out.push(c);
                }
                out.pop();
                out
            }
        }
    }
}

impl PreTokenizer {
    /// `first`: this is the start of the whole input (for `prepend_scheme: first`).
    pub(super) fn split(&self, word: String, first: bool) -> Vec<String> {
        match self {
            PreTokenizer::WhitespaceSplit => word.split_whitespace().map(str::to_owned).collect(),
            PreTokenizer::Metaspace { prepend, split } => {
                let mut text = word.replace(' ', "▁");
                let add = match prepend {
                    Prepend::Always => true,
                    Prepend::First => first,
                    Prepend::Never => false,
                };
                if add && !text.starts_with(SPACE) {
                    text.insert(0, SPACE);
                }
                if !split {
                    return vec![text];
                }
                // Each mark starts a new word (merged with what follows it).
                let mut words: Vec<String> = Vec::new();
                for c in text.chars() {
                    match words.last_mut() {
                        Some(w) if c != SPACE => w.push(c),
                        _ => words.push(c.to_string()),
                    }
                }
                words
            }
        }
    }
}

fn list<'a>(value: &'a Value, key: &str) -> Vec<&'a Value> {
    if value["type"] == "Sequence" {
        value[key]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    } else if value.is_null() {
        Vec::new()
    } else {
        vec![value]
    }
}

pub(super) fn normalizers(value: &Value) -> Result<Vec<Normalizer>, TokenizerError> {
    let mut out = Vec::new();
    for n in list(value, "normalizers") {
        out.push(match n["type"].as_str().unwrap_or("") {
            "NFKC" => Normalizer::Nfkc,
            "NFC" => Normalizer::Nfc,
            "NFD" => Normalizer::Nfd,
            "NFKD" => Normalizer::Nfkd,
            "Lowercase" => Normalizer::Lowercase,
            "Strip" => Normalizer::Strip {
                left: n["strip_left"].as_bool().unwrap_or(true),
                right: n["strip_right"].as_bool().unwrap_or(true),
            },
            "Precompiled" => {
                let blob = n["precompiled_charsmap"].as_str().unwrap_or("");
                match base64(blob) {
                    Some(bytes) if !bytes.is_empty() => {
                        Normalizer::Precompiled(CharsMap::parse(&bytes)?)
                    }
                    Some(_) => continue,
                    None => {
                        return Err(TokenizerError::format("precompiled_charsmap is not base64"));
                    }
                }
            }
            "Replace" => {
                let to = n["content"].as_str().unwrap_or("").to_owned();
                match (
                    n["pattern"]["String"].as_str(),
                    n["pattern"]["Regex"].as_str(),
                ) {
                    (Some(from), _) => Normalizer::Replace {
                        from: from.to_owned(),
                        to,
                    },
                    (None, Some(" {2,}")) => Normalizer::CollapseSpaces { to },
                    _ => {
                        return Err(TokenizerError(format!(
                            "unsupported Replace pattern {}",
                            n["pattern"]
                        )));
                    }
                }
            }
            other => return Err(TokenizerError(format!("unsupported normalizer {other:?}"))),
        });
    }
    Ok(out)
}

pub(super) fn pre_tokenizers(value: &Value) -> Result<Vec<PreTokenizer>, TokenizerError> {
    let mut out = Vec::new();
    for p in list(value, "pretokenizers") {
        out.push(match p["type"].as_str().unwrap_or("") {
            "WhitespaceSplit" => PreTokenizer::WhitespaceSplit,
            "Metaspace" => {
                if p["replacement"].as_str().is_some_and(|r| r != "▁") {
                    return Err(TokenizerError::format("Metaspace replacement is not ▁"));
                }
                // Older files say `add_prefix_space` instead of `prepend_scheme`.
                let prepend = match (
                    p["prepend_scheme"].as_str(),
                    p["add_prefix_space"].as_bool(),
                ) {
                    (Some("always"), _) | (None, Some(true) | None) => Prepend::Always,
                    (Some("first"), _) => Prepend::First,
                    (Some("never"), _) | (None, Some(false)) => Prepend::Never,
                    (Some(other), _) => {
                        return Err(TokenizerError(format!("unknown prepend_scheme {other}")));
                    }
                };
                PreTokenizer::Metaspace {
                    prepend,
                    split: p["split"].as_bool().unwrap_or(true),
                }
            }
            other => {
                return Err(TokenizerError(format!(
                    "unsupported pre_tokenizer {other:?}"
                )));
            }
        });
    }
    Ok(out)
}

/// Standard base64 (with or without padding); `None` on a bad character.
pub(super) fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for b in text.bytes().filter(|&b| b != b'=') {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}
