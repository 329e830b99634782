//! policy.json: which graphs run and where each rule draws its line.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole policy file. `sampling` is the host's (it sizes the frames).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// How the host samples frames; read by the worker, ignored here.
    #[serde(default)]
    pub sampling: serde_json::Value,
    /// The flash rule; `None` turns it off.
    #[serde(default)]
    pub photosensitivity: Option<Photosensitivity>,
    /// Image classifiers run on the stills, in order.
    #[serde(default)]
    pub classifiers: Vec<Classifier>,
}

/// WCAG 2.3.1 / Harding-style general-flash rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Photosensitivity {
    /// Graph name in the policy directory's `graphs/`.
    #[serde(default = "default_flash_graph")]
    pub graph: String,
    /// Flashes allowed in any one second (WCAG: three).
    #[serde(default = "default_max_flashes")]
    pub max_flashes_per_second: u32,
    /// Fraction of the frame that must change together for a transition to count.
    #[serde(default = "default_min_area")]
    pub min_area: f32,
    /// Least change of relative luminance that counts (WCAG: 10% of the maximum).
    #[serde(default = "default_min_change")]
    pub min_change: f32,
    /// A transition counts only if the darker side is below this (WCAG: 0.80).
    #[serde(default = "default_max_darker")]
    pub max_darker: f32,
}

/// One image classifier: input N×3×H×W float RGB, output N×labels scores.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classifier {
    /// Graph name in the policy directory's `graphs/`.
    pub graph: String,
    /// Input width the graph expects.
    pub width: u32,
    /// Input height the graph expects.
    pub height: u32,
    /// The graph's input tensor name.
    #[serde(default = "default_input")]
    pub input: String,
    /// Per-channel normalisation: `(rgb / 255 - mean) / std`.
    #[serde(default = "default_mean")]
    pub mean: [f32; 3],
    /// See `mean`.
    #[serde(default = "default_std")]
    pub std: [f32; 3],
    /// The output's labels, in order.
    pub labels: Vec<String>,
    /// Labels that block, with their thresholds (a clip's score is its worst still).
    #[serde(default)]
    pub block: BTreeMap<String, LabelRule>,
}

/// When a label blocks, and under which category.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelRule {
    /// Blocks when the label's score reaches this.
    pub threshold: f32,
    /// The category the edge is told.
    pub category: String,
}

fn default_flash_graph() -> String {
    "flash".into()
}
fn default_max_flashes() -> u32 {
    3
}
fn default_min_area() -> f32 {
    0.25
}
fn default_min_change() -> f32 {
    0.1
}
fn default_max_darker() -> f32 {
    0.8
}
fn default_input() -> String {
    "images".into()
}
fn default_mean() -> [f32; 3] {
    [0.0; 3]
}
fn default_std() -> [f32; 3] {
    [1.0; 3]
}

/// Largest classifier input side accepted (bounds the module's memory).
pub const MAX_SIDE: u32 = 1024;

impl Policy {
    /// Parses and checks policy.json; the error says what to fix.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let policy: Policy =
            serde_json::from_str(text).map_err(|e| format!("policy.json is invalid: {e}"))?;
        if let Some(p) = &policy.photosensitivity {
            for (name, v) in [
                ("min_area", p.min_area),
                ("min_change", p.min_change),
                ("max_darker", p.max_darker),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(format!("photosensitivity.{name} must be within 0..=1"));
                }
            }
        }
        for c in &policy.classifiers {
            if !(1..=MAX_SIDE).contains(&c.width) || !(1..=MAX_SIDE).contains(&c.height) {
                return Err(format!(
                    "classifier {:?}: width and height must be within 1..={MAX_SIDE}",
                    c.graph
                ));
            }
            if c.std.contains(&0.0) {
                return Err(format!("classifier {:?}: std must not be 0", c.graph));
            }
            if let Some(label) = c.block.keys().find(|l| !c.labels.contains(l)) {
                return Err(format!(
                    "classifier {:?}: blocked label {label:?} is not in labels",
                    c.graph
                ));
            }
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_wcag() {
        let p = Policy::parse(r#"{"photosensitivity": {}}"#).unwrap();
        let f = p.photosensitivity.unwrap();
        assert_eq!(f.graph, "flash");
        assert_eq!(f.max_flashes_per_second, 3);
        assert_eq!((f.min_change, f.max_darker), (0.1, 0.8));
        assert!(p.classifiers.is_empty());
    }

    #[test]
    fn mistakes_are_named() {
        let bad = [
            (r#"{"photosensitivity": {"min_area": 2}}"#, "min_area"),
            (r#"{"surprise": 1}"#, "unknown field"),
            (
                r#"{"classifiers": [{"graph": "c", "width": 8, "height": 8, "labels": ["a"],
                    "block": {"b": {"threshold": 0.5, "category": "x"}}}]}"#,
                "\"b\" is not in labels",
            ),
            (
                r#"{"classifiers": [{"graph": "c", "width": 0, "height": 8, "labels": []}]}"#,
                "width and height",
            ),
        ];
        for (text, needle) in bad {
            let err = Policy::parse(text).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }
}
