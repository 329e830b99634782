//! Development secrets: values for required secret variables that nobody
//! provided, generated once and kept in the data folder (never in the repo).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;

/// A JSON file of generated secrets.
pub struct DevSecrets {
    path: PathBuf,
    lock: Mutex<()>,
}

impl DevSecrets {
    /// Secrets kept at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: Mutex::new(()),
        }
    }

    /// The secret `name`, creating a random 256-bit one on first use.
    pub fn get_or_create(&self, name: &str) -> anyhow::Result<String> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: BTreeMap<String, String> = match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", self.path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e.into()),
        };
        if let Some(value) = all.get(name) {
            return Ok(value.clone());
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
        let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        all.insert(name.to_owned(), value.clone());
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&all)?)?;
        restrict_permissions(&tmp);
        std::fs::rename(&tmp, &self.path)?;
        eprintln!(
            "generated a development value for secret variable {name} in {}",
            self.path.display()
        );
        Ok(value)
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_: &std::path::Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let first = DevSecrets::new(path.clone())
            .get_or_create("session_key")
            .unwrap();
        assert_eq!(first.len(), 64);
        let again = DevSecrets::new(path).get_or_create("session_key").unwrap();
        assert_eq!(first, again);
    }
}
