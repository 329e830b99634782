use super::*;
use crate::env::Env;
use crate::keys;
use crate::store::{MemoryStore, Store};
use crate::testing::{FixedEnv, block_on};

const OWNER: &str = "01OWNER0000000000000000000";

fn env() -> FixedEnv {
    FixedEnv::new(1_700_000_000_000, 3)
}

fn actor(n: u32) -> Actor {
    Actor {
        id: format!("01ACTOR{n:019}"),
        handle: format!("fan{n}"),
        deleted: false,
    }
}

fn like(n: u32, video: &str) -> NewNotification {
    NewNotification {
        kind: Kind::Like,
        actor: Some(actor(n)),
        subject: Subject {
            video_id: Some(video.to_owned()),
            ..Subject::default()
        },
        text: None,
    }
}

fn comment(n: u32, text: &str) -> NewNotification {
    NewNotification {
        kind: Kind::Comment,
        actor: Some(actor(n)),
        subject: Subject {
            video_id: Some("01VIDEO0000000000000000000".into()),
            comment_id: Some(format!("01COMMENT{n:017}")),
            draft_id: None,
        },
        text: Some(text.to_owned()),
    }
}

fn inbox(store: &MemoryStore) -> Inbox {
    block_on(list(store, OWNER, None, Some(50))).unwrap()
}

#[test]
fn a_burst_of_likes_is_one_notification_with_every_like_counted() {
    let store = MemoryStore::new();
    let env = env();
    for n in 0..13 {
        env.advance_ms(1_000);
        block_on(notify(&store, &env, OWNER, like(n, "01VIDEOA"))).unwrap();
    }
    let inbox = inbox(&store);
    assert_eq!(inbox.items.len(), 1);
    let item = &inbox.items[0];
    assert_eq!(item.count, 13);
    assert_eq!(item.summary, "fan12 and 12 others liked your video.");
    assert_eq!(item.actors.len(), 3);
    assert_eq!(item.deep_link, "dreamreel://videos/01VIDEOA");
    assert_eq!(inbox.unread, 1);
    // The same person liking again (unlike, like) is not a new person.
    block_on(notify(&store, &env, OWNER, like(5, "01VIDEOA"))).unwrap();
    assert_eq!(self::inbox(&store).items[0].count, 13);
}

#[test]
fn the_latest_activity_comes_first_and_comments_stand_alone() {
    let store = MemoryStore::new();
    let env = env();
    block_on(notify(&store, &env, OWNER, like(1, "01VIDEOA"))).unwrap();
    env.advance_ms(10);
    block_on(notify(&store, &env, OWNER, comment(2, "  so good  "))).unwrap();
    env.advance_ms(10);
    block_on(notify(&store, &env, OWNER, comment(3, "again"))).unwrap();
    env.advance_ms(10);
    block_on(notify(&store, &env, OWNER, like(4, "01VIDEOA"))).unwrap();

    let kinds: Vec<(String, u64)> = inbox(&store)
        .items
        .iter()
        .map(|i| (i.kind.clone(), i.count))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("like".into(), 2),
            ("comment".into(), 1),
            ("comment".into(), 1)
        ]
    );
    let items = inbox(&store).items;
    assert_eq!(items[2].text.as_deref(), Some("so good"));
    assert_eq!(inbox(&store).unread, 3);
}

#[test]
fn unread_counts_stay_exact_through_reads_and_new_activity() {
    let store = MemoryStore::new();
    let env = env();
    block_on(notify(&store, &env, OWNER, like(1, "01VIDEOA"))).unwrap();
    block_on(notify(&store, &env, OWNER, comment(2, "hi"))).unwrap();
    let newest = block_on(notify(&store, &env, OWNER, comment(3, "yo")))
        .unwrap()
        .unwrap();
    assert_eq!(block_on(unread_count(&store, OWNER)).unwrap(), 3);

    let one = MarkRead {
        ids: Some(vec![newest.id.clone(), newest.id.clone()]),
        up_to_seq: None,
    };
    assert_eq!(block_on(mark_read(&store, OWNER, one)).unwrap(), 2);

    // Read up to what the member saw; a like that arrives later stays unread.
    let seen = latest_seq_now(&store);
    block_on(notify(&store, &env, OWNER, like(9, "01VIDEOB"))).unwrap();
    let all = MarkRead {
        ids: None,
        up_to_seq: Some(seen),
    };
    assert_eq!(block_on(mark_read(&store, OWNER, all)).unwrap(), 1);

    // New activity on a read burst makes it unread again, once.
    block_on(notify(&store, &env, OWNER, like(7, "01VIDEOA"))).unwrap();
    block_on(notify(&store, &env, OWNER, like(8, "01VIDEOA"))).unwrap();
    assert_eq!(block_on(unread_count(&store, OWNER)).unwrap(), 2);
    assert_eq!(inbox(&store).unread, 2);
}

