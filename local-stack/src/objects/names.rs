//! Which bucket names and object keys the store accepts.

use super::ObjectError;

/// S3's limit on a key's UTF-8 length.
pub const MAX_KEY_BYTES: usize = 1024;

/// S3's bucket naming rules: 3–63 of `a-z 0-9 . -`, starting and ending with
/// a letter or digit. They also keep bucket names safe as directory names.
pub fn check_bucket(name: &str) -> Result<(), ObjectError> {
    let b = name.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ObjectError::InvalidBucketName(name.to_owned()))
    }
}

/// Refuses keys that look like path tricks. Keys never become file names
/// (files are named by the key's hash), but a key that would escape a
/// directory elsewhere, such as in a sync to a real file system, is almost
/// certainly an attack or a bug.
pub fn check_key(key: &str) -> Result<(), ObjectError> {
    let reason = if key.is_empty() {
        "the key is empty"
    } else if key.len() > MAX_KEY_BYTES {
        return Err(ObjectError::KeyTooLong);
    } else if key.starts_with('/') {
        "the key is an absolute path"
    } else if key.contains('\0') {
        "the key contains NUL"
    } else if key.contains('\\') {
        "the key contains a backslash"
    } else if key.chars().any(char::is_control) {
        "the key contains a control character"
    } else if key
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        "the key contains a `.` or `..` segment"
    } else {
        return Ok(());
    };
    Err(ObjectError::InvalidKey(reason.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3() {
        for good in ["dreamreel", "media-1", "a.b.c", "abc"] {
            assert!(check_bucket(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Media",
            "-media",
            "media-",
            "a..b",
            "a/b",
            "../x",
            ".tmp",
            &"a".repeat(64),
        ] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_refuse_path_tricks() {
        for good in [
            "jobs/01J.json",
            "media/v 1/video.mp4",
            "a..b",
            "ünï/côdé",
            ".hidden",
        ] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "..",
            "a\\b",
            "a\0b",
            "a\nb",
        ] {
            assert!(
                matches!(check_key(bad), Err(ObjectError::InvalidKey(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check_key(&"k".repeat(1025)),
            Err(ObjectError::KeyTooLong)
        ));
        assert!(check_key(&"k".repeat(1024)).is_ok());
    }
}
