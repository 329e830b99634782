//! Checking studio input. Every refusal here happens before anything is
//! read or written, and names the limit it enforces.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::accounts::validate as account_rules;
use crate::error::ApiError;
use crate::studio::GenerationRequest;

/// Longest prompt, in characters, after trimming.
pub const MAX_PROMPT_CHARS: usize = 1000;
/// Shortest clip, seconds.
pub const MIN_DURATION_SECONDS: u32 = 1;
/// Longest clip, seconds: every clip is at most ten seconds.
pub const MAX_DURATION_SECONDS: u32 = 10;
/// Clip length when the request names none.
pub const DEFAULT_DURATION_SECONDS: u32 = 5;
/// The aspect ratios the worker renders; the first is the default.
pub const ASPECTS: [&str; 3] = ["9:16", "16:9", "1:1"];
/// Largest seed: JavaScript's largest safe integer, so clients keep it exact.
pub const MAX_SEED: u64 = (1 << 53) - 1;
/// Most members cast in one clip.
pub const MAX_CAMEOS: usize = 4;
/// Longest caption, in characters, after trimming.
pub const MAX_CAPTION_CHARS: usize = 300;
/// Longest `Idempotency-Key` header.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 100;

/// A generation request that passed the checks, in normal form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generation {
    /// Trimmed.
    pub prompt: String,
    /// 1000..=10000.
    pub duration_ms: u32,
    /// One of [`ASPECTS`].
    pub aspect: String,
    /// As asked; `None` = pick one at random.
    pub seed: Option<u64>,
    /// Lower-case handles, `@` removed.
    pub cameos: Vec<String>,
    /// Source video id.
    pub remix_of: Option<String>,
}

impl Generation {
    /// Hex SHA-256 of the normal form: two requests that mean the same get the same print.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).expect("plain struct serialises");
        crate::studio::validate::hex(&Sha256::digest(json))
    }
}

/// Checks and normalises a generation request.
pub fn generation(req: GenerationRequest) -> Result<Generation, ApiError> {
    let prompt = req.prompt.trim();
    let chars = prompt.chars().count();
    if chars == 0 {
        return Err(ApiError::invalid_request(
            "prompt must not be blank: describe the clip to make",
        ));
    }
    if chars > MAX_PROMPT_CHARS {
        return Err(ApiError::invalid_request(format!(
            "prompt must be at most {MAX_PROMPT_CHARS} characters (got {chars})"
        )));
    }
    if prompt
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid_request(
            "prompt must not contain control characters",
        ));
    }
    let seconds = req.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS);
    if !(MIN_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&seconds) {
        return Err(ApiError::invalid_request(format!(
            "duration_seconds must be {MIN_DURATION_SECONDS}-{MAX_DURATION_SECONDS}: clips are at most {MAX_DURATION_SECONDS} seconds long (got {seconds})"
        )));
    }
    let aspect = req.aspect.unwrap_or_else(|| ASPECTS[0].to_owned());
    if !ASPECTS.contains(&aspect.as_str()) {
        return Err(ApiError::invalid_request(format!(
            "aspect must be one of {} (got {aspect:?})",
            ASPECTS.join(", ")
        )));
    }
    if let Some(seed) = req.seed
        && seed > MAX_SEED
    {
        return Err(ApiError::invalid_request(format!(
            "seed must be 0-{MAX_SEED}"
        )));
    }
    if req.cameos.len() > MAX_CAMEOS {
        return Err(ApiError::invalid_request(format!(
            "at most {MAX_CAMEOS} cameos per clip"
        )));
    }
    let mut cameos = Vec::with_capacity(req.cameos.len());
    for handle in &req.cameos {
        let handle = handle.trim();
        let handle =
            account_rules::handle(handle.strip_prefix('@').unwrap_or(handle)).map_err(|_| {
                ApiError::invalid_request(format!("cameos: {handle:?} is not a handle"))
            })?;
        if !cameos.contains(&handle) {
            cameos.push(handle);
        }
    }
    let remix_of = match req.remix_of {
        Some(id) if id.trim().is_empty() => {
            return Err(ApiError::invalid_request(
                "remix_of must be a video id, or absent",
            ));
        }
        other => other.map(|id| id.trim().to_owned()),
    };
    Ok(Generation {
        prompt: prompt.to_owned(),
        duration_ms: seconds * 1000,
        aspect,
        seed: req.seed,
        cameos,
        remix_of,
    })
}

/// A caption: trimmed, at most [`MAX_CAPTION_CHARS`], no control characters but newlines.
pub fn caption(caption: Option<&str>) -> Result<String, ApiError> {
    let caption = caption.unwrap_or_default().trim();
    let chars = caption.chars().count();
    if chars > MAX_CAPTION_CHARS {
        return Err(ApiError::invalid_request(format!(
            "caption must be at most {MAX_CAPTION_CHARS} characters (got {chars})"
        )));
    }
    if caption.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid_request(
            "caption must not contain control characters",
        ));
    }
    Ok(caption.to_owned())
}

