//! `multipart/form-data` bodies (RFC 7578) for the create call: text
//! fields, and at most one file part.

/// A file part: field name, file name, content type, bytes.
pub struct FilePart<'a> {
    /// The form field (`input_reference`).
    pub name: &'a str,
    /// The file name the provider sees.
    pub filename: &'a str,
    /// Its media type (`image/png`).
    pub content_type: &'a str,
    /// The file.
    pub body: &'a [u8],
}

/// The `Content-Type` header and body of a form with `fields`, then `file`.
/// The boundary is random and, if it happens to occur in the file, drawn
/// again: a body must never contain its own delimiter.
pub fn form(fields: &[(&str, &str)], file: Option<FilePart<'_>>) -> (String, Vec<u8>) {
    let boundary = loop {
        let candidate = format!("dreamreel-{}", crate::random_hex(12));
        let clash = file.as_ref().is_some_and(|f| {
            f.body
                .windows(candidate.len())
                .any(|w| w == candidate.as_bytes())
        });
        if !clash {
            break candidate;
        }
    };
    let mut body = Vec::with_capacity(file.as_ref().map_or(0, |f| f.body.len()) + 1024);
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some(file) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                file.name, file.filename, file.content_type
            )
            .as_bytes(),
        );
        body.extend_from_slice(file.body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_then_the_file_between_boundaries() {
        let png = [0x89, b'P', b'N', b'G', 0, 0xff, b'\r', b'\n'];
        let file = FilePart {
            name: "input_reference",
            filename: "reference.png",
            content_type: "image/png",
            body: &png,
        };
        let (content_type, body) = form(&[("model", "sora-2"), ("size", "720x1280")], Some(file));
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let mut expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nsora-2\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"size\"\r\n\r\n720x1280\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"input_reference\"; \
             filename=\"reference.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        expected.extend_from_slice(&png);
        expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert_eq!(body, expected);

        let (_, text_only) = form(&[("prompt", "a cat")], None);
        assert!(!text_only.windows(8).any(|w| w == b"filename"));
    }
}