#[test]
fn a_member_who_deleted_their_account_is_listed_without_their_handle_or_words() {
    let store = MemoryStore::new();
    let env = env();
    block_on(notify(&store, &env, OWNER, like(1, "01VIDEOA"))).unwrap();
    block_on(notify(&store, &env, OWNER, like(2, "01VIDEOA"))).unwrap();
    block_on(notify(&store, &env, OWNER, comment(1, "call me at 555"))).unwrap();
    let follow = NewNotification {
        kind: Kind::NewFollower,
        actor: Some(actor(1)),
        subject: Subject::default(),
        text: None,
    };
    block_on(notify(&store, &env, OWNER, follow)).unwrap();
    assert_eq!(inbox(&store).items[0].deep_link, "dreamreel://users/fan1");

    // fan1 deletes their account: the tombstone is what erasure writes first.
    block_on(store.set(&keys::deleted_user(&actor(1).id), b"{}")).unwrap();
    let items = inbox(&store).items;
    let follow = &items[0];
    assert_eq!(follow.summary, "A deleted member followed you.");
    assert_eq!(follow.deep_link, "dreamreel://notifications");
    let said = &items[1];
    assert_eq!(said.summary, "A deleted member commented on your video.");
    assert_eq!(said.text, None, "their words go with them");
    let likes = &items[2];
    assert_eq!(likes.summary, "fan2 and 1 other liked your video.");
    let erased = likes.actors.iter().find(|a| a.id == actor(1).id).unwrap();
    assert!(erased.deleted && erased.handle.is_empty());
    assert!(!likes.actors.iter().any(|a| a.handle == "fan1"));
    // The wire form says so explicitly, and only for them.
    let wire = serde_json::to_value(&likes.actors).unwrap();
    assert_eq!(wire[1]["deleted"], true);
    assert!(wire[0].get("deleted").is_none());
    // The live stream's replay, logged while fan1 still existed, says the same.
    let replay = block_on(since(&store, OWNER, 0)).unwrap();
    let (_, follow) = replay.events.last().unwrap();
    assert_eq!(follow.summary, "A deleted member followed you.");
    assert!(
        replay
            .events
            .iter()
            .all(|(_, v)| !v.summary.contains("fan1"))
    );
}

fn latest_seq_now(store: &MemoryStore) -> u64 {
    block_on(latest_seq(store, OWNER)).unwrap()
}

#[test]
fn the_stream_replays_every_change_in_order_and_resumes_without_gaps() {
    let store = MemoryStore::new();
    let env = env();
    block_on(notify(&store, &env, OWNER, like(1, "01VIDEOA"))).unwrap();
    block_on(notify(&store, &env, OWNER, comment(2, "first"))).unwrap();
    let batch = block_on(since(&store, OWNER, 0)).unwrap();
    assert_eq!(batch.last_seq, 2);
    assert_eq!(batch.missing, None);
    let seqs: Vec<u64> = batch.events.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, vec![1, 2]);

    block_on(notify(&store, &env, OWNER, like(3, "01VIDEOA"))).unwrap();
    let next = block_on(since(&store, OWNER, batch.last_seq)).unwrap();
    assert_eq!(next.events.len(), 1);
    assert_eq!(next.events[0].0, 3);
    assert_eq!(next.events[0].1.count, 2);
    assert!(block_on(since(&store, OWNER, 3)).unwrap().events.is_empty());
}

#[test]
fn the_stream_waits_for_a_change_still_being_written() {
    let store = MemoryStore::new();
    let env = env();
    block_on(notify(&store, &env, OWNER, like(1, "01VIDEOA"))).unwrap();
    // A writer took number 2 and has not logged it yet; 3 is logged.
    block_on(crate::store::Store::increment(
        &store,
        &crate::keys::notifications_seq(OWNER),
        1,
    ))
    .unwrap();
    block_on(notify(&store, &env, OWNER, comment(2, "x"))).unwrap();
    let batch = block_on(since(&store, OWNER, 0)).unwrap();
    assert_eq!(batch.last_seq, 1);
    assert_eq!(batch.missing, Some(2));
    // The caller gives up on 2 after a while and goes on from it.
    let after = block_on(since(&store, OWNER, 2)).unwrap();
    assert_eq!(after.events[0].0, 3);
}

