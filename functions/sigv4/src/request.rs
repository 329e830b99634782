//! The parts of an HTTP request that SigV4 signs, and their canonical form.

use crate::encode::{encode_path, percent_decode, uri_encode};

/// The signed parts of a request. Path and query are held *decoded*; they are
/// encoded by SigV4's rules when signing, so a key like `my clip.mp4` is
/// written as-is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// HTTP method, upper case (`GET`, `PUT`, ...).
    pub method: String,
    /// Decoded absolute path, e.g. `/bucket/media/my clip.mp4`.
    pub path: String,
    /// Decoded query parameters, in any order; a flag like `?uploads` is `("uploads", "")`.
    pub query: Vec<(String, String)>,
    /// Header names (any case) and values; repeated names are allowed.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A request with no query and no headers.
    pub fn new(method: &str, path: &str) -> Self {
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            ..Request::default()
        }
    }

    /// Builds a request from what a server sees on the wire: the raw
    /// (still percent-encoded) path and query string.
    pub fn from_wire(
        method: &str,
        raw_path: &str,
        raw_query: Option<&str>,
        headers: Vec<(String, String)>,
    ) -> Option<Self> {
        Some(Request {
            method: method.to_owned(),
            path: percent_decode(raw_path)?,
            query: parse_query(raw_query.unwrap_or(""))?,
            headers,
        })
    }

    /// Adds a query parameter (decoded form).
    pub fn with_query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Every value of a header (case-insensitive), joined by `,` as SigV4
    /// canonicalises repeated headers; `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_all(v));
        let first = values.next()?;
        Some(values.fold(first, |acc, v| acc + "," + &v))
    }

    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path and query as they go on the wire, encoded by SigV4's rules
    /// so the server's canonical form matches the signer's.
    pub fn path_and_query(&self) -> String {
        let query = canonical_query(&self.query, None);
        let path = encode_path(&self.path);
        if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        }
    }
}

/// Splits a raw query string into decoded pairs; `None` on a broken escape.
pub fn parse_query(raw: &str) -> Option<Vec<(String, String)>> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            Some((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

/// The canonical query: each name and value encoded, sorted by name then
/// value, `skip` (the signature parameter when verifying) left out.
pub(crate) fn canonical_query(query: &[(String, String)], skip: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != skip)
        .map(|(n, v)| (uri_encode(n, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request, one field per line, as SigV4 hashes it.
pub(crate) fn canonical_request(
    req: &Request,
    query: &str,
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String, String> {
    let mut headers = String::new();
    for name in signed_headers {
        let value = req
            .header(name)
            .ok_or_else(|| format!("signed header `{name}` is not in the request"))?;
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&value);
        headers.push('\n');
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        encode_path(&req.path),
        query,
        headers,
        signed_headers.join(";"),
        payload_hash
    ))
}

/// Trims a header value and folds inner runs of spaces into one, as SigV4's
/// `Trimall` does.
fn trim_all(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_sorted_and_encoded() {
        let q = vec![
            ("prefix".to_owned(), "J k".to_owned()),
            ("max-keys".to_owned(), "2".to_owned()),
            ("lifecycle".to_owned(), String::new()),
        ];
        assert_eq!(
            canonical_query(&q, None),
            "lifecycle=&max-keys=2&prefix=J%20k"
        );
        assert_eq!(canonical_query(&q, Some("prefix")), "lifecycle=&max-keys=2");
    }

    #[test]
    fn wire_form_round_trips() {
        let req = Request::new("GET", "/b/a key+x.txt").with_query("list-type", "2");
        let pq = req.path_and_query();
        assert_eq!(pq, "/b/a%20key%2Bx.txt?list-type=2");
        let (path, query) = pq.split_once('?').unwrap();
        let back = Request::from_wire("GET", path, Some(query), vec![]).unwrap();
        assert_eq!(back, req);
        assert!(Request::from_wire("GET", "/b/%zz", None, vec![]).is_none());
    }

    #[test]
    fn repeated_headers_join_and_values_are_trimmed() {
        let req = Request::new("GET", "/")
            .with_header("X-Amz-Meta-A", "  one   two ")
            .with_header("x-amz-meta-a", "three");
        assert_eq!(req.header("x-amz-meta-a").as_deref(), Some("one two,three"));
        assert_eq!(req.header("missing"), None);
    }
}
