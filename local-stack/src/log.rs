//! Structured (JSON lines) logs on stderr, each tied to a request id.

fn line(level: &str, request_id: &str, message: &str) {
    let entry = serde_json::json!({
        "ts_ms": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        "level": level,
        "source": "local-stack",
        "request_id": request_id,
        "message": message,
    });
    // Formatted first, then one write: stderr is unbuffered, and printing a
    // JSON value with `eprintln!` makes a system call per token.
    let mut line = entry.to_string();
    line.push('\n');
    eprint!("{line}");
}

/// Logs an informational event.
pub fn info(request_id: &str, message: &str) {
    line("info", request_id, message);
}

/// Logs a failure.
pub fn error(request_id: &str, message: &str) {
    line("error", request_id, message);
}
