//! Plain-words instructions: which ones restrict (and so refuse prompts
//! that break them) and which ones are preferences for the model.
//!
//! A sentence that starts by saying no ("never ...", "no ...", "don't ...",
//! "avoid ...", "not in ...") is a restriction; its topic words, widened by
//! a small lexicon of related words, are matched against the prompt's
//! words. Anything else ("always wearing glasses") is a preference. The
//! match is deliberately broad: refusing a borderline prompt is cheap,
//! putting someone in content they ruled out is not.

/// Longest instructions text accepted.
pub const MAX_INSTRUCTIONS_CHARS: usize = 500;

/// One restriction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// The sentence as written.
    pub text: String,
    /// Word stems a prompt must not contain.
    pub stems: Vec<String>,
}

/// Instructions, split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instructions {
    /// Enforced on prompts.
    pub restrictions: Vec<Restriction>,
    /// Sent to the model.
    pub preferences: Vec<String>,
}

impl Instructions {
    /// The first restriction `prompt` breaks.
    pub fn broken_by(&self, prompt: &str) -> Option<&Restriction> {
        let words: Vec<String> = words(prompt).map(|w| stem(&w)).collect();
        self.restrictions.iter().find(|r| {
            r.stems
                .iter()
                .any(|s| words.iter().any(|w| same_word(w, s)))
        })
    }
}

/// Openings that make a sentence a restriction.
const NEGATIONS: [&str; 12] = [
    "never",
    "no",
    "not",
    "don't",
    "dont",
    "do not",
    "avoid",
    "without",
    "nothing",
    "keep me out",
    "refuse",
    "exclude",
];

/// Words that carry no topic.
const FILLER: [&str; 44] = [
    "a",
    "an",
    "the",
    "in",
    "on",
    "at",
    "of",
    "or",
    "and",
    "to",
    "me",
    "my",
    "i",
    "be",
    "being",
    "is",
    "are",
    "any",
    "anything",
    "content",
    "contents",
    "video",
    "videos",
    "clip",
    "clips",
    "scene",
    "scenes",
    "show",
    "showing",
    "shown",
    "use",
    "used",
    "using",
    "with",
    "involving",
    "about",
    "related",
    "please",
    "kind",
    "type",
    "stuff",
    "things",
    "where",
    "out",
];

/// Topics and the words that mean them in a prompt.
const LEXICON: &[(&str, &[&str])] = &[
    (
        "politic",
        &[
            "politic",
            "politician",
            "election",
            "elect",
            "president",
            "senator",
            "campaign",
            "vote",
            "vot",
            "voter",
            "rally",
            "congress",
            "parliament",
            "democrat",
            "republican",
            "government",
            "protest",
            "minister",
            "candidate",
        ],
    ),
    (
        "alcohol",
        &[
            "alcohol",
            "beer",
            "wine",
            "vodka",
            "whiskey",
            "whisky",
            "cocktail",
            "drunk",
            "booze",
            "bar",
            "pub",
            "liquor",
            "champagne",
            "tequila",
            "rum",
            "gin",
            "shot",
            "hangover",
        ],
    ),
    (
        "drink",
        &[
            "alcohol", "beer", "wine", "vodka", "whiskey", "cocktail", "drunk", "booze", "liquor",
        ],
    ),
    (
        "smok",
        &[
            "smok",
            "cigarette",
            "cigar",
            "vape",
            "vap",
            "tobacco",
            "weed",
            "joint",
        ],
    ),
    (
        "drug",
        &[
            "drug",
            "weed",
            "cannabis",
            "marijuana",
            "cocaine",
            "heroin",
            "pill",
            "meth",
            "stoned",
        ],
    ),
    (
        "violen",
        &[
            "violen", "fight", "gun", "weapon", "punch", "blood", "war", "kill", "shoot", "stab",
            "knife", "battle", "brawl",
        ],
    ),
    (
        "weapon",
        &["weapon", "gun", "rifle", "pistol", "knife", "sword", "bomb"],
    ),
    (
        "romant",
        &[
            "romant", "romance", "kiss", "dating", "couple", "wedding", "flirt",
        ],
    ),
    ("kiss", &["kiss", "make out", "romance", "romant"]),
    (
        "swimwear",
        &[
            "swimwear",
            "bikini",
            "swimsuit",
            "underwear",
            "lingerie",
            "shirtless",
            "topless",
        ],
    ),
    (
        "religio",
        &[
            "religio",
            "church",
            "mosque",
            "temple",
            "synagogue",
            "pray",
            "prayer",
            "god",
            "priest",
        ],
    ),
    (
        "ad",
        &[
            "ad",
            "advert",
            "advertisement",
            "commercial",
            "sponsor",
            "brand",
            "promo",
            "product",
        ],
    ),
    (
        "horror",
        &[
            "horror", "scary", "zombie", "monster", "ghost", "gore", "demon",
        ],
    ),
    ("sad", &["sad", "cry", "crying", "funeral", "grief"]),
];

