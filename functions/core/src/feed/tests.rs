use std::cell::Cell;
use std::collections::HashSet;

use super::*;
use crate::accounts::User;
use crate::error::ApiError;
use crate::keys;
use crate::store::{MemoryStore, Store};
use crate::studio::{DraftMedia, MediaSigner, Removal, Video};
use crate::testing::{FixedEnv, ReadCounter, block_on};

struct Signer;

impl MediaSigner for Signer {
    fn url(&self, key: &str) -> Result<String, ApiError> {
        Ok(format!("https://media.test/{key}?sig=1"))
    }
    fn expires_at_ms(&self) -> u64 {
        1_735_690_200_000
    }
}

struct World {
    store: MemoryStore,
    env: FixedEnv,
    serial: Cell<u32>,
}

impl World {
    fn new() -> Self {
        Self {
            store: MemoryStore::new(),
            env: FixedEnv::default(),
            serial: Cell::new(0),
        }
    }

    fn next_id(&self, ms: u64) -> String {
        let n = self.serial.get() + 1;
        self.serial.set(n);
        let mut random = [0u8; 10];
        random[6..].copy_from_slice(&n.to_be_bytes());
        crate::ids::ulid_from_parts(ms, random)
    }

    fn user(&self, handle: &str) -> String {
        let id = self.next_id(1_700_000_000_000);
        let user = User {
            id: id.clone(),
            handle: handle.to_owned(),
            display_name: handle.to_owned(),
            password_hash: String::new(),
            created_at_ms: 0,
            invite_code: "X".into(),
        };
        block_on(
            self.store
                .set(&keys::user(&id), &serde_json::to_vec(&user).unwrap()),
        )
        .unwrap();
        block_on(self.store.set(&keys::handle(handle), id.as_bytes())).unwrap();
        id
    }

    fn publish_as(
        &self,
        owner: &str,
        prompt: &str,
        remix_of: Option<&str>,
        cameos: &[&str],
    ) -> String {
        self.env.advance_ms(1000);
        let now = crate::Env::now_ms(&self.env);
        let id = self.next_id(now);
        let video = Video {
            id: id.clone(),
            owner: owner.to_owned(),
            owner_handle: format!("h{}", &owner[20..]),
            caption: String::new(),
            prompt: prompt.to_owned(),
            aspect: "9:16".into(),
            seed: 1,
            media: DraftMedia {
                video_key: format!("media/{id}/video.mp4"),
                thumbnail_key: format!("media/{id}/thumb.jpg"),
                duration_ms: 5000,
                width: 720,
                height: 1280,
                bytes: 1000,
            },
            remix_of: remix_of.map(str::to_owned),
            cameos: cameos.iter().map(|c| (*c).to_owned()).collect(),
            generated_at_ms: now,
            published_at_ms: now,
            removed: None,
        };
        let bytes = serde_json::to_vec(&video).unwrap();
        block_on(self.store.set(&keys::video(&id), &bytes)).unwrap();
        if let Some(src) = remix_of {
            let list = crate::pages::PagedList::remixes(src);
            block_on(crate::pages::append(&self.store, &list, &id, true)).unwrap();
        }
        block_on(on_published(&self.store, &video, true)).unwrap();
        // A retried publish adds nothing.
        block_on(on_published(&self.store, &video, false)).unwrap();
        id
    }

    fn publish(&self, owner: &str, prompt: &str) -> String {
        self.publish_as(owner, prompt, None, &[])
    }

    fn remove(&self, id: &str) {
        let key = keys::video(id);
        let mut v: Video =
            serde_json::from_slice(&block_on(self.store.get(&key)).unwrap().unwrap()).unwrap();
        v.removed = Some(Removal {
            at_ms: 1,
            reason: "taken_down".into(),
        });
        block_on(self.store.set(&key, &serde_json::to_vec(&v).unwrap())).unwrap();
    }

