use super::*;
use crate::store::MemoryStore;
use crate::testing::block_on;

/// A unit vector near axis `topic` (a cluster), varied by `n`.
fn near(topic: usize, n: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; DIM];
    v[topic] = 1.0;
    v[(topic * 7 + n * 13 + 1) % DIM] += 0.25;
    v[(n * 31 + 5) % DIM] -= 0.15;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// A 26-character id, ordered by `n`.
fn id(n: usize) -> String {
    format!("01JD{n:022}")
}

fn video(id: &str) -> Video {
    Video {
        id: id.into(),
        owner: "ann".into(),
        owner_handle: "ann".into(),
        caption: String::new(),
        prompt: String::new(),
        aspect: "9:16".into(),
        seed: 1,
        media: crate::studio::DraftMedia {
            video_key: String::new(),
            thumbnail_key: String::new(),
            duration_ms: 5000,
            width: 1,
            height: 1,
            bytes: 1,
        },
        remix_of: None,
        cameos: vec![],
        generated_at_ms: 1,
        published_at_ms: 1,
        removed: None,
    }
}

fn put(store: &MemoryStore, id: &str, v: &[f32]) {
    let q = Quantized::from_f32(v).unwrap();
    block_on(store.set(&keys::prompt_embedding(id), &q.to_stored())).unwrap();
    block_on(on_published(store, &video(id))).unwrap();
}

#[test]
fn buckets_are_stable_and_close_vectors_share_them() {
    let a = near(10, 0);
    assert_eq!(buckets(&a), buckets(&a));
    let shared = (0..20)
        .filter(|&n| {
            let (x, y) = (buckets(&near(10, n)), buckets(&near(10, n + 1)));
            x.iter().zip(&y).any(|(p, q)| p.0 == q.0)
        })
        .count();
    assert!(shared >= 18, "neighbours share a bucket: {shared}/20");
    for (bucket, unsure) in buckets(&a) {
        assert!(bucket < 1 << BITS);
        let mut bits = unsure.to_vec();
        bits.sort();
        assert_eq!(bits, (0..BITS).collect::<Vec<_>>());
    }
    let keys = probe_keys(&a);
    assert_eq!(keys.len(), TABLES * PROBES);
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), keys.len());
}

#[test]
fn taste_is_a_decayed_mean_that_moves_with_new_signals() {
    let mut p = Profile::default();
    learn(&mut p, &near(3, 0), 1.0);
    learn(&mut p, &near(3, 1), LIKE_GAIN);
    let t = p.taste.clone().unwrap();
    assert!((t.weight - 2.5).abs() < 1e-9);
    let dir = t.unit().unwrap();
    assert!(cosine(&dir, &near(3, 2)) > 0.8);
    // Bounded: the weight stops at the cap, so a new interest still turns it.
    for n in 0..100 {
        learn(&mut p, &near(3, n), 1.0);
    }
    assert_eq!(p.taste.as_ref().unwrap().weight, MAX_WEIGHT);
    for n in 0..40 {
        learn(&mut p, &near(200, n), 1.0);
    }
    let dir = p.taste.as_ref().unwrap().unit().unwrap();
    assert!(cosine(&dir, &near(200, 0)) > cosine(&dir, &near(3, 0)));
    // Decay lowers the weight with the profile; bad input changes nothing.
    p.updated_ms = 1;
    p.decay_to(1 + super::super::profile::HALF_LIFE_MS as u64);
    assert!((p.taste.as_ref().unwrap().weight - MAX_WEIGHT / 2.0).abs() < 1e-6);
    let before = p.clone();
    learn(&mut p, &[1.0; 3], 1.0);
    learn(&mut p, &near(1, 1), -1.0);
    assert_eq!(p, before);
}

