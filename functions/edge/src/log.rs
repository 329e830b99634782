//! One JSON object per line on stderr, each carrying the request id the host
//! set (`x-request-id`) and the route, so a request can be followed across
//! the host's log and the component's.

use std::time::Instant;

use serde_json::{Map, Value, json};
use spin_sdk::http::Request;

/// Log context for one request.
#[derive(Debug, Clone)]
pub struct RequestLog {
    request_id: String,
    method: String,
    route: String,
    started: Instant,
}

impl RequestLog {
    /// Context for `req`; `route` names the handler (e.g. `/v1/me`).
    pub fn new(req: &Request, route: &str) -> Self {
        let request_id = crate::http::header(req, "x-request-id")
            .unwrap_or("-")
            .to_owned();
        Self {
            request_id,
            method: req.method().as_str().to_owned(),
            route: route.to_owned(),
            started: Instant::now(),
        }
    }

    /// The request id, as the host set it.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Writes `{"level", "event", "request_id", "method", "route", ...fields}` to stderr.
    pub fn log(&self, level: &str, event: &str, fields: Value) {
        let mut line = Map::new();
        line.insert("level".into(), level.into());
        line.insert("event".into(), event.into());
        line.insert("request_id".into(), self.request_id.clone().into());
        line.insert("method".into(), self.method.clone().into());
        line.insert("route".into(), self.route.clone().into());
        if let Value::Object(extra) = fields {
            line.extend(extra);
        }
        write_line(&Value::Object(line));
    }

    /// Logs the end of the request with its status and duration.
    pub fn finish(&self, status: u16) {
        let level = if status >= 500 { "error" } else { "info" };
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.log(
            level,
            "response",
            json!({ "status": status, "duration_ms": ms }),
        );
    }
}

/// Writes `value` and a newline to stderr in one write: stderr is unbuffered,
/// and `eprintln!` of a JSON value would cross into the host once per token.
fn write_line(value: &Value) {
    let mut line = value.to_string();
    line.push('\n');
    eprint!("{line}");
}