#[test]
fn nobody_is_told_about_their_own_actions_or_by_people_they_blocked() {
    let store = MemoryStore::new();
    let env = env();
    let mut own = like(1, "01VIDEOA");
    own.actor = Some(Actor {
        id: OWNER.into(),
        handle: "me".into(),
        deleted: false,
    });
    assert!(
        block_on(notify(&store, &env, OWNER, own))
            .unwrap()
            .is_none()
    );
    block_on(crate::graph::block(&store, &env, OWNER, &actor(2).id)).unwrap();
    assert!(
        block_on(notify(&store, &env, OWNER, like(2, "01VIDEOA")))
            .unwrap()
            .is_none()
    );
    assert!(inbox(&store).items.is_empty());
    assert_eq!(block_on(latest_seq(&store, OWNER)).unwrap(), 0);
}

#[test]
fn a_burst_after_a_quiet_day_starts_a_new_notification() {
    let store = MemoryStore::new();
    let env = env();
    block_on(notify(&store, &env, OWNER, like(1, "01VIDEOA"))).unwrap();
    env.advance_ms(25 * 60 * 60 * 1000);
    block_on(notify(&store, &env, OWNER, like(2, "01VIDEOA"))).unwrap();
    let items = inbox(&store).items;
    assert_eq!(items.len(), 2);
    assert_eq!((items[0].count, items[1].count), (1, 1));
}

#[test]
fn system_notifications_have_no_actor_and_link_to_the_draft() {
    let store = MemoryStore::new();
    let env = env();
    let ready = NewNotification {
        kind: Kind::GenerationReady,
        actor: None,
        subject: Subject {
            draft_id: Some("01DRAFT".into()),
            ..Subject::default()
        },
        text: None,
    };
    block_on(notify(&store, &env, OWNER, ready)).unwrap();
    let item = &inbox(&store).items[0];
    assert_eq!(item.summary, "Your generation is ready.");
    assert_eq!(item.deep_link, "dreamreel://drafts/01DRAFT");
}

#[test]
fn bad_requests_change_nothing() {
    let store = MemoryStore::new();
    let env = env();
    block_on(notify(&store, &env, OWNER, like(1, "01VIDEOA"))).unwrap();
    let before = store.snapshot();
    for req in [
        MarkRead::default(),
        MarkRead {
            ids: Some(vec![]),
            up_to_seq: None,
        },
        MarkRead {
            ids: Some(vec!["not-an-id".into()]),
            up_to_seq: None,
        },
        MarkRead {
            ids: Some(vec![]),
            up_to_seq: Some(3),
        },
    ] {
        assert_eq!(
            block_on(mark_read(&store, OWNER, req)).unwrap_err().status,
            400
        );
    }
    let muted = SettingsUpdate {
        muted: Some(vec!["like".into(), "nonsense".into()]),
        push: None,
    };
    assert_eq!(
        block_on(update_settings(&store, OWNER, muted))
            .unwrap_err()
            .status,
        400
    );
    assert!(block_on(list(&store, OWNER, Some("junk"), None)).is_err());
    assert!(block_on(list(&store, OWNER, None, Some(51))).is_err());
    assert_eq!(store.snapshot(), before);
}

#[test]
fn muted_kinds_are_not_pushed() {
    let store = MemoryStore::new();
    let update = SettingsUpdate {
        muted: Some(vec!["like".into(), "like".into()]),
        push: None,
    };
    let settings = block_on(update_settings(&store, OWNER, update)).unwrap();
    assert_eq!(settings.muted, vec!["like"]);
    assert!(!settings.pushes(Kind::Like));
    assert!(settings.pushes(Kind::Comment));
    let off = SettingsUpdate {
        muted: None,
        push: Some(false),
    };
    let settings = block_on(update_settings(&store, OWNER, off)).unwrap();
    assert!(!settings.pushes(Kind::Comment));
    assert_eq!(block_on(get_settings(&store, OWNER)).unwrap(), settings);
}