#[test]
fn candidates_are_the_similar_unseen_ones_best_first_and_bounded() {
    let store = MemoryStore::new();
    for n in 0..30 {
        put(&store, &id(n), &near(10, n));
        put(&store, &id(100 + n), &near(300, n));
    }
    // Published twice: still one entry.
    put(&store, &id(0), &near(10, 0));
    let mut p = Profile::default();
    learn(&mut p, &near(10, 40), 1.0);
    let taste = p.taste.unwrap();
    let seen_id = id(1);
    let seen: HashSet<&str> = [seen_id.as_str()].into();
    let found = block_on(candidates(&store, &taste, &seen)).unwrap();
    assert!(found.len() >= 10 && found.len() <= MAX_SIMILAR, "{found:?}");
    assert!(
        found
            .iter()
            .all(|(v, c)| *v < id(100) && *v != seen_id && *c >= f64::from(MIN_COSINE))
    );
    assert!(found.windows(2).all(|w| w[0].1 >= w[1].1));
    let ids: HashSet<&String> = found.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), found.len());
}

#[test]
fn buckets_stay_capped_and_videos_without_embeddings_stay_out() {
    let store = MemoryStore::new();
    for n in 0..(BUCKET_CAP + 10) {
        put(&store, &id(n), &near(10, 0));
    }
    let (bucket, _) = buckets(&near(10, 0))[0];
    let raw = block_on(store.get(&keys::sim_bucket(0, bucket))).unwrap();
    let list: Vec<&str> = entries(raw.as_deref().unwrap()).map(|(id, _)| id).collect();
    assert_eq!(list.len(), BUCKET_CAP);
    assert_eq!(list[0], id(10), "the oldest left");
    let before = store.len();
    let plain = video(&id(999));
    block_on(on_published(&store, &plain)).unwrap();
    assert_eq!(store.len(), before);
    let unreadable = Taste {
        v: "nope".into(),
        weight: 1.0,
    };
    assert!(
        block_on(candidates(&store, &unreadable, &HashSet::new()))
            .unwrap()
            .is_empty()
    );
}

/// The whole path through the studio and the feed: the worker's embedding
/// arrives with `complete`, publishing buckets it, watching through and
/// liking build the taste, and the next page's `similar` items are the
/// close ones.
mod flow {
    use super::*;
    use crate::accounts::User;
    use crate::error::ApiError;
    use crate::feed::rank::Source;
    use crate::feed::{Event, EventBatch, for_you, record_events, record_like};
    use crate::jobs::{WireEmbedding, media_keys};
    use crate::studio::callbacks::{self, CompleteRequest, StartRequest};
    use crate::studio::{
        DraftStatus, GenerationRequest, MediaSigner, PublishRequest, StudioConfig,
    };
    use crate::testing::FixedEnv;

    pub(super) struct Signer;

    impl MediaSigner for Signer {
        fn url(&self, key: &str) -> Result<String, ApiError> {
            Ok(format!("https://media.test/{key}"))
        }
        fn expires_at_ms(&self) -> u64 {
            1
        }
    }

    pub(super) fn user(store: &MemoryStore, n: u8) -> User {
        let user = User {
            id: crate::ids::ulid_from_parts(1_700_000_000_000, [n; 10]),
            handle: format!("u{n}"),
            display_name: format!("u{n}"),
            password_hash: String::new(),
            created_at_ms: 0,
            invite_code: "X".into(),
        };
        let bytes = serde_json::to_vec(&user).unwrap();
        block_on(store.set(&keys::user(&user.id), &bytes)).unwrap();
        block_on(store.set(&keys::handle(&user.handle), user.id.as_bytes())).unwrap();
        user
    }

    fn completion(id: &str, embedding: Option<WireEmbedding>) -> CompleteRequest {
        let (video_key, thumbnail_key) = media_keys(id);
        CompleteRequest {
            video_key,
            thumbnail_key,
            duration_ms: 5000,
            width: 720,
            height: 1280,
            bytes: 100,
            prompt_embedding: embedding,
        }
    }

