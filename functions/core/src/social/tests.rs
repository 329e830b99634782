use std::cell::Cell;

use super::*;
use crate::accounts::User;
use crate::keys;
use crate::store::{MemoryStore, StoreError};
use crate::studio::{DraftMedia, MediaSigner, Removal, Video};
use crate::testing::{FixedEnv, block_on};

/// Counts `get_many` calls, to hold the batched-read promises.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    get_many: Cell<usize>,
}

impl Store for Counting {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.get_many.set(self.get_many.get() + 1);
        self.inner.get_many(keys).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.set(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.inner.increment(key, delta).await
    }
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        self.inner.compare_and_swap(key, expected, new).await
    }
}

fn env() -> FixedEnv {
    FixedEnv::new(1_700_000_000_000, 11)
}

fn ulid(tag: &str) -> String {
    let mut random = [0u8; 10];
    for (slot, b) in random.iter_mut().zip(tag.bytes()) {
        *slot = b;
    }
    crate::ids::ulid_from_parts(1_700_000_000_000, random)
}

/// A member, stored so handles resolve.
fn user(store: &impl Store, name: &str) -> User {
    let u = User {
        id: ulid(name),
        handle: name.to_owned(),
        display_name: name.to_owned(),
        password_hash: String::new(),
        created_at_ms: 0,
        invite_code: "X".into(),
    };
    block_on(store.set(&keys::user(&u.id), &serde_json::to_vec(&u).unwrap())).unwrap();
    u
}

/// A published video by `owner`.
fn video(store: &impl Store, owner: &User, tag: &str) -> String {
    let id = ulid(tag);
    let v = Video {
        id: id.clone(),
        owner: owner.id.clone(),
        owner_handle: owner.handle.clone(),
        caption: "A <b>\"cat\"</b> & dog".into(),
        prompt: "a cat".into(),
        aspect: "9:16".into(),
        seed: 1,
        media: DraftMedia {
            video_key: format!("media/{id}/video.mp4"),
            thumbnail_key: format!("media/{id}/thumb.jpg"),
            duration_ms: 5000,
            width: 360,
            height: 640,
            bytes: 1000,
        },
        remix_of: None,
        cameos: vec![],
        generated_at_ms: 0,
        published_at_ms: 1,
        removed: None,
    };
    block_on(store.set(&keys::video(&id), &serde_json::to_vec(&v).unwrap())).unwrap();
    id
}

fn remove_video(store: &impl Store, id: &str) {
    let raw = block_on(store.get(&keys::video(id))).unwrap().unwrap();
    let mut v: Video = serde_json::from_slice(&raw).unwrap();
    v.removed = Some(Removal {
        at_ms: 2,
        reason: "deleted".into(),
    });
    block_on(store.set(&keys::video(id), &serde_json::to_vec(&v).unwrap())).unwrap();
}

fn counts_of(store: &impl Store, id: &str) -> VideoCounts {
    block_on(video_counts(store, &[id.to_owned()])).unwrap()[0]
}

fn inbox_kinds(store: &impl Store, user: &User) -> Vec<(String, u64)> {
    let inbox = block_on(crate::notifications::list(store, &user.id, None, Some(50))).unwrap();
    inbox
        .items
        .iter()
        .map(|n| (n.kind.clone(), n.count))
        .collect()
}

#[test]
fn counts_and_liked_flags_are_one_batched_read_each() {
    let store = Counting::default();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let v1 = video(&store, &ana, "v1");
    let v2 = video(&store, &ana, "v2");
    block_on(like(&store, &env, &bo, &v1)).unwrap();
    let ids = vec![v1.clone(), v2.clone(), ulid("nothing")];
    store.get_many.set(0);
    let counts = block_on(video_counts(&store, &ids)).unwrap();
    let liked = block_on(liked_by(&store, &bo.id, &ids)).unwrap();
    assert_eq!(store.get_many.get(), 2);
    assert_eq!(counts[0].likes, 1);
    assert_eq!(counts[1], VideoCounts::default());
    assert_eq!(liked, [true, false, false]);
    assert!(block_on(video_counts(&store, &[])).unwrap().is_empty());
}

