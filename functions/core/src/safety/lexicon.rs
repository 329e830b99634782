//! The word lists (`lists/*.tsv`, compiled in) and the matcher over them.
//!
//! - `terms.tsv`: `category<TAB>phrase`. A phrase is one or more whole words;
//!   category `allow` marks an exception ("naked eye", "killing time") whose
//!   words no other entry may use.
//! - `groups.tsv`: `group<TAB>phrase`, words that mean something only together.
//! - `combos.tsv`: `category<TAB>group<TAB>group`: both groups anywhere in the
//!   text ("naked" with "child") put it in the category.
//!
//! Every phrase goes through [`normalize::tokens`] like the text does, so one
//! entry covers its disguises. Matching is whole words only ("class" is not
//! "ass", "Scunthorpe" is one word), and one hash lookup per word reading.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::Category;
use super::normalize::{self, Tokens};

const TERMS: &str = include_str!("lists/terms.tsv");
const GROUPS: &str = include_str!("lists/groups.tsv");
const COMBOS: &str = include_str!("lists/combos.tsv");

/// What a matched phrase means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hit {
    Term(Category),
    Group(usize),
    Allow,
}

#[derive(Debug)]
struct Entry {
    /// Skeletons of the words after the first.
    rest: Vec<String>,
    hit: Hit,
}

/// The compiled lists.
#[derive(Debug, Default)]
pub struct Lexicon {
    /// First word's skeleton -> the phrases starting with it.
    index: HashMap<String, Vec<Entry>>,
    /// `(category, group, group)`.
    combos: Vec<(Category, usize, usize)>,
    groups: usize,
}

/// Non-empty, non-comment lines split on tabs.
fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::trim).collect())
}

impl Lexicon {
    /// The lists compiled in, built once per process.
    pub fn builtin() -> &'static Lexicon {
        static LEXICON: OnceLock<Lexicon> = OnceLock::new();
        LEXICON.get_or_init(|| Lexicon::parse(TERMS, GROUPS, COMBOS))
    }

    /// Builds a lexicon from list texts; a malformed row panics (the lists are
    /// compiled in and a unit test parses them).
    pub fn parse(terms: &str, groups: &str, combos: &str) -> Lexicon {
        let mut lex = Lexicon::default();
        for row in rows(terms) {
            let [category, phrase] = row[..] else {
                panic!("terms.tsv: bad row {row:?}");
            };
            let hit = match category {
                "allow" => Hit::Allow,
                c => {
                    Hit::Term(Category::parse(c).unwrap_or_else(|| panic!("unknown category {c}")))
                }
            };
            lex.add(phrase, hit);
        }
        let mut names: Vec<String> = Vec::new();
        for row in rows(groups) {
            let [group, phrase] = row[..] else {
                panic!("groups.tsv: bad row {row:?}");
            };
            let id = match names.iter().position(|n| n == group) {
                Some(id) => id,
                None => {
                    names.push(group.to_owned());
                    names.len() - 1
                }
            };
            lex.add(phrase, Hit::Group(id));
        }
        lex.groups = names.len();
        for row in rows(combos) {
            let [category, a, b] = row[..] else {
                panic!("combos.tsv: bad row {row:?}");
            };
            let group = |g: &str| {
                names
                    .iter()
                    .position(|n| n == g)
                    .unwrap_or_else(|| panic!("combos.tsv: unknown group {g}"))
            };
            let category = Category::parse(category).expect("combos.tsv: unknown category");
            lex.combos.push((category, group(a), group(b)));
        }
        lex
    }

    fn add(&mut self, phrase: &str, hit: Hit) {
        let words: Vec<String> = normalize::tokens(phrase)
            .words
            .into_iter()
            .map(|mut readings| readings.swap_remove(0))
            .collect();
        let Some((first, rest)) = words.split_first() else {
            panic!("empty phrase in the safety lists");
        };
        self.index.entry(first.clone()).or_default().push(Entry {
            rest: rest.to_vec(),
            hit,
        });
    }

    /// Every phrase found: `(start, end, hit)` in word positions.
    fn found(&self, tokens: &Tokens) -> Vec<(usize, usize, Hit)> {
        let mut found = Vec::new();
        let mut starts: Vec<(usize, usize, &str)> = Vec::new();
        for (i, readings) in tokens.words.iter().enumerate() {
            starts.extend(readings.iter().map(|r| (i, i + 1, r.as_str())));
        }
        for j in &tokens.joins {
            starts.extend(j.readings.iter().map(|r| (j.start, j.end, r.as_str())));
        }
        for (start, first_end, first) in starts {
            for entry in self.index.get(first).into_iter().flatten() {
                for end in tokens.follow(first_end, &entry.rest) {
                    if !found.contains(&(start, end, entry.hit)) {
                        found.push((start, end, entry.hit));
                    }
                }
            }
        }
        found
    }

    /// The categories `tokens` falls in, most severe first, without repeats.
    /// An `allow` phrase excuses the words it covers, and a phrase inside a
    /// longer one counts only as the longer one ("suicide" in "suicide bomber").
    pub fn categories(&self, tokens: &Tokens) -> Vec<Category> {
        let found = self.found(tokens);
        let covers = |outer: &(usize, usize, Hit), s: usize, e: usize| {
            outer.0 <= s && e <= outer.1 && (outer.1 - outer.0) > (e - s)
        };
        let mut out = Vec::new();
        let mut groups = vec![false; self.groups];
        for &(s, e, hit) in &found {
            let excused = found
                .iter()
                .any(|f| f.2 == Hit::Allow && s < f.1 && f.0 < e);
            let inside = found
                .iter()
                .any(|f| matches!(f.2, Hit::Term(_)) && covers(f, s, e));
            match hit {
                Hit::Term(c) if !excused && !inside && !out.contains(&c) => out.push(c),
                Hit::Group(g) if !excused => groups[g] = true,
                _ => {}
            }
        }
        for &(c, a, b) in &self.combos {
            if groups[a] && groups[b] && !out.contains(&c) {
                out.push(c);
            }
        }
        out.sort_by_key(|c| Category::ALL.iter().position(|x| x == c));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex() -> Lexicon {
        Lexicon::parse(
            "graphic_violence\tbeheading\nallow\tkilling time\nhate\tkill all\n",
            "act\tkilling\nact\tstab\nhow\tbloody\n",
            "graphic_violence\tact\thow\n",
        )
    }

    fn cats(text: &str) -> Vec<Category> {
        lex().categories(&normalize::tokens(text))
    }

    #[test]
    fn phrases_match_whole_words_in_order() {
        assert_eq!(cats("a BEHEADING scene"), [Category::GraphicViolence]);
        assert_eq!(cats("kill all of them"), [Category::Hate]);
        assert!(cats("all kill").is_empty());
        assert!(cats("beheadings").is_empty());
    }

    #[test]
    fn combos_need_both_groups_and_allow_entries_excuse_words() {
        assert_eq!(cats("a bloody stab"), [Category::GraphicViolence]);
        assert!(cats("a stab at poetry").is_empty());
        assert!(cats("bloody killing time").is_empty());
        assert_eq!(cats("bloody killing"), [Category::GraphicViolence]);
    }

    #[test]
    fn phrases_run_through_separated_letters() {
        assert_eq!(cats("k.i.l.l a-l-l of them"), [Category::Hate]);
        assert_eq!(cats("b e h e a d i n g"), [Category::GraphicViolence]);
    }

    #[test]
    fn the_builtin_lists_parse() {
        assert!(!Lexicon::builtin().index.is_empty());
        assert!(!Lexicon::builtin().combos.is_empty());
    }
}
