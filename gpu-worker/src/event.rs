//! S3 event notifications in, job ids (and cameo verification recordings,
//! and caption jobs) out.
//!
//! Records are parsed one at a time with `aws_lambda_events`' S3 types, so a
//! single malformed record (some emulators omit required fields) is reported
//! and skipped instead of sinking the whole event. S3 sends `s3:TestEvent`
//! (no `Records`) when notifications are configured; it is recognised and
//! ignored. Records wrapped in an SQS message (the queue path for GPU hosts)
//! are unwrapped, so both delivery routes share this parser.

use aws_lambda_events::event::s3::S3EventRecord;
use dreamreel_core::cameo::verify::parse_recording_key;
use dreamreel_core::jobs::caption::caption_id_from_key;
use dreamreel_core::jobs::spec::job_id_from_key;
use serde_json::Value;
use thiserror::Error;

/// A job named by an `ObjectCreated` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    /// The job (and draft) id, a ULID.
    pub job_id: String,
    /// Bucket the spec was written to.
    pub bucket: String,
    /// The decoded object key, `jobs/{id}.json`.
    pub key: String,
}

/// A cameo verification recording named by an `ObjectCreated` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRef {
    /// Whose likeness.
    pub user_id: String,
    /// The challenge it answers.
    pub attempt_id: String,
    /// Bucket it was uploaded to.
    pub bucket: String,
    /// The decoded key, `cameo/{user}/{attempt}.mp4`.
    pub key: String,
    /// Unix ms the upload completed (the record's `eventTime`).
    pub uploaded_at_ms: u64,
}

/// A caption to embed (`captions/{video_id}.json`) named by an `ObjectCreated` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionRef {
    /// The published video, a ULID.
    pub video_id: String,
    /// Bucket the caption job was written to.
    pub bucket: String,
    /// The decoded key, `captions/{id}.json`.
    pub key: String,
}

/// A record that names no job, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// Not an `ObjectCreated:*` event (e.g. a removal).
    NotCreated {
        /// The record's `eventName`.
        event_name: String,
    },
    /// The key is not `jobs/{ulid}.json`.
    NotAJob {
        /// The decoded key.
        key: String,
    },
    /// A job key in a bucket this worker does not serve.
    ForeignBucket {
        /// The record's bucket.
        bucket: String,
        /// The decoded key.
        key: String,
    },
    /// The record could not be read; `index` is its position in `Records`.
    Unparseable {
        /// Position in `Records`.
        index: usize,
        /// What was wrong.
        error: String,
    },
}

/// What one notification contains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedEvent {
    /// True for S3's `s3:TestEvent`, which names no object.
    pub test_event: bool,
    /// Jobs to run, in record order (duplicates kept: the ledger dedupes).
    pub jobs: Vec<JobRef>,
    /// Verification recordings to check.
    pub recordings: Vec<RecordingRef>,
    /// Captions to embed.
    pub captions: Vec<CaptionRef>,
    /// Records that name no job.
    pub skipped: Vec<Skipped>,
}

/// Why a notification as a whole could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    /// Not JSON at all.
    #[error("event is not JSON: {0}")]
    NotJson(String),
    /// JSON, but neither an S3 event, a test event nor an SQS batch of them.
    #[error("not an S3 event notification: {0}")]
    NotS3Event(String),
}

/// Parses a notification given as raw JSON bytes.
pub fn parse_event_bytes(json: &[u8]) -> Result<ParsedEvent, EventError> {
    let value: Value =
        serde_json::from_slice(json).map_err(|e| EventError::NotJson(e.to_string()))?;
    parse_event(&value)
}

/// Parses a notification: an S3 event, an `s3:TestEvent`, or an SQS batch
/// whose message bodies are either.
pub fn parse_event(event: &Value) -> Result<ParsedEvent, EventError> {
    let mut parsed = ParsedEvent::default();
    collect(event, &mut parsed, 0)?;
    Ok(parsed)
}

