//! Property tests of every request body parser and the text checks behind
//! them: whatever bytes arrive, the answer is a value or a 4xx, never a
//! panic, and what is accepted keeps the promised shape.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{MAX_JSON_BODY, parse_json};
use crate::accounts::{self, ProfileUpdate, token};
use crate::cameo;
use crate::error::ApiError;
use crate::feed::{EventBatch, PreferencesRequest, events, steer};
use crate::notifications::{DeviceRequest, MarkRead};
use crate::safety::{NewReport, NewRightsEntry, Resolve};
use crate::social::NewComment;
use crate::studio::callbacks::{CompleteRequest, FailRequest, ProgressRequest, StartRequest};
use crate::studio::validate::{self, is_ulid};
use crate::studio::{GenerationRequest, PublishRequest};

/// A parser as a route runs it: the body, then the request's own checks.
type Parser = fn(&[u8]) -> Result<(), ApiError>;

/// `(name, parser)` for each request body a route reads.
fn parsers() -> Vec<(&'static str, Parser)> {
    macro_rules! plain {
        ($t:ty) => {
            (
                stringify!($t),
                (|b| parse_json::<$t>(b).map(|_| ())) as Parser,
            )
        };
    }
    vec![
        plain!(accounts::LoginRequest),
        plain!(accounts::admin::MintRequest),
        plain!(accounts::avatar::AvatarRequest),
        plain!(accounts::avatar::AvatarConfirm),
        plain!(accounts::deletion::DeleteAccountRequest),
        plain!(cameo::verify::RecordingReport),
        plain!(crate::notifications::SettingsUpdate),
        plain!(DeviceRequest),
        plain!(MarkRead),
        plain!(NewReport),
        plain!(NewRightsEntry),
        plain!(Resolve),
        plain!(PublishRequest),
        plain!(StartRequest),
        plain!(ProgressRequest),
        plain!(CompleteRequest),
        plain!(FailRequest),
        ("SignupRequest", |b| {
            let r: accounts::SignupRequest = parse_json(b)?;
            accounts::validate::new_handle(&r.handle)?;
            accounts::validate::password(&r.password)?;
            accounts::validate::display_name(r.display_name.as_deref(), &r.handle)?;
            accounts::age::birth_date(&r.birth_date, 1_700_000_000_000)?;
            Ok(())
        }),
        ("ProfileUpdate", |b| {
            parse_json::<ProfileUpdate>(b).map(|_| ())
        }),
        ("GenerationRequest", |b| {
            validate::generation(parse_json::<GenerationRequest>(b)?).map(|_| ())
        }),
        ("NewComment", |b| {
            let c: NewComment = parse_json(b)?;
            crate::social::check_comment(c.text.trim())?;
            crate::safety::check_comment(c.text.trim())
        }),
        ("EventBatch", |b| {
            events::validate(&parse_json::<EventBatch>(b)?)
        }),
        ("PreferencesRequest", |b| {
            steer::parse(&parse_json::<PreferencesRequest>(b)?.text);
            Ok(())
        }),
        ("cameo::SettingsUpdate", |b| {
            let u: cameo::SettingsUpdate = parse_json(b)?;
            if let Some(text) = &u.instructions {
                cameo::rules::parse(text);
            }
            Ok(())
        }),
    ]
}

/// Field names the request types use, so random objects sometimes fit.
const FIELDS: &[&str] = &[
    "prompt",
    "duration_seconds",
    "aspect",
    "seed",
    "cameos",
    "remix_of",
    "invite_code",
    "handle",
    "password",
    "display_name",
    "birth_date",
    "country",
    "text",
    "reply_to",
    "events",
    "batch_id",
    "type",
    "video_id",
    "watch_ms",
    "upload_id",
    "content_type",
    "permission",
    "instructions",
    "ids",
    "up_to_seq",
    "platform",
    "token",
    "caption",
    "target_type",
    "target_id",
    "reason",
    "note",
    "progress",
    "stage",
    "attempt",
    "video_key",
    "thumbnail_key",
    "width",
    "height",
    "bytes",
    "bio",
    "code",
    "action",
];

