use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::ContainerCredentials;

/// A one-route credentials endpoint that counts its calls, answers each
/// with `answer(call number)` and records the Authorization headers.
struct Endpoint {
    url: String,
    calls: Arc<AtomicUsize>,
    auth: Arc<Mutex<Vec<Option<String>>>>,
}

async fn endpoint(answer: fn(usize) -> (u16, String)) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v2/credentials/abc",
        listener.local_addr().unwrap()
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let auth = Arc::new(Mutex::new(Vec::new()));
    let (c, a) = (calls.clone(), auth.clone());
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let head = String::from_utf8_lossy(&head).to_lowercase();
            let token = head
                .lines()
                .find_map(|l| l.strip_prefix("authorization: "))
                .map(str::to_owned);
            a.lock().unwrap().push(token);
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            let (status, body) = answer(n);
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await.unwrap();
        }
    });
    Endpoint { url, calls, auth }
}

fn rfc3339(t: SystemTime) -> String {
    DateTime::from(t).fmt(DateTimeFormat::DateTime).unwrap()
}

fn body(n: usize, expires_in: Duration) -> String {
    format!(
        r#"{{"RoleArn":"arn:aws:iam::1:role/r","AccessKeyId":"AKID{n}","SecretAccessKey":"secret{n}","Token":"token{n}","Expiration":"{}"}}"#,
        rfc3339(SystemTime::now() + expires_in)
    )
}

#[tokio::test]
async fn fetches_caches_and_refreshes_before_expiry() {
    // The first answer lasts an hour; the second is inside the refresh
    // margin already, so every use fetches again; the third lasts.
    let ep = endpoint(|n| match n {
        1 => (200, body(n, Duration::from_secs(3600))),
        2 => (200, body(n, Duration::from_secs(60))),
        _ => (200, body(n, Duration::from_secs(3600))),
    })
    .await;
    let provider = ContainerCredentials::with_refresh_margin(
        &ep.url,
        Some("secret-token".into()),
        Duration::from_secs(120),
    )
    .unwrap();

    let first = provider.provide_credentials().await.unwrap();
    assert_eq!(first.access_key_id(), "AKID1");
    assert_eq!(first.secret_access_key(), "secret1");
    assert_eq!(first.session_token(), Some("token1"));
    assert!(first.expiry().unwrap() > SystemTime::now() + Duration::from_secs(3000));
    // Cached: a clone shares the cache, and nothing is fetched.
    let again = provider.clone().provide_credentials().await.unwrap();
    assert_eq!(again.access_key_id(), "AKID1");
    assert_eq!(ep.calls.load(Ordering::SeqCst), 1);

    // Expiring within the margin: fetched again on the next use.
    *provider.inner.cached.lock().await = Some(aws_credential_types::Credentials::new(
        "old",
        "old",
        None,
        Some(SystemTime::now() + Duration::from_secs(30)),
        "test",
    ));
    let second = provider.provide_credentials().await.unwrap();
    assert_eq!(second.access_key_id(), "AKID2");
    let third = provider.provide_credentials().await.unwrap();
    assert_eq!(third.access_key_id(), "AKID3");
    let fourth = provider.provide_credentials().await.unwrap();
    assert_eq!(fourth.access_key_id(), "AKID3");
    assert_eq!(ep.calls.load(Ordering::SeqCst), 3);
    let auth = ep.auth.lock().unwrap().clone();
    assert!(
        auth.iter().all(|a| a.as_deref() == Some("secret-token")),
        "{auth:?}"
    );
}

#[tokio::test]
async fn endpoint_errors_are_credential_errors_and_not_cached() {
    let ep = endpoint(|n| match n {
        1 => (500, "{\"message\":\"down\"}".into()),
        2 => (200, "not json".into()),
        _ => (200, body(n, Duration::from_secs(3600))),
    })
    .await;
    let provider = ContainerCredentials::new(&ep.url, None).unwrap();
    let e = provider.provide_credentials().await.unwrap_err();
    assert!(format!("{e:?}").contains("HTTP 500"), "{e:?}");
    let e = provider.provide_credentials().await.unwrap_err();
    assert!(format!("{e:?}").contains("unreadable"), "{e:?}");
    assert_eq!(
        provider
            .provide_credentials()
            .await
            .unwrap()
            .access_key_id(),
        "AKID3"
    );
    assert_eq!(ep.auth.lock().unwrap()[0], None);
}

#[test]
fn bad_uris_are_config_errors() {
    assert!(ContainerCredentials::new("ftp://x/creds", None).is_err());
    assert!(ContainerCredentials::new("not a uri", None).is_err());
}
