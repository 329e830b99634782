//! One check per fuzz target: feed outside input to a parser and panic if
//! it panics or accepts something its contract refuses. Shared by the fuzz
//! targets (nightly, libFuzzer) and `tests/fuzz_corpus.rs` (stable, CI).

use dreamreel_core::ApiError;
use dreamreel_core::accounts::{self, ProfileUpdate};
use dreamreel_core::cameo;
use dreamreel_core::feed::{self, EventBatch, PreferencesRequest, cursor};
use dreamreel_core::jobs::spec::{job_id_from_key, job_key};
use dreamreel_core::notifications::{DeviceRequest, MarkRead};
use dreamreel_core::pages::Position;
use dreamreel_core::request::parse_json;
use dreamreel_core::safety::{self, NewReport, NewRightsEntry, Resolve, Surface, normalize};
use dreamreel_core::social::NewComment;
use dreamreel_core::studio::callbacks::{
    CompleteRequest, FailRequest, ProgressRequest, StartRequest,
};
use dreamreel_core::studio::{GenerationRequest, PublishRequest, validate};
use dreamreel_sigv4::{Credentials, Request, Verifier, parse_query, percent_decode};

/// A refusal must be a client error with a code.
fn client_error(what: &str, e: &ApiError) {
    assert!(
        (400..500).contains(&e.status) && !e.code.is_empty(),
        "{what}: {} {}",
        e.status,
        e.code
    );
}

fn check<T>(what: &str, answer: Result<T, ApiError>) {
    if let Err(e) = answer {
        client_error(what, &e);
    }
}

/// Every JSON request body a route reads, and the checks behind it.
pub fn request_json(data: &[u8]) {
    check("login", parse_json::<accounts::LoginRequest>(data));
    check("mint", parse_json::<accounts::admin::MintRequest>(data));
    check(
        "avatar",
        parse_json::<accounts::avatar::AvatarRequest>(data),
    );
    check(
        "avatar confirm",
        parse_json::<accounts::avatar::AvatarConfirm>(data),
    );
    check(
        "delete",
        parse_json::<accounts::deletion::DeleteAccountRequest>(data),
    );
    check("profile", parse_json::<ProfileUpdate>(data));
    check(
        "recording",
        parse_json::<cameo::verify::RecordingReport>(data),
    );
    check("device", parse_json::<DeviceRequest>(data));
    check("mark read", parse_json::<MarkRead>(data));
    check(
        "notification settings",
        parse_json::<dreamreel_core::notifications::SettingsUpdate>(data),
    );
    check("report", parse_json::<NewReport>(data));
    check("rights", parse_json::<NewRightsEntry>(data));
    check("resolve", parse_json::<Resolve>(data));
    check("publish", parse_json::<PublishRequest>(data));
    check("start", parse_json::<StartRequest>(data));
    check("progress", parse_json::<ProgressRequest>(data));
    check("complete", parse_json::<CompleteRequest>(data));
    check("fail", parse_json::<FailRequest>(data));
    check(
        "signup",
        parse_json::<accounts::SignupRequest>(data).and_then(|r| {
            accounts::validate::new_handle(&r.handle)?;
            accounts::validate::password(&r.password)?;
            accounts::validate::display_name(r.display_name.as_deref(), &r.handle)?;
            accounts::age::birth_date(&r.birth_date, 1_700_000_000_000).map(|_| ())
        }),
    );
    check(
        "generation",
        parse_json::<GenerationRequest>(data).and_then(|r| {
            let g = validate::generation(r)?;
            assert!(g.prompt.chars().count() <= validate::MAX_PROMPT_CHARS);
            assert!((1000..=10_000).contains(&g.duration_ms));
            Ok(())
        }),
    );
    check(
        "comment",
        parse_json::<NewComment>(data).and_then(|c| {
            dreamreel_core::social::check_comment(c.text.trim())?;
            safety::check_comment(c.text.trim())
        }),
    );
    check(
        "events",
        parse_json::<EventBatch>(data).and_then(|b| {
            feed::events::validate(&b)?;
            assert!(b.events.iter().all(|e| validate::is_ulid(&e.video_id)));
            Ok(())
        }),
    );
    check(
        "preferences",
        parse_json::<PreferencesRequest>(data).map(|p| feed::steer::parse(&p.text)),
    );
    check(
        "cameo settings",
        parse_json::<cameo::SettingsUpdate>(data).map(|u| {
            if let Some(text) = &u.instructions {
                cameo::rules::parse(text);
            }
        }),
    );
}

/// Every cursor and page size: refused, or exactly one we issue.
pub fn cursor(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Position::decode(&text) {
        Ok(p) => assert_eq!(p.encode(), text, "a list cursor we never issue"),
        Err(e) => client_error("list cursor", &e),
    }
    match cursor::parse_for_you(&text) {
        Ok(page) => assert_eq!(
            cursor::for_you(page),
            text,
            "a For You cursor we never issue"
        ),
        Err(e) => client_error("for you cursor", &e),
    }
    match cursor::parse_following(&text) {
        Ok(id) => assert_eq!(
            cursor::following(&id),
            text,
            "a Following cursor we never issue"
        ),
        Err(e) => client_error("following cursor", &e),
    }
    match feed::page_size(Some(&text)) {
        Ok(n) => assert!((1..=feed::MAX_PAGE_SIZE).contains(&n)),
        Err(e) => client_error("page size", &e),
    }
}

/// The prompt and comment filter over any text.
pub fn content_filter(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = safety::screen(&text, Surface::Prompt, &[]);
    let _ = safety::screen(&text, Surface::Comment, &["ana".to_owned()]);
    let once = normalize::fold(&text);
    assert_eq!(normalize::fold(&once), once, "folding is not idempotent");
}

/// Object keys as events and callbacks name them: accepted keys are exactly
/// the ones we write, with no path tricks in them.
pub fn object_key(data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    for key in [Some(raw.to_string()), percent_decode(&raw)]
        .into_iter()
        .flatten()
    {
        if let Some(id) = job_id_from_key(&key) {
            assert_eq!(job_key(id), key);
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        if let Some((user, attempt)) = cameo::verify::parse_recording_key(&key) {
            assert_eq!(cameo::verify::recording_key(user, attempt), key);
            assert!(!key.contains("..") && !key.contains('\\') && !key.contains('\0'));
        }
    }
}

/// The object store's SigV4 query parsing and presigned-URL verification.
pub fn sigv4_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (path, query) = text.split_once('?').unwrap_or(("/dreamreel/k", &text));
    let _ = parse_query(query);
    let headers = vec![("host".to_owned(), "127.0.0.1:9000".to_owned())];
    if let Some(req) = Request::from_wire("PUT", path, Some(query), headers) {
        let verifier = Verifier::new("us-east-1", vec![Credentials::new("AKID", "secret")]);
        // Random input is never a valid signature.
        assert!(
            verifier.verify(&req, 1_700_000_000).is_err(),
            "forged request verified"
        );
    }
}
