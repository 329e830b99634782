//! Clock, randomness and the HTTP client for the job shell.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The folder of the Python package `module` that `python3` imports, if any
/// (models and libraries that come from PyPI wheels).
pub(crate) fn python_package_dir(module: &str) -> Option<std::path::PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            &format!("import {module}, os; print(os.path.dirname({module}.__file__))"),
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(String::from_utf8(out.stdout).ok()?.trim().into())
}

/// An HTTP/1 client for http:// and https:// URLs.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client trusting the system's roots when `https`; a plain-http peer (the
/// local stack, a test server) needs none, so a host without CA
/// certificates still works. TLS is rustls on ring, as the AWS SDKs use here.
pub(crate) fn http_client(https: bool) -> Result<HttpClient, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    if https {
        // Unreadable certificates are skipped: one bad file must not stop the
        // worker, and a missing trust store surfaces as a TLS error per call.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Unix time in milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `bytes` random bytes from the OS, as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS generator only fails on a broken system; a nonce or lease
    // token must never be predictable, so refuse to go on rather than fall back.
    getrandom::fill(&mut buf).expect("the OS random number generator failed");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_hex_is_fresh_and_sized() {
        let (a, b) = (super::random_hex(16), super::random_hex(16));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(super::now_ms() > 1_600_000_000_000);
    }
}
