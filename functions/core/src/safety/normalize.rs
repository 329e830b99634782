//! Text to comparable tokens. Both the word lists and the text go through
//! the same steps, so a list entry matches every disguise of itself:
//!
//! 1. compatibility decomposition (NFKD, a superset of NFKC's folding:
//!    full-width, ligatures, circled and math letters) with accents dropped;
//! 2. lower case, invisible characters (zero-width, soft hyphen, joiners) gone;
//! 3. Cyrillic and Greek look-alikes mapped to the Latin letter they imitate;
//! 4. leetspeak digits and symbols read as letters, inside words that have a
//!    letter (`1`, `|` and `!` may be `i` or `l`: a word has both readings);
//! 5. a skeleton per word where runs of one letter collapse ("kiiill",
//!    "k1ll" and "ki11" all read `kil`).
//!
//! Separator tricks ("k.i.l.l", "k i l l", "k-ill") are handled by
//! [`Tokens::candidates`], which joins runs of short pieces.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The words of a text, in order, as skeletons; plus joined pieces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Each word's readings (usually one; two when `1`/`|`/`!` may be `i` or
    /// `l`; none for a word of symbols only).
    pub words: Vec<Vec<String>>,
    /// Words glued back from separated pieces ("k.i.l.l" -> `kil`).
    pub joins: Vec<Join>,
}

/// Words `start..end` read as one word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// First word's index.
    pub start: usize,
    /// One past the last word's index.
    pub end: usize,
    /// Readings of the glued word.
    pub readings: Vec<String>,
}

impl Tokens {
    /// Every skeleton worth looking up: each reading of each word, and the joined ones.
    pub fn candidates(&self) -> impl Iterator<Item = &str> {
        let joined = self.joins.iter().flat_map(|j| &j.readings);
        self.words
            .iter()
            .flatten()
            .chain(joined)
            .map(String::as_str)
    }

    /// Where the text goes on after reading `want` at word `at`: `at + 1` for
    /// a word, a join's end for a glued word.
    pub fn ends_after(&self, at: usize, want: &str) -> Vec<usize> {
        let mut out = Vec::new();
        if self
            .words
            .get(at)
            .is_some_and(|r| r.iter().any(|w| w == want))
        {
            out.push(at + 1);
        }
        for j in &self.joins {
            if j.start == at && j.readings.iter().any(|w| w == want) {
                out.push(j.end);
            }
        }
        out
    }

    /// Where the words `rest` follow on from position `from`: the end positions.
    pub fn follow(&self, from: usize, rest: &[String]) -> Vec<usize> {
        let mut ends = vec![from];
        for want in rest {
            ends = ends
                .iter()
                .flat_map(|&at| self.ends_after(at, want))
                .collect();
            ends.dedup();
            if ends.is_empty() {
                break;
            }
        }
        ends
    }

    /// Whether the phrase (skeletons, in order) appears as whole words.
    pub fn contains(&self, phrase: &[String]) -> bool {
        !phrase.is_empty() && (0..self.words.len()).any(|i| !self.follow(i, phrase).is_empty())
    }
}

/// Characters that render as nothing and only serve to split a word.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}')
}

/// The Latin letter a Cyrillic or Greek look-alike imitates (lower case).
fn confusable(c: char) -> char {
    match c {
        'а' | 'α' | 'ɑ' => 'a',
        'в' | 'β' | 'ь' => 'b',
        'с' | 'ϲ' | 'ς' => 'c',
        'ԁ' | 'ɗ' => 'd',
        'е' | 'ё' | 'ε' | 'є' | 'ә' => 'e',
        'ғ' => 'f',
        'ɡ' | 'ց' => 'g',
        'һ' | 'н' => 'h',
        'і' | 'ї' | 'ι' | 'ı' | 'ɩ' | 'ӏ' => 'i',
        'ј' | 'ϳ' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'п' | 'η' | 'ո' => 'n',
        'о' | 'ο' | 'σ' | 'օ' | 'ө' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ц' | 'ս' => 'u',
        'ν' | 'ѵ' => 'v',
        'ѡ' | 'ω' | 'ш' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' | 'ү' => 'y',
        'ʐ' => 'z',
        other => other,
    }
}

/// The letter a leetspeak digit or symbol stands for (`1` as `i`; [`readings`] tries `l` too).
fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '6' | '9' => 'g',
        '7' | '+' => 't',
        '8' => 'b',
        _ => return None,
    })
}

/// Lower-cased, de-accented, de-confused text: steps 1–3.
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c) && !invisible(*c))
        .flat_map(char::to_lowercase)
        .map(confusable)
        .collect()
}

/// Step 5 for one word: runs of one letter collapse (digits stay: "1488").
pub fn skeleton(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut last = None;
    for c in word.chars() {
        if last != Some(c) || c.is_numeric() {
            out.push(c);
        }
        last = Some(c);
    }
    out
}

/// A raw piece of the folded text and the separator that ended it.
struct Piece {
    text: String,
    /// Ended by a space (or the end); `false` for a punctuation separator.
    spaced: bool,
    /// Ended by two or more spaces: "c o o k  m e t h" is two spelled-out words.
    wide: bool,
}

fn pieces(folded: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in folded.chars() {
        if c.is_alphanumeric() || leet(c).is_some() {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(Piece {
                text: std::mem::take(&mut cur),
                spaced: c.is_whitespace(),
                wide: false,
            });
        } else if let Some(last) = out.last_mut()
            && c.is_whitespace()
        {
            last.wide = last.spaced;
            last.spaced = true;
        }
    }
    if !cur.is_empty() {
        out.push(Piece {
            text: cur,
            spaced: true,
            wide: true,
        });
    }
    out
}

