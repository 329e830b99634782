//! Dreamreel's generation worker: video models behind one trait, the media
//! pipeline that turns what they make into an MP4 phones play, and the job
//! shell around it.
//!
//! [`render_clip`] is the media entry point: spec in, fast-start MP4 (H.264 +
//! Opus) and a JPEG thumbnail out. [`Worker`] is the job shell: it takes S3
//! `ObjectCreated` events for `jobs/{id}.json`, leases each job in a
//! [`JobLedger`] (exactly-once effect on at-least-once delivery), reads the
//! spec from object storage, renders, uploads `media/{id}/…` and reports to
//! the edge through signed callbacks. The Lambda binary (`gpu-worker`) and
//! the local stack both drive the same `Worker`.

#![warn(missing_docs)]

pub mod aws;
pub mod backends;
pub mod callback;
pub mod captions;
pub mod config;
pub mod credentials;
pub mod event;
pub mod frame;
pub mod ledger;
pub mod log;
pub mod media;
pub mod model;
pub mod model_sync;
pub mod onnx_runtime;
pub mod outcome;
pub mod pipeline;
pub mod progress;
pub mod provenance;
pub mod queue;
pub mod render;
pub mod safety;
pub mod semantic;
pub mod spec;
pub mod sqs;
pub mod storage;
mod util;
pub mod verification;

pub use aws::AwsSettings;
pub use backends::local::LocalModel;
pub use callback::{CallbackError, CallbackStage, Completion, Decision, EdgeClient, RetryPolicy};
pub use config::{ConfigError, WorkerConfig};
pub use event::{
    CaptionRef, EventError, JobRef, ParsedEvent, RecordingRef, Skipped, parse_event,
    parse_event_bytes,
};
pub use frame::{Soundtrack, YuvFrame};
pub use ledger::{DynamoLedger, JobLedger, JobRecord, JobState, Lease, LedgerError, SqliteLedger};
pub use model::{FrameSink, JobControl, ModelError, Progress, Stage, VideoModel};
pub use outcome::{JobError, JobOutcome, JobReport, Report, fail_code};
pub use pipeline::Worker;
pub use queue::QueueOptions;
pub use render::{RenderError, RenderedClip, StageTimings, render_clip};
pub use spec::{Aspect, GenerationSpec, ReferenceImage, SpecError};
pub use sqs::SqsOptions;
pub use storage::{ObjectStorage, S3Storage, StorageError};
pub use util::{now_ms, random_hex};
