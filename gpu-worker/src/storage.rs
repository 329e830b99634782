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
    /// A local file could not be written (streamed downloads).
    #[error("writing {key} to {path}: {detail}")]
    Io {
        /// The object key.
        key: String,
        /// The local file.
        path: std::path::PathBuf,
        /// What failed.
        detail: String,
    },
}

/// One object of a listing, or one streamed to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// The full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The ETag as the store gives it (quotes included).
    pub etag: String,
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

    /// Every object whose key starts with `prefix`, in key order. Stores that
    /// cannot list (test doubles) refuse.
    fn list<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ObjectEntry>, StorageError>> {
        Box::pin(async move {
            Err(StorageError::Service {
                op: "ListObjectsV2",
                key: prefix.to_owned(),
                detail: "this storage cannot list".into(),
            })
        })
    }

    /// Writes `key`'s body to `path` (created or truncated), `None` if the
    /// object does not exist. The default reads the body whole: fine for
    /// small objects; [`S3Storage`] streams.
    fn get_to_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<Option<ObjectEntry>, StorageError>> {
        Box::pin(async move {
            let Some(body) = self.get(key, u64::MAX).await? else {
                return Ok(None);
            };
            std::fs::write(path, &body).map_err(|e| io_error(key, path, e))?;
            Ok(Some(ObjectEntry {
                key: key.to_owned(),
                size: body.len() as u64,
                etag: String::new(),
            }))
        })
    }
}

fn io_error(key: &str, path: &std::path::Path, e: impl std::fmt::Display) -> StorageError {
    StorageError::Io {
        key: key.to_owned(),
        path: path.to_owned(),
        detail: e.to_string(),
    }
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

    /// `GetObject` of `key`: `None` when there is no such key.
    async fn get_object(
        &self,
        key: &str,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, StorageError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(service_error("GetObject", key, e)),
        }
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
            let Some(out) = self.get_object(key).await? else {
                return Ok(None);
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

    fn list<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ObjectEntry>, StorageError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| service_error("ListObjectsV2", prefix, e))?;
                for o in page.contents() {
                    out.push(ObjectEntry {
                        key: o.key().unwrap_or_default().to_owned(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        etag: o.e_tag().unwrap_or_default().to_owned(),
                    });
                }
            }
            Ok(out)
        })
    }

    fn get_to_file<'a>(
        &'a self,
        key: &'a str,
        path: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<Option<ObjectEntry>, StorageError>> {
        use std::io::Write;
        Box::pin(async move {
            let Some(mut out) = self.get_object(key).await? else {
                return Ok(None);
            };
            let etag = out.e_tag().unwrap_or_default().to_owned();
            let expected = out.content_length().map(|n| n.max(0) as u64);
            // Model files are gigabytes: chunk by chunk, never whole in memory.
            let file = std::fs::File::create(path).map_err(|e| io_error(key, path, e))?;
            let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
            let mut size = 0u64;
            while let Some(chunk) = out.body.next().await {
                let chunk = chunk.map_err(|e| StorageError::Service {
                    op: "GetObject",
                    key: key.to_owned(),
                    detail: format!("reading the body: {e}"),
                })?;
                file.write_all(&chunk).map_err(|e| io_error(key, path, e))?;
                size += chunk.len() as u64;
            }
            let file = file
                .into_inner()
                .map_err(|e| io_error(key, path, e.error()))?;
            file.sync_all().map_err(|e| io_error(key, path, e))?;
            if expected.is_some_and(|n| n != size) {
                return Err(StorageError::Service {
                    op: "GetObject",
                    key: key.to_owned(),
                    detail: format!("body ended after {size} of {expected:?} bytes"),
                });
            }
            Ok(Some(ObjectEntry {
                key: key.to_owned(),
                size,
                etag,
            }))
        })
    }
}