fn apns(token: &str) -> DeviceRequest {
    DeviceRequest {
        platform: "apns".into(),
        token: Some(token.into()),
        subscription: None,
        utc_offset_minutes: None,
    }
}

fn webpush(endpoint: &str) -> DeviceRequest {
    use base64::Engine;
    let b64 = |n: usize| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(vec![4u8; n]);
    DeviceRequest {
        platform: "webpush".into(),
        token: None,
        subscription: Some(Subscription {
            endpoint: endpoint.into(),
            keys: SubscriptionKeys {
                p256dh: b64(65),
                auth: b64(16),
            },
            expiration_time: None,
        }),
        utc_offset_minutes: None,
    }
}

#[test]
fn devices_register_once_list_and_remove() {
    let store = MemoryStore::new();
    let env = env();
    let token = "ab".repeat(32);
    let (phone, new) = block_on(register_device(&store, &env, OWNER, apns(&token))).unwrap();
    assert!(new);
    let (again, new) = block_on(register_device(
        &store,
        &env,
        OWNER,
        apns(&token.to_uppercase()),
    ))
    .unwrap();
    assert!(!new);
    assert_eq!(again.id, phone.id);
    let (browser, _) = block_on(register_device(
        &store,
        &env,
        OWNER,
        webpush("https://push.example/abc"),
    ))
    .unwrap();
    let ids: Vec<String> = block_on(list_devices(&store, OWNER))
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, vec![browser.id.clone(), phone.id.clone()]);
    assert!(block_on(remove_device(&store, OWNER, &phone.id)).unwrap());
    assert!(!block_on(remove_device(&store, OWNER, &phone.id)).unwrap());
    assert_eq!(block_on(list_devices(&store, OWNER)).unwrap().len(), 1);
}

#[test]
fn bad_devices_are_refused_and_change_nothing() {
    let store = MemoryStore::new();
    let env = env();
    let before = store.snapshot();
    let mut no_keys = webpush("https://push.example/x");
    if let Some(sub) = no_keys.subscription.as_mut() {
        sub.keys.auth = "short".into();
    }
    for req in [
        apns("not-hex"),
        apns(&"a".repeat(10)),
        webpush("http://insecure.example/x"),
        no_keys,
        DeviceRequest {
            platform: "fax".into(),
            token: Some("ab".repeat(32)),
            subscription: None,
            utc_offset_minutes: None,
        },
        DeviceRequest {
            platform: "apns".into(),
            token: None,
            subscription: None,
            utc_offset_minutes: None,
        },
    ] {
        let err = block_on(register_device(&store, &env, OWNER, req)).unwrap_err();
        assert_eq!(err.status, 400);
    }
    assert_eq!(store.snapshot(), before);
    for i in 0..MAX_DEVICES {
        let token = format!("{i:02x}").repeat(32);
        block_on(register_device(&store, &env, OWNER, apns(&token))).unwrap();
    }
    let err = block_on(register_device(&store, &env, OWNER, apns(&"ff".repeat(32)))).unwrap_err();
    assert_eq!((err.status, err.code), (409, "too_many_devices"));
}

#[test]
fn pushes_queue_only_for_members_with_devices_and_unmuted_kinds() {
    let store = MemoryStore::new();
    let env = env();
    let shard = push::shard_of(OWNER);
    // No device yet: nothing queued.
    block_on(notify(&store, &env, OWNER, comment(1, "hi"))).unwrap();
    assert!(
        block_on(push::pending(&store, shard, 10))
            .unwrap()
            .is_empty()
    );

    block_on(register_device(&store, &env, OWNER, apns(&"ab".repeat(32)))).unwrap();
    let mute = SettingsUpdate {
        muted: Some(vec!["like".into()]),
        push: None,
    };
    block_on(update_settings(&store, OWNER, mute)).unwrap();
    block_on(notify(&store, &env, OWNER, like(2, "01VIDEOA"))).unwrap();
    let said = block_on(notify(&store, &env, OWNER, comment(3, "nice")))
        .unwrap()
        .unwrap();

    let pending = block_on(push::pending(&store, shard, 10)).unwrap();
    let intents: Vec<push::PushIntent> = pending.iter().map(|(i, _)| i.clone()).collect();
    let cursor = pending[0].1;
    assert_eq!(
        intents,
        vec![push::PushIntent {
            user: OWNER.into(),
            seq: said.seq
        }]
    );
    let (view, devices) = block_on(push::prepare(&store, &intents[0], env.now_ms()))
        .unwrap()
        .unwrap();
    assert_eq!(view.text.as_deref(), Some("nice"));
    assert_eq!(devices.len(), 1);

    // Once committed, the dispatcher does not see it again.
    block_on(push::commit(&store, shard, cursor)).unwrap();
    assert!(
        block_on(push::pending(&store, shard, 10))
            .unwrap()
            .is_empty()
    );
    block_on(notify(&store, &env, OWNER, comment(4, "more"))).unwrap();
    assert_eq!(block_on(push::pending(&store, shard, 10)).unwrap().len(), 1);
}

