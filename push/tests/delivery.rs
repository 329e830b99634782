//! Delivery against a local HTTPS server standing in for APNs and a Web Push
//! service: what goes on the wire (path, headers, signed tokens, encrypted
//! payload), dead tokens removed, muted kinds never sent, failures retried.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dreamreel_core::MemoryStore;
use dreamreel_core::notifications::{
    Actor, DeviceRequest, Kind, NewNotification, SettingsUpdate, Subject, Subscription,
    SubscriptionKeys, list_devices, notify, register_device, update_settings,
};
use dreamreel_core::testing::FixedEnv;
use dreamreel_push::{Apns, ApnsConfig, Dispatcher, Es256Key, Vapid, WebPush};
use p256::SecretKey;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::Value;

use dreamreel_push::testing::{self, Captured, PushServer};

const OWNER: &str = "01OWNER0000000000000000000";
const APNS_TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn key(seed: u8) -> (SecretKey, Es256Key) {
    let secret = SecretKey::from_slice(&[seed; 32]).unwrap();
    let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
    (secret, Es256Key::from_pkcs8_pem(&pem).unwrap())
}

fn apns(server: &PushServer) -> Apns {
    Apns::new(ApnsConfig {
        endpoint: server.url(),
        team_id: "TEAM123456".into(),
        key_id: "KEY1234567".into(),
        topic: "app.dreamreel.ios".into(),
        key: key(7).1,
        extra_ca_pem: Some(server.ca_pem.clone()),
    })
    .unwrap()
}

async fn register_phone(store: &MemoryStore, env: &FixedEnv) {
    let req = DeviceRequest {
        platform: "apns".into(),
        token: Some(APNS_TOKEN.into()),
        subscription: None,
        utc_offset_minutes: None,
    };
    register_device(store, env, OWNER, req).await.unwrap();
}

fn event(kind: Kind, fan: u32) -> NewNotification {
    NewNotification {
        kind,
        actor: Some(Actor {
            id: format!("01FAN{fan:021}"),
            handle: format!("fan{fan}"),
            deleted: false,
        }),
        subject: Subject {
            video_id: Some("01VIDEO0000000000000000000".into()),
            comment_id: (kind == Kind::Comment).then(|| "01COMMENT00000000000000000".into()),
            draft_id: None,
        },
        text: (kind == Kind::Comment).then(|| "so good".into()),
    }
}

/// Splits a compact JWT, checks its ES256 signature against `public_key`
/// (SEC1 bytes) and returns its header and claims.
fn verified_jwt(token: &str, public_key: &[u8]) -> (Value, Value) {
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {token}");
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    VerifyingKey::from_sec1_bytes(public_key)
        .unwrap()
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the token is signed by the configured key");
    let decode = |s: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (decode(parts[0]), decode(parts[1]))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn apns_gets_the_notification_over_http2_with_a_signed_provider_token() {
    let server = PushServer::start().await;
    let dispatcher = Dispatcher::new(MemoryStore::new(), Some(apns(&server)), None);
    let store = dispatcher.store();
    let env = FixedEnv::default();
    register_phone(store, &env).await;
    let like = notify(store, &env, OWNER, event(Kind::Like, 1))
        .await
        .unwrap()
        .unwrap();

    let report = dispatcher.run_once().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");

    let [sent]: [Captured; 1] = server.take().try_into().unwrap();
    assert_eq!(sent.version, http::Version::HTTP_2);
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, format!("/3/device/{APNS_TOKEN}"));
    assert_eq!(sent.header("apns-topic"), "app.dreamreel.ios");
    assert_eq!(sent.header("apns-push-type"), "alert");
    assert_eq!(sent.header("apns-collapse-id"), like.id);
    let token = sent
        .header("authorization")
        .strip_prefix("bearer ")
        .unwrap();
    let (header, claims) = verified_jwt(token, &key(7).0.public_key().to_sec1_bytes());
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], "KEY1234567");
    assert_eq!(claims["iss"], "TEAM123456");
    assert!(claims["iat"].as_u64().unwrap().abs_diff(now_secs()) < 120);
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["aps"]["alert"]["body"], "fan1 liked your video.");
    assert_eq!(body["kind"], "like");
    assert_eq!(body["notification_id"], like.id.as_str());

    // Delivered once: the next round finds nothing to send.
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 0);
    assert!(server.take().is_empty());
}

