//! One module per subcommand; `run` dispatches.

pub mod apply;
pub mod audit;
pub mod backup;
pub mod backup_drill;
pub mod check;
pub mod completions;
pub mod confirm;
pub mod explain;
pub mod health;
pub mod import;
pub mod init;
pub mod list;
pub mod migrate;
pub mod pitr;
pub mod plan;
pub mod profile;
pub mod report;
pub mod restore;
pub mod sandbox;
pub mod spec_schema;
pub mod stats;
pub mod users;
pub mod verify;

use anyhow::Result;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::context::Ctx;

/// The workspace, its warnings printed (unless `--quiet`); errors come back as
/// [`crate::error::SpecRejected`] for `main` to print.
pub(crate) fn workspace(ctx: &Ctx) -> Result<crate::spec::Workspace> {
    let (ws, warnings) = ctx.load_workspace()?;
    if !ctx.global.quiet {
        crate::render::diagnostics_to_stderr(&warnings);
    }
    Ok(ws)
}

/// Runs a command and returns the process exit code.
pub async fn run(command: Command, ctx: &Ctx) -> Result<u8> {
    match command {
        Command::Check(a) => check::run(a, ctx),
        Command::Plan(a) => plan::run(a, ctx).await,
        Command::Apply(a) => apply::run(a, ctx).await,
        Command::List(a) => list::run(a, ctx).await,
        Command::Health(a) => health::run(a, ctx).await,
        Command::Audit(a) => audit::run(a, ctx).await,
        Command::Users(a) => users::run(a, ctx).await,
        Command::SpecSchema(a) => spec_schema::run(a, ctx),
        Command::Sandbox(a) => sandbox::run(a, ctx).await,
        Command::Stats(a) => stats::run(a, ctx).await,
        Command::Profile(a) => profile::run(a, ctx).await,
        Command::Explain(a) => explain::run(a, ctx).await,
        Command::Verify(a) => verify::run(a, ctx).await,
        Command::Report(a) => report::run(a, ctx).await,
        Command::Init(a) => init::run(a, ctx).await,
        Command::Completions(a) => completions::run(a, Cli::command(), ctx).await,
        Command::Man => completions::man(Cli::command(), ctx).await,
        Command::Backup(a) => backup::run(a, ctx).await,
        Command::Restore(a) => restore::run(a, ctx).await,
        Command::Migrate(a) => migrate::run(a, ctx).await,
        Command::Import(a) => import::run(a, ctx).await,
    }
}
