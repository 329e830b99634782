//! Reads a few plain words in the prompt so the local scene and music follow it.
//!
//! This is not understanding, only a nudge: "ocean" leans blue, "party" leans
//! fast, "rain" leans minor. Everything else comes from the prompt's hash.

/// What the prompt suggests about colour, pace and key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Mood {
    /// Preferred base hue in degrees, when a colour word was found.
    pub hue: Option<f32>,
    /// Darker palette (night, space, storm).
    pub dark: bool,
    /// Pace from 0.0 (calm) to 1.0 (frantic); 0.5 when nothing says.
    pub energy: f32,
    /// Minor key when true, major when false, the hash decides when `None`.
    pub minor: Option<bool>,
}

const HUES: &[(&str, f32)] = &[
    ("ocean", 205.0),
    ("sea", 200.0),
    ("water", 195.0),
    ("rain", 215.0),
    ("sky", 210.0),
    ("fire", 18.0),
    ("sunset", 25.0),
    ("lava", 10.0),
    ("desert", 38.0),
    ("forest", 125.0),
    ("jungle", 110.0),
    ("garden", 100.0),
    ("grass", 95.0),
    ("night", 240.0),
    ("space", 255.0),
    ("galaxy", 270.0),
    ("love", 340.0),
    ("rose", 345.0),
    ("candy", 320.0),
    ("gold", 48.0),
    ("sun", 52.0),
    ("snow", 190.0),
    ("ice", 185.0),
    ("neon", 295.0),
    ("cyber", 285.0),
];
const DARK: &[&str] = &[
    "night", "space", "galaxy", "storm", "dark", "midnight", "cave",
];
const CALM: &[&str] = &[
    "calm", "slow", "sleep", "peaceful", "gentle", "lofi", "quiet",
];
const LIVELY: &[&str] = &[
    "dance",
    "party",
    "fast",
    "race",
    "energetic",
    "action",
    "run",
];
const MINOR: &[&str] = &["sad", "dark", "rain", "night", "lonely", "storm", "mystery"];
const MAJOR: &[&str] = &["happy", "sunny", "party", "joy", "bright", "summer"];

impl Mood {
    /// Reads the prompt's words (case-insensitive, punctuation ignored).
    pub(crate) fn from_prompt(prompt: &str) -> Mood {
        let lower = prompt.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
        let hue = words
            .iter()
            .find_map(|w| HUES.iter().find(|(k, _)| k == w).map(|&(_, h)| h));
        let energy = match (has(CALM), has(LIVELY)) {
            (true, false) => 0.15,
            (false, true) => 0.9,
            _ => 0.5,
        };
        let minor = match (has(MINOR), has(MAJOR)) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        };
        Mood {
            hue,
            dark: has(DARK),
            energy,
            minor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_steer_colour_pace_and_key() {
        let m = Mood::from_prompt("A calm OCEAN at night, rain falling");
        assert_eq!(m.hue, Some(205.0));
        assert!(m.dark);
        assert_eq!(m.energy, 0.15);
        assert_eq!(m.minor, Some(true));
    }

    #[test]
    fn unknown_words_leave_everything_to_the_hash() {
        let m = Mood::from_prompt("a teapot explaining taxes");
        assert_eq!(
            m,
            Mood {
                hue: None,
                dark: false,
                energy: 0.5,
                minor: None
            }
        );
    }
}