#[test]
fn liking_twice_is_one_like_and_unliking_twice_is_none() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let v = video(&store, &ana, "v");
    let first = block_on(like(&store, &env, &bo, &v)).unwrap();
    let again = block_on(like(&store, &env, &bo, &v)).unwrap();
    assert_eq!((first.liked, first.likes, first.changed), (true, 1, true));
    assert_eq!((again.liked, again.likes, again.changed), (true, 1, false));
    let page = block_on(likers_page(&store, &ana.id, &v, None, None)).unwrap();
    assert_eq!(page.likers.len(), 1);
    assert_eq!(page.likers[0].handle, "bo");
    let mine = block_on(liked_videos(&store, &bo.id, None, None)).unwrap();
    assert_eq!(mine.videos[0].video_id, v);

    let off = block_on(unlike(&store, &env, &bo, &v)).unwrap();
    let off_again = block_on(unlike(&store, &env, &bo, &v)).unwrap();
    assert_eq!((off.likes, off.changed), (0, true));
    assert_eq!((off_again.likes, off_again.changed), (0, false));
    assert!(
        block_on(likers_page(&store, &ana.id, &v, None, None))
            .unwrap()
            .likers
            .is_empty()
    );
    assert!(
        block_on(liked_videos(&store, &bo.id, None, None))
            .unwrap()
            .videos
            .is_empty()
    );
    // Liking again counts again.
    assert_eq!(block_on(like(&store, &env, &bo, &v)).unwrap().likes, 1);
}

#[test]
fn many_likers_spread_over_shards_and_page_without_repeats_or_gaps() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let v = video(&store, &ana, "v");
    let fans: Vec<User> = (0..150).map(|i| user(&store, &format!("fan{i}"))).collect();
    for fan in &fans {
        block_on(like(&store, &env, fan, &v)).unwrap();
    }
    for fan in fans.iter().step_by(3) {
        block_on(unlike(&store, &env, fan, &v)).unwrap();
    }
    assert_eq!(counts_of(&store, &v).likes, 100);
    let used: usize = (0..LIKE_SHARDS)
        .filter(|s| store.snapshot().contains_key(&keys::like_count(&v, *s)))
        .count();
    assert!(used > LIKE_SHARDS as usize / 2, "only {used} shards used");

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = block_on(likers_page(&store, &ana.id, &v, cursor.as_deref(), Some(7))).unwrap();
        assert!(page.likers.len() <= 7);
        seen.extend(page.likers.into_iter().map(|l| l.handle));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut expected: Vec<String> = fans
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, f)| f.handle.clone())
        .collect();
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected);
    let e = block_on(likers_page(&store, &ana.id, &v, Some("99~"), None)).unwrap_err();
    assert_eq!(e.code, "invalid_request");
}

#[test]
fn unknown_removed_and_blocked_videos_refuse_likes_and_change_nothing() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let v = video(&store, &ana, "v");
    let gone = video(&store, &ana, "gone");
    remove_video(&store, &gone);
    let before = store.snapshot();
    for id in [ulid("unknown"), "not-an-id".to_owned(), gone.clone()] {
        let e = block_on(like(&store, &env, &bo, &id)).unwrap_err();
        assert_eq!(e.status, 404, "{id}");
    }
    assert_eq!(store.snapshot(), before);
    block_on(crate::graph::block(&store, &env, &ana.id, &bo.id)).unwrap();
    let before = store.snapshot();
    let e = block_on(like(&store, &env, &bo, &v)).unwrap_err();
    assert_eq!((e.status, e.code), (403, "blocked"));
    let e = block_on(share(&store, &env, &bo, &v)).unwrap_err();
    assert_eq!(e.code, "blocked");
    let text = NewComment {
        text: "hi".into(),
        reply_to: None,
    };
    let e = block_on(create_comment(&store, &env, &bo, &v, text, None)).unwrap_err();
    assert_eq!(e.code, "blocked");
    assert_eq!(store.snapshot(), before);
}

#[test]
fn a_removed_video_leaves_the_liked_list() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let v1 = video(&store, &ana, "v1");
    let v2 = video(&store, &ana, "v2");
    block_on(like(&store, &env, &bo, &v1)).unwrap();
    block_on(like(&store, &env, &bo, &v2)).unwrap();
    remove_video(&store, &v1);
    let mine = block_on(liked_videos(&store, &bo.id, None, None)).unwrap();
    let ids: Vec<_> = mine.videos.iter().map(|v| v.video_id.clone()).collect();
    assert_eq!(ids, [v2]);
    // Unliking a removed video still works, so the count stays right.
    assert!(block_on(unlike(&store, &env, &bo, &v1)).unwrap().changed);
}

