//! Avatar slots, confirmation against what storage holds, and links on views.

use super::*;
use crate::accounts::profile::{load_profile, me_view};
use crate::accounts::{ProfileView, User};
use crate::store::MemoryStore;
use crate::studio::MediaSigner;
use crate::testing::{FixedEnv, block_on};

const UID: &str = "01JAVATAR0000000000000000A";

struct Signer;

impl MediaSigner for Signer {
    fn url(&self, key: &str) -> Result<String, ApiError> {
        Ok(format!("https://media.test/{key}?sig=1"))
    }
    fn expires_at_ms(&self) -> u64 {
        0
    }
}

fn ask(store: &MemoryStore, env: &FixedEnv, content_type: Option<&str>) -> AvatarUpload {
    let req = AvatarRequest {
        content_type: content_type.map(str::to_owned),
    };
    block_on(start(store, env, UID, req)).unwrap()
}

fn check(store: &MemoryStore, env: &FixedEnv, id: &str) -> Result<Confirmation, ApiError> {
    block_on(pending(store, env, UID, id))
}

fn facts(bytes: u64, content_type: &str) -> Option<ObjectFacts> {
    Some(ObjectFacts {
        bytes,
        content_type: Some(content_type.to_owned()),
    })
}

#[test]
fn a_slot_names_a_typed_key_and_bad_types_write_nothing() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let req = AvatarRequest {
        content_type: Some("image/gif".into()),
    };
    let e = block_on(start(&store, &env, UID, req)).unwrap_err();
    assert_eq!((e.status, e.code), (400, "invalid_request"));
    assert!(store.is_empty());

    let jpeg = ask(&store, &env, None);
    assert_eq!(jpeg.content_type, "image/jpeg");
    assert_eq!(jpeg.key, format!("avatars/{UID}/{}.jpg", jpeg.id));
    let png = ask(&store, &env, Some("IMAGE/PNG"));
    assert_eq!(png.key, format!("avatars/{UID}/{}.png", png.id));
    // The newer slot replaced the older one.
    assert_eq!(check(&store, &env, &jpeg.id).unwrap_err().status, 404);
    assert_eq!(
        check(&store, &env, &png.id).unwrap(),
        Confirmation::Check(png)
    );
}

#[test]
fn confirming_checks_presence_size_and_type_then_sets_the_profile() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let up = ask(&store, &env, Some("image/png"));
    let confirm_with = |found| block_on(confirm(&store, UID, &up, found));

    let e = confirm_with(None).unwrap_err();
    assert_eq!((e.status, e.code), (409, "avatar_not_uploaded"));
    let e = confirm_with(facts(MAX_AVATAR_BYTES + 1, "image/png")).unwrap_err();
    assert_eq!((e.status, e.code), (422, "avatar_too_large"));
    let e = confirm_with(facts(0, "image/png")).unwrap_err();
    assert_eq!(e.code, "avatar_too_large");
    let e = confirm_with(facts(10, "image/jpeg")).unwrap_err();
    assert_eq!((e.status, e.code), (422, "avatar_wrong_type"));
    assert_eq!(
        block_on(load_profile(&store, UID)).unwrap().avatar_key,
        None
    );

    let profile = confirm_with(facts(2048, "image/png; charset=binary")).unwrap();
    assert_eq!(profile.avatar_key.as_deref(), Some(up.key.as_str()));
    assert!(
        block_on(store.get(&keys::avatar_upload(UID)))
            .unwrap()
            .is_none()
    );
    // A retried confirmation is answered from the profile.
    assert_eq!(
        check(&store, &env, &up.id).unwrap(),
        Confirmation::Done(profile)
    );

    let cleared = block_on(remove(&store, UID)).unwrap();
    assert_eq!(cleared.avatar_key, None);
    assert_eq!(check(&store, &env, &up.id).unwrap_err().status, 404);
}

#[test]
fn an_old_slot_cannot_be_confirmed() {
    let (store, env) = (MemoryStore::new(), FixedEnv::default());
    let up = ask(&store, &env, None);
    env.advance_ms(CONFIRM_WITHIN_MS + 1);
    let e = check(&store, &env, &up.id).unwrap_err();
    assert_eq!((e.status, e.code), (409, "avatar_upload_expired"));
}

#[test]
fn views_carry_a_signed_link_only_with_an_avatar() {
    let user = User {
        id: UID.into(),
        handle: "ana".into(),
        display_name: "Ana".into(),
        password_hash: String::new(),
        created_at_ms: 0,
        invite_code: "X".into(),
    };
    let mut profile = crate::accounts::Profile::default();
    let mut bare = me_view(&user, &profile, 0);
    bare.sign_avatar(&Signer).unwrap();
    let json = serde_json::to_value(&bare).unwrap();
    assert!(json.get("avatar_url").is_none() && json.get("avatar_key").is_none());

    profile.avatar_key = Some(format!("avatars/{UID}/x.jpg"));
    let mut me = me_view(&user, &profile, 0);
    me.sign_avatar(&Signer).unwrap();
    let json = serde_json::to_value(&me).unwrap();
    assert_eq!(
        json["avatar_url"],
        format!("https://media.test/avatars/{UID}/x.jpg?sig=1")
    );
    assert!(json.get("avatar_key").is_none(), "the key stays inside");

    let mut public = ProfileView {
        id: UID.into(),
        handle: "ana".into(),
        display_name: "Ana".into(),
        bio: String::new(),
        created_at: String::new(),
        followers_count: 0,
        following_count: 0,
        avatar_url: None,
        avatar_key: profile.avatar_key.clone(),
        relation: None,
    };
    public.sign_avatar(&Signer).unwrap();
    assert!(public.avatar_url.unwrap().contains("x.jpg"));
}
