//! Checks responses against `docs/openapi.json`: every response an end-to-end
//! test receives must be documented (path, method, status) and match its schema.

use std::sync::OnceLock;

use serde_json::Value;

/// The OpenAPI document, loaded once.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = crate::repo_root().join("docs").join("openapi.json");
        let text = std::fs::read_to_string(&path).expect("docs/openapi.json exists");
        serde_json::from_str(&text).expect("docs/openapi.json is JSON")
    })
}

/// The documented path template (`/v1/users/{handle}`) that `path` instantiates.
pub fn template_for(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    spec()["paths"].as_object()?.keys().find_map(|template| {
        let tparts: Vec<&str> = template.split('/').collect();
        let fits = tparts.len() == parts.len()
            && tparts
                .iter()
                .zip(&parts)
                .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty()));
        fits.then(|| template.clone())
    })
}

/// Panics unless `status` and `body` are what the spec documents for `method path`.
pub fn assert_conforms(method: &str, path: &str, status: u16, body: &[u8]) {
    let template = template_for(path)
        .unwrap_or_else(|| panic!("{method} {path}: path missing from docs/openapi.json"));
    let op = &spec()["paths"][&template][method.to_ascii_lowercase()];
    if op.is_null() {
        // An undocumented method must be refused, never served.
        assert_eq!(
            status, 405,
            "{method} {template} is served but not documented"
        );
        return;
    }
    let responses = &op["responses"];
    let documented = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
        .unwrap_or_else(|| {
            panic!(
                "{method} {template} answered {status}, which docs/openapi.json does not list: {}",
                String::from_utf8_lossy(body)
            )
        });
    let documented = resolve(documented);
    let Some(schema) = documented["content"]["application/json"]["schema"].as_object() else {
        return;
    };
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{method} {template} {status}: body is not JSON ({e})"));
    if let Err(problem) = check(&Value::Object(schema.clone()), &value, "$") {
        panic!("{method} {template} {status}: {problem}\nbody: {value}");
    }
}

fn resolve(v: &Value) -> &Value {
    match v["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(
                spec()
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling {reference}")),
            )
        }
        None => v,
    }
}

/// A JSON Schema subset: $ref, type (string or list), required, properties,
/// additionalProperties: false, items, enum, const, minLength/maxLength.
fn check(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(schema);
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !allowed.iter().any(|t| type_matches(t, value)) {
            return Err(format!("{at}: expected {allowed:?}, got {value}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        return Err(format!("{at}: expected {expected}, got {value}"));
    }
    if let (Some(s), Some(min)) = (
        value.as_str(),
        schema.get("minLength").and_then(Value::as_u64),
    ) && (s.chars().count() as u64) < min
    {
        return Err(format!("{at}: shorter than {min}"));
    }
    if let Value::Object(map) = value {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !map.contains_key(name) {
                return Err(format!("{at}: missing required {name}"));
            }
        }
        let props = schema["properties"].as_object();
        for (name, v) in map {
            match props.and_then(|p| p.get(name)) {
                Some(s) => check(s, v, &format!("{at}.{name}"))?,
                None if schema["additionalProperties"] == Value::Bool(false) => {
                    return Err(format!("{at}: undocumented property {name}"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_subset_catches_what_matters() {
        let schema = json!({
            "type": "object",
            "required": ["id"],
            "additionalProperties": false,
            "properties": {
                "id": {"type": "string", "minLength": 2},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
                "n": {"type": ["integer", "null"]}
            }
        });
        assert!(check(&schema, &json!({"id": "ab", "tags": ["a"], "n": null}), "$").is_ok());
        assert!(check(&schema, &json!({"tags": []}), "$").is_err());
        assert!(check(&schema, &json!({"id": "a"}), "$").is_err());
        assert!(check(&schema, &json!({"id": "ab", "extra": 1}), "$").is_err());
        assert!(check(&schema, &json!({"id": "ab", "tags": ["c"]}), "$").is_err());
        assert!(check(&schema, &json!({"id": "ab", "n": "x"}), "$").is_err());
    }
}