#[test]
fn likes_comments_replies_and_shares_reach_the_inboxes() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let cy = user(&store, "cy");
    let v = video(&store, &ana, "v");
    block_on(like(&store, &env, &bo, &v)).unwrap();
    block_on(like(&store, &env, &cy, &v)).unwrap();
    block_on(like(&store, &env, &ana, &v)).unwrap(); // Self: no notification.
    let post = |who: &User, text: &str, reply_to: Option<&str>| {
        let req = NewComment {
            text: text.into(),
            reply_to: reply_to.map(str::to_owned),
        };
        block_on(create_comment(&store, &env, who, &v, req, None))
            .unwrap()
            .0
    };
    let c = post(&bo, "nice", None);
    post(&cy, "agreed", Some(&c.id));
    block_on(like_comment(&store, &env, &cy, &c.id)).unwrap();
    block_on(share(&store, &env, &bo, &v)).unwrap();

    let mut ana_inbox = inbox_kinds(&store, &ana);
    ana_inbox.sort();
    let expected = [("comment", 1), ("like", 2), ("share", 1)];
    let expected: Vec<(String, u64)> = expected.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    assert_eq!(ana_inbox, expected);
    let mut bo_inbox = inbox_kinds(&store, &bo);
    bo_inbox.sort();
    assert_eq!(
        bo_inbox,
        [("comment_like".to_string(), 1), ("reply".to_string(), 1)]
    );
}

#[test]
fn an_action_whose_notice_cannot_be_written_is_taken_back_and_the_retry_notifies() {
    let store = crate::testing::FailingWrites::new(MemoryStore::new());
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let v = video(&store, &ana, "v");
    let post = |text: &str| {
        let req = NewComment {
            text: text.into(),
            reply_to: None,
        };
        block_on(create_comment(
            &store,
            &env,
            &bo,
            &v,
            req,
            Some("key-1".to_owned()),
        ))
    };
    let comment = post("first").unwrap().0;

    // Ana's notices cannot be written: every action on her things is refused whole.
    store.fail_under(Some("notif"));
    assert!(block_on(like(&store, &env, &bo, &v)).is_err());
    assert!(post("second").is_err());
    assert!(block_on(share(&store, &env, &bo, &v)).is_err());
    let counts = counts_of(&store, &v);
    assert_eq!((counts.likes, counts.comments, counts.shares), (0, 1, 0));
    assert_eq!(
        block_on(liked_by(&store, &bo.id, std::slice::from_ref(&v))).unwrap(),
        [false]
    );
    // Bo's own notices too: Ana liking his comment is refused, uncounted.
    assert!(block_on(like_comment(&store, &env, &ana, &comment.id)).is_err());

    // Healed, the client's retries land once each, with their notices.
    store.fail_under(None);
    block_on(like(&store, &env, &bo, &v)).unwrap();
    let req = NewComment {
        text: "second".into(),
        reply_to: None,
    };
    let (second, created) = block_on(create_comment(
        &store,
        &env,
        &bo,
        &v,
        req,
        Some("key-2".to_owned()),
    ))
    .unwrap();
    assert!(created && second.text == "second");
    block_on(share(&store, &env, &bo, &v)).unwrap();
    let liked = block_on(like_comment(&store, &env, &ana, &comment.id)).unwrap();
    assert_eq!(liked.like_count, 1);
    let counts = counts_of(&store, &v);
    assert_eq!((counts.likes, counts.comments, counts.shares), (1, 2, 1));
    let mut ana_inbox = inbox_kinds(&store, &ana);
    ana_inbox.sort();
    let kinds: Vec<(&str, u64)> = ana_inbox.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    // Comments do not fold: one notice each.
    assert_eq!(
        kinds,
        [("comment", 1), ("comment", 1), ("like", 1), ("share", 1)]
    );
    assert_eq!(inbox_kinds(&store, &bo), [("comment_like".to_string(), 1)]);
}