    fn for_you(&self, viewer: &str, cursor: Option<&str>, limit: usize) -> FeedPage {
        block_on(for_you(
            &self.store,
            &self.env,
            viewer,
            cursor,
            limit,
            true,
            &Signer,
        ))
        .unwrap()
    }

    fn events(&self, viewer: &str, events: &[(&str, &str)]) -> Result<EventOutcome, ApiError> {
        let events = events
            .iter()
            .map(|(kind, id)| Event {
                kind: (*kind).to_owned(),
                video_id: (*id).to_owned(),
                watch_ms: (*kind == "watch").then_some(4000),
            })
            .collect();
        block_on(record_events(
            &self.store,
            &self.env,
            viewer,
            EventBatch {
                events,
                batch_id: None,
            },
        ))
    }
}

fn ids(page: &FeedPage) -> Vec<String> {
    page.items.iter().map(|i| i.video.id.clone()).collect()
}

fn owners(page: &FeedPage) -> Vec<String> {
    page.items
        .iter()
        .map(|i| i.video.owner_id.clone())
        .collect()
}

#[test]
fn a_new_viewer_gets_a_diverse_cold_start_page() {
    let w = World::new();
    let viewer = w.user("viewer");
    let makers: Vec<String> = (0..5).map(|i| w.user(&format!("maker{i}"))).collect();
    for round in 0..6 {
        for m in &makers {
            w.publish(m, &format!("clip {round} about cooking and travel"));
        }
    }
    let page = w.for_you(&viewer, None, 10);
    assert_eq!(page.items.len(), 10);
    assert!(!page.pool_exhausted);
    let who = owners(&page);
    for pair in who.windows(2) {
        assert_ne!(pair[0], pair[1], "no creator twice in a row");
    }
    for m in &makers {
        assert!(
            who.iter().filter(|o| *o == m).count() <= 3,
            "at most 30% per creator"
        );
    }
    for item in &page.items {
        assert!((0.0..=1.0).contains(&item.prefetch));
        let explain = item.explain.as_ref().expect("explained");
        assert!(!explain.sources.is_empty());
        assert!(explain.parts.score > 0.0);
    }
    // Prefetch odds fall along the page for equally likely clips.
    assert!(page.items[0].prefetch >= page.items[9].prefetch);
    assert!(
        page.items
            .iter()
            .any(|i| i.explain.as_ref().unwrap().exploration)
    );
}

#[test]
fn paging_never_repeats_and_walks_the_whole_catalogue() {
    let w = World::new();
    let viewer = w.user("viewer");
    let makers: Vec<String> = (0..7).map(|i| w.user(&format!("maker{i}"))).collect();
    let blocked = w.user("blocked");
    let mut all = HashSet::new();
    for i in 0..300 {
        if i % 10 == 0 {
            // Never shown, and must not stall the walk through the catalogue.
            w.publish(&blocked, "hidden");
            continue;
        }
        let id = w.publish(&makers[i % makers.len()], &format!("video number {i}"));
        if i % 37 == 1 {
            w.remove(&id);
        } else {
            all.insert(id);
        }
    }
    block_on(crate::graph::block(&w.store, &w.env, &blocked, &viewer)).unwrap();
    let mut shown = HashSet::new();
    let mut cursor: Option<String> = None;
    while shown.len() < all.len() {
        let page = w.for_you(&viewer, cursor.as_deref(), 10);
        assert!(!page.pool_exhausted && !page.items.is_empty());
        for id in ids(&page) {
            assert!(shown.insert(id), "a video came twice");
        }
        cursor = page.next_cursor.clone();
    }
    assert_eq!(shown, all, "every video was reached");
    let after = w.for_you(&viewer, cursor.as_deref(), 10);
    assert!(after.pool_exhausted, "the pool is used up and says so");
    assert!(!after.items.is_empty(), "and still answers something");

    // A reset starts over from scratch.
    block_on(reset(&w.store, &viewer)).unwrap();
    let fresh = w.for_you(&viewer, None, 10);
    assert!(!fresh.pool_exhausted);
    assert_eq!(fresh.items.len(), 10);
}

