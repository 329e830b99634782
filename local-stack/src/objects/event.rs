//! AWS-format S3 event notifications (`ObjectCreated:Put`).

use serde_json::{Value, json};

use super::{ObjectInfo, ObjectStore, xml};

/// Owner id reported for every bucket.
pub const OWNER_ID: &str = "dreamreel-local";

/// Receives a notification after each successful PutObject, like an S3
/// bucket's notification configuration would deliver it.
pub trait ObjectEvents: Send + Sync + 'static {
    /// `event` is a complete S3 event: `{"Records":[...]}`. Called on the
    /// request's task after the object is durable; must not block.
    fn object_created(&self, event: Value);
}

/// Forwards events into a channel, e.g. to a worker loop.
impl ObjectEvents for tokio::sync::mpsc::UnboundedSender<Value> {
    fn object_created(&self, event: Value) {
        // A closed receiver means nobody listens any more; S3 would not care either.
        let _ = self.send(event);
    }
}

/// Drops every event, for a store with no listeners.
impl ObjectEvents for () {
    fn object_created(&self, _event: Value) {}
}

impl ObjectStore {
    /// Builds the `ObjectCreated:Put` event for an object that was just
    /// stored, as S3 would send it. `principal` is the uploader's access key.
    pub fn object_created_event(
        &self,
        bucket: &str,
        object: &ObjectInfo,
        principal: &str,
        source_ip: &str,
        request_id: &str,
    ) -> Value {
        let config = self.config();
        json!({
            "Records": [{
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": config.region,
                "eventTime": xml::iso8601(object.last_modified_ms),
                "eventName": "ObjectCreated:Put",
                "userIdentity": { "principalId": format!("AWS:{principal}") },
                "requestParameters": { "sourceIPAddress": source_ip },
                "responseElements": {
                    "x-amz-request-id": request_id,
                    "x-amz-id-2": host_id(request_id),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": config.notification_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": { "principalId": OWNER_ID },
                        "arn": format!("arn:aws:s3:::{bucket}"),
                    },
                    "object": {
                        "key": event_key(&object.key),
                        "size": object.size,
                        "eTag": object.etag.trim_matches('"'),
                        "sequencer": self.next_sequencer(),
                    }
                }
            }]
        })
    }
}

/// The `x-amz-id-2` that goes with a request id; any opaque token will do.
pub(crate) fn host_id(request_id: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(request_id.as_bytes()))
}

/// Keys in S3 events are form-URL-encoded: a space is `+`, `/` stays, and
/// everything but `A-Z a-z 0-9 - _ . * /` is `%XX`.
pub fn event_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for &b in key.as_bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-_.*/".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_aws_does() {
        assert_eq!(event_key("jobs/01J.json"), "jobs/01J.json");
        assert_eq!(
            event_key("media/my clip (1).mp4"),
            "media/my+clip+%281%29.mp4"
        );
        assert_eq!(event_key("a+b=c&ü"), "a%2Bb%3Dc%26%C3%BC");
    }
}