fn post_ok(store: &MemoryStore, env: &FixedEnv, who: &User, v: &str, text: &str) -> CommentView {
    let req = NewComment {
        text: text.into(),
        reply_to: None,
    };
    block_on(create_comment(store, env, who, v, req, None))
        .unwrap()
        .0
}

#[test]
fn comments_are_checked_trimmed_and_listed_newest_and_top_first() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let v = video(&store, &ana, "v");
    let before = store.snapshot();
    for bad in ["   ", &"x".repeat(MAX_COMMENT_CHARS + 1), "bell\u{7}"] {
        let req = NewComment {
            text: bad.into(),
            reply_to: None,
        };
        let e = block_on(create_comment(&store, &env, &bo, &v, req, None)).unwrap_err();
        assert_eq!(e.status, 400);
    }
    assert_eq!(store.snapshot(), before);

    let mut made = Vec::new();
    for i in 0..5 {
        env.advance_ms(1);
        made.push(post_ok(&store, &env, &bo, &v, &format!("  comment {i}  ")));
    }
    assert_eq!(made[0].text, "comment 0");
    assert_eq!(counts_of(&store, &v).comments, 5);
    // Comment 1 gets two likes, comment 3 one.
    block_on(like_comment(&store, &env, &ana, &made[1].id)).unwrap();
    block_on(like_comment(&store, &env, &bo, &made[1].id)).unwrap();
    let again = block_on(like_comment(&store, &env, &bo, &made[1].id)).unwrap();
    assert_eq!(again.like_count, 2);
    block_on(like_comment(&store, &env, &ana, &made[3].id)).unwrap();

    let texts = |sort, cursor: Option<&str>, limit| {
        let page = block_on(list_comments(
            &store,
            &ana.id,
            &v,
            sort,
            cursor,
            Some(limit),
        ))
        .unwrap();
        let t: Vec<String> = page.comments.iter().map(|c| c.text.clone()).collect();
        (t, page.next_cursor)
    };
    let (newest, _) = texts(Sort::New, None, 10);
    assert_eq!(
        newest,
        [
            "comment 4",
            "comment 3",
            "comment 2",
            "comment 1",
            "comment 0"
        ]
    );
    let (top, next) = texts(Sort::Top, None, 3);
    assert_eq!(top, ["comment 1", "comment 3", "comment 4"]);
    let (rest, end) = texts(Sort::Top, next.as_deref(), 3);
    assert_eq!(rest, ["comment 2", "comment 0"]);
    assert!(end.is_none());
    let (page, next) = texts(Sort::New, None, 2);
    assert_eq!(page, ["comment 4", "comment 3"]);
    let (page, _) = texts(Sort::New, next.as_deref(), 2);
    assert_eq!(page, ["comment 2", "comment 1"]);
    let liked = block_on(list_comments(&store, &ana.id, &v, Sort::New, None, None)).unwrap();
    assert!(
        liked
            .comments
            .iter()
            .find(|c| c.id == made[1].id)
            .unwrap()
            .liked
    );
}

#[test]
fn replies_are_one_level_deep() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let v = video(&store, &ana, "v");
    let root = post_ok(&store, &env, &bo, &v, "root");
    let reply = |to: &str, text: &str| {
        let req = NewComment {
            text: text.into(),
            reply_to: Some(to.to_owned()),
        };
        block_on(create_comment(&store, &env, &ana, &v, req, None))
    };
    let r1 = reply(&root.id, "first").unwrap().0;
    let r2 = reply(&r1.id, "to the reply").unwrap().0;
    assert_eq!(r1.parent_id.as_deref(), Some(root.id.as_str()));
    assert_eq!(r2.parent_id.as_deref(), Some(root.id.as_str()));
    let top = block_on(list_comments(&store, &ana.id, &v, Sort::New, None, None)).unwrap();
    assert_eq!(top.comments.len(), 1);
    assert_eq!(top.comments[0].reply_count, 2);
    let replies = block_on(list_replies(&store, &ana.id, &root.id, None, None)).unwrap();
    let texts: Vec<_> = replies.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["to the reply", "first"]);
    assert_eq!(counts_of(&store, &v).comments, 3);
    let e = reply(&ulid("nope"), "x").unwrap_err();
    assert_eq!(e.status, 404);
    let e = block_on(list_replies(&store, &ana.id, &r1.id, None, None)).unwrap_err();
    assert_eq!(e.status, 400);
}