#[test]
fn signals_change_the_very_next_page() {
    let w = World::new();
    let viewer = w.user("viewer");
    let a = w.user("ann");
    let b = w.user("bob");
    let others: Vec<String> = (0..4).map(|i| w.user(&format!("other{i}"))).collect();
    for i in 0..12 {
        w.publish(&a, &format!("pasta cooking lesson {i}"));
        w.publish(&b, &format!("horror night scene {i}"));
        w.publish(&others[i % 4], &format!("misc thing {i}"));
    }
    let first = w.for_you(&viewer, None, 10);
    let mut events = Vec::new();
    for item in &first.items {
        let id = item.video.id.as_str();
        events.push(("impression", id));
        if item.video.owner_id == a {
            events.push(("complete", id));
            events.push(("replay", id));
        } else if item.video.owner_id == b {
            events.push(("skip", id));
        }
    }
    // Make sure both creators were judged at least once.
    assert!(first.items.iter().any(|i| i.video.owner_id == a));
    assert!(first.items.iter().any(|i| i.video.owner_id == b));
    let out = w.events(&viewer, &events).unwrap();
    assert_eq!(out.accepted, events.len());

    let next = w.for_you(&viewer, first.next_cursor.as_deref(), 10);
    let count = |who: &str| owners(&next).iter().filter(|o| *o == who).count();
    assert!(
        count(&a) > count(&b),
        "more ann than bob: {} vs {}",
        count(&a),
        count(&b)
    );
    assert_eq!(
        count(&b),
        0,
        "skipped creators stay out while alternatives exist"
    );
    let top = next.items[0].explain.as_ref().unwrap();
    assert!(top.parts.affinity > 0.5);
}

#[test]
fn blocked_creators_removed_videos_and_own_videos_never_show() {
    let w = World::new();
    let viewer = w.user("viewer");
    let blocked = w.user("blocked");
    let blocker = w.user("blocker");
    let fine = w.user("fine");
    for i in 0..5 {
        w.publish(&blocked, &format!("b {i}"));
        w.publish(&blocker, &format!("c {i}"));
        w.publish(&viewer, &format!("mine {i}"));
    }
    let gone = w.publish(&fine, "soon gone");
    let kept = w.publish(&fine, "stays");
    w.remove(&gone);
    block_on(crate::graph::block(&w.store, &w.env, &viewer, &blocked)).unwrap();
    block_on(crate::graph::block(&w.store, &w.env, &blocker, &viewer)).unwrap();
    let page = w.for_you(&viewer, None, 30);
    assert_eq!(ids(&page), std::slice::from_ref(&kept));
    let err = block_on(video(&w.store, &viewer, &gone, &Signer)).unwrap_err();
    assert_eq!(err.status, 404);
    let hidden =
        block_on(user_videos(&w.store, &viewer, "blocked", None, 10, &Signer)).unwrap_err();
    assert_eq!(hidden.status, 404);
}

#[test]
fn following_is_newest_first_and_pages_without_gaps() {
    let w = World::new();
    let viewer = w.user("viewer");
    let a = w.user("ann");
    let b = w.user("bob");
    let stranger = w.user("stranger");
    let mut expected = Vec::new();
    for i in 0..25 {
        expected.push(w.publish(if i % 2 == 0 { &a } else { &b }, "x"));
        w.publish(&stranger, "y");
    }
    block_on(crate::graph::follow(&w.store, &w.env, &viewer, &a)).unwrap();
    block_on(crate::graph::follow(&w.store, &w.env, &viewer, &b)).unwrap();
    w.remove(&expected[3]);
    expected.remove(3);
    expected.reverse();
    let mut got = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = block_on(following(
            &w.store,
            &w.env,
            &viewer,
            cursor.as_deref(),
            7,
            &Signer,
        ))
        .unwrap();
        got.extend(ids(&page));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(got, expected);
}