fn collect(event: &Value, out: &mut ParsedEvent, depth: u8) -> Result<(), EventError> {
    let Some(object) = event.as_object() else {
        return Err(EventError::NotS3Event("not a JSON object".into()));
    };
    let Some(records) = object.get("Records") else {
        if object.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            out.test_event = true;
            return Ok(());
        }
        return Err(EventError::NotS3Event("no `Records`".into()));
    };
    let records = records
        .as_array()
        .ok_or_else(|| EventError::NotS3Event("`Records` is not an array".into()))?;
    for (index, record) in records.iter().enumerate() {
        // SQS wraps the S3 notification as a string body; one level only.
        if depth == 0 && record.get("eventSource").and_then(Value::as_str) == Some("aws:sqs") {
            let body = record.get("body").and_then(Value::as_str).unwrap_or("");
            let inner = serde_json::from_str::<Value>(body)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    let mut nested = ParsedEvent::default();
                    collect(&v, &mut nested, depth + 1).map_err(|e| e.to_string())?;
                    Ok(nested)
                });
            match inner {
                Ok(nested) => {
                    out.test_event |= nested.test_event;
                    out.jobs.extend(nested.jobs);
                    out.recordings.extend(nested.recordings);
                    out.captions.extend(nested.captions);
                    out.skipped.extend(nested.skipped);
                }
                Err(error) => out.skipped.push(Skipped::Unparseable { index, error }),
            }
            continue;
        }
        match serde_json::from_value::<S3EventRecord>(record.clone()) {
            Ok(record) => out.classify(record, index),
            Err(e) => out.skipped.push(Skipped::Unparseable {
                index,
                error: e.to_string(),
            }),
        }
    }
    Ok(())
}

impl ParsedEvent {
    fn classify(&mut self, record: S3EventRecord, index: usize) {
        let event_name = record.event_name.unwrap_or_default();
        // AWS names them "ObjectCreated:Put"; some tools prefix "s3:".
        if !event_name
            .trim_start_matches("s3:")
            .starts_with("ObjectCreated:")
        {
            self.skipped.push(Skipped::NotCreated { event_name });
            return;
        }
        let (Some(bucket), Some(raw_key)) = (record.s3.bucket.name, record.s3.object.key) else {
            self.skipped.push(Skipped::Unparseable {
                index,
                error: "record names no bucket or key".into(),
            });
            return;
        };
        let Some(key) = decode_key(&raw_key) else {
            self.skipped.push(Skipped::Unparseable {
                index,
                error: format!("key {raw_key:?} is not valid URL encoding"),
            });
            return;
        };
        if let Some((user_id, attempt_id)) = parse_recording_key(&key) {
            self.recordings.push(RecordingRef {
                user_id: user_id.to_owned(),
                attempt_id: attempt_id.to_owned(),
                bucket,
                uploaded_at_ms: u64::try_from(record.event_time.timestamp_millis()).unwrap_or(0),
                key,
            });
            return;
        }
        if let Some(video_id) = caption_id_from_key(&key) {
            self.captions.push(CaptionRef {
                video_id: video_id.to_owned(),
                bucket,
                key,
            });
            return;
        }
        match job_id_from_key(&key) {
            Some(id) => self.jobs.push(JobRef {
                job_id: id.to_owned(),
                bucket,
                key,
            }),
            None => self.skipped.push(Skipped::NotAJob { key }),
        }
    }
}