    /// Generates, completes (with `vector`'s embedding) and publishes.
    fn make(
        store: &MemoryStore,
        env: &FixedEnv,
        maker: &User,
        prompt: &str,
        vector: &[f32],
    ) -> String {
        make_captioned(store, env, maker, prompt, vector, "a clip")
    }

    /// [`make`] with a caption.
    pub(super) fn make_captioned(
        store: &MemoryStore,
        env: &FixedEnv,
        maker: &User,
        prompt: &str,
        vector: &[f32],
        caption: &str,
    ) -> String {
        env.advance_ms(1000);
        let cfg = StudioConfig {
            daily_generation_quota: 100,
        };
        let req = GenerationRequest {
            prompt: prompt.into(),
            duration_seconds: Some(5),
            aspect: None,
            seed: None,
            cameos: vec![],
            remix_of: None,
        };
        let draft = block_on(crate::studio::create_generation(
            store, env, &cfg, maker, "r", None, req,
        ))
        .unwrap()
        .draft;
        let id = draft.id;
        block_on(callbacks::start(
            store,
            env,
            &id,
            StartRequest { attempt: 1 },
        ))
        .unwrap();
        let wire = Quantized::from_f32(vector).unwrap().to_wire();
        let done = block_on(callbacks::complete(
            store,
            env,
            &id,
            completion(&id, Some(wire)),
        ));
        assert_eq!(done.unwrap().status, 200);
        let publish = PublishRequest {
            caption: Some(caption.into()),
        };
        block_on(crate::studio::publish(store, env, maker, &id, publish)).unwrap();
        id
    }

    #[test]
    fn a_bad_embedding_is_refused_and_changes_nothing() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        let ana = user(&store, 1);
        let cfg = StudioConfig {
            daily_generation_quota: 5,
        };
        let req = GenerationRequest {
            prompt: "soup".into(),
            duration_seconds: None,
            aspect: None,
            seed: None,
            cameos: vec![],
            remix_of: None,
        };
        let id = block_on(crate::studio::create_generation(
            &store, &env, &cfg, &ana, "r", None, req,
        ))
        .unwrap()
        .draft
        .id;
        let before = store.snapshot();
        let mut wire = Quantized::from_f32(&near(1, 1)).unwrap().to_wire();
        wire.values.truncate(100);
        let e = block_on(callbacks::complete(
            &store,
            &env,
            &id,
            completion(&id, Some(wire)),
        ));
        assert_eq!(e.unwrap_err().status, 400);
        assert_eq!(store.snapshot(), before, "nothing written");
        // Without an embedding (no model in the worker) the draft is ready, unembedded.
        let ok = block_on(callbacks::complete(
            &store,
            &env,
            &id,
            completion(&id, None),
        ));
        assert_eq!(ok.unwrap().status, 200);
        let draft = block_on(crate::studio::get_draft(&store, &ana.id, &id)).unwrap();
        assert_eq!(draft.status, DraftStatus::Ready);
        assert!(
            block_on(store.get(&keys::prompt_embedding(&id)))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn what_a_viewer_engaged_with_brings_similar_videos() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        let makers: Vec<User> = (1..=6).map(|n| user(&store, n)).collect();
        let viewer = user(&store, 9);
        let mut cooking = Vec::new();
        let mut other = Vec::new();
        for n in 0..12 {
            let maker = &makers[n % makers.len()];
            cooking.push(make(&store, &env, maker, "pasta", &near(10, n)));
            other.push(make(&store, &env, maker, "rockets", &near(300, n)));
        }
        // No taste yet: nothing comes from the similar source.
        let page = block_on(for_you(&store, &env, &viewer.id, None, 5, true, &Signer)).unwrap();
        assert!(page.items.iter().all(|i| {
            let e = i.explain.as_ref().unwrap();
            !e.sources.contains(&Source::Similar) && e.parts.similarity.is_none()
        }));

        let events = cooking[..2]
            .iter()
            .map(|id| Event {
                kind: "complete".into(),
                video_id: id.clone(),
                watch_ms: None,
            })
            .collect();
        let batch = EventBatch {
            events,
            batch_id: None,
        };
        block_on(record_events(&store, &env, &viewer.id, batch)).unwrap();
        let liked = block_on(crate::studio::get_video(&store, &cooking[2])).unwrap();
        block_on(record_like(&store, &env, &viewer.id, &liked)).unwrap();
        let profile = block_on(crate::feed::profile::load(&store, &viewer.id)).unwrap();
        assert!((profile.taste.as_ref().unwrap().weight - 3.5).abs() < 1e-9);

        let page = block_on(for_you(&store, &env, &viewer.id, None, 10, true, &Signer)).unwrap();
        let similar: Vec<(&str, f64)> = page
            .items
            .iter()
            .filter_map(|i| {
                let e = i.explain.as_ref().unwrap();
                e.sources
                    .contains(&Source::Similar)
                    .then(|| (i.video.id.as_str(), e.parts.similarity.unwrap()))
            })
            .collect();
        assert!(similar.len() >= 3, "{similar:?}");
        for (id, cosine) in &similar {
            assert!(cooking.iter().any(|c| c == id), "{id} is a cooking clip");
            assert!(*cosine >= f64::from(MIN_COSINE));
        }
        assert!(!page.items.iter().any(|i| {
            other.contains(&i.video.id)
                && i.explain
                    .as_ref()
                    .unwrap()
                    .sources
                    .contains(&Source::Similar)
        }));
    }
}