#[test]
fn the_outbox_is_read_in_order_across_pages_and_resumes_where_it_stopped() {
    let store = MemoryStore::new();
    let env = env();
    block_on(register_device(&store, &env, OWNER, apns(&"ab".repeat(32)))).unwrap();
    let shard = push::shard_of(OWNER);
    let total = crate::pages::PAGE_CAPACITY + 10;
    for n in 0..total {
        block_on(notify(&store, &env, OWNER, comment(n as u32, "x"))).unwrap();
    }
    let mut seen = Vec::new();
    loop {
        let batch = block_on(push::pending(&store, shard, 7)).unwrap();
        if batch.is_empty() {
            break;
        }
        // Handle only the first few of each batch, as a dispatcher that
        // stops on a temporary failure would.
        let take = batch.len().min(5);
        seen.extend(batch[..take].iter().map(|(i, _)| i.seq));
        block_on(push::commit(&store, shard, batch[take - 1].1)).unwrap();
    }
    let expected: Vec<u64> = (1..=total as u64).collect();
    assert_eq!(seen, expected);
}

#[test]
fn an_under_18s_phone_stays_silent_in_their_quiet_hours() {
    let store = MemoryStore::new();
    let env = env();
    // 1_700_000_000_000 is 22:13 UTC. One phone in UTC, one in UTC-5 (17:13).
    let mut here = apns(&"ab".repeat(32));
    here.utc_offset_minutes = Some(0);
    let mut west = apns(&"cd".repeat(32));
    west.utc_offset_minutes = Some(-300);
    block_on(register_device(&store, &env, OWNER, here)).unwrap();
    block_on(register_device(&store, &env, OWNER, west)).unwrap();
    let said = block_on(notify(&store, &env, OWNER, comment(1, "hi")))
        .unwrap()
        .unwrap();
    let intent = push::PushIntent {
        user: OWNER.into(),
        seq: said.seq,
    };
    let now = env.now_ms();
    // An adult's phones all ring.
    let (_, devices) = block_on(push::prepare(&store, &intent, now))
        .unwrap()
        .unwrap();
    assert_eq!(devices.len(), 2);

    let profile = crate::accounts::Profile {
        birth_date: Some("2010-01-01".into()),
        protections: Some(crate::accounts::MinorProtections {
            feed_minutes_per_day: 60,
            quiet_hours_start: "22:00".into(),
            quiet_hours_end: "07:00".into(),
            cameo: "only_me".into(),
        }),
        ..crate::accounts::Profile::default()
    };
    block_on(store.set(
        &keys::profile(OWNER),
        &serde_json::to_vec(&profile).unwrap(),
    ))
    .unwrap();
    let (_, devices) = block_on(push::prepare(&store, &intent, now))
        .unwrap()
        .unwrap();
    assert_eq!(devices.len(), 1, "only the phone where it is still evening");
    assert_eq!(devices[0].utc_offset_minutes, -300);
    // Past 22:00 on both clocks: nothing is sent (the inbox still has it).
    let later = now + 5 * 60 * 60 * 1000;
    assert!(
        block_on(push::prepare(&store, &intent, later))
            .unwrap()
            .is_none()
    );

    assert!(push::in_quiet_hours("22:00", "07:00", 0, 0), "midnight UTC");
    assert!(
        !push::in_quiet_hours("22:00", "07:00", 7 * 3_600_000, 0),
        "07:00 is awake"
    );
    assert!(push::in_quiet_hours(
        "13:00",
        "14:00",
        13 * 3_600_000 + 1,
        0
    ));
    assert!(
        push::in_quiet_hours("nonsense", "07:00", 0, 0),
        "unreadable errs on silence"
    );
}
