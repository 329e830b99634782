//! Property tests of list cursors: only the exact text we issue is
//! accepted, and a read from any accepted position stays inside the list.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use super::{PAGE_CAPACITY, PagedList, Position, append, read_newest_first};
use crate::keys;
use crate::store::MemoryStore;
use crate::testing::block_on;

/// Cursor-like text: our own, edited, or anything.
pub(crate) fn cursor_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_=+/-]{0,40}",
        "[-+0-9.a-z]{0,24}".prop_map(|t| URL_SAFE_NO_PAD.encode(t)),
        (any::<u64>(), any::<usize>(), "[+0 ]{0,2}")
            .prop_map(|(p, e, pad)| { URL_SAFE_NO_PAD.encode(format!("p1.{pad}{p}.{}", e % 80)) }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn only_issued_cursors_are_accepted(text in cursor_text()) {
        match Position::decode(&text) {
            Ok(p) => {
                prop_assert_eq!(p.encode(), text);
                prop_assert!(p.end <= PAGE_CAPACITY);
            }
            Err(e) => prop_assert_eq!((e.status, e.code), (400, "invalid_request")),
        }
    }

    #[test]
    fn issued_cursors_round_trip(page in any::<u64>(), end in 0..=PAGE_CAPACITY) {
        let p = Position { page, end };
        prop_assert_eq!(Position::decode(&p.encode()).unwrap(), p);
    }

    #[test]
    fn a_changed_character_is_refused_or_another_issued_cursor(
        page in 0u64..1000,
        end in 0..=PAGE_CAPACITY,
        at in any::<prop::sample::Index>(),
        with in any::<char>(),
    ) {
        let mut chars: Vec<char> = Position { page, end }.encode().chars().collect();
        let i = at.index(chars.len());
        chars[i] = with;
        let forged: String = chars.into_iter().collect();
        if let Ok(p) = Position::decode(&forged) {
            prop_assert_eq!(p.encode(), forged);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn reads_from_any_position_stay_inside_the_list(
        n in 0usize..200,
        page in prop_oneof![0u64..6, any::<u64>()],
        end in 0..=PAGE_CAPACITY,
        want in 1usize..50,
    ) {
        let store = MemoryStore::default();
        let list = PagedList::new("owner", keys::drafts_head, keys::drafts_page);
        let items: Vec<String> = (0..n).map(|i| format!("id{i:04}")).collect();
        for item in &items {
            block_on(append(&store, &list, item, false)).unwrap();
        }
        let (got, next) =
            block_on(read_newest_first(&store, &list, Some(Position { page, end }), want, 2)).unwrap();
        prop_assert!(got.len() <= want);
        prop_assert!(got.iter().all(|g| items.contains(g)));
        let pages = n.div_ceil(PAGE_CAPACITY) as u64;
        if page >= pages {
            // Past the list's end: nothing, and no cursor to walk on with.
            prop_assert!(got.is_empty() && next.is_none());
        }
        if let Some(next) = next {
            prop_assert!(next.page <= page);
        }
    }
}
