//! ListObjectsV2 paging over a sorted listing.

use dreamreel_sigv4::hex;

use super::{ObjectError, ObjectInfo};

/// S3's cap on keys per page.
pub const MAX_KEYS: usize = 1000;

/// ListObjectsV2 parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Groups keys sharing `prefix` + anything + `delimiter` into one common prefix.
    pub delimiter: Option<String>,
    /// Page size, at most [`MAX_KEYS`].
    pub max_keys: usize,
    /// Start listing after this key.
    pub start_after: Option<String>,
    /// Token from a previous page's `next_continuation_token`.
    pub continuation_token: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            prefix: String::new(),
            delimiter: None,
            max_keys: MAX_KEYS,
            start_after: None,
            continuation_token: None,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects on this page, in key order.
    pub objects: Vec<ObjectInfo>,
    /// Common prefixes (with a delimiter), in order.
    pub common_prefixes: Vec<String>,
    /// Whether more results follow.
    pub is_truncated: bool,
    /// Pass as `continuation_token` for the next page.
    pub next_continuation_token: Option<String>,
}

/// Cuts one page out of `entries` (sorted by key).
pub(crate) fn page(entries: &[ObjectInfo], q: &ListQuery) -> Result<ListPage, ObjectError> {
    let mut out = ListPage::default();
    if q.max_keys == 0 {
        return Ok(out);
    }
    // A token remembers the last key or common prefix returned; resuming
    // after a common prefix must skip every key under it.
    let (marker, marker_is_prefix) = match &q.continuation_token {
        Some(token) => decode_token(token)?,
        None => (q.start_after.clone().unwrap_or_default(), false),
    };
    let delimiter = q.delimiter.as_deref().filter(|d| !d.is_empty());
    let mut last: Option<(bool, &str)> = None;
    let mut count = 0;
    for info in entries.iter().filter(|e| e.key.starts_with(&q.prefix)) {
        let key = info.key.as_str();
        if !marker.is_empty()
            && (key <= marker.as_str() || (marker_is_prefix && key.starts_with(&marker)))
        {
            continue;
        }
        let common = delimiter.and_then(|d| {
            key[q.prefix.len()..]
                .find(d)
                .map(|i| &key[..q.prefix.len() + i + d.len()])
        });
        if let Some(p) = common
            && out.common_prefixes.last().map(String::as_str) == Some(p)
        {
            continue;
        }
        if count == q.max_keys.min(MAX_KEYS) {
            out.is_truncated = true;
            out.next_continuation_token =
                last.map(|(is_prefix, value)| encode_token(value, is_prefix));
            break;
        }
        count += 1;
        match common {
            Some(p) => {
                out.common_prefixes.push(p.to_owned());
                last = Some((true, p));
            }
            None => {
                out.objects.push(info.clone());
                last = Some((false, key));
            }
        }
    }
    Ok(out)
}

/// Opaque to clients: hex of a kind byte and the marker.
fn encode_token(value: &str, is_prefix: bool) -> String {
    let kind = if is_prefix { "p" } else { "k" };
    hex(format!("{kind}{value}").as_bytes())
}

fn decode_token(token: &str) -> Result<(String, bool), ObjectError> {
    let bad = || ObjectError::InvalidArgument("the continuation token is not valid".into());
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    match text.split_at_checked(1) {
        Some(("k", marker)) => Ok((marker.to_owned(), false)),
        Some(("p", marker)) => Ok((marker.to_owned(), true)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(keys: &[&str]) -> Vec<ObjectInfo> {
        keys.iter()
            .map(|k| ObjectInfo {
                key: (*k).to_owned(),
                size: 0,
                etag: String::new(),
                last_modified_ms: 0,
                content_type: String::new(),
                headers: Default::default(),
                metadata: Default::default(),
            })
            .collect()
    }

    fn keys(page: &ListPage) -> Vec<&str> {
        page.objects.iter().map(|o| o.key.as_str()).collect()
    }

    #[test]
    fn pages_through_a_prefix() {
        let all = entries(&["a", "jobs/1", "jobs/2", "jobs/3", "media/x"]);
        let mut q = ListQuery {
            prefix: "jobs/".into(),
            max_keys: 2,
            ..ListQuery::default()
        };
        let first = page(&all, &q).unwrap();
        assert_eq!(keys(&first), ["jobs/1", "jobs/2"]);
        assert!(first.is_truncated);
        q.continuation_token = first.next_continuation_token;
        let second = page(&all, &q).unwrap();
        assert_eq!(keys(&second), ["jobs/3"]);
        assert!(!second.is_truncated);
        assert_eq!(second.next_continuation_token, None);
    }

    #[test]
    fn delimiter_groups_and_resumes_after_a_prefix() {
        let all = entries(&[
            "a.txt",
            "media/1/v.mp4",
            "media/1/t.jpg",
            "media/2/v.mp4",
            "z",
        ]);
        let mut q = ListQuery {
            delimiter: Some("/".into()),
            max_keys: 2,
            ..ListQuery::default()
        };
        let first = page(&all, &q).unwrap();
        assert_eq!(keys(&first), ["a.txt"]);
        assert_eq!(first.common_prefixes, ["media/"]);
        q.continuation_token = first.next_continuation_token;
        let second = page(&all, &q).unwrap();
        assert_eq!(keys(&second), ["z"]);
        assert!(second.common_prefixes.is_empty());

        let nested = ListQuery {
            prefix: "media/".into(),
            delimiter: Some("/".into()),
            ..ListQuery::default()
        };
        assert_eq!(
            page(&all, &nested).unwrap().common_prefixes,
            ["media/1/", "media/2/"]
        );
    }

    #[test]
    fn start_after_and_bad_tokens() {
        let all = entries(&["a", "b", "c"]);
        let q = ListQuery {
            start_after: Some("a".into()),
            ..ListQuery::default()
        };
        assert_eq!(keys(&page(&all, &q).unwrap()), ["b", "c"]);
        let bad = ListQuery {
            continuation_token: Some("zz".into()),
            ..ListQuery::default()
        };
        assert!(matches!(
            page(&all, &bad),
            Err(ObjectError::InvalidArgument(_))
        ));
        let zero = ListQuery {
            max_keys: 0,
            ..ListQuery::default()
        };
        assert_eq!(page(&all, &zero).unwrap(), ListPage::default());
    }
}
