use super::*;
use crate::store::MemoryStore;
use crate::testing::{FixedEnv, ReadCounter, block_on};

const VIDEO: &str = "01JCOUNTSVIDEO000000000000";

fn add_like(store: &MemoryStore, env: &FixedEnv, user: &str, delta: i64) {
    block_on(add(store, env, Counter::Likes, VIDEO, user, delta)).unwrap();
}

fn counts(store: &impl Store, ids: &[String]) -> Vec<VideoCounts> {
    block_on(video_counts(store, ids)).unwrap()
}

fn wide(store: &MemoryStore) -> bool {
    is_wide(
        block_on(store.get(&keys::counts_wide(VIDEO)))
            .unwrap()
            .as_deref(),
    )
}

#[test]
fn a_quiet_video_keeps_one_counter_per_kind() {
    let store = MemoryStore::new();
    let env = FixedEnv::default();
    for i in 0..40 {
        add_like(&store, &env, &format!("u{i}"), 1);
        env.advance_ms(2_000);
    }
    block_on(add(&store, &env, Counter::Comments, VIDEO, "u1", 1)).unwrap();
    block_on(add(&store, &env, Counter::Shares, VIDEO, "u2", 1)).unwrap();
    assert!(!wide(&store));
    let snapshot = store.snapshot();
    let shards = snapshot
        .keys()
        .filter(|k| k.starts_with("like_count:") || k.starts_with("comment_count:"))
        .count();
    assert_eq!(shards, 2, "one like and one comment counter");
    let got = counts(&store, &[VIDEO.to_owned()]);
    assert_eq!(
        got[0],
        VideoCounts {
            likes: 40,
            comments: 1,
            shares: 1
        }
    );
}

#[test]
fn a_hot_video_widens_and_stays_exact_through_unlikes_on_other_shards() {
    let store = MemoryStore::new();
    let env = FixedEnv::default();
    let fans: Vec<String> = (0..800).map(|i| format!("fan{i}")).collect();
    // 400 likes within one second: hot.
    for fan in &fans[..400] {
        add_like(&store, &env, fan, 1);
    }
    assert!(wide(&store), "400 likes in a second widen the video");
    for fan in &fans[400..] {
        add_like(&store, &env, fan, 1);
    }
    let used = (0..LIKE_SHARDS)
        .filter(|s| store.snapshot().contains_key(&keys::like_count(VIDEO, *s)))
        .count();
    assert!(used > LIKE_SHARDS as usize / 2, "only {used} shards used");
    // Likes made while narrow are taken back on the members' wide shards.
    for fan in fans.iter().step_by(3) {
        add_like(&store, &env, fan, -1);
    }
    let expected = fans.len() - fans.iter().step_by(3).count();
    assert_eq!(
        counts(&store, &[VIDEO.to_owned()])[0].likes,
        expected as u64
    );
}

#[test]
fn narrow_videos_cost_four_keys_and_only_wide_ones_a_second_read() {
    let store = MemoryStore::new();
    let env = FixedEnv::default();
    let mut ids: Vec<String> = (0..9).map(|i| format!("01JCOUNTSQUIET{i:012}")).collect();
    for id in &ids {
        block_on(add(&store, &env, Counter::Likes, id, "ana", 1)).unwrap();
    }
    let counting = ReadCounter::new(&store);
    assert!(counts(&counting, &ids).iter().all(|c| c.likes == 1));
    assert_eq!(counting.reads(), (36, 1));

    for i in 0..400 {
        add_like(&store, &env, &format!("fan{i}"), 1);
    }
    ids.push(VIDEO.to_owned());
    counting.reset();
    assert_eq!(counts(&counting, &ids)[9].likes, 400);
    let per_wide = (LIKE_SHARDS + COMMENT_SHARDS + SHARE_SHARDS - 3) as usize;
    assert_eq!(counting.reads(), (40 + per_wide, 2));
}
