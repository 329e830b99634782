//! Property tests of the content filter: it answers any text without
//! panicking, its normalisation is idempotent, and disguises (invisible
//! characters, case, harmless words around) never unblock a refused prompt.

use proptest::prelude::*;

use super::normalize::{fold, tokens};
use super::{Surface, classify, eval, screen};
use crate::request::proptests::nasty_text;

/// Characters the filter must see through.
const INVISIBLE: [char; 8] = [
    '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{00AD}', '\u{FEFF}', '\u{034F}', '\u{180E}',
];

/// Harmless words a prompt may be wrapped in (none completes an allow-list
/// phrase such as "killing time").
const HARMLESS: [&str; 8] = [
    "a watercolour painting of",
    "cinematic,",
    "in slow motion",
    "at sunset over the sea",
    "shot on 35mm film",
    "with soft piano music",
    "the scene:",
    "please make",
];

/// The labelled prompts the filter refuses today.
fn blocked() -> Vec<String> {
    eval::rows()
        .into_iter()
        .filter(|r| r.expected.is_some())
        .map(|r| r.text)
        .filter(|t| screen(t, Surface::Prompt, &[]).is_err())
        .collect()
}

/// `text` with invisible characters inserted and ASCII letters' case flipped.
fn disguise(text: &str, marks: &[(prop::sample::Index, usize)], flips: &[bool]) -> String {
    let mut chars: Vec<char> = text
        .chars()
        .zip(flips.iter().cycle())
        .map(|(c, flip)| match (c.is_ascii_alphabetic(), flip) {
            (true, true) if c.is_ascii_lowercase() => c.to_ascii_uppercase(),
            (true, true) => c.to_ascii_lowercase(),
            _ => c,
        })
        .collect();
    for (at, which) in marks {
        let i = at.index(chars.len() + 1);
        chars.insert(i, INVISIBLE[which % INVISIBLE.len()]);
    }
    chars.into_iter().collect()
}

fn marks() -> impl Strategy<Value = Vec<(prop::sample::Index, usize)>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<usize>()), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_text_gets_an_answer(text in prop_oneof![any::<String>(), nasty_text()]) {
        let _ = screen(&text, Surface::Prompt, &[]);
        let _ = screen(&text, Surface::Comment, &["ana".to_owned()]);
    }

    #[test]
    fn normalisation_is_idempotent(text in prop_oneof![any::<String>(), nasty_text()]) {
        let once = fold(&text);
        prop_assert_eq!(&fold(&once), &once);
        prop_assert_eq!(tokens(&once), tokens(&text));
    }

    #[test]
    fn invisible_characters_and_case_change_nothing(
        text in prop_oneof![any::<String>(), nasty_text()],
        marks in marks(),
        flips in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let disguised = disguise(&text, &marks, &flips);
        prop_assert_eq!(classify(&disguised), classify(&text));
    }

    #[test]
    fn a_blocked_prompt_stays_blocked_in_disguise(
        which in any::<prop::sample::Index>(),
        before in prop::collection::vec(prop::sample::select(&HARMLESS[..]), 0..3),
        after in prop::collection::vec(prop::sample::select(&HARMLESS[..]), 0..3),
        marks in marks(),
        flips in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let prompts = blocked();
        let prompt = which.get(&prompts);
        let wrapped = format!("{} {prompt} {}", before.join(" "), after.join(" "));
        let disguised = disguise(&wrapped, &marks, &flips);
        prop_assert!(
            screen(&disguised, Surface::Prompt, &[]).is_err(),
            "{prompt:?} passed as {disguised:?}"
        );
    }
}

proptest! {
    // Big inputs are slow to generate; a few cases show they are bounded.
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn huge_and_odd_texts_get_an_answer(
        unit in prop_oneof![nasty_text(), Just("\u{0301}".to_owned()), Just("k.".to_owned()), Just("a ".to_owned())],
        times in 1usize..4096,
    ) {
        let text = unit.repeat(times);
        let _ = screen(&text, Surface::Prompt, &[]);
        let _ = screen(&text, Surface::Comment, &[]);
    }
}
