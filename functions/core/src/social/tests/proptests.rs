//! Property tests of the social inputs: any cursor or limit on the likes and
//! comments lists gets a page or a 400, and a refused comment changes nothing.

use proptest::prelude::*;

use super::{env, user, video};
use crate::pages::proptests::cursor_text;
use crate::request::proptests::nasty_text;
use crate::social::*;
use crate::store::MemoryStore;
use crate::testing::block_on;

fn page_or_400<T>(answer: Result<T, crate::ApiError>) -> Result<(), TestCaseError> {
    if let Err(e) = answer {
        prop_assert_eq!((e.status, e.code), (400, "invalid_request"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_cursor_or_limit_gets_a_page_or_a_400(
        cursor in prop_oneof![cursor_text(), "[0-9+]{0,3}~[A-Za-z0-9_-]{0,12}"],
        limit in prop::option::of(prop_oneof![0usize..200, any::<usize>()]),
    ) {
        let store = MemoryStore::default();
        let ana = user(&store, "ana");
        let v = video(&store, &ana, "v1");
        block_on(like(&store, &env(), &ana, &v)).unwrap();
        let c = Some(cursor.as_str());
        page_or_400(block_on(likers_page(&store, &ana.id, &v, c, limit)))?;
        page_or_400(block_on(liked_videos(&store, &ana.id, c, limit)))?;
        for sort in [Sort::Top, Sort::New] {
            page_or_400(block_on(list_comments(&store, &ana.id, &v, sort, c, limit)))?;
        }
    }

    #[test]
    fn a_refused_comment_changes_nothing(text in nasty_text(), reply in prop::option::of(any::<String>())) {
        let store = MemoryStore::default();
        let ana = user(&store, "ana");
        let v = video(&store, &ana, "v1");
        let before = store.snapshot();
        let req = NewComment { text: text.clone(), reply_to: reply };
        match block_on(create_comment(&store, &env(), &ana, &v, req, None)) {
            Ok((view, _)) => {
                prop_assert!(view.text.chars().count() <= MAX_COMMENT_CHARS);
                prop_assert!(!view.text.chars().any(|c| c.is_control() && c != '\n'));
            }
            Err(e) => {
                prop_assert!((400..500).contains(&e.status), "{} {}", e.status, e.code);
                prop_assert_eq!(store.snapshot(), before);
            }
        }
    }
}
