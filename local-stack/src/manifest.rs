//! Reads the parts of a Spin manifest (`spin.toml`, version 2) the local stack serves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// The application as declared in `spin.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Folder holding `spin.toml`; component paths are relative to it.
    pub root: PathBuf,
    /// Application-level variables with their declared defaults.
    pub variables: BTreeMap<String, VariableDecl>,
    /// HTTP routes in declaration order.
    pub routes: Vec<HttpRoute>,
    /// Components by id.
    pub components: BTreeMap<String, ComponentDecl>,
}

/// An application variable declaration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    /// Value used when no provider supplies one.
    pub default: Option<String>,
    /// Whether the app refuses to start without a value.
    #[serde(default)]
    pub required: bool,
    /// Whether the value must never be logged.
    #[serde(default)]
    pub secret: bool,
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Clone)]
pub struct HttpRoute {
    /// The route pattern, e.g. `/v1/users/:handle` or `/v1/auth/...`.
    pub route: String,
    /// Component id that serves it.
    pub component: String,
}

/// One `[component.<id>]` table.
#[derive(Debug, Clone)]
pub struct ComponentDecl {
    /// Path of the `.wasm` file, resolved against the manifest folder.
    pub source: PathBuf,
    /// Key-value store labels the component may open.
    pub key_value_stores: Vec<String>,
    /// Outbound HTTP destinations, as `scheme://host[:port]` patterns.
    pub allowed_outbound_hosts: Vec<String>,
    /// Component variables: templates over application variables.
    pub variables: BTreeMap<String, String>,
    /// How `spin build` (and `dreamreel-local build`) produces `source`.
    pub build: Option<BuildDecl>,
}

/// A component's build step.
#[derive(Debug, Clone, Deserialize)]
pub struct BuildDecl {
    /// Shell command to run.
    pub command: String,
    /// Folder to run it in, relative to the manifest folder.
    pub workdir: Option<String>,
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: u32,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: String,
    component: String,
}

#[derive(Deserialize)]
struct RawComponent {
    source: String,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    build: Option<BuildDecl>,
}

impl Manifest {
    /// Loads and checks `spin.toml` at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, root).with_context(|| format!("in manifest {}", path.display()))
    }

    /// Parses manifest text; `root` is the folder relative paths start from.
    pub fn parse(text: &str, root: PathBuf) -> anyhow::Result<Self> {
        let raw: RawManifest = toml::from_str(text)?;
        if raw.spin_manifest_version != 2 {
            bail!("only spin_manifest_version = 2 is supported");
        }
        let components: BTreeMap<_, _> = raw
            .component
            .into_iter()
            .map(|(id, c)| {
                let decl = ComponentDecl {
                    source: root.join(c.source),
                    key_value_stores: c.key_value_stores,
                    allowed_outbound_hosts: c.allowed_outbound_hosts,
                    variables: c.variables,
                    build: c.build,
                };
                (id, decl)
            })
            .collect();
        let routes: Vec<HttpRoute> = raw
            .trigger
            .http
            .into_iter()
            .map(|t| HttpRoute {
                route: t.route,
                component: t.component,
            })
            .collect();
        for route in &routes {
            if !components.contains_key(&route.component) {
                bail!(
                    "route {} names unknown component {}",
                    route.route,
                    route.component
                );
            }
        }
        for (id, component) in &components {
            for template in component.variables.values() {
                for name in crate::variables::references(template)? {
                    if !raw.variables.contains_key(&name) {
                        bail!("component {id} uses undeclared variable {name}");
                    }
                }
            }
        }
        Ok(Self {
            root,
            variables: raw.variables,
            routes,
            components,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
spin_manifest_version = 2
[application]
name = "x"
[variables]
key = { required = true, secret = true }
[[trigger.http]]
route = "/v1/..."
component = "api"
[component.api]
source = "target/api.wasm"
key_value_stores = ["default"]
[component.api.variables]
session_key = "{{ key }}"
[component.api.build]
command = "cargo build"
"#;

    #[test]
    fn reads_routes_components_and_variables() {
        let m = Manifest::parse(SAMPLE, PathBuf::from("/app")).unwrap();
        assert_eq!(m.routes[0].route, "/v1/...");
        let api = &m.components["api"];
        assert_eq!(api.source, PathBuf::from("/app/target/api.wasm"));
        assert_eq!(api.key_value_stores, ["default"]);
        assert!(m.variables["key"].required);
        assert_eq!(api.build.as_ref().unwrap().command, "cargo build");
    }

    #[test]
    fn refuses_unknown_component_and_undeclared_variable() {
        let bad_route = SAMPLE.replace("component = \"api\"", "component = \"nope\"");
        assert!(Manifest::parse(&bad_route, PathBuf::new()).is_err());
        let bad_var = SAMPLE.replace("{{ key }}", "{{ missing }}");
        assert!(Manifest::parse(&bad_var, PathBuf::new()).is_err());
    }
}
