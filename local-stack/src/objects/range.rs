//! `Range: bytes=...` on GetObject, the single-range forms S3 supports.

/// What a `Range` header asks of an object of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteRange {
    /// No usable range: send the whole object (200).
    Full,
    /// Bytes `start..=end` (206).
    Partial { start: u64, end: u64 },
    /// A well-formed range that misses the object (416).
    Unsatisfiable,
}

/// Resolves `header` against `size`. Syntax S3 would not honour (other
/// units, several ranges, `a-b` with `b < a`) is ignored, as RFC 9110 allows.
pub(crate) fn resolve(header: Option<&str>, size: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return ByteRange::Full;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let number = |s: &str| {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<u64>().ok()
        } else {
            None
        }
    };
    match (first, last) {
        ("", suffix) => match number(suffix) {
            None => ByteRange::Full,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if size == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Partial {
                start: size.saturating_sub(n),
                end: size - 1,
            },
        },
        (start, "") => match number(start) {
            None => ByteRange::Full,
            Some(s) if s >= size => ByteRange::Unsatisfiable,
            Some(s) => ByteRange::Partial {
                start: s,
                end: size - 1,
            },
        },
        (start, end) => match (number(start), number(end)) {
            (Some(s), Some(e)) if s <= e => {
                if s >= size {
                    ByteRange::Unsatisfiable
                } else {
                    ByteRange::Partial {
                        start: s,
                        end: e.min(size - 1),
                    }
                }
            }
            _ => ByteRange::Full,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange::*;
    use super::*;

    #[test]
    fn forms_s3_honours() {
        let r = |h: &str, size| resolve(Some(h), size);
        assert_eq!(r("bytes=0-9", 100), Partial { start: 0, end: 9 });
        assert_eq!(r("bytes=90-200", 100), Partial { start: 90, end: 99 });
        assert_eq!(r("bytes=10-", 100), Partial { start: 10, end: 99 });
        assert_eq!(r("bytes=-10", 100), Partial { start: 90, end: 99 });
        assert_eq!(r("bytes=-500", 100), Partial { start: 0, end: 99 });
        assert_eq!(r("bytes=100-", 100), Unsatisfiable);
        assert_eq!(r("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(r("bytes=-0", 100), Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Unsatisfiable);
        assert_eq!(r("bytes=-1", 0), Unsatisfiable);
    }

    #[test]
    fn ignores_what_it_does_not_understand() {
        assert_eq!(resolve(None, 10), Full);
        for h in [
            "items=0-1",
            "bytes=5-2",
            "bytes=0-1,3-4",
            "bytes=a-b",
            "bytes=",
            "bytes=-",
        ] {
            assert_eq!(resolve(Some(h), 10), Full, "{h}");
        }
    }
}
