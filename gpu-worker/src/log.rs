//! Structured logs: one JSON line per event on stderr, carrying the job id
//! and, once the spec is read, the request id that created the job, so one
//! generation can be followed from the tap to the MP4.

use serde_json::{Map, Value, json};

/// Log context for one job.
#[derive(Debug, Clone)]
pub struct JobLog {
    job_id: String,
    request_id: Option<String>,
}

impl JobLog {
    /// Context for `job_id`; the request id is unknown until the spec is read.
    pub fn new(job_id: &str) -> Self {
        JobLog {
            job_id: job_id.to_owned(),
            request_id: None,
        }
    }

    /// Attaches the spec's request id to every later line.
    pub fn set_request_id(&mut self, request_id: &str) {
        self.request_id = Some(request_id.to_owned());
    }

    /// The request id, once known.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Logs a normal step; `fields` (a JSON object) adds detail.
    pub fn info(&self, message: &str, fields: Value) {
        self.line("info", message, fields);
    }

    /// Logs something that went wrong but will be retried or tolerated.
    pub fn warn(&self, message: &str, fields: Value) {
        self.line("warn", message, fields);
    }

    /// Logs a failure that needs attention.
    pub fn error(&self, message: &str, fields: Value) {
        self.line("error", message, fields);
    }

    fn line(&self, level: &str, message: &str, fields: Value) {
        let mut entry = base(level, message);
        entry.insert("job_id".into(), json!(self.job_id));
        if let Some(id) = &self.request_id {
            entry.insert("request_id".into(), json!(id));
        }
        emit(entry, fields);
    }
}

/// Logs an event that belongs to no single job (startup, unreadable events).
pub fn worker_event(level: &str, message: &str, fields: Value) {
    emit(base(level, message), fields);
}

fn base(level: &str, message: &str) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("ts_ms".into(), json!(crate::now_ms()));
    entry.insert("level".into(), json!(level));
    entry.insert("source".into(), json!("gpu-worker"));
    entry.insert("message".into(), json!(message));
    entry
}

fn emit(mut entry: Map<String, Value>, fields: Value) {
    if let Value::Object(extra) = fields {
        for (k, v) in extra {
            // The fixed keys win: a field can never forge the job id.
            entry.entry(k).or_insert(v);
        }
    }
    eprintln!("{}", Value::Object(entry));
}
