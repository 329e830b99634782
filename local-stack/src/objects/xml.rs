//! The few XML documents S3 answers with.

use std::fmt::Write;

use dreamreel_sigv4::time::UtcTime;

use super::ListQuery;
use super::list::ListPage;

const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Escapes text for element content.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<Error>` body: code, message, the resource and the request id.
pub(crate) fn error(code: &str, message: &str, resource: &str, request_id: &str) -> String {
    format!(
        "{DECL}<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{}</RequestId></Error>",
        escape(code),
        escape(message),
        escape(resource),
        escape(request_id)
    )
}

/// ISO 8601 with milliseconds, S3's `LastModified` form.
pub(crate) fn iso8601(unix_ms: u64) -> String {
    UtcTime::from_unix(unix_ms / 1000).iso8601_millis((unix_ms % 1000) as u32)
}

/// ListObjectsV2 result. With `url_encode` (`encoding-type=url`) keys and
/// prefixes are percent-encoded, as S3 does for keys XML cannot carry.
pub(crate) fn list_v2(bucket: &str, q: &ListQuery, page: &ListPage, url_encode: bool) -> String {
    let enc = |s: &str| {
        if url_encode {
            dreamreel_sigv4::uri_encode(s, true)
        } else {
            escape(s)
        }
    };
    let mut x = format!("{DECL}<ListBucketResult xmlns=\"{NS}\">");
    let _ = write!(
        x,
        "<Name>{}</Name><Prefix>{}</Prefix>",
        escape(bucket),
        enc(&q.prefix)
    );
    if let Some(d) = &q.delimiter {
        let _ = write!(x, "<Delimiter>{}</Delimiter>", enc(d));
    }
    if url_encode {
        x.push_str("<EncodingType>url</EncodingType>");
    }
    let _ = write!(
        x,
        "<KeyCount>{}</KeyCount><MaxKeys>{}</MaxKeys><IsTruncated>{}</IsTruncated>",
        page.objects.len() + page.common_prefixes.len(),
        q.max_keys,
        page.is_truncated
    );
    if let Some(t) = &q.continuation_token {
        let _ = write!(x, "<ContinuationToken>{}</ContinuationToken>", escape(t));
    }
    if let Some(t) = &page.next_continuation_token {
        let _ = write!(
            x,
            "<NextContinuationToken>{}</NextContinuationToken>",
            escape(t)
        );
    }
    if let Some(s) = &q.start_after {
        let _ = write!(x, "<StartAfter>{}</StartAfter>", enc(s));
    }
    for o in &page.objects {
        let _ = write!(
            x,
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            enc(&o.key),
            iso8601(o.last_modified_ms),
            escape(&o.etag),
            o.size
        );
    }
    for p in &page.common_prefixes {
        let _ = write!(
            x,
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            enc(p)
        );
    }
    x.push_str("</ListBucketResult>");
    x
}

/// ListBuckets result.
pub(crate) fn list_buckets(buckets: &[String], owner: &str) -> String {
    let mut x = format!(
        "{DECL}<ListAllMyBucketsResult xmlns=\"{NS}\"><Owner><ID>{0}</ID><DisplayName>{0}</DisplayName></Owner><Buckets>",
        escape(owner)
    );
    for b in buckets {
        let _ = write!(
            x,
            "<Bucket><Name>{}</Name><CreationDate>1970-01-01T00:00:00.000Z</CreationDate></Bucket>",
            escape(b)
        );
    }
    x.push_str("</Buckets></ListAllMyBucketsResult>");
    x
}

/// GetBucketLocation result.
pub(crate) fn location(region: &str) -> String {
    // S3 reports us-east-1 as an empty constraint.
    let region = if region == "us-east-1" { "" } else { region };
    format!(
        "{DECL}<LocationConstraint xmlns=\"{NS}\">{}</LocationConstraint>",
        escape(region)
    )
}

/// Used by tests to check documents without an XML parser.
#[cfg(test)]
pub(crate) fn texts<'a>(doc: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    doc.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once(close.as_str()).map(|(t, _)| t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
        let doc = error("NoSuchKey", "no <such> key", "/b/k&1", "RID");
        assert_eq!(texts(&doc, "Code"), ["NoSuchKey"]);
        assert_eq!(texts(&doc, "Resource"), ["/b/k&amp;1"]);
    }
}
