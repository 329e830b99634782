//! Object storage: read job specs, write finished media, delete caption
//! jobs once done.
//!
//! Behind a small trait so another store (or a test double) can stand in;
//! production and the local stack both use [`S3Storage`].

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use thiserror::Error;

use crate::ledger::BoxFuture;

/// Largest spec read; the edge writes well under 4 KiB, so more is garbage.
pub const MAX_SPEC_BYTES: u64 = 64 * 1024;

/// Why storage failed. The worker treats every one as transient.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The service answered with an error.
    #[error("object storage refused {op} {key}: {detail}")]
    Service {
        /// `GetObject`, `PutObject` or `DeleteObject`.
        op: &'static str,
        /// The object key.
        key: String,
        /// Code and message.
        detail: String,
    },
    /// The object is bigger than the caller accepts.
    #[error("object {key} is {size} bytes, more than {limit}")]
    TooLarge {
        /// The object key.
        key: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

/// The object operations the worker needs, in one bucket.
pub trait ObjectStorage: Send + Sync {
    /// The object's body, `None` if it does not exist; refuses bodies over `limit` bytes.
    fn get<'a>(
        &'a self,
        key: &'a str,
        limit: u64,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StorageError>>;

    /// Stores `body` at `key` with `content_type`, replacing any object there.
    fn put<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Deletes `key` (no error when it is already gone).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StorageError>>;
}

/// [`ObjectStorage`] over the S3 API (AWS, or the local object store).
#[derive(Clone, Debug)]
pub struct S3Storage {
    client: Client,
    bucket: String,
}

impl S3Storage {
    /// Uses `bucket` through `client` (see [`crate::AwsSettings::s3_client`]).
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Storage {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket in use.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

fn service_error<E, R>(
    op: &'static str,
    key: &str,
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("")
        ),
        None => DisplayErrorContext(&e).to_string(),
    };
    StorageError::Service {
        op,
        key: key.to_owned(),
        detail,
    }
}

impl ObjectStorage for S3Storage {
    fn get<'a>(
        &'a self,
        key: &'a str,
        limit: u64,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StorageError>> {
        Box::pin(async move {
            let out = match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                    return Ok(None);
                }
                Err(e) => return Err(service_error("GetObject", key, e)),
            };
            let size = out.content_length().unwrap_or(0).max(0) as u64;
            if size > limit {
                return Err(StorageError::TooLarge {
                    key: key.to_owned(),
                    size,
                    limit,
                });
            }
            let body = out
                .body
                .collect()
                .await
                .map_err(|e| StorageError::Service {
                    op: "GetObject",
                    key: key.to_owned(),
                    detail: format!("reading the body: {e}"),
                })?;
            Ok(Some(body.to_vec()))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(body))
                // Media is written once and never changes: let CDNs keep it.
                .cache_control("public, max-age=31536000, immutable")
                .send()
                .await
                .map_err(|e| service_error("PutObject", key, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| service_error("DeleteObject", key, e))?;
            Ok(())
        })
    }
}