#[tokio::test]
async fn a_token_apns_calls_unregistered_is_forgotten() {
    let server = PushServer::start().await;
    let dispatcher = Dispatcher::new(MemoryStore::new(), Some(apns(&server)), None);
    let store = dispatcher.store();
    server.reply(
        410,
        r#"{"reason":"Unregistered","timestamp":1700000000000}"#,
    );
    let env = FixedEnv::default();
    register_phone(store, &env).await;
    notify(store, &env, OWNER, event(Kind::Like, 1))
        .await
        .unwrap();

    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.sent, report.removed_devices), (0, 1));
    assert!(list_devices(store, OWNER).await.unwrap().is_empty());

    // Nothing goes to the dead token again.
    notify(store, &env, OWNER, event(Kind::Comment, 2))
        .await
        .unwrap();
    dispatcher.run_once().await.unwrap();
    assert_eq!(server.take().len(), 1);
}

#[tokio::test]
async fn muted_kinds_reach_the_inbox_but_not_the_phone() {
    let server = PushServer::start().await;
    let dispatcher = Dispatcher::new(MemoryStore::new(), Some(apns(&server)), None);
    let store = dispatcher.store();
    let env = FixedEnv::default();
    register_phone(store, &env).await;
    let mute = SettingsUpdate {
        muted: Some(vec!["like".into()]),
        push: None,
    };
    update_settings(store, OWNER, mute).await.unwrap();
    notify(store, &env, OWNER, event(Kind::Like, 1))
        .await
        .unwrap();
    notify(store, &env, OWNER, event(Kind::Comment, 2))
        .await
        .unwrap();

    let report = dispatcher.run_once().await.unwrap();
    assert_eq!(report.sent, 1);
    let [sent]: [Captured; 1] = server.take().try_into().unwrap();
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["kind"], "comment");
}

#[tokio::test]
async fn a_busy_service_is_tried_again_and_the_push_arrives_once() {
    let server = PushServer::start().await;
    let dispatcher = Dispatcher::new(MemoryStore::new(), Some(apns(&server)), None);
    let store = dispatcher.store();
    server.reply(503, r#"{"reason":"ServiceUnavailable"}"#);
    let env = FixedEnv::default();
    register_phone(store, &env).await;
    notify(store, &env, OWNER, event(Kind::Comment, 1))
        .await
        .unwrap();

    let first = dispatcher.run_once().await.unwrap();
    assert_eq!((first.sent, first.retrying), (0, 1));
    let second = dispatcher.run_once().await.unwrap();
    assert_eq!((second.sent, second.retrying), (1, 0));
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 0);
    assert_eq!(server.take().len(), 2, "one refused try, one delivery");
}

#[tokio::test]
async fn web_push_is_encrypted_for_the_browser_and_signed_with_vapid() {
    let server = PushServer::start().await;
    let (vapid_secret, vapid_key) = key(11);
    let vapid = Vapid {
        key: vapid_key,
        subject: "mailto:ops@dreamreel.test".into(),
    };
    let webpush = WebPush::new(vapid, Some(&server.ca_pem)).unwrap();
    let dispatcher = Dispatcher::new(MemoryStore::new(), None, Some(webpush));
    let store = dispatcher.store();
    let env = FixedEnv::default();
    let browser = SecretKey::from_slice(&[9u8; 32]).unwrap();
    let auth = [5u8; 16];
    let endpoint = format!("{}/wpush/v2/subscription-1", server.url());
    let req = DeviceRequest {
        platform: "webpush".into(),
        token: None,
        subscription: Some(Subscription {
            endpoint: endpoint.clone(),
            keys: SubscriptionKeys {
                p256dh: URL_SAFE_NO_PAD.encode(browser.public_key().to_sec1_bytes()),
                auth: URL_SAFE_NO_PAD.encode(auth),
            },
            expiration_time: None,
        }),
        utc_offset_minutes: None,
    };
    register_device(store, &env, OWNER, req).await.unwrap();
    notify(store, &env, OWNER, event(Kind::Comment, 3))
        .await
        .unwrap();

    let report = dispatcher.run_once().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");

    let [sent]: [Captured; 1] = server.take().try_into().unwrap();
    assert_eq!(sent.path, "/wpush/v2/subscription-1");
    assert_eq!(sent.header("content-encoding"), "aes128gcm");
    assert!(sent.header("ttl").parse::<u64>().unwrap() > 0);
    let vapid_public = vapid_secret.public_key().to_sec1_bytes();
    let auth_header = sent.header("authorization");
    let (t, k) = auth_header
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .expect("vapid t=..., k=...");
    assert_eq!(URL_SAFE_NO_PAD.decode(k).unwrap(), vapid_public.to_vec());
    let (_, claims) = verified_jwt(t, &vapid_public);
    assert_eq!(claims["aud"], server.url());
    assert_eq!(claims["sub"], "mailto:ops@dreamreel.test");
    assert!(claims["exp"].as_u64().unwrap() > now_secs());

    let plain = testing::decrypt(&sent.body, &browser, &auth);
    let shown: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(shown["body"], "fan3 commented on your video.\nso good");
    assert_eq!(shown["kind"], "comment");
}