#[test]
fn only_the_author_or_the_videos_maker_deletes_a_comment() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let cy = user(&store, "cy");
    let v = video(&store, &ana, "v");
    let c1 = post_ok(&store, &env, &bo, &v, "one");
    let c2 = post_ok(&store, &env, &bo, &v, "two");
    let before = store.snapshot();
    let e = block_on(delete_comment(&store, &env, &cy.id, &c1.id)).unwrap_err();
    assert_eq!((e.status, e.code), (403, "not_allowed"));
    assert_eq!(store.snapshot(), before);
    block_on(delete_comment(&store, &env, &bo.id, &c1.id)).unwrap();
    block_on(delete_comment(&store, &env, &bo.id, &c1.id)).unwrap();
    block_on(delete_comment(&store, &env, &ana.id, &c2.id)).unwrap();
    assert_eq!(counts_of(&store, &v).comments, 0);
    let list = block_on(list_comments(&store, &ana.id, &v, Sort::New, None, None)).unwrap();
    assert!(list.comments.is_empty());
    let e = block_on(delete_comment(&store, &env, &bo.id, &ulid("none"))).unwrap_err();
    assert_eq!(e.status, 404);
    let e = block_on(like_comment(&store, &env, &cy, &c1.id)).unwrap_err();
    assert_eq!(e.status, 404);
}

#[test]
fn a_deleted_comment_with_replies_stays_as_a_tombstone() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let v = video(&store, &ana, "v");
    let root = post_ok(&store, &env, &bo, &v, "root");
    let req = NewComment {
        text: "reply".into(),
        reply_to: Some(root.id.clone()),
    };
    let (r, _) = block_on(create_comment(&store, &env, &ana, &v, req, None)).unwrap();
    block_on(delete_comment(&store, &env, &bo.id, &root.id)).unwrap();
    let list = block_on(list_comments(&store, &ana.id, &v, Sort::New, None, None)).unwrap();
    assert_eq!(list.comments.len(), 1);
    assert!(list.comments[0].deleted && list.comments[0].text.is_empty());
    block_on(delete_comment(&store, &env, &ana.id, &r.id)).unwrap();
    let list = block_on(list_comments(&store, &ana.id, &v, Sort::New, None, None)).unwrap();
    assert!(list.comments.is_empty());
}

#[test]
fn a_retried_comment_with_its_idempotency_key_is_posted_once() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let v = video(&store, &ana, "v");
    let req = || NewComment {
        text: "once".into(),
        reply_to: None,
    };
    let hash = || Some("abc".to_owned());
    let (a, created_a) = block_on(create_comment(&store, &env, &bo, &v, req(), hash())).unwrap();
    let (b, created_b) = block_on(create_comment(&store, &env, &bo, &v, req(), hash())).unwrap();
    assert!(created_a && !created_b);
    assert_eq!(a.id, b.id);
    assert_eq!(counts_of(&store, &v).comments, 1);
    let other = NewComment {
        text: "different".into(),
        reply_to: None,
    };
    let e = block_on(create_comment(&store, &env, &bo, &v, other, hash())).unwrap_err();
    assert_eq!(e.status, 409);
}

#[test]
fn blocked_peoples_comments_are_hidden_from_the_viewer() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let cy = user(&store, "cy");
    let v = video(&store, &ana, "v");
    post_ok(&store, &env, &bo, &v, "from bo");
    post_ok(&store, &env, &cy, &v, "from cy");
    block_on(crate::graph::block(&store, &env, &cy.id, &bo.id)).unwrap();
    let seen = |viewer: &User| -> Vec<String> {
        block_on(list_comments(&store, &viewer.id, &v, Sort::New, None, None))
            .unwrap()
            .comments
            .into_iter()
            .map(|c| c.text)
            .collect()
    };
    assert_eq!(seen(&cy), ["from cy"]);
    assert_eq!(seen(&bo), ["from bo"]);
    assert_eq!(seen(&ana).len(), 2);
}

#[test]
fn comments_on_a_removed_video_are_refused() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let v = video(&store, &ana, "v");
    remove_video(&store, &v);
    let req = NewComment {
        text: "late".into(),
        reply_to: None,
    };
    let e = block_on(create_comment(&store, &env, &ana, &v, req, None)).unwrap_err();
    assert_eq!(e.status, 404);
}