/// Decodes an event key: form URL encoding (`+` is a space, `%XX` a byte),
/// as S3 writes keys into notifications. `None` if malformed or not UTF-8.
pub fn decode_key(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "01JD0000000000000000000000";

    fn record(event_name: &str, key: &str) -> Value {
        json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2024-11-01T12:00:00.000Z",
            "eventName": event_name,
            "userIdentity": {"principalId": "AWS:AKID"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "H"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "jobs",
                "bucket": {"name": "media", "ownerIdentity": {"principalId": "O"}, "arn": "arn:aws:s3:::media"},
                "object": {"key": key, "size": 10, "eTag": "e", "sequencer": "1"}
            }
        })
    }

    #[test]
    fn cameo_recordings_are_named_with_their_upload_time() {
        let user = "01USER0000000000000000000A";
        let key = format!("cameo/{user}/{ID}.mp4");
        let parsed =
            parse_event(&json!({ "Records": [record("ObjectCreated:Put", &key)] })).unwrap();
        assert!(parsed.jobs.is_empty());
        assert_eq!(
            parsed.recordings,
            [RecordingRef {
                user_id: user.into(),
                attempt_id: ID.into(),
                bucket: "media".into(),
                key,
                uploaded_at_ms: 1_730_462_400_000,
            }]
        );
        // A look-alike key is no recording.
        let odd =
            parse_event(&json!({ "Records": [record("ObjectCreated:Put", "cameo/x/y.mp4")] }));
        assert!(odd.unwrap().recordings.is_empty());
    }

    #[test]
    fn caption_keys_become_captions_to_embed() {
        let key = format!("captions/{ID}.json");
        let parsed =
            parse_event(&json!({ "Records": [record("ObjectCreated:Put", &key)] })).unwrap();
        assert!(parsed.jobs.is_empty() && parsed.recordings.is_empty());
        assert_eq!(
            parsed.captions,
            [CaptionRef {
                video_id: ID.into(),
                bucket: "media".into(),
                key: key.clone(),
            }]
        );
        // Removals and look-alikes are not captions to embed.
        let event = json!({"Records": [
            record("ObjectRemoved:Delete", &key),
            record("ObjectCreated:Put", "captions/short.json"),
            record("ObjectCreated:Put", &format!("captions/{ID}.txt")),
        ]});
        let parsed = parse_event(&event).unwrap();
        assert!(parsed.captions.is_empty());
        assert_eq!(parsed.skipped.len(), 3);
        // Through a queue too.
        let inner = json!({"Records": [record("ObjectCreated:Put", &key)]});
        let batch = json!({"Records": [
            {"eventSource": "aws:sqs", "messageId": "m1", "body": inner.to_string()},
        ]});
        assert_eq!(parse_event(&batch).unwrap().captions.len(), 1);
    }

    #[test]
    fn created_job_keys_become_job_ids() {
        let event = json!({"Records": [record("ObjectCreated:Put", &format!("jobs/{ID}.json"))]});
        let parsed = parse_event(&event).unwrap();
        assert_eq!(parsed.jobs.len(), 1);
        assert_eq!(parsed.jobs[0].job_id, ID);
        assert_eq!(parsed.jobs[0].bucket, "media");
        assert!(parsed.skipped.is_empty() && !parsed.test_event);
    }

    #[test]
    fn test_events_and_strangers_are_skipped() {
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "media"});
        assert!(parse_event(&test).unwrap().test_event);
        let event = json!({"Records": [
            record("ObjectRemoved:Delete", &format!("jobs/{ID}.json")),
            record("ObjectCreated:Put", "media/x/video.mp4"),
            record("ObjectCreated:Put", "jobs/my+job.json"),
            {"eventName": "ObjectCreated:Put"},
        ]});
        let parsed = parse_event(&event).unwrap();
        assert!(parsed.jobs.is_empty());
        assert_eq!(
            parsed.skipped[..3],
            [
                Skipped::NotCreated {
                    event_name: "ObjectRemoved:Delete".into()
                },
                Skipped::NotAJob {
                    key: "media/x/video.mp4".into()
                },
                Skipped::NotAJob {
                    key: "jobs/my job.json".into()
                },
            ]
        );
        assert!(matches!(
            parsed.skipped[3],
            Skipped::Unparseable { index: 3, .. }
        ));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(
            parse_event_bytes(b"not json"),
            Err(EventError::NotJson(_))
        ));
        assert!(matches!(
            parse_event(&json!({"hello": 1})),
            Err(EventError::NotS3Event(_))
        ));
        assert!(matches!(
            parse_event(&json!({"Records": 3})),
            Err(EventError::NotS3Event(_))
        ));
    }

    #[test]
    fn keys_are_form_decoded() {
        assert_eq!(decode_key("a+b%2Bc%C3%BC").as_deref(), Some("a b+cü"));
        assert_eq!(decode_key("jobs/x.json").as_deref(), Some("jobs/x.json"));
        assert_eq!(decode_key("bad%2"), None);
        assert_eq!(decode_key("bad%zz"), None);
        assert_eq!(decode_key("%FF"), None);
    }

    #[test]
    fn sqs_batches_unwrap_to_s3_records() {
        let inner = json!({"Records": [record("ObjectCreated:Put", &format!("jobs/{ID}.json"))]});
        let batch = json!({"Records": [
            {"eventSource": "aws:sqs", "messageId": "m1", "body": inner.to_string()},
            {"eventSource": "aws:sqs", "messageId": "m2", "body": "{\"Event\":\"s3:TestEvent\"}"},
            {"eventSource": "aws:sqs", "messageId": "m3", "body": "nope"},
        ]});
        let parsed = parse_event(&batch).unwrap();
        assert_eq!(parsed.jobs.len(), 1);
        assert!(parsed.test_event);
        assert!(matches!(
            parsed.skipped[..],
            [Skipped::Unparseable { index: 2, .. }]
        ));
    }

    #[test]
    fn encoded_slashes_still_name_the_job() {
        // S3 leaves `/` alone, but other producers encode it.
        let event = json!({"Records": [record("ObjectCreated:Put", "jobs%2F01JD0000000000000000000000.json")]});
        assert_eq!(parse_event(&event).unwrap().jobs[0].job_id, ID);
    }
}
