//! An S3-compatible object store on local disk, for machines without S3.
//!
//! Path-style S3 REST over HTTP/1.1: PutObject, GetObject (with ranges),
//! HeadObject, DeleteObject, ListObjectsV2, CreateBucket, HeadBucket,
//! ListBuckets, GetBucketLocation. Every request must be SigV4-signed
//! (header or presigned URL) with a configured key. Each PutObject sends an
//! AWS-format `ObjectCreated:Put` event to an [`ObjectEvents`] sink, which is
//! how the worker learns about new jobs locally.

mod chunked;
mod error;
mod event;
mod get;
mod http;
mod list;
mod names;
mod put;
mod range;
mod response;
mod store;
mod xml;

#[cfg(test)]
mod tests;

pub use error::ObjectError;
pub use event::{OWNER_ID, ObjectEvents, event_key};
pub use http::serve;
pub use list::{ListPage, ListQuery, MAX_KEYS};
pub use names::{MAX_KEY_BYTES, check_bucket, check_key};
pub use store::{
    DEFAULT_MAX_OBJECT_BYTES, MAX_METADATA_BYTES, ObjectInfo, ObjectStore, ObjectStoreConfig,
    PutOptions,
};