#[test]
fn video_pages_carry_counts_cameos_and_the_remix_tree() {
    let w = World::new();
    let viewer = w.user("viewer");
    let maker = w.user("maker");
    let cast = w.user("cast");
    let root = w.publish(&maker, "original");
    let child = w.publish_as(&maker, "remix one", Some(&root), &[&cast]);
    let grandchild = w.publish_as(&maker, "remix two", Some(&child), &[]);
    let item = block_on(video(&w.store, &viewer, &child, &Signer)).unwrap();
    assert_eq!(item.cameos[0].handle, "cast");
    assert_eq!(item.remix_source.as_ref().unwrap().id, root);
    assert_eq!(item.counts.remixes, 1);
    assert!(!item.liked_by_me);
    let tree = block_on(remix_tree(
        &w.store,
        &viewer,
        &grandchild,
        None,
        10,
        &Signer,
    ))
    .unwrap();
    let up: Vec<&str> = tree.ancestors.iter().map(|i| i.video.id.as_str()).collect();
    assert_eq!(up, [child.as_str(), root.as_str()]);
    let tree = block_on(remix_tree(&w.store, &viewer, &root, None, 10, &Signer)).unwrap();
    assert_eq!(tree.remixes[0].video.id, child);
    let mine = block_on(user_videos(&w.store, &viewer, "MAKER", None, 2, &Signer)).unwrap();
    assert_eq!(ids(&mine), [grandchild.clone(), child.clone()]);
    let rest = block_on(user_videos(
        &w.store,
        &viewer,
        "maker",
        mine.next_cursor.as_deref(),
        2,
        &Signer,
    ))
    .unwrap();
    assert_eq!(ids(&rest), [root]);
}

#[test]
fn items_sum_every_shard_of_a_wide_video_and_shard_zero_of_a_quiet_one() {
    let w = World::new();
    let viewer = w.user("viewer");
    let maker = w.user("maker");
    let quiet = w.publish(&maker, "quiet");
    let hot = w.publish(&maker, "hot");
    let set = |key: String, n: i64| block_on(w.store.set(&key, n.to_string().as_bytes())).unwrap();
    set(keys::like_count(&quiet, 0), 3);
    set(keys::comment_count(&quiet, 0), 1);
    set(keys::counts_wide(&hot), 1);
    for s in 0..crate::social::LIKE_SHARDS {
        set(keys::like_count(&hot, s), 2);
    }
    // A like taken back on another shard than it was counted on.
    set(keys::share_count(&hot, 0), 2);
    set(keys::share_count(&hot, 5), -1);
    let quiet_item = block_on(video(&w.store, &viewer, &quiet, &Signer)).unwrap();
    assert_eq!(
        (quiet_item.counts.likes, quiet_item.counts.comments),
        (3, 1)
    );
    let hot_item = block_on(video(&w.store, &viewer, &hot, &Signer)).unwrap();
    let expected_likes = 2 * u64::from(crate::social::LIKE_SHARDS);
    assert_eq!(
        (hot_item.counts.likes, hot_item.counts.shares),
        (expected_likes, 1)
    );
}

