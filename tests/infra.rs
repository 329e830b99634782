//! Runs infra/'s offline checks so `cargo test` covers them: `npm ci`, the
//! CDK assertion tests, `cdk synth` of every environment, cfn-lint on each
//! template, and check-jsonschema on the rendered SpinApp and Spin runtime
//! config. Needs node/npm (Debian `nodejs npm`), `cfn-lint` and
//! `check-jsonschema` (PyPI); fails with that hint when one is missing.
//!
//! Synth uses a placeholder Lambda asset (infra/test/fixtures/lambda-placeholder).
//! `DREAMREEL_BUILD_LAMBDA=1` also builds the real package with cargo-lambda
//! (slow: OpenH264 and libopus) and synthesises prod against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Instant;

const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];
const PLACEHOLDER: &str = "test/fixtures/lambda-placeholder";
/// The two tests share infra/node_modules and cdk.out: one at a time.
static INFRA: Mutex<()> = Mutex::new(());

fn infra() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra")
}

/// Fails with an install hint when `tool` is not on PATH.
fn require(tool: &str, hint: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "`{tool}` is missing: {hint}");
}

/// Runs `program args` in infra/, returning its output; `ok` decides success.
fn run_with(program: &str, args: &[&str], ok: impl Fn(&Output) -> bool) -> Output {
    let started = Instant::now();
    let output = Command::new(program)
        .args(args)
        .current_dir(infra())
        // The CDK CLI would otherwise try to fetch notices and send telemetry.
        .env("CDK_DISABLE_CLI_TELEMETRY", "true")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    eprintln!("{program} {} ({:.1?})", args.join(" "), started.elapsed());
    assert!(
        ok(&output),
        "{program} {} failed ({}):\n{}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn run(program: &str, args: &[&str]) -> Output {
    run_with(program, args, |o| o.status.success())
}

fn synth(env: &str, asset: &str) {
    let out = format!("cdk.out/{env}");
    run(
        "node_modules/.bin/cdk",
        &[
            "synth",
            "--quiet",
            "--no-notices",
            "-c",
            &format!("env={env}"),
            "-c",
            &format!("workerAsset={asset}"),
            "-o",
            &out,
        ],
    );
    // cfn-lint exits 4 when it found warnings only.
    let template = format!("{out}/Dreamreel-{env}.template.json");
    run_with("cfn-lint", &[&template], |o| {
        matches!(o.status.code(), Some(0 | 4))
    });
}

#[test]
fn infra_synthesises_lints_and_validates() {
    let _one = INFRA.lock().unwrap_or_else(|e| e.into_inner());
    require("node", "install Node.js 20+ (apt-get install nodejs npm)");
    require("npm", "install npm (apt-get install npm)");
    require("cfn-lint", "pip install cfn-lint");
    require("check-jsonschema", "pip install check-jsonschema");

    run(
        "npm",
        &["ci", "--prefer-offline", "--no-audit", "--no-fund"],
    );
    run("node_modules/.bin/tsc", &["-p", "."]);
    // The assertion tests: buckets, queue + DLQ, tables, IAM, notifications, alarms.
    run("node", &["--test", "dist/test/"]);

    for env in ENVIRONMENTS {
        synth(env, PLACEHOLDER);
        let dir = format!("cdk.out/spin-{env}");
        run(
            "node",
            &[
                "dist/bin/spin.js",
                "--env",
                env,
                "--outputs",
                "test/fixtures/outputs.json",
                "--image",
                "registry.example/dreamreel/edge:test",
                "--out",
                &dir,
            ],
        );
        let spinapp = format!("{dir}/spinapp.json");
        let runtime_config = format!("{dir}/runtime-config.toml");
        run(
            "check-jsonschema",
            &["--schemafile", "spinkube/spinapp.schema.json", &spinapp],
        );
        run(
            "check-jsonschema",
            &[
                "--schemafile",
                "spinkube/runtime-config.schema.json",
                &runtime_config,
            ],
        );
    }
    // The schema is strict: a misspelt field or a variable without a name is refused.
    run_with(
        "check-jsonschema",
        &[
            "--schemafile",
            "spinkube/spinapp.schema.json",
            "test/fixtures/spinapp-invalid.json",
        ],
        |o| o.status.code() == Some(1),
    );
}

#[test]
fn lambda_package_builds_when_asked() {
    if std::env::var("DREAMREEL_BUILD_LAMBDA").as_deref() != Ok("1") {
        eprintln!("skipped: set DREAMREEL_BUILD_LAMBDA=1 to build the worker with cargo-lambda");
        return;
    }
    let _one = INFRA.lock().unwrap_or_else(|e| e.into_inner());
    require("cargo-lambda", "pip install cargo-lambda ziglang");
    // The package script builds the bootstrap and the frame policy, then adds
    // the model files and ONNX Runtime the worker loads (synth refuses a
    // package without them).
    require("objdump", "apt-get install binutils");
    let started = Instant::now();
    let status = Command::new("bash")
        .arg("infra/scripts/package-worker.sh")
        .current_dir(infra().join(".."))
        .status()
        .expect("cannot run infra/scripts/package-worker.sh");
    assert!(status.success(), "package-worker.sh failed");
    eprintln!("packaging the worker took {:.0?}", started.elapsed());
    let bootstrap = infra().join("../target/lambda/gpu-worker/bootstrap");
    assert!(bootstrap.is_file(), "no {}", bootstrap.display());
    if !infra().join("node_modules/.bin/cdk").exists() {
        run(
            "npm",
            &["ci", "--prefer-offline", "--no-audit", "--no-fund"],
        );
    }
    run("node_modules/.bin/tsc", &["-p", "."]);
    synth("prod", "../target/lambda/gpu-worker");
}
