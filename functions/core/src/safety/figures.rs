//! Real people: public figures a prompt may not name (`lists/figures.tsv`)
//! and members it mentions by `@handle`, unless they are verified cameos who
//! allow it. Cameos are not verified yet, so the allowance is empty for now:
//! [`named`] and [`mentioned_member`] take it so the cameo feature only has
//! to pass its names in.

use std::sync::OnceLock;

use super::normalize::{self, Tokens};

const FIGURES: &str = include_str!("lists/figures.tsv");

/// A public figure: display name and the phrases (skeletons) that name them.
#[derive(Debug)]
struct Figure {
    name: String,
    phrases: Vec<Vec<String>>,
}

fn phrase(text: &str) -> Vec<String> {
    normalize::tokens(text)
        .words
        .into_iter()
        .filter_map(|mut r| (!r.is_empty()).then(|| r.swap_remove(0)))
        .collect()
}

fn figures() -> &'static [Figure] {
    static FIGURES_LIST: OnceLock<Vec<Figure>> = OnceLock::new();
    FIGURES_LIST.get_or_init(|| {
        FIGURES
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (name, aliases) = l.split_once('\t').unwrap_or((l, ""));
                let phrases = std::iter::once(name)
                    .chain(aliases.split('|'))
                    .filter(|a| !a.trim().is_empty())
                    .map(phrase)
                    .collect();
                Figure {
                    name: name.trim().to_owned(),
                    phrases,
                }
            })
            .collect()
    })
}

/// The public figure `tokens` names, unless `allowed` (lower-case names of
/// verified cameos who allow it) has them.
pub fn named(tokens: &Tokens, allowed: &[String]) -> Option<String> {
    figures()
        .iter()
        .find(|f| {
            f.phrases.iter().any(|p| tokens.contains(p))
                && !allowed.iter().any(|a| a.eq_ignore_ascii_case(&f.name))
        })
        .map(|f| f.name.clone())
}

/// The first `@handle` in `text` that is not in `allowed` (lower-case handles
/// of the cameos cast). A prompt that names a member describes a real
/// private person, which only their cameo may allow.
pub fn mentioned_member(text: &str, allowed: &[String]) -> Option<String> {
    let mut prev = ' ';
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '@' && !prev.is_alphanumeric() {
            let handle: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                .collect::<String>()
                .to_ascii_lowercase();
            if handle.len() >= 2
                && handle.chars().any(|c| c.is_ascii_alphabetic())
                && !allowed.contains(&handle)
            {
                return Some(handle);
            }
        }
        prev = c;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Option<String> {
        named(&normalize::tokens(text), &[])
    }

    #[test]
    fn names_and_aliases_are_found_in_any_disguise() {
        assert_eq!(
            name("Taylor Swift on stage").as_deref(),
            Some("Taylor Swift")
        );
        assert_eq!(
            name("t@yl0r sw1ft singing").as_deref(),
            Some("Taylor Swift")
        );
        assert_eq!(name("obama at a bbq").as_deref(), Some("Barack Obama"));
        assert_eq!(name("a swift taylor bird"), None);
        assert_eq!(name("a trump card"), None);
    }

    #[test]
    fn a_verified_cameo_who_allows_it_is_let_through() {
        let allowed = ["taylor swift".to_owned()];
        assert_eq!(named(&normalize::tokens("Taylor Swift"), &allowed), None);
    }

    #[test]
    fn member_mentions_need_their_cameo() {
        assert_eq!(
            mentioned_member("@Bruno dancing", &[]).as_deref(),
            Some("bruno")
        );
        assert_eq!(mentioned_member("@bruno dancing", &["bruno".into()]), None);
        assert_eq!(mentioned_member("mail me at ana@example.com", &[]), None);
        assert_eq!(mentioned_member("price @ 5", &[]), None);
    }
}
