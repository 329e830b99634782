//! For tests (feature `test-server`): a local HTTPS server standing in for APNs and a Web Push service: HTTP/2
//! or HTTP/1.1 by ALPN, a fresh self-signed certificate the client is told
//! to trust, every request recorded, replies scripted by the test.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use bytes::Bytes;
use hkdf::Hkdf;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use p256::{PublicKey, SecretKey};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One request as the server saw it.
#[derive(Debug)]
pub struct Captured {
    /// HTTP/2 or HTTP/1.1.
    pub version: http::Version,
    /// `POST`.
    pub method: String,
    /// The path (no query).
    pub path: String,
    /// Every header.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Captured {
    /// A header's value; panics when it is missing, naming it.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }
}

type Shared<T> = Arc<Mutex<T>>;

/// The running server; stops with the test's runtime.
pub struct PushServer {
    addr: SocketAddr,
    /// The certificate to trust, PEM.
    pub ca_pem: String,
    seen: Shared<Vec<Captured>>,
    replies: Shared<VecDeque<(u16, String)>>,
}

impl PushServer {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start() -> Self {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
        let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = PushServer {
            addr: listener.local_addr().unwrap(),
            ca_pem: cert.cert.pem(),
            seen: Shared::default(),
            replies: Shared::default(),
        };
        let (seen, replies) = (server.seen.clone(), server.replies.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen, replies) = (acceptor.clone(), seen.clone(), replies.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                    let service = service_fn(move |req| answer(req, seen.clone(), replies.clone()));
                    let io = TokioIo::new(tls);
                    let _ = if h2 {
                        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(io, service)
                            .await
                    } else {
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .await
                    };
                });
            }
        });
        server
    }

    /// `https://localhost:{port}`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Answers the next request with `status` and `body` (later ones get 200).
    pub fn reply(&self, status: u16, body: &str) {
        self.replies
            .lock()
            .unwrap()
            .push_back((status, body.to_owned()));
    }

    /// The requests seen since the last call.
    pub fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

async fn answer(
    req: http::Request<Incoming>,
    seen: Shared<Vec<Captured>>,
    replies: Shared<VecDeque<(u16, String)>>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    seen.lock().unwrap().push(Captured {
        version: parts.version,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    });
    let (status, body) = replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, String::new()));
    Ok(http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}

/// What the browser does with a Web Push body (RFC 8291 and RFC 8188,
/// one record), written from the RFCs independently of the sender.
pub fn decrypt(body: &[u8], browser: &SecretKey, auth: &[u8]) -> Vec<u8> {
    let salt = &body[..16];
    let key_len = body[20] as usize;
    let server_public = &body[21..21 + key_len];
    let sealed = &body[21 + key_len..];
    let server_key = PublicKey::from_sec1_bytes(server_public).unwrap();
    let shared = p256::ecdh::diffie_hellman(browser.to_nonzero_scalar(), server_key.as_affine());
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(&browser.public_key().to_sec1_bytes());
    info.extend_from_slice(server_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&info, &mut ikm)
        .unwrap();
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .unwrap();
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .unwrap();
    let mut record = Aes128Gcm::new_from_slice(&cek)
        .unwrap()
        .decrypt(Nonce::from_slice(&nonce), sealed)
        .expect("the body decrypts with the browser's keys");
    // Strip padding, then the last-record delimiter.
    while record.last() == Some(&0) {
        record.pop();
    }
    assert_eq!(record.pop(), Some(2), "one final record");
    record
}
