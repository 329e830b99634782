//! Spin variables: application variables from `SPIN_VARIABLE_*` environment
//! variables or their defaults, and component variables as templates over them.

use std::collections::BTreeMap;

use anyhow::{Context, bail};

use crate::manifest::Manifest;

/// Names of application variables that `template` references (`{{ name }}`).
pub fn references(template: &str) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .with_context(|| format!("unclosed {{{{ in {template:?}"))?;
        let name = after[..end].trim();
        if !valid_name(name) {
            bail!("bad variable reference {name:?} in {template:?}");
        }
        names.push(name.to_owned());
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// Spin's rule for variable names: lowercase ASCII letters, digits and `_`, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Why a component's variable could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VariableError {
    /// The name breaks Spin's naming rule.
    #[error("invalid variable name {0}")]
    InvalidName(String),
    /// The component declares no such variable.
    #[error("undefined variable {0}")]
    Undefined(String),
}

/// Resolved values for every application variable, and each component's templates.
#[derive(Debug, Clone)]
pub struct Variables {
    app: BTreeMap<String, String>,
    components: BTreeMap<String, BTreeMap<String, String>>,
}

impl Variables {
    /// Resolves every application variable: `lookup` (the environment, as
    /// `SPIN_VARIABLE_NAME`) first, then the default, then `fallback` (the local
    /// stack's generated development secrets). A required variable left without
    /// a value stops the app, as in Spin.
    pub fn resolve(
        manifest: &Manifest,
        lookup: impl Fn(&str) -> Option<String>,
        mut fallback: impl FnMut(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let mut app = BTreeMap::new();
        for (name, decl) in &manifest.variables {
            let env_name = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            let value = lookup(&env_name)
                .or_else(|| decl.default.clone())
                .or_else(|| if decl.required { fallback(name) } else { None });
            match value {
                Some(v) => {
                    app.insert(name.clone(), v);
                }
                None if decl.required => {
                    bail!("required variable {name} has no value (set {env_name})")
                }
                None => {}
            }
        }
        let components = manifest
            .components
            .iter()
            .map(|(id, c)| (id.clone(), c.variables.clone()))
            .collect();
        Ok(Self { app, components })
    }

    /// Expands `{{ name }}` references to application variables in `template`
    /// (used for manifest fields such as `allowed_outbound_hosts`).
    pub fn expand(&self, template: &str) -> anyhow::Result<String> {
        expand_with(template, |name| self.app.get(name).cloned())
            .with_context(|| format!("expanding {template:?}"))
    }

    /// The resolved value of application variable `name`, if it has one.
    pub fn app(&self, name: &str) -> Option<&str> {
        self.app.get(name).map(String::as_str)
    }

    /// The value a component sees for `name`.
    pub fn get(&self, component: &str, name: &str) -> Result<String, VariableError> {
        if !valid_name(name) {
            return Err(VariableError::InvalidName(name.to_owned()));
        }
        let template = self
            .components
            .get(component)
            .and_then(|vars| vars.get(name))
            .ok_or_else(|| VariableError::Undefined(name.to_owned()))?;
        expand_with(template, |var| self.app.get(var).cloned())
            .map_err(|_| VariableError::Undefined(name.to_owned()))
    }
}

fn expand_with(template: &str, value: impl Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").context("unclosed {{")?;
        let var = after[..end].trim();
        out.push_str(&value(var).with_context(|| format!("variable {var} has no value"))?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
spin_manifest_version = 2
[variables]
key = { required = true, secret = true }
region = { default = "US,CA" }
optional = { default = "" }
[component.api]
source = "a.wasm"
[component.api.variables]
session_key = "{{ key }}"
greeting = "regions={{region}};"
"#,
            PathBuf::new(),
        )
        .unwrap()
    }

    #[test]
    fn environment_beats_default_and_templates_expand() {
        let vars = Variables::resolve(
            &manifest(),
            |n| (n == "SPIN_VARIABLE_KEY").then(|| "s3cret".to_owned()),
            |_| None,
        )
        .unwrap();
        assert_eq!(vars.get("api", "session_key").unwrap(), "s3cret");
        assert_eq!(vars.get("api", "greeting").unwrap(), "regions=US,CA;");
    }

    #[test]
    fn required_variable_falls_back_or_fails() {
        assert!(Variables::resolve(&manifest(), |_| None, |_| None).is_err());
        let vars =
            Variables::resolve(&manifest(), |_| None, |n| Some(format!("generated-{n}"))).unwrap();
        assert_eq!(vars.get("api", "session_key").unwrap(), "generated-key");
    }

    #[test]
    fn unknown_and_invalid_names_are_errors() {
        let vars = Variables::resolve(&manifest(), |_| None, |_| Some("x".into())).unwrap();
        assert_eq!(
            vars.get("api", "nope"),
            Err(VariableError::Undefined("nope".into()))
        );
        assert_eq!(
            vars.get("api", "Bad-Name"),
            Err(VariableError::InvalidName("Bad-Name".into()))
        );
        assert!(vars.get("other", "session_key").is_err());
    }
}