/// Caption embeddings: the worker's answer to the caption job files the
/// video by its caption too, and stale or bad answers change nothing.
mod captions {
    use super::flow::{Signer, make_captioned as make, user};
    use super::*;
    use crate::error::ApiError;
    use crate::feed::rank::Source;
    use crate::feed::{Event, EventBatch, for_you, record_events};
    use crate::jobs::caption::CaptionEmbedding;
    use crate::studio::captions::{pending, store_embedding};
    use crate::testing::FixedEnv;

    fn answer(caption: &str, v: &[f32]) -> CaptionEmbedding {
        CaptionEmbedding {
            caption: caption.into(),
            embedding: Quantized::from_f32(v).unwrap().to_wire(),
        }
    }

    #[test]
    fn a_caption_brings_a_video_whose_prompt_is_about_something_else() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        let maker = user(&store, 1);
        let viewer = user(&store, 9);
        let cooking: Vec<String> = (0..3)
            .map(|n| make(&store, &env, &maker, "pasta", &near(10, n), "a clip"))
            .collect();
        for n in 0..4 {
            make(&store, &env, &maker, "rockets", &near(300, n), "a clip");
        }
        // Its prompt is about the sea; its caption is about pasta.
        let target = make(&store, &env, &maker, "waves", &near(200, 0), "pasta night");
        let events = cooking
            .iter()
            .map(|id| Event {
                kind: "complete".into(),
                video_id: id.clone(),
                watch_ms: None,
            })
            .collect();
        let batch = EventBatch {
            events,
            batch_id: None,
        };
        block_on(record_events(&store, &env, &viewer.id, batch)).unwrap();
        let taste = block_on(crate::feed::profile::load(&store, &viewer.id))
            .unwrap()
            .taste
            .unwrap();
        let none = HashSet::new();
        let found = |store: &MemoryStore| block_on(candidates(store, &taste, &none)).unwrap();
        assert!(!found(&store).iter().any(|(id, _)| *id == target));

        let video = block_on(crate::studio::get_video(&store, &target)).unwrap();
        let job = block_on(pending(&store, &video)).unwrap().expect("a job");
        assert_eq!(
            (job.video_id.as_str(), job.caption.as_str()),
            (target.as_str(), "pasta night")
        );
        block_on(store_embedding(
            &store,
            &target,
            answer("pasta night", &near(10, 50)),
        ))
        .unwrap();
        assert_eq!(
            block_on(pending(&store, &video)).unwrap(),
            None,
            "embedded once"
        );
        // A repeat (redelivery) adds nothing.
        let before = store.snapshot();
        block_on(store_embedding(
            &store,
            &target,
            answer("pasta night", &near(10, 50)),
        ))
        .unwrap();
        assert_eq!(store.snapshot(), before);