/// Text with the characters that break naive parsers: controls, NUL,
/// zero-width and direction marks, combining marks, quotes, surrogates' neighbours.
pub(crate) fn nasty_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        prop::sample::select(vec![
            "\0",
            "\u{7f}",
            "\u{200B}",
            "\u{200D}",
            "\u{202E}",
            "\u{FEFF}",
            "\u{0301}",
            "\u{10FFFF}",
            "\u{D7FF}",
            "\u{E000}",
            "\"",
            "\\",
            "/",
            "..",
            "%2e%2e",
            "\r\n",
            "ß",
            "İ",
            "ﬁ",
            "𝐤",
            "🧨",
            "ａ",
            " ",
            "@",
            "a",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9 ]{1,8}",
    ];
    prop::collection::vec(piece, 0..48).prop_map(|p| p.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        nasty_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            prop::sample::select(FIELDS).prop_map(str::to_owned),
            nasty_text(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Every parser answers `body` with a value or a client error.
fn all_answer_4xx_or_ok(body: &[u8]) -> Result<(), TestCaseError> {
    for (name, parse) in parsers() {
        if let Err(e) = parse(body) {
            prop_assert!(
                (400..500).contains(&e.status) && !e.code.is_empty(),
                "{name}: {} {} for {:?}",
                e.status,
                e.code,
                String::from_utf8_lossy(body)
            );
        }
    }
    Ok(())
}

/// The smallest valid body of a few types, to break one way at a time.
fn valid_bodies() -> Vec<(Parser, Value)> {
    vec![
        (
            |b| validate::generation(parse_json(b)?).map(|_| ()),
            json!({"prompt": "a cat surfing at sunset"}),
        ),
        (
            |b| parse_json::<NewComment>(b).map(|_| ()),
            json!({"text": "lovely"}),
        ),
        (
            |b| events::validate(&parse_json(b)?),
            json!({"events": [{"type": "like", "video_id": "01JD0000000000000000000000"}]}),
        ),
        (
            |b| parse_json::<PreferencesRequest>(b).map(|_| ()),
            json!({"text": "more cats"}),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_get_a_value_or_a_4xx(body in prop::collection::vec(any::<u8>(), 0..512)) {
        all_answer_4xx_or_ok(&body)?;
    }

    #[test]
    fn any_json_gets_a_value_or_a_4xx(value in json_value()) {
        all_answer_4xx_or_ok(&serde_json::to_vec(&value).unwrap())?;
    }

    #[test]
    fn random_objects_of_known_fields_get_a_value_or_a_4xx(
        fields in prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..6)
    ) {
        let object: serde_json::Map<String, Value> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        all_answer_4xx_or_ok(&serde_json::to_vec(&object).unwrap())?;
    }

    #[test]
    fn deep_nesting_is_invalid_json_not_a_stack_overflow(
        depth in 129usize..30_000,
        open in prop::sample::select(vec!["[", "{\"a\":", "[{\"events\":"]),
    ) {
        let body = open.repeat(depth);
        for (name, parse) in parsers() {
            // A struct refuses a top-level array at once; anything that
            // recurses stops at serde_json's depth limit.
            let e = parse(body.as_bytes()).unwrap_err();
            prop_assert!(
                matches!(e.code, "invalid_json" | "invalid_request" | "payload_too_large"),
                "{name}: {}",
                e.code
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused(extra in "zz_[a-z]{0,8}", value in json_value(), which in 0usize..4) {
        let (parse, mut body) = valid_bodies().swap_remove(which);
        body[extra.as_str()] = value;
        let e = parse(&serde_json::to_vec(&body).unwrap()).unwrap_err();
        prop_assert_eq!((e.status, e.code), (400, "invalid_request"));
    }

    #[test]
    fn duplicate_keys_are_refused(which in 0usize..4) {
        let (parse, body) = valid_bodies().swap_remove(which);
        let text = body.to_string();
        let (key, value) = body.as_object().unwrap().iter().next().unwrap();
        let twice = format!("{{\"{key}\":{value},{}", &text[1..]);
        let e = parse(twice.as_bytes()).unwrap_err();
        prop_assert_eq!((e.status, e.code), (400, "invalid_request"));
    }

    #[test]
    fn numbers_out_of_range_are_400(
        (field, number) in prop_oneof![
            (u64::from(u32::MAX) + 1..).prop_map(|n| ("duration_seconds", n.to_string())),
            (validate::MAX_SEED + 1..).prop_map(|n| ("seed", n.to_string())),
            (i64::MIN..0).prop_map(|n| ("seed", n.to_string())),
            prop::sample::select(vec!["1e400", "-0.5", "18446744073709551616", "1.5"])
                .prop_flat_map(|n| prop::sample::select(vec!["duration_seconds", "seed"])
                    .prop_map(move |f| (f, n.to_owned()))),
        ],
    ) {
        let body = format!("{{\"prompt\":\"a cat\",\"{field}\":{number}}}");
        let e = match parse_json::<GenerationRequest>(body.as_bytes()) {
            Err(e) => e,
            // Only a seed over 2^53 parses; the rules refuse it.
            Ok(req) => validate::generation(req).unwrap_err(),
        };
        prop_assert_eq!(e.status, 400);
    }

    #[test]
    fn invalid_utf8_and_lone_surrogates_are_invalid_json(
        before in "[a-z ]{0,10}",
        bad in prop_oneof![
            prop::collection::vec(0x80u8..=0xFF, 1..4),
            Just(b"\\ud800".to_vec()),
            Just(b"\\udfff x".to_vec()),
        ],
    ) {
        let mut body = format!("{{\"text\":\"{before}").into_bytes();
        body.extend_from_slice(&bad);
        body.extend_from_slice(b"\"}");
        if std::str::from_utf8(&body).is_ok() && !body.windows(2).any(|w| w == b"\\u") {
            return Ok(()); // The random bytes happened to be valid UTF-8.
        }
        let e = parse_json::<PreferencesRequest>(&body).unwrap_err();
        prop_assert_eq!((e.status, e.code), (400, "invalid_json"));
    }

    #[test]
    fn text_fields_accept_only_what_their_rules_allow(text in nasty_text()) {
        if let Ok(h) = accounts::validate::handle(&text) {
            prop_assert!((3..=24).contains(&h.len()));
            prop_assert!(h.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'.'));
        }
        if let Ok(b) = accounts::validate::bio(&text) {
            prop_assert!(!b.chars().any(|c| c.is_control() && c != '\n'));
        }
        if let Ok(name) = accounts::validate::display_name(Some(&text), "ana") {
            prop_assert!(!name.is_empty() && !name.chars().any(char::is_control));
        }
        if let Ok(c) = validate::caption(Some(&text)) {
            prop_assert!(c.chars().count() <= validate::MAX_CAPTION_CHARS);
        }
        if validate::idempotency_key(&text).is_ok() {
            prop_assert!(text.bytes().all(|b| b.is_ascii_graphic()));
        }
        if is_ulid(&text) {
            // Ids name keys: nothing in one can reach another key space or path.
            prop_assert!(text.len() == 26 && text.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        let _ = accounts::validate::password(&text);
        let _ = accounts::age::birth_date(&text, 1_700_000_000_000);
        let _ = accounts::policy::parse_clock(&text);
        let _ = accounts::policy::country(&text);
        let _ = steer::parse(&text);
        let _ = cameo::rules::parse(&text);
        let _ = crate::social::check_comment(&text);
    }

    #[test]
    fn tokens_refuse_any_change(
        text in nasty_text(),
        at in any::<prop::sample::Index>(),
        with in any::<char>(),
    ) {
        let key = b"0123456789abcdef0123456789abcdef";
        let err = token::verify(key, &text, 0).unwrap_err();
        prop_assert_eq!(err.status, 401);
        let claims = token::TokenClaims {
            sub: "01JD0000000000000000000000".into(),
            sid: "01JD0000000000000000000001".into(),
            iat: 1,
            exp: u64::MAX / 2000,
            epoch: 0,
        };
        let good = token::issue(key, &claims);
        prop_assert_eq!(token::verify(key, &good, 2000).unwrap(), claims);
        let mut chars: Vec<char> = good.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != with);
        chars[i] = with;
        let forged: String = chars.into_iter().collect();
        prop_assert_eq!(token::verify(key, &forged, 2000).unwrap_err().status, 401);
    }
}

#[test]
fn bodies_over_the_limit_are_413_for_every_parser() {
    let body = vec![b'['; MAX_JSON_BODY + 1];
    for (name, parse) in parsers() {
        assert_eq!(parse(&body).unwrap_err().status, 413, "{name}");
    }
}
