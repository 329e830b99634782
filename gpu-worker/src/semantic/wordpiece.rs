//! BERT's uncased tokenizer: the basic pass (clean, lower-case, strip
//! accents, split on whitespace and punctuation, space out CJK ideographs)
//! then greedy longest-match WordPiece over `vocab.txt`.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::SemanticError;

/// Longest input (in tokens, [CLS] and [SEP] included) the model is given.
pub const MAX_TOKENS: usize = 128;
/// Longer words are one [UNK], as in BERT.
const MAX_WORD_CHARS: usize = 100;

/// Token ids from text.
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    cls: u32,
    sep: u32,
    unk: u32,
}

impl WordPiece {
    /// A tokenizer over `vocab.txt`'s text: one token a line, its id the line number.
    pub fn from_vocab(text: &str) -> Result<Self, SemanticError> {
        let vocab: HashMap<String, u32> = text
            .lines()
            .enumerate()
            .map(|(i, token)| (token.to_owned(), i as u32))
            .collect();
        let id = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| SemanticError::Model(format!("vocab.txt has no {t}")))
        };
        Ok(WordPiece {
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            unk: id("[UNK]")?,
            vocab,
        })
    }

    /// `[CLS] pieces… [SEP]`, cut to [`MAX_TOKENS`].
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.cls];
        'words: for word in basic_tokens(text) {
            for id in self.pieces(&word) {
                if ids.len() == MAX_TOKENS - 1 {
                    break 'words;
                }
                ids.push(id);
            }
        }
        ids.push(self.sep);
        ids
    }

    /// One word's pieces: the longest vocabulary prefix, then `##`-prefixed
    /// continuations; a word that cannot be covered is one [UNK].
    fn pieces(&self, word: &str) -> Vec<u32> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > MAX_WORD_CHARS {
            return vec![self.unk];
        }
        let mut out = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let found = (start + 1..=chars.len()).rev().find_map(|end| {
                let piece: String = chars[start..end].iter().collect();
                let key = if start > 0 {
                    format!("##{piece}")
                } else {
                    piece
                };
                self.vocab.get(&key).map(|id| (end, *id))
            });
            match found {
                Some((end, id)) => {
                    out.push(id);
                    start = end;
                }
                None => return vec![self.unk],
            }
        }
        out
    }
}

/// The basic pass: words and single punctuation marks, lower-cased and
/// without accents.
pub fn basic_tokens(text: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if c.is_whitespace() {
            spaced.push(' ');
        } else if is_cjk(c) {
            spaced.extend([' ', c, ' ']);
        } else {
            spaced.push(c);
        }
    }
    let mut words = Vec::new();
    for word in spaced.split(' ').filter(|w| !w.is_empty()) {
        let folded: String = word
            .to_lowercase()
            .nfd()
            .filter(|c| !is_combining_mark(*c))
            .collect();
        let mut current = String::new();
        for c in folded.chars() {
            if is_punctuation(c) {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                words.push(c.to_string());
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            words.push(current);
        }
    }
    words
}

/// Control and format characters BERT drops (tab and newlines are spaces).
fn is_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

/// BERT splits on all ASCII symbols and on Unicode punctuation.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c,
            '\u{a1}' | '\u{a7}' | '\u{ab}' | '\u{b6}' | '\u{b7}' | '\u{bb}' | '\u{bf}'
            | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205e}'
            | '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}' | '\u{3014}'..='\u{301f}'
            | '\u{ff01}'..='\u{ff03}' | '\u{ff05}'..='\u{ff0a}' | '\u{ff0c}'..='\u{ff0f}'
            | '\u{ff1a}' | '\u{ff1b}' | '\u{ff1f}' | '\u{ff20}' | '\u{ff3b}'..='\u{ff3d}'
            | '\u{ff3f}' | '\u{ff5b}' | '\u{ff5d}')
}

/// CJK ideographs, which BERT treats as words of their own.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{20000}'..='\u{2a6df}'
        | '\u{2a700}'..='\u{2b73f}' | '\u{2b740}'..='\u{2b81f}' | '\u{2b820}'..='\u{2ceaf}'
        | '\u{f900}'..='\u{faff}' | '\u{2f800}'..='\u{2fa1f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_basic_pass_folds_and_splits() {
        assert_eq!(
            basic_tokens("Héllo,  WORLD!\tIt's\u{200b} 東京"),
            ["hello", ",", "world", "!", "it", "'", "s", "東", "京"]
        );
    }

    #[test]
    fn wordpiece_takes_the_longest_pieces() {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\nrun\n##ning\n,\n";
        let wp = WordPiece::from_vocab(vocab).unwrap();
        assert_eq!(
            wp.encode("Unaffable running, xyz"),
            [2, 4, 5, 6, 7, 8, 9, 1, 3]
        );
        let long = "run ".repeat(300);
        let ids = wp.encode(&long);
        assert_eq!((ids.len(), ids[0], ids[127]), (MAX_TOKENS, 2, 3));
    }
}