        let (_, cosine) = found(&store)
            .into_iter()
            .find(|(id, _)| *id == target)
            .expect("found by its caption");
        assert!(cosine >= f64::from(MIN_COSINE));
        let page = block_on(for_you(&store, &env, &viewer.id, None, 10, true, &Signer)).unwrap();
        let item = page
            .items
            .iter()
            .find(|i| i.video.id == target)
            .expect("on the page");
        let explain = item.explain.as_ref().unwrap();
        assert!(explain.sources.contains(&Source::Similar), "{explain:?}");
    }

    #[test]
    fn bad_stale_and_late_caption_embeddings_change_nothing() {
        let (store, env) = (MemoryStore::new(), FixedEnv::default());
        let maker = user(&store, 1);
        let id = make(&store, &env, &maker, "soup", &near(5, 0), "soup time");
        let plain = make(&store, &env, &maker, "soup", &near(5, 1), "");
        let before = store.snapshot();
        let mut bad = answer("soup time", &near(5, 2));
        bad.embedding.values.truncate(100);
        let status = |r: Result<(), ApiError>| r.unwrap_err().status;
        assert_eq!(status(block_on(store_embedding(&store, &id, bad))), 400);
        let other = answer("another caption", &near(5, 2));
        assert_eq!(status(block_on(store_embedding(&store, &id, other))), 409);
        let empty = answer("", &near(5, 2));
        assert_eq!(
            status(block_on(store_embedding(&store, &plain, empty))),
            409
        );
        let unknown = crate::ids::ulid_from_parts(1_700_000_000_000, [7; 10]);
        let late = answer("soup time", &near(5, 2));
        assert_eq!(
            status(block_on(store_embedding(&store, &unknown, late))),
            404
        );
        assert_eq!(store.snapshot(), before, "nothing written");
        let video = block_on(crate::studio::get_video(&store, &plain)).unwrap();
        assert_eq!(
            block_on(pending(&store, &video)).unwrap(),
            None,
            "no caption"
        );

        // A takedown keeps the embedding (it may be restored); a deletion drops it.
        block_on(store_embedding(
            &store,
            &id,
            answer("soup time", &near(5, 2)),
        ))
        .unwrap();
        let key = keys::caption_embedding(&id);
        block_on(crate::studio::remove_video(&store, &env, &id, "taken_down")).unwrap();
        assert!(block_on(store.get(&key)).unwrap().is_some());
        block_on(crate::safety::reports::restore_video(&store, &id)).unwrap();
        block_on(crate::studio::remove_video(&store, &env, &id, "deleted")).unwrap();
        assert!(block_on(store.get(&key)).unwrap().is_none());
        // A caption job that arrives after the deletion is refused.
        let before = store.snapshot();
        let late = answer("soup time", &near(5, 2));
        assert_eq!(status(block_on(store_embedding(&store, &id, late))), 404);
        assert_eq!(store.snapshot(), before);
    }

    #[test]
    fn one_caption_many_videos_share_cannot_flood_a_bucket() {
        let store = MemoryStore::new();
        for n in 0..10 {
            put(&store, &id(n), &near(10, n));
        }
        let shared = Quantized::from_f32(&near(40, 0)).unwrap();
        for n in 0..10 {
            block_on(on_caption(&store, &id(n), &shared)).unwrap();
        }
        for (table, (bucket, _)) in buckets(&shared.to_unit()).into_iter().enumerate() {
            let raw = block_on(store.get(&keys::sim_bucket(table, bucket)))
                .unwrap()
                .unwrap();
            let copies = alike_count(&raw, &shared.to_unit());
            assert_eq!(copies, MAX_ALIKE, "table {table}");
        }
    }
}
