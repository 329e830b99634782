use super::*;
use crate::store::MemoryStore;
use crate::testing::{FixedEnv, block_on};

fn env() -> FixedEnv {
    FixedEnv::new(1_700_000_000_000, 7)
}

fn users(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("01USER{i:04}")).collect()
}

fn followers_of(store: &MemoryStore, user: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = block_on(followers_page(store, user, cursor.as_deref(), Some(7))).unwrap();
        out.extend(page.user_ids);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

#[test]
fn following_twice_is_one_follow_and_unfollowing_twice_is_none() {
    let store = MemoryStore::new();
    let env = env();
    assert!(block_on(follow(&store, &env, "a", "b")).unwrap());
    assert!(!block_on(follow(&store, &env, "a", "b")).unwrap());
    let c = block_on(counts(&store, &["a", "b"])).unwrap();
    assert_eq!((c[0].following, c[1].followers), (1, 1));
    assert_eq!(followers_of(&store, "b"), vec!["a"]);

    assert!(block_on(unfollow(&store, "a", "b")).unwrap());
    assert!(!block_on(unfollow(&store, "a", "b")).unwrap());
    let c = block_on(counts(&store, &["a", "b"])).unwrap();
    assert_eq!((c[0].following, c[1].followers), (0, 0));
    assert!(followers_of(&store, "b").is_empty());
}

#[test]
fn follower_lists_page_newest_first_without_repeats_or_gaps() {
    let store = MemoryStore::new();
    let env = env();
    let fans = users(150);
    for fan in &fans {
        block_on(follow(&store, &env, fan, "star")).unwrap();
    }
    // Some leave, one comes back: they count once, at their newest place.
    for fan in fans.iter().step_by(10) {
        block_on(unfollow(&store, fan, "star")).unwrap();
    }
    block_on(follow(&store, &env, &fans[0], "star")).unwrap();

    let listed = followers_of(&store, "star");
    let mut expected: Vec<String> = fans
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 0)
        .map(|(_, f)| f.clone())
        .rev()
        .collect();
    expected.insert(0, fans[0].clone());
    assert_eq!(listed, expected);
    assert_eq!(
        block_on(counts(&store, &["star"])).unwrap()[0].followers,
        136
    );
    assert_eq!(
        block_on(following_ids(&store, &fans[1], 10)).unwrap(),
        vec!["star"]
    );
}

#[test]
fn relation_sees_both_directions_and_mutuals() {
    let store = MemoryStore::new();
    let env = env();
    block_on(follow(&store, &env, "a", "b")).unwrap();
    let r = block_on(relation(&store, "a", "b")).unwrap();
    assert!(r.following && !r.followed_by && !r.mutual());
    block_on(follow(&store, &env, "b", "a")).unwrap();
    assert!(block_on(relation(&store, "b", "a")).unwrap().mutual());
}

#[test]
fn blocking_ends_follows_both_ways_and_refuses_new_ones() {
    let store = MemoryStore::new();
    let env = env();
    block_on(follow(&store, &env, "a", "b")).unwrap();
    block_on(follow(&store, &env, "b", "a")).unwrap();
    assert!(block_on(block(&store, &env, "a", "b")).unwrap());
    assert!(!block_on(block(&store, &env, "a", "b")).unwrap());

    let r = block_on(relation(&store, "b", "a")).unwrap();
    assert_eq!(
        r,
        Relation {
            blocked_by: true,
            ..Relation::default()
        }
    );
    let c = block_on(counts(&store, &["a", "b"])).unwrap();
    assert_eq!(c, vec![FollowCounts::default(); 2]);
    for (x, y) in [("a", "b"), ("b", "a")] {
        let err = block_on(follow(&store, &env, x, y)).unwrap_err();
        assert_eq!((err.status, err.code), (403, "blocked"));
    }
    assert!(block_on(is_blocked_either(&store, "b", "a")).unwrap());
    let page = block_on(blocks_page(&store, "a", None, None)).unwrap();
    assert_eq!(page.user_ids, vec!["b"]);

    assert!(block_on(unblock(&store, "a", "b")).unwrap());
    assert!(!block_on(unblock(&store, "a", "b")).unwrap());
    assert!(!block_on(is_blocked_either(&store, "a", "b")).unwrap());
    assert!(
        block_on(blocks_page(&store, "a", None, None))
            .unwrap()
            .user_ids
            .is_empty()
    );
    // The block ended the follows; lifting it does not bring them back.
    assert!(!block_on(relation(&store, "a", "b")).unwrap().following);
    assert!(block_on(follow(&store, &env, "b", "a")).unwrap());
}

#[test]
fn blocked_among_finds_blocks_in_either_direction_in_one_read() {
    let store = MemoryStore::new();
    let env = env();
    block_on(block(&store, &env, "viewer", "x")).unwrap();
    block_on(block(&store, &env, "y", "viewer")).unwrap();
    let others: Vec<String> = ["x", "y", "z", "x", "viewer"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let got = block_on(blocked_among(&store, "viewer", &others)).unwrap();
    let mut got: Vec<_> = got.into_iter().collect();
    got.sort();
    assert_eq!(got, vec!["x", "y"]);
}

#[test]
fn refusals_change_nothing() {
    let store = MemoryStore::new();
    let env = env();
    let err = block_on(follow(&store, &env, "a", "a")).unwrap_err();
    assert_eq!(err.status, 400);
    let err = block_on(block(&store, &env, "a", "a")).unwrap_err();
    assert_eq!(err.status, 400);
    block_on(block(&store, &env, "a", "b")).unwrap();
    let before = store.snapshot();
    assert!(block_on(follow(&store, &env, "b", "a")).is_err());
    assert!(block_on(followers_page(&store, "a", Some("garbage"), None)).is_err());
    assert!(block_on(followers_page(&store, "a", None, Some(0))).is_err());
    assert!(block_on(followers_page(&store, "a", None, Some(101))).is_err());
    assert_eq!(store.snapshot(), before);
}

#[test]
fn a_list_entry_whose_edge_is_off_is_not_listed() {
    // A writer that stopped after switching the edge off but before blanking
    // the list entry leaves a stale entry; listings must not show it.
    let store = MemoryStore::new();
    let env = env();
    block_on(follow(&store, &env, "a", "b")).unwrap();
    block_on(crate::store::Store::set(
        &store,
        &crate::keys::follow("a", "b"),
        br#"{"on":false}"#,
    ))
    .unwrap();
    assert!(followers_of(&store, "b").is_empty());
    assert!(block_on(following_ids(&store, "a", 5)).unwrap().is_empty());
}