/// Splits `text` into restrictions and preferences.
pub fn parse(text: &str) -> Instructions {
    let mut out = Instructions::default();
    for sentence in text
        .split(['\n', '.', ';', '!'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let lower = sentence.to_lowercase();
        let negation = NEGATIONS.iter().find(|n| {
            lower == **n
                || lower.starts_with(&format!("{n} "))
                || lower.starts_with(&format!("i {n} "))
                || lower.starts_with(&format!("please {n} "))
        });
        match negation {
            Some(n) => {
                let rest = &lower[lower.find(n).unwrap_or(0) + n.len()..];
                let stems = topic_stems(rest);
                if stems.is_empty() {
                    out.preferences.push(sentence.to_owned());
                } else {
                    out.restrictions.push(Restriction {
                        text: sentence.to_owned(),
                        stems,
                    });
                }
            }
            None => out.preferences.push(sentence.to_owned()),
        }
    }
    out
}

/// The stems a restriction's words stand for: each word, and every word its
/// topic covers.
fn topic_stems(text: &str) -> Vec<String> {
    let mut stems: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !stems.contains(&s) {
            stems.push(s);
        }
    };
    for word in words(text).filter(|w| !FILLER.contains(&w.as_str())) {
        let s = stem(&word);
        for (topic, related) in LEXICON {
            if same_word(&s, topic) || (s.len() >= 4 && topic.starts_with(s.as_str())) {
                related.iter().for_each(|r| add(stem(r)));
            }
        }
        add(s);
    }
    stems
}

/// Lower-case words of letters, digits and apostrophes.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('\'', ""))
}

/// Whether a prompt word (stemmed) is the stem `s`, or grows from it when
/// `s` is long enough not to catch strangers ("elect" in "election", not
/// "ad" in "adventure").
fn same_word(word: &str, s: &str) -> bool {
    word == s || (s.chars().count() >= 4 && word.starts_with(s))
}

/// A crude stem: plurals and -ing/-ed forms meet their word.
fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    let long_enough = |base: &str| base.chars().count() >= 3;
    if let Some(base) = w.strip_suffix("ies").filter(|b| long_enough(b)) {
        return format!("{base}y");
    }
    for suffix in ["ing", "ed"] {
        if let Some(base) = w.strip_suffix(suffix).filter(|b| long_enough(b)) {
            return base.to_owned();
        }
    }
    match w.strip_suffix('s') {
        Some(base) if long_enough(base) && !base.ends_with('s') => base.to_owned(),
        _ => w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(instructions: &str, prompt: &str) -> bool {
        parse(instructions).broken_by(prompt).is_some()
    }

    #[test]
    fn restrictions_and_preferences_are_told_apart() {
        let parsed = parse(
            "Never in political content. Always wearing glasses!\nNo alcohol; keep my hair curly",
        );
        let restrictions: Vec<_> = parsed
            .restrictions
            .iter()
            .map(|r| r.text.as_str())
            .collect();
        assert_eq!(restrictions, ["Never in political content", "No alcohol"]);
        assert_eq!(
            parsed.preferences,
            ["Always wearing glasses", "keep my hair curly"]
        );
    }

    #[test]
    fn restricted_topics_catch_related_words() {
        let rules = "never in political content. no alcohol";
        assert!(refused(rules, "@ana giving a speech at an election rally"));
        assert!(refused(rules, "ana running for President"));
        assert!(refused(rules, "ana sipping wine on a balcony"));
        assert!(refused(rules, "ana does tequila shots"));
        assert!(!refused(rules, "ana surfing at sunset"));
        assert!(!refused(rules, "ana drinking orange juice at breakfast"));
    }

    #[test]
    fn plain_topics_without_a_lexicon_entry_still_match_their_own_words() {
        assert!(refused("don't show me with cats", "ana cuddling two cats"));
        assert!(!refused("don't show me with cats", "ana walking a dog"));
    }

    #[test]
    fn a_negation_with_no_topic_is_only_a_preference() {
        let parsed = parse("no. never!");
        assert!(parsed.restrictions.is_empty());
        assert!(!refused("never", "anything at all"));
    }
}
