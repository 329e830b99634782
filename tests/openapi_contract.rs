//! docs/openapi.json and the running app agree: every routed path is
//! documented, every documented path is routed, every operation answers only
//! with documented statuses and bodies, and the served spec is the file.

use dreamreel_e2e::openapi::{assert_conforms, spec};
use dreamreel_e2e::{TestApp, repo_root};
use dreamreel_local::manifest::Manifest;
use dreamreel_local::router::Router;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn manifest() -> Manifest {
    Manifest::load(&repo_root().join("spin.toml")).expect("spin.toml loads")
}

/// `/v1/users/{handle}` → `/v1/users/sample`.
fn sample_path(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "sample" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn spec_is_openapi_3_1_and_every_reference_resolves() {
    let spec = spec();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    fn walk(v: &Value, spec: &Value) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let pointer = r.trim_start_matches('#');
                    assert!(spec.pointer(pointer).is_some(), "dangling $ref {r}");
                }
                map.values().for_each(|v| walk(v, spec));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, spec)),
            _ => {}
        }
    }
    walk(spec, spec);
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].is_object(),
                "{method} {path} has no responses"
            );
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
        }
    }
}

#[test]
fn every_routed_path_is_documented() {
    let paths = spec()["paths"].as_object().unwrap();
    for route in manifest().routes {
        match route.route.strip_suffix("/...") {
            Some(base) => assert!(
                paths.keys().any(|p| p.starts_with(&format!("{base}/"))),
                "wildcard route {} serves nothing documented",
                route.route
            ),
            None => {
                let template: String = route
                    .route
                    .split('/')
                    .map(|s| match s.strip_prefix(':') {
                        Some(name) => format!("{{{name}}}"),
                        None => s.to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                assert!(
                    paths.contains_key(&template),
                    "route {} is undocumented",
                    route.route
                );
            }
        }
    }
}

#[test]
fn every_documented_path_is_routed() {
    let manifest = manifest();
    let router = Router::new(
        manifest
            .routes
            .iter()
            .map(|r| (r.route.as_str(), r.component.as_str())),
    )
    .unwrap();
    for path in spec()["paths"].as_object().unwrap().keys() {
        assert!(
            router.route(&sample_path(path)).is_some(),
            "{path} reaches no component"
        );
    }
}

#[test]
fn served_spec_is_the_file() {
    let app = TestApp::start(&[]);
    let served = app.api("GET", "/v1/openapi.json", None, None);
    assert_eq!(served.status, 200);
    assert_eq!(&served.json(), spec());
}

#[test]
fn every_operation_answers_only_as_documented() {
    // Without credentials and with an empty object for a body, every operation
    // must still answer with a documented status and body; every undocumented
    // method on a documented path must be refused with 405.
    let app = TestApp::start(&[]);
    for (template, item) in spec()["paths"].as_object().unwrap() {
        let path = sample_path(template);
        for method in METHODS {
            let body = (method != "get" && method != "delete").then_some("{}");
            let reply = app.call(&method.to_ascii_uppercase(), &path, None, body);
            assert_conforms(method, &path, reply.status, &reply.body);
            if item.get(method).is_none() {
                assert_eq!(reply.error_code(), "method_not_allowed");
            }
        }
        // The one undocumented method every path answers: the CORS preflight.
        let preflight = app.call("OPTIONS", &path, None, None);
        assert_eq!(preflight.status, 204, "OPTIONS {path}");
    }
}
