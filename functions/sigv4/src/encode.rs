//! Percent-encoding and hex exactly as SigV4 defines them.

use sha2::{Digest, Sha256};

/// Hex SHA-256 of an empty payload, what `x-amz-content-sha256` carries for
/// bodiless requests.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// SigV4's URI encoding: every byte but `A-Z a-z 0-9 - _ . ~` becomes `%XX`
/// (upper-case hex); `/` is kept only when `keep_slash` (object key paths).
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            push_escape(&mut out, b);
        }
    }
    out
}

/// Encodes a decoded S3 path (`/bucket/my key.mp4`) the way S3's canonical
/// URI does: each segment encoded once, `/` kept, no normalisation.
pub fn encode_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    uri_encode(path, true)
}

/// Decodes `%XX` escapes; `None` for a broken escape or bytes that are not
/// UTF-8. `+` stays `+`: SigV4 clients encode a space as `%20`.
pub fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    if !bytes.contains(&b'%') {
        return Some(input.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Lower-case hex, the form signatures and payload hashes take.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Parses lower-case hex of exactly `N` bytes.
pub(crate) fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 2 || b.iter().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
    }
    Some(out)
}

/// Hex SHA-256 of `data`, for `x-amz-content-sha256`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn push_escape(out: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(DIGITS[usize::from(b >> 4)] as char);
    out.push(DIGITS[usize::from(b & 0xf)] as char);
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_s3() {
        assert_eq!(encode_path("/test$file.text"), "/test%24file.text");
        assert_eq!(
            encode_path("/b/my photos/ünï+code~.jpg"),
            "/b/my%20photos/%C3%BCn%C3%AF%2Bcode~.jpg"
        );
        assert_eq!(encode_path(""), "/");
        assert_eq!(uri_encode("a/b=c&d", false), "a%2Fb%3Dc%26d");
    }

    #[test]
    fn decode_inverts_encode_and_rejects_garbage() {
        let key = "/b/my photos/ünï+code~.jpg";
        assert_eq!(percent_decode(&encode_path(key)).as_deref(), Some(key));
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(hex_array::<4>("0001abff"), Some(bytes));
        assert_eq!(hex_array::<4>("0001ABFF"), None);
        assert_eq!(hex_array::<4>("0001ab"), None);
        assert_eq!(sha256_hex(b""), EMPTY_PAYLOAD_SHA256);
    }
}
