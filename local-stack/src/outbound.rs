//! Outbound HTTP from components, limited to the manifest's `allowed_outbound_hosts`.

use anyhow::{Context, bail};

/// One `scheme://host[:port]` pattern; `*` matches any scheme, host or port,
/// and `*.example.com` any subdomain.
#[derive(Debug, Clone, PartialEq)]
struct HostPattern {
    scheme: String,
    host: String,
    port: Option<String>,
}

/// The destinations one component may call.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    patterns: Vec<HostPattern>,
}

impl OutboundPolicy {
    /// Parses the manifest's patterns, after their `{{ variable }}` templates were expanded.
    pub fn new(patterns: &[String]) -> anyhow::Result<Self> {
        let patterns = patterns
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| parse(p).with_context(|| format!("allowed_outbound_hosts entry {p:?}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { patterns })
    }

    /// Whether a request to `scheme://host:port` is allowed.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let port = port.to_string();
        self.patterns.iter().any(|p| {
            (p.scheme == "*" || p.scheme.eq_ignore_ascii_case(scheme))
                && host_matches(&p.host, host)
                && match &p.port {
                    None => port == default_port(scheme),
                    Some(p) => p == "*" || *p == port,
                }
        })
    }
}

fn parse(pattern: &str) -> anyhow::Result<HostPattern> {
    let (scheme, rest) = pattern
        .split_once("://")
        .context("must look like scheme://host[:port]")?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        bail!("must name a host and no path");
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
            (host.to_owned(), Some(port.to_owned()))
        }
        _ => (rest.to_owned(), None),
    };
    if let Some(p) = &port
        && p != "*"
        && p.parse::<u16>().is_err()
    {
        bail!("bad port {p}");
    }
    Ok(HostPattern {
        scheme: scheme.to_ascii_lowercase(),
        host: host.to_ascii_lowercase(),
        port,
    })
}

fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        _ if pattern == "*" => true,
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => pattern == host,
    }
}

fn default_port(scheme: &str) -> &'static str {
    if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else {
        "80"
    }
}

/// wasi:http hooks that enforce an [`OutboundPolicy`] before sending.
pub struct OutboundHooks {
    policy: std::sync::Arc<OutboundPolicy>,
}

impl OutboundHooks {
    /// Hooks enforcing `policy`.
    pub fn new(policy: std::sync::Arc<OutboundPolicy>) -> Self {
        Self { policy }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                ),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl wasmtime_wasi_http::WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        _ = fut;
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_owned();
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        if !self.policy.allows(&scheme, &host, port) {
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(p: &[&str]) -> OutboundPolicy {
        OutboundPolicy::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exact_host_and_default_port() {
        let p = policy(&["https://api.example.com"]);
        assert!(p.allows("https", "api.example.com", 443));
        assert!(!p.allows("https", "api.example.com", 8443));
        assert!(!p.allows("http", "api.example.com", 80));
        assert!(!p.allows("https", "evil.com", 443));
    }

    #[test]
    fn wildcards_for_port_host_and_subdomain() {
        let p = policy(&["http://127.0.0.1:*", "https://*.s3.amazonaws.com"]);
        assert!(p.allows("http", "127.0.0.1", 9000));
        assert!(p.allows("https", "bucket.s3.amazonaws.com", 443));
        assert!(!p.allows("https", "s3.amazonaws.com.evil.com", 443));
        assert!(policy(&["*://*:*"]).allows("http", "anything", 1));
    }

    #[test]
    fn nothing_declared_allows_nothing_and_bad_patterns_are_refused() {
        assert!(!policy(&[]).allows("https", "example.com", 443));
        assert!(OutboundPolicy::new(&["example.com".into()]).is_err());
        assert!(OutboundPolicy::new(&["https://a.com/path".into()]).is_err());
        assert!(OutboundPolicy::new(&["https://a.com:99999".into()]).is_err());
    }
}