#[test]
fn bad_events_change_nothing_and_batches_count_once() {
    let w = World::new();
    let viewer = w.user("viewer");
    let maker = w.user("maker");
    let v = w.publish(&maker, "x");
    let before = w.store.snapshot();
    let too_many: Vec<(&str, &str)> = (0..101).map(|_| ("impression", v.as_str())).collect();
    for bad in [
        too_many,
        vec![("dance", v.as_str())],
        vec![("skip", "nope")],
        vec![],
    ] {
        assert_eq!(w.events(&viewer, &bad).unwrap_err().status, 400);
    }
    let no_watch = EventBatch {
        events: vec![Event {
            kind: "watch".into(),
            video_id: v.clone(),
            watch_ms: None,
        }],
        batch_id: None,
    };
    assert!(block_on(record_events(&w.store, &w.env, &viewer, no_watch)).is_err());
    assert_eq!(w.store.snapshot(), before);

    let unknown = w.next_id(1_800_000_000_000);
    let out = w
        .events(
            &viewer,
            &[
                ("impression", &v),
                ("complete", &v),
                ("impression", &unknown),
            ],
        )
        .unwrap();
    assert_eq!((out.accepted, out.ignored), (2, 1));

    let batch = || EventBatch {
        events: vec![Event {
            kind: "impression".into(),
            video_id: v.clone(),
            watch_ms: None,
        }],
        batch_id: Some("b-1".into()),
    };
    assert!(
        !block_on(record_events(&w.store, &w.env, &viewer, batch()))
            .unwrap()
            .duplicate
    );
    assert!(
        block_on(record_events(&w.store, &w.env, &viewer, batch()))
            .unwrap()
            .duplicate
    );
    let s = block_on(stats::read(&w.store, std::slice::from_ref(&v))).unwrap();
    assert_eq!((s[0].impressions, s[0].completions), (2, 1));
}

#[test]
fn page_sizes_and_cursors_are_checked() {
    assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE_SIZE);
    assert_eq!(page_size(Some("30")).unwrap(), 30);
    for bad in ["0", "31", "x", ""] {
        assert_eq!(page_size(Some(bad)).unwrap_err().status, 400);
    }
    let w = World::new();
    let viewer = w.user("viewer");
    let err = block_on(for_you(
        &w.store,
        &w.env,
        &viewer,
        Some("bogus"),
        10,
        false,
        &Signer,
    ))
    .unwrap_err();
    assert_eq!(err.status, 400);
    let err = block_on(following(
        &w.store,
        &w.env,
        &viewer,
        Some("bogus"),
        10,
        &Signer,
    ))
    .unwrap_err();
    assert_eq!(err.status, 400);
}

#[test]
fn a_for_you_page_reads_a_bounded_number_of_keys() {
    let w = World::new();
    let viewer = w.user("viewer");
    let makers: Vec<String> = (0..60).map(|i| w.user(&format!("m{i}"))).collect();
    for i in 0..3000 {
        w.publish(&makers[i % makers.len()], &format!("clip {i} cooking"));
    }
    for m in makers.iter().take(40) {
        block_on(crate::graph::follow(&w.store, &w.env, &viewer, m)).unwrap();
    }
    let counting = ReadCounter::new(&w.store);
    for (limit, max_keys) in [(10, 520), (30, 1100)] {
        block_on(reset(&w.store, &viewer)).unwrap();
        let mut worst = (0, 0);
        let mut cursor = None;
        for _ in 0..40 {
            counting.reset();
            let page = block_on(for_you(
                &counting,
                &w.env,
                &viewer,
                cursor.as_deref(),
                limit,
                false,
                &Signer,
            ))
            .unwrap();
            cursor = page.next_cursor;
            worst = worst.max(counting.reads());
        }
        // Whatever the catalogue and follow count, a page stays within these
        // (a quiet video's counts are 4 keys; a wide one adds 28 in one more read).
        eprintln!(
            "worst For You page of {limit}: {} keys in {} reads",
            worst.0, worst.1
        );
        assert!(worst.0 <= max_keys, "keys read: {worst:?}");
        assert!(worst.1 <= 26, "round trips: {worst:?}");
    }
}

#[test]
fn a_like_leans_the_profile_towards_the_creator_and_terms() {
    let w = World::new();
    let viewer = w.user("viewer");
    let maker = w.user("maker");
    let id = w.publish(&maker, "slow cooking ramen");
    let video = crate::studio::get_video(&w.store, &id);
    let video = block_on(video).unwrap();
    block_on(record_like(&w.store, &w.env, &viewer, &video)).unwrap();
    block_on(record_like(&w.store, &w.env, &maker, &video)).unwrap();
    let p = block_on(profile::load(&w.store, &viewer)).unwrap();
    assert!(p.creator(&maker) > 0.0 && p.term("ramen") > 0.0);
    let own = block_on(profile::load(&w.store, &maker)).unwrap();
    assert_eq!(own, Profile::default());
}

