//! SentencePiece's precompiled normalisation map (the `Precompiled`
//! normaliser of a converted `tokenizer.json`): a Darts double-array trie
//! over UTF-8 keys whose values index a block of NUL-terminated
//! replacements. Applied as Hugging Face `tokenizers` applies it: per
//! grapheme cluster when it is under 6 bytes, else per character, taking the
//! shortest key that prefixes the chunk.

use super::TokenizerError;

/// A decoded `precompiled_charsmap`.
pub struct CharsMap {
    units: Vec<u32>,
    normalized: Vec<u8>,
}

impl CharsMap {
    /// Parses the blob: little-endian u32 trie size in bytes, the trie's
    /// u32 units, then the replacement strings.
    pub fn parse(blob: &[u8]) -> Result<Self, TokenizerError> {
        let bad = || TokenizerError::format("precompiled_charsmap is truncated");
        let size = blob.get(..4).ok_or_else(bad)?;
        let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
        let trie = blob
            .get(4..4 + size)
            .filter(|_| size.is_multiple_of(4))
            .ok_or_else(bad)?;
        Ok(CharsMap {
            units: trie
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            normalized: blob[4 + size..].to_vec(),
        })
    }

    /// `text` with every mapped chunk replaced.
    pub fn normalize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for cluster in graphemes(text) {
            if cluster.len() < 6
                && let Some(norm) = self.transform(cluster)
            {
                out.push_str(norm);
                continue;
            }
            for (i, c) in cluster.char_indices() {
                let part = &cluster[i..i + c.len_utf8()];
                out.push_str(self.transform(part).unwrap_or(part));
            }
        }
        out
    }

    /// The replacement for the shortest key that prefixes `chunk`, if any.
    fn transform(&self, chunk: &str) -> Option<&str> {
        let value = self.shortest_prefix_value(chunk.as_bytes())? as usize;
        let tail = self.normalized.get(value..)?;
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        std::str::from_utf8(&tail[..end]).ok()
    }

    /// Darts-clone's common-prefix search, stopped at the first hit.
    fn shortest_prefix_value(&self, key: &[u8]) -> Option<u32> {
        let unit = |pos: usize| self.units.get(pos).copied();
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let mut pos = offset(unit(0)?);
        for &byte in key {
            pos ^= byte as usize;
            let u = unit(pos)?;
            if u & ((1 << 31) | 0xFF) != byte as u32 {
                return None;
            }
            pos ^= offset(u);
            if (u >> 8) & 1 == 1 {
                return Some(unit(pos)? & 0x7FFF_FFFF);
            }
        }
        None
    }
}

/// Text split into (approximate) extended grapheme clusters: a character plus
/// the combining marks, joiners, variation selectors, emoji modifiers and tags
/// that extend it, regional-indicator pairs, and CR LF. Close enough to
/// UAX #29 for the charsmap, whose multi-character keys are such sequences.
fn graphemes(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let mut end = first.len_utf8();
        if first == '\r' && rest[end..].starts_with('\n') {
            end += 1;
        } else if !is_control(first) {
            // A joiner glues two pictographs (emoji sequences), nothing else.
            let mut joined = false;
            let mut regional = is_regional(first);
            for (i, c) in rest.char_indices().skip(1) {
                let pairs = regional && is_regional(c);
                if is_control(c) || !((joined && is_pictographic(c)) || pairs || extends(c)) {
                    break;
                }
                regional &= !pairs;
                joined = c == '\u{200D}' && is_pictographic(first);
                end = i + c.len_utf8();
            }
        }
        let (cluster, tail) = rest.split_at(end);
        rest = tail;
        Some(cluster)
    })
}

/// Grapheme break class Control: C0/C1 controls, line and paragraph
/// separators, and format characters other than the joiners (which extend).
fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{200E}' | '\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
            | '\u{FFF0}'..='\u{FFFB}' | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E001F}' | '\u{E0080}'..='\u{E00FF}')
}

/// Roughly Unicode's Extended_Pictographic: the emoji and symbol blocks.
fn is_pictographic(c: char) -> bool {
    matches!(c,
        '\u{00A9}' | '\u{00AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}' | '\u{2139}'
        | '\u{2194}'..='\u{21AA}' | '\u{2300}'..='\u{23FF}' | '\u{25AA}'..='\u{25FE}'
        | '\u{2600}'..='\u{27BF}' | '\u{2934}'..='\u{2935}' | '\u{2B05}'..='\u{2B55}'
        | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}' | '\u{1F000}'..='\u{1FAFF}'
        | '\u{1FC00}'..='\u{1FFFD}')
}

fn is_regional(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Characters that never start a cluster of their own after another.
fn extends(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
        || c == '\u{200D}'
        || c == '\u{200C}'
        || ('\u{FE00}'..='\u{FE0F}').contains(&c)
        || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
        || ('\u{E0020}'..='\u{E007F}').contains(&c)
        || ('\u{E0100}'..='\u{E01EF}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::graphemes;

    #[test]
    fn clusters_keep_marks_joiners_and_flags_together() {
        let split: Vec<&str> = graphemes("e\u{301}x👩\u{200D}💻🇫🇷🇩🇪\r\na²\u{200D}q").collect();
        assert_eq!(
            split,
            [
                "e\u{301}",
                "x",
                "👩\u{200D}💻",
                "🇫🇷",
                "🇩🇪",
                "\r\n",
                "a",
                "²\u{200D}",
                "q"
            ]
        );
    }
}