/// Reads leetspeak in a piece that has a letter: "k1ll" is "kill"; "1999" stays.
/// Symbols at the edge of a word ("wow!", "@ana") are punctuation, not letters.
fn deleet(piece: &str, one: char) -> String {
    let has_letter = piece.chars().any(char::is_alphabetic);
    let chars: Vec<char> = piece.chars().collect();
    let mut out = String::with_capacity(piece.len());
    for (i, &c) in chars.iter().enumerate() {
        let edge = i == 0 || i + 1 == chars.len();
        let symbol = !c.is_alphanumeric();
        match leet(c) {
            Some('i') if matches!(c, '1' | '|' | '!') && has_letter && !(symbol && edge) => {
                out.push(one)
            }
            Some(l) if has_letter && !(symbol && edge) => out.push(l),
            _ if c.is_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

/// A piece's skeletons: with `1`/`|`/`!` read as `i`, and also as `l` when
/// the piece has one of them.
fn readings(piece: &str) -> Vec<String> {
    let mut out = vec![skeleton(&deleet(piece, 'i'))];
    if piece.contains(['1', '|', '!']) {
        let second = skeleton(&deleet(piece, 'l'));
        if !out.contains(&second) {
            out.push(second);
        }
    }
    out.retain(|w| !w.is_empty());
    out
}

/// Tokenises `text` for matching.
pub fn tokens(text: &str) -> Tokens {
    let folded = fold(text);
    let raw = pieces(&folded);
    Tokens {
        words: raw.iter().map(|p| readings(&p.text)).collect(),
        joins: joins(&raw),
    }
}

/// Words glued back together: a run of 3+ one-letter pieces ("k i l l"), or
/// pieces split by punctuation rather than spaces ("ki.ll", "n-a-z-i").
fn joins(raw: &[Piece]) -> Vec<Join> {
    let mut out = Vec::new();
    let mut push = |start: usize, end: usize| {
        if end >= start + 2 && !out.iter().any(|j: &Join| (j.start, j.end) == (start, end)) {
            let text: String = raw[start..end].iter().map(|p| p.text.as_str()).collect();
            out.push(Join {
                start,
                end,
                readings: readings(&text),
            });
        }
    };
    // Letters spelled out one by one, whatever separates them; a one-letter
    // word at either end ("a", "I") may belong to the text, not the word.
    let mut start = 0;
    for i in 0..=raw.len() {
        let single = raw.get(i).is_some_and(|p| p.text.chars().count() == 1);
        let after_wide = i > start && raw[i - 1].wide;
        if !single || after_wide {
            if i >= start + 3 {
                let word = |k: usize| matches!(raw[k].text.as_str(), "a" | "i");
                let from = if word(start) {
                    [start, start + 1]
                } else {
                    [start; 2]
                };
                let to = if word(i - 1) { [i, i - 1] } else { [i; 2] };
                for s in from {
                    for e in to {
                        if e >= s + 3 {
                            push(s, e);
                        }
                    }
                }
            }
            start = if single { i } else { i + 1 };
        }
    }
    // Pieces joined by punctuation with no space between them.
    let mut start = 0;
    for (i, p) in raw.iter().enumerate() {
        if p.spaced {
            push(start, i + 1);
            start = i + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first reading of each word.
    fn words(text: &str) -> Vec<String> {
        tokens(text)
            .words
            .into_iter()
            .map(|mut w| w.remove(0))
            .collect()
    }

    #[test]
    fn case_accents_width_and_ligatures_fold() {
        assert_eq!(words("ＫＩＬＬ Café ﬁre"), ["kil", "cafe", "fire"]);
        assert_eq!(words("𝐤𝐢𝐥𝐥"), ["kil"]);
    }

    #[test]
    fn cyrillic_and_greek_look_alikes_read_as_latin() {
        // Cyrillic а, о; Greek ο, ν.
        assert_eq!(words("nаzі pοrn"), ["nazi", "porn"]);
    }

    #[test]
    fn zero_width_characters_vanish() {
        assert_eq!(words("k\u{200B}i\u{200D}l\u{FEFF}l"), ["kil"]);
    }

    #[test]
    fn leetspeak_reads_only_inside_words() {
        assert_eq!(words("k1ll p0rn n@zi"), ["kil", "porn", "nazi"]);
        assert_eq!(words("1999 wow! @ana"), ["1999", "wow", "ana"]);
        // `1` is read both ways: "ki11" is "kiii" and "kill".
        assert!(tokens("ki11").words[0].contains(&"kil".to_owned()));
    }

    #[test]
    fn separated_letters_are_joined() {
        let t = tokens("k.i.l.l and k i l l or ki-ll");
        let kil: Vec<_> = t.joins.iter().filter(|j| j.readings == ["kil"]).collect();
        assert_eq!(kil.len(), 3, "{t:?}");
        assert_eq!((kil[0].start, kil[0].end), (0, 4));
        assert_eq!(t.ends_after(0, "kil"), [4]);
        // Two spaces end a spelled-out word.
        let t = tokens("c o o k  m e t h");
        let spans: Vec<_> = t.joins.iter().map(|j| (j.start, j.end)).collect();
        assert_eq!(spans, [(0, 4), (4, 8)], "{t:?}");
        // Two short words are not glued ("a b" is ordinary text).
        assert!(tokens("a b").joins.is_empty());
    }

    #[test]
    fn skeletons_collapse_repeats() {
        assert_eq!(skeleton("kiiilll"), "kil");
        assert_eq!(skeleton("skill"), "skil");
        assert_eq!(skeleton("1488"), "1488");
    }
}