#[test]
fn an_under_18s_feed_stops_when_the_days_minutes_are_watched() {
    let w = World::new();
    let teen = w.user("teen");
    let adult = w.user("adult");
    let maker = w.user("maker");
    let video = w.publish(&maker, "a calm lake at dawn");
    // Fifteen on the test clock's day, with one minute of feed a day.
    let profile = crate::accounts::Profile {
        birth_date: Some("2010-03-01".into()),
        protections: Some(crate::accounts::MinorProtections {
            feed_minutes_per_day: 1,
            quiet_hours_start: "22:00".into(),
            quiet_hours_end: "07:00".into(),
            cameo: "only_me".into(),
        }),
        ..crate::accounts::Profile::default()
    };
    block_on(w.store.set(
        &keys::profile(&teen),
        &serde_json::to_vec(&profile).unwrap(),
    ))
    .unwrap();

    for viewer in [&teen, &adult] {
        assert_eq!(w.for_you(viewer, None, 5).items.len(), 1);
        // 4 s a watch: fifteen of them spend the minute.
        let watches = vec![("watch", video.as_str()); 15];
        w.events(viewer, &watches).unwrap();
    }
    let e = block_on(for_you(&w.store, &w.env, &teen, None, 5, false, &Signer)).unwrap_err();
    assert_eq!((e.status, e.code), (429, "feed_time_limit"));
    assert!(e.message.contains("1 minutes"), "{}", e.message);
    let e = block_on(following(&w.store, &w.env, &teen, None, 5, &Signer)).unwrap_err();
    assert_eq!(e.code, "feed_time_limit");
    // Adults have no budget; the teen's opens again the next UTC day.
    block_on(reset(&w.store, &adult)).unwrap();
    assert_eq!(w.for_you(&adult, None, 5).items.len(), 1);
    w.env.advance_ms(24 * 60 * 60 * 1000);
    block_on(reset(&w.store, &teen)).unwrap();
    assert_eq!(w.for_you(&teen, None, 5).items.len(), 1);
    let spent = w
        .store
        .snapshot()
        .into_keys()
        .filter(|k| k.starts_with("feed_time:"))
        .collect::<Vec<_>>();
    assert_eq!(
        spent.len(),
        1,
        "only the teen's viewing is counted: {spent:?}"
    );
}

#[test]
fn plain_words_steer_the_next_page() {
    let page_for = |steer: &str| {
        let w = World::new();
        let viewer = w.user("viewer");
        let makers: Vec<String> = (0..6).map(|i| w.user(&format!("maker{i}"))).collect();
        for i in 0..12 {
            w.publish(&makers[i % 6], &format!("cooking pasta at home {i}"));
            w.publish(
                &makers[(i + 3) % 6],
                &format!("horror night in the woods {i}"),
            );
        }
        let req = PreferencesRequest { text: steer.into() };
        let understood = block_on(set_preferences(&w.store, &viewer, req)).unwrap();
        assert_eq!(
            block_on(preferences(&w.store, &viewer)).unwrap(),
            understood
        );
        let page = w.for_you(&viewer, None, 10);
        let cooking = page
            .items
            .iter()
            .filter(|i| i.video.prompt.contains("cooking"))
            .count();
        (cooking, page.items.len() - cooking)
    };
    let (cooking, horror) = page_for("more cooking, less horror");
    assert!(cooking > horror, "{cooking} cooking vs {horror} horror");
    let (cooking, horror) = page_for("more horror, less cooking");
    assert!(horror > cooking, "{horror} horror vs {cooking} cooking");
    let long = PreferencesRequest {
        text: "x".repeat(301),
    };
    let w = World::new();
    assert_eq!(
        block_on(set_preferences(&w.store, "01VIEWER", long))
            .unwrap_err()
            .status,
        400
    );
}