/// Checks an `Idempotency-Key` header and returns the hash that names it in the store.
pub fn idempotency_key(key: &str) -> Result<String, ApiError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(ApiError::invalid_request(format!(
            "Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
        )));
    }
    Ok(hex(&Sha256::digest(key.as_bytes())))
}

/// Whether `id` looks like a ULID (26 Crockford characters), so it can name a record.
pub fn is_ulid(id: &str) -> bool {
    crate::ids::ulid_time_ms(id).is_some()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(prompt: &str) -> GenerationRequest {
        GenerationRequest {
            prompt: prompt.into(),
            duration_seconds: None,
            aspect: None,
            seed: None,
            cameos: vec![],
            remix_of: None,
        }
    }

    fn refusal(r: GenerationRequest) -> String {
        let e = generation(r).unwrap_err();
        assert_eq!((e.status, e.code), (400, "invalid_request"));
        e.message
    }

    #[test]
    fn defaults_fill_in() {
        let g = generation(req("  a fox  ")).unwrap();
        assert_eq!(g.prompt, "a fox");
        assert_eq!(g.duration_ms, 5000);
        assert_eq!(g.aspect, "9:16");
        assert_eq!(g.seed, None);
    }

    #[test]
    fn durations_outside_one_to_ten_seconds_are_refused_and_named() {
        for (s, ok) in [(0, false), (1, true), (10, true), (11, false), (600, false)] {
            let r = GenerationRequest {
                duration_seconds: Some(s),
                ..req("fox")
            };
            if ok {
                assert_eq!(generation(r).unwrap().duration_ms, s * 1000);
            } else {
                let message = refusal(r);
                assert!(message.contains("at most 10 seconds"), "{message}");
            }
        }
    }

    #[test]
    fn prompts_must_be_present_short_and_clean() {
        assert!(refusal(req("   ")).contains("blank"));
        assert!(refusal(req(&"x".repeat(1001))).contains("1000"));
        assert!(generation(req(&"é".repeat(1000))).is_ok());
        assert!(refusal(req("a\u{0}b")).contains("control"));
        assert!(generation(req("line one\nline two")).is_ok());
    }

    #[test]
    fn aspects_seeds_and_cameos_are_checked() {
        let r = |aspect: &str| GenerationRequest {
            aspect: Some(aspect.into()),
            ..req("fox")
        };
        assert!(generation(r("16:9")).is_ok() && generation(r("1:1")).is_ok());
        assert!(refusal(r("4:3")).contains("9:16"));
        let seeded = |seed| GenerationRequest {
            seed: Some(seed),
            ..req("fox")
        };
        assert_eq!(generation(seeded(MAX_SEED)).unwrap().seed, Some(MAX_SEED));
        assert!(refusal(seeded(MAX_SEED + 1)).contains("seed"));
        let cast = |handles: &[&str]| GenerationRequest {
            cameos: handles.iter().map(|h| h.to_string()).collect(),
            ..req("fox")
        };
        assert_eq!(
            generation(cast(&["@Ana", "ana", "bruno"])).unwrap().cameos,
            ["ana", "bruno"]
        );
        assert!(refusal(cast(&["not a handle"])).contains("cameos"));
        assert!(refusal(cast(&["aaa", "bbb", "ccc", "ddd", "eee"])).contains("at most 4"));
    }

    #[test]
    fn fingerprints_ignore_form_and_see_meaning() {
        let a = generation(req("fox")).unwrap().fingerprint();
        let b = generation(GenerationRequest {
            aspect: Some("9:16".into()),
            duration_seconds: Some(5),
            ..req("  fox ")
        })
        .unwrap()
        .fingerprint();
        let c = generation(req("cat")).unwrap().fingerprint();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn captions_and_idempotency_keys() {
        assert_eq!(caption(None).unwrap(), "");
        assert_eq!(caption(Some(" hi ")).unwrap(), "hi");
        assert!(caption(Some(&"x".repeat(301))).is_err());
        assert!(caption(Some(&"x".repeat(300))).is_ok());
        assert!(caption(Some("a\u{7}")).is_err());
        assert_eq!(idempotency_key("abc").unwrap().len(), 64);
        assert_ne!(
            idempotency_key("abc").unwrap(),
            idempotency_key("abd").unwrap()
        );
        for bad in ["", "has space", &"k".repeat(101), "ünicode"] {
            assert!(idempotency_key(bad).is_err(), "{bad:?}");
        }
        assert!(idempotency_key(&"k".repeat(100)).is_ok());
    }
}
