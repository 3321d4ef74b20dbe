//! `sandbox`: a local replica set for development, in one command (`crate::sandbox` does the
//! work, `render::sandbox` the output). With `--auth` the URI with credentials is printed
//! only as `$(cat <dir>/uri)`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use crate::context::Ctx;
use crate::exit::SUCCESS;
use crate::render;
use crate::sandbox::{self, absolute, read_state};

#[derive(Subcommand, Debug, Clone)]
pub enum SandboxCommand {
    /// Start (or reuse) a local replica set and print its URI
    #[command(
        after_help = "Example:\n  mongoctl sandbox up --nodes 3 --auth\n  eval \"$(mongoctl sandbox up -q)\""
    )]
    Up(SandboxUpArgs),
    /// Show whether the sandbox runs, its members and URI
    #[command(after_help = "Example:\n  mongoctl sandbox status -o json")]
    Status(SandboxDirArgs),
    /// Stop the sandbox (and delete its data with --purge)
    #[command(after_help = "Example:\n  mongoctl sandbox down --purge")]
    Down(SandboxDownArgs),
    /// Print the tail of each member's log
    #[command(after_help = "Example:\n  mongoctl sandbox logs -n 100")]
    Logs(SandboxLogsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct SandboxDirArgs {
    /// Sandbox directory (data, logs, keyfile, credentials)
    #[arg(
        long,
        env = "MONGOCTL_SANDBOX",
        default_value = ".mongoctl/sandbox",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct SandboxUpArgs {
    #[command(flatten)]
    pub dir: SandboxDirArgs,
    /// Replica set members (1 to 7)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=7))]
    pub nodes: u16,
    /// First port (members use consecutive ports); default: free ports
    #[arg(long)]
    pub port: Option<u16>,
    /// Enable authentication and create a root user (credentials in DIR/credentials, 0600)
    #[arg(long)]
    pub auth: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SandboxDownArgs {
    #[command(flatten)]
    pub dir: SandboxDirArgs,
    /// Also delete the data directory
    #[arg(long)]
    pub purge: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SandboxLogsArgs {
    #[command(flatten)]
    pub dir: SandboxDirArgs,
    /// Lines per member
    #[arg(long, short = 'n', default_value_t = 40)]
    pub lines: usize,
}

pub async fn run(cmd: SandboxCommand, ctx: &Ctx) -> Result<u8> {
    match cmd {
        SandboxCommand::Up(a) => up(a, ctx).await,
        SandboxCommand::Status(a) => status(a, ctx).await,
        SandboxCommand::Down(a) => down(a, ctx).await,
        SandboxCommand::Logs(a) => logs(a),
    }
}

async fn up(args: SandboxUpArgs, ctx: &Ctx) -> Result<u8> {
    let dir = absolute(&args.dir.dir)?;
    let up = sandbox::up(&dir, args.nodes, args.port, args.auth).await?;
    render::sandbox::announce(&dir, up.state(), up.verb(), ctx.json(), ctx.global.quiet);
    Ok(SUCCESS)
}

async fn status(args: SandboxDirArgs, ctx: &Ctx) -> Result<u8> {
    let dir = absolute(&args.dir)?;
    let Some(state) = read_state(&dir)? else {
        bail!(
            "no sandbox in {} (start one with `mongoctl sandbox up`)",
            dir.display()
        );
    };
    let alive = sandbox::running(&state);
    let roles = sandbox::member_states(&state, &alive).await;
    render::sandbox::status(&dir, &state, &alive, &roles, ctx.json());
    Ok(SUCCESS)
}

async fn down(args: SandboxDownArgs, ctx: &Ctx) -> Result<u8> {
    let dir = absolute(&args.dir.dir)?;
    let stopped = sandbox::down(&dir, args.purge).await?;
    if !ctx.global.quiet {
        render::sandbox::down(&dir, stopped, args.purge);
    }
    Ok(SUCCESS)
}

fn logs(args: SandboxLogsArgs) -> Result<u8> {
    let dir = absolute(&args.dir.dir)?;
    let Some(state) = read_state(&dir)? else {
        bail!("no sandbox in {}", dir.display());
    };
    for m in &state.members {
        render::sandbox::log_header(m);
        render::sandbox::lines(&sandbox::log_tail(m, args.lines)?);
    }
    Ok(SUCCESS)
}
