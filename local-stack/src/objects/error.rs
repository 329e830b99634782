//! What can go wrong, and how S3 names it on the wire.

use std::io;

/// A failed object-store operation.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The bucket does not exist.
    #[error("bucket `{0}` does not exist")]
    NoSuchBucket(String),
    /// The key does not exist in the bucket.
    #[error("key `{0}` does not exist")]
    NoSuchKey(String),
    /// The bucket name breaks S3's naming rules.
    #[error("invalid bucket name `{0}`")]
    InvalidBucketName(String),
    /// The key is empty or looks like a path trick.
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    /// The key is longer than 1024 bytes.
    #[error("object keys are limited to 1024 bytes")]
    KeyTooLong,
    /// The body is larger than the configured limit.
    #[error("objects are limited to {0} bytes")]
    EntityTooLarge(u64),
    /// User metadata (`x-amz-meta-*`) is larger than 2 KiB.
    #[error("user metadata is limited to 2 KiB")]
    MetadataTooLarge,
    /// The body's SHA-256 differs from the signed `x-amz-content-sha256`.
    #[error("the body does not match x-amz-content-sha256")]
    ContentSha256Mismatch,
    /// The body's MD5 differs from `Content-MD5`.
    #[error("the body does not match Content-MD5")]
    BadDigest,
    /// A request parameter is unusable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A stored file is not in the store's format.
    #[error("stored object is corrupt: {0}")]
    Corrupt(String),
    /// The file system failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl ObjectError {
    /// HTTP status and S3 error code.
    pub fn s3_code(&self) -> (u16, &'static str) {
        match self {
            ObjectError::NoSuchBucket(_) => (404, "NoSuchBucket"),
            ObjectError::NoSuchKey(_) => (404, "NoSuchKey"),
            ObjectError::InvalidBucketName(_) => (400, "InvalidBucketName"),
            ObjectError::InvalidKey(_) | ObjectError::InvalidArgument(_) => {
                (400, "InvalidArgument")
            }
            ObjectError::KeyTooLong => (400, "KeyTooLongError"),
            ObjectError::EntityTooLarge(_) => (413, "EntityTooLarge"),
            ObjectError::MetadataTooLarge => (400, "MetadataTooLarge"),
            ObjectError::ContentSha256Mismatch => (400, "XAmzContentSHA256Mismatch"),
            ObjectError::BadDigest => (400, "BadDigest"),
            ObjectError::Corrupt(_) | ObjectError::Io(_) => (500, "InternalError"),
        }
    }
}
