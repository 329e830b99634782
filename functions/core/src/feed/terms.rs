//! Prompt and caption terms: the words a video is about, for "similar to
//! what you engaged with" until stored text embeddings arrive.

/// Most terms kept per video.
pub const MAX_TERMS: usize = 12;

/// Words too common to say what a clip is about.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "in",
    "into", "is", "it", "its", "of", "on", "or", "over", "the", "their", "then", "this", "that",
    "to", "under", "was", "with", "while", "who", "very", "made", "video", "clip", "shot",
];

/// The distinct lowercase words (3+ letters, no stopwords) of `texts`, in
/// order of first use, at most [`MAX_TERMS`].
pub fn extract<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for text in texts {
        for word in text.split(|c: char| !c.is_alphanumeric()) {
            if out.len() >= MAX_TERMS {
                return out;
            }
            let word = word.to_lowercase();
            if word.chars().count() < 3 || word.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            if STOPWORDS.contains(&word.as_str()) || out.contains(&word) {
                continue;
            }
            out.push(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_distinct_lowercase_content_words() {
        let t = extract([
            "A Cooking show: the Pasta, pasta and 42 tomatoes!",
            "Ünïcode sauce",
        ]);
        assert_eq!(
            t,
            ["cooking", "show", "pasta", "tomatoes", "ünïcode", "sauce"]
        );
        let many =
            "alpha beta gamma delta epsilon zeta theta iota kappa lambda mu nu xi omicron pi rho";
        assert_eq!(extract([many]).len(), MAX_TERMS);
    }
}
