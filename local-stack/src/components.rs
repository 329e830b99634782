//! Builds components the way `spin build` does: each component's
//! `[component.<id>.build] command`, run in its workdir.

use std::process::Command;

use anyhow::{Context, bail};

use crate::manifest::Manifest;

/// Runs every component's build command; stops at the first failure.
pub fn build_all(manifest: &Manifest) -> anyhow::Result<()> {
    // Components often share one command (one cargo workspace): run each once.
    let mut done: Vec<(String, std::path::PathBuf)> = Vec::new();
    for (id, component) in &manifest.components {
        let Some(build) = &component.build else {
            continue;
        };
        let workdir = match &build.workdir {
            Some(dir) => manifest.root.join(dir),
            None => manifest.root.clone(),
        };
        let step = (build.command.clone(), workdir.clone());
        if done.contains(&step) {
            continue;
        }
        eprintln!("building component {id}: {}", build.command);
        let status = Command::new("sh")
            .arg("-c")
            .arg(&build.command)
            .current_dir(&workdir)
            .status()
            .with_context(|| format!("running build command of {id}"))?;
        if !status.success() {
            bail!("build of component {id} failed ({status})");
        }
        done.push(step);
    }
    Ok(())
}
