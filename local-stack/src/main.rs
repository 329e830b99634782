//! `dreamreel-local`: build and run the Dreamreel app on this machine.
//!
//! ```text
//! dreamreel-local up [--listen ADDR] [--objects-listen ADDR] [--data-dir DIR] [--manifest FILE] [--no-build]
//! dreamreel-local build [--manifest FILE]
//! dreamreel-local invite [--count N] [--data-dir DIR]
//! ```

use std::path::PathBuf;

use anyhow::{Context, bail};
use dreamreel_local::{Stack, StackConfig, components, manifest::Manifest};

const USAGE: &str = "usage: dreamreel-local <up|build|invite> [--listen ADDR] [--objects-listen ADDR] [--data-dir DIR] [--manifest FILE] [--no-build] [--count N]";

struct Args {
    command: String,
    config: StackConfig,
    build: bool,
    count: u32,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "up".to_owned());
    let mut config = StackConfig::new(&std::env::current_dir()?);
    config.push = dreamreel_local::push::PushSettings::from_env()?;
    let mut build = true;
    let mut count = 1;
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => config.listen = value()?.parse().context("--listen takes IP:PORT")?,
            "--objects-listen" => {
                config.objects_listen =
                    value()?.parse().context("--objects-listen takes IP:PORT")?
            }
            "--data-dir" => {
                config.data_dir = PathBuf::from(value()?);
                config.compiled_dir = config.data_dir.join("compiled");
            }
            "--manifest" => config.manifest = PathBuf::from(value()?),
            "--no-build" => build = false,
            "--count" => count = value()?.parse().context("--count takes a number")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(Args {
        command,
        config,
        build,
        count,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    match args.command.as_str() {
        "build" => components::build_all(&Manifest::load(&args.config.manifest)?),
        "up" => up(args).await,
        "invite" => invite(&args.config, args.count).await,
        other => bail!("unknown command {other}\n{USAGE}"),
    }
}

async fn up(args: Args) -> anyhow::Result<()> {
    if args.build {
        components::build_all(&Manifest::load(&args.config.manifest)?)?;
    }
    let stack = Stack::start(&args.config).await?;
    eprintln!(
        "Dreamreel is serving on http://{} (object storage on http://{})",
        stack.addr, stack.objects_addr
    );
    tokio::signal::ctrl_c().await?;
    eprintln!("shutting down");
    stack.stop().await;
    Ok(())
}

async fn invite(config: &StackConfig, count: u32) -> anyhow::Result<()> {
    let codes = dreamreel_local::admin::mint_invites(config, count).await?;
    for code in codes {
        println!("{code}");
    }
    Ok(())
}
