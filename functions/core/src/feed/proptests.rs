//! Property tests of the feeds' inputs: cursors, page sizes and event
//! batches. Tampered cursors are refused, never panic, and accepted ones
//! are exactly the ones we issue.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use super::cursor::{following, for_you, parse_following, parse_for_you};
use super::events::{MAX_EVENTS, MAX_WATCH_MS, validate};
use super::{EventBatch, MAX_PAGE_SIZE, page_size};
use crate::pages::proptests::cursor_text;
use crate::studio::validate::is_ulid;

fn feed_cursor() -> impl Strategy<Value = String> {
    prop_oneof![
        cursor_text(),
        "(fy1|fo1|fy2)\\.[-+0-9A-Za-z ]{0,28}".prop_map(|t| URL_SAFE_NO_PAD.encode(t)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn only_issued_feed_cursors_are_accepted(text in feed_cursor()) {
        match parse_for_you(&text) {
            Ok(page) => prop_assert_eq!(for_you(page), text.clone()),
            Err(e) => prop_assert_eq!((e.status, e.code), (400, "invalid_request")),
        }
        match parse_following(&text) {
            Ok(id) => {
                prop_assert!(is_ulid(&id));
                prop_assert_eq!(following(&id), text);
            }
            Err(e) => prop_assert_eq!((e.status, e.code), (400, "invalid_request")),
        }
    }

    #[test]
    fn page_sizes_are_bounded(raw in prop_oneof![any::<String>(), "[-+0-9]{0,24}"]) {
        match page_size(Some(&raw)) {
            Ok(n) => prop_assert!((1..=MAX_PAGE_SIZE).contains(&n)),
            Err(e) => prop_assert_eq!(e.status, 400),
        }
    }

    #[test]
    fn accepted_event_batches_keep_their_bounds(
        events in prop::collection::vec(
            (
                prop::sample::select(vec!["watch", "like", "skip", "complete", "share", "boom", ""]),
                prop_oneof![Just("01JD0000000000000000000000".to_owned()), any::<String>()],
                prop::option::of(any::<u64>()),
            ),
            0..MAX_EVENTS + 3,
        ),
        batch_id in prop::option::of(any::<String>()),
    ) {
        let json = serde_json::json!({
            "events": events.iter().map(|(kind, id, ms)| serde_json::json!({
                "type": kind, "video_id": id, "watch_ms": ms,
            })).collect::<Vec<_>>(),
            "batch_id": batch_id,
        });
        let batch: EventBatch = crate::request::parse_json(json.to_string().as_bytes()).unwrap();
        match validate(&batch) {
            Ok(()) => {
                prop_assert!((1..=MAX_EVENTS).contains(&batch.events.len()));
                for e in &batch.events {
                    prop_assert!(is_ulid(&e.video_id));
                    prop_assert!(e.watch_ms.unwrap_or(0) <= MAX_WATCH_MS);
                }
            }
            Err(e) => prop_assert_eq!(e.status, 400),
        }
    }
}