struct Signer;

impl MediaSigner for Signer {
    fn url(&self, key: &str) -> Result<String, ApiError> {
        Ok(format!("https://media.test/{key}?a=1&b=2"))
    }
    fn expires_at_ms(&self) -> u64 {
        0
    }
}

#[test]
fn a_share_is_one_link_and_one_count_per_member() {
    let store = MemoryStore::new();
    let env = env();
    let ana = user(&store, "ana");
    let bo = user(&store, "bo");
    let cy = user(&store, "cy");
    let v = video(&store, &ana, "v");
    let first = block_on(share(&store, &env, &bo, &v)).unwrap();
    let again = block_on(share(&store, &env, &bo, &v)).unwrap();
    assert_eq!(first.code.len(), CODE_LEN);
    assert!(first.code.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!((first.created, again.created), (true, false));
    assert_eq!(first.code, again.code);
    let other = block_on(share(&store, &env, &cy, &v)).unwrap();
    assert_ne!(other.code, first.code);
    assert_eq!(other.shares, 2);
    assert_eq!(block_on(resolve_share(&store, &first.code)).unwrap().id, v);
    for bad in ["", "short", "0000000000", "abc/../def"] {
        assert_eq!(
            block_on(resolve_share(&store, bad)).unwrap_err().status,
            404
        );
    }
    // Drafts are not videos; removed videos are not shared nor opened.
    assert_eq!(
        block_on(share(&store, &env, &bo, &ulid("draft")))
            .unwrap_err()
            .status,
        404
    );
    remove_video(&store, &v);
    assert_eq!(
        block_on(resolve_share(&store, &first.code))
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(
        block_on(share(&store, &env, &cy, &v)).unwrap_err().status,
        404
    );
}

#[test]
fn the_share_page_previews_the_clip_with_everything_escaped() {
    let store = MemoryStore::new();
    let ana = user(&store, "ana");
    let v = video(&store, &ana, "v");
    let video = block_on(crate::studio::get_video(&store, &v)).unwrap();
    let html = share_page(&video, &Signer, "https://dreamreel.test/s/abc\"x").unwrap();
    assert!(html.contains("<meta property=\"og:title\" content=\"A &lt;b&gt;&quot;cat&quot;&lt;/b&gt; &amp; dog (@ana on Dreamreel)\">"));
    assert!(html.contains(&format!(
        "<meta property=\"og:image\" content=\"https://media.test/media/{v}/thumb.jpg?a=1&amp;b=2\">"
    )));
    assert!(html.contains(&format!(
        "og:video\" content=\"https://media.test/media/{v}/video.mp4"
    )));
    assert!(html.contains(&format!("dreamreel://v/{v}")));
    assert!(html.contains("https://dreamreel.test/s/abc&quot;x"));
    assert!(!html.contains("<b>"));
}

#[test]
fn social_keys_follow_the_documented_prefixes() {
    assert_eq!(keys::like("01V", "01U"), "like:01V:01U");
    assert_eq!(keys::likers_page("01V:3", 0), "likers:01V:3:0");
    assert_eq!(keys::my_likes_head("01U"), "my_likes:01U:head");
    assert_eq!(keys::like_count("01V", 15), "like_count:01V:15");
    assert_eq!(keys::comment_count("01V", 0), "comment_count:01V:0");
    assert_eq!(keys::share_count("01V", 7), "share_count:01V:7");
    assert_eq!(keys::comment("01C"), "comment:01C");
    assert_eq!(keys::comments_page("01V", 2), "comments:01V:2");
    assert_eq!(keys::replies_head("01C"), "replies:01C:head");
    assert_eq!(keys::reply_count("01C"), "reply_count:01C");
    assert_eq!(keys::comment_like("01C", "01U"), "comment_like:01C:01U");
    assert_eq!(keys::comment_like_count("01C"), "comment_like_count:01C");
    assert_eq!(
        keys::comment_idempotency("01U", "ab"),
        "comment_idem:01U:ab"
    );
    assert_eq!(keys::share("aB3"), "share:aB3");
    assert_eq!(keys::share_link("01V", "01U"), "share_link:01V:01U");
}

mod proptests;
