//! The HTTPS client both services are reached through: HTTP/2 where the
//! server offers it (APNs requires it), the system's roots plus any extra
//! CA an operator (or a test) names.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::{ConfigError, SendError};

/// Largest response body read: services answer small JSON reasons.
const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// A response: status and (small) body.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Bytes,
}

/// An HTTPS client (HTTP/2 or 1.1 by ALPN).
#[derive(Clone)]
pub struct HttpsClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpsClient {
    /// A client trusting the system's roots and, if given, the PEM
    /// certificates in `extra_ca_pem`. With `http2_only` (APNs) it speaks
    /// HTTP/2 and nothing else.
    pub fn new(extra_ca_pem: Option<&str>, http2_only: bool) -> Result<Self, ConfigError> {
        let mut roots = rustls::RootCertStore::empty();
        if let Ok(found) = std::panic::catch_unwind(rustls_native_certs::load_native_certs) {
            for cert in found.certs {
                let _ = roots.add(cert);
            }
        }
        if let Some(pem) = extra_ca_pem {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| ConfigError(format!("extra CA: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| ConfigError(format!("extra CA: {e}")))?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only();
        let connector = if http2_only {
            builder.enable_http2().build()
        } else {
            builder.enable_all_versions().build()
        };
        let mut client = Client::builder(TokioExecutor::new());
        client.http2_only(http2_only);
        Ok(Self {
            http: client.build(connector),
        })
    }

    /// Sends `req`; network trouble is a [`SendError::Retry`].
    pub async fn send(&self, req: http::Request<Full<Bytes>>) -> Result<Reply, SendError> {
        let res = tokio::time::timeout(std::time::Duration::from_secs(30), self.http.request(req))
            .await
            .map_err(|_| SendError::Retry("the push service did not answer in time".into()))?
            .map_err(|e| SendError::Retry(format!("push service unreachable: {e}")))?;
        let status = res.status().as_u16();
        let body = Limited::new(res.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Ok(Reply { status, body })
    }
}
