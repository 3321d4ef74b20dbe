//! `migrate status|plan|up|rollback`: versioned data migrations (see `crate::migrate`).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use mongodb::Client;

use crate::context::Ctx;
use crate::exit::{CHANGES_PENDING, ERROR, Reported, SUCCESS};
use crate::flags::LockArgs;
use crate::lease;
use crate::migrate::target::Databases;
use crate::migrate::up::{Engine, UpOptions};
use crate::migrate::{changelog, count, rollback, status, up};
use crate::render;
use crate::spec::Workspace;

#[derive(Subcommand, Debug, Clone)]
pub enum MigrateCommand {
    /// Each migration: applied, pending, interrupted, failed, changed (checksum) or missing
    #[command(
        after_help = "Exit code 2 when any migration is not applied (a CI gate).\n\nExample:\n  mongoctl migrate status\n  mongoctl migrate status -o json"
    )]
    Status,
    /// Per step of the pending migrations: documents it will touch (counted by the server) and how it is undone
    #[command(after_help = "Example:\n  mongoctl migrate plan")]
    Plan(PlanArgs),
    /// Run the pending migrations in order (resumes an interrupted or failed one)
    #[command(
        after_help = "Example:\n  mongoctl migrate up\n  mongoctl migrate up --to 0001_backfill_mfa_enabled --batch-size 5000"
    )]
    Up(UpArgs),
    /// Undo migrations, newest first, from their rollback points
    #[command(
        after_help = "Restores each rewritten collection from the backup taken before its step (writes made to it since are lost), renames a renamed field back, drops a copy's target.\n\nExample:\n  mongoctl migrate rollback --yes\n  mongoctl migrate rollback --to 0001_backfill_mfa_enabled --yes"
    )]
    Rollback(RollbackArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct PlanArgs {
    /// Plan up to this migration (inclusive)
    #[arg(long, value_name = "ID")]
    pub to: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    /// Stop after this migration (inclusive)
    #[arg(long, value_name = "ID")]
    pub to: Option<String>,
    /// Where rollback points are written (default: .mongoctl/rollback in the workspace)
    #[arg(long, env = "MONGOCTL_ROLLBACK_DIR", value_name = "DIR")]
    pub rollback_dir: Option<PathBuf>,
    /// Documents per batch (each batch commits with its progress record)
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
    /// After a verified moveCollection, drop its source (a rollback point is taken first)
    #[arg(long)]
    pub drop_source: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Args, Debug, Clone)]
pub struct RollbackArgs {
    /// Roll back every migration after this one (0: all of them); default: the newest one
    #[arg(long, value_name = "ID")]
    pub to: Option<String>,
    #[command(flatten)]
    pub lock: LockArgs,
}

pub async fn run(cmd: MigrateCommand, ctx: &Ctx) -> Result<u8> {
    let ws = super::workspace(ctx)?;
    let dbs = Databases::new(&ctx.databases(&ws)?);
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let meta_db = ws.manifest.metadata_database.clone();
    match cmd {
        MigrateCommand::Status => {
            let log = changelog::read_all(&client, &meta_db).await?;
            let statuses = status::compare(&ws.migrations, &log);
            if ctx.json() {
                render::json(&serde_json::json!({"migrations": statuses}));
            } else {
                render::migrate::status(&statuses);
            }
            Ok(if up::pending(&statuses) > 0 {
                CHANGES_PENDING
            } else {
                SUCCESS
            })
        }
        MigrateCommand::Plan(a) => {
            let log = changelog::read_all(&client, &meta_db).await?;
            let selected = up::select(&ws.migrations, &log, a.to.as_deref())?;
            let counts = count::count(&client, &dbs, &selected).await?;
            if ctx.json() {
                render::json(&serde_json::json!({"steps": counts}));
            } else {
                render::migrate::plan(&counts);
            }
            Ok(SUCCESS)
        }
        MigrateCommand::Up(a) => up_command(a, ctx, &ws, &client, &dbs).await,
        MigrateCommand::Rollback(a) => rollback_command(a, ctx, &ws, &client, &dbs).await,
    }
}

/// Runs `work` on an engine holding the cluster lease, with progress, and gives the lease back.
async fn under_lease<T>(
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    dbs: &Databases,
    command: &str,
    lock: &LockArgs,
    work: impl AsyncFnOnce(&Engine<'_>) -> Result<T>,
) -> Result<T> {
    let meta_db = ws.manifest.metadata_database.as_str();
    let lease = lease::acquire(
        client,
        meta_db,
        lease::CLUSTER_CHANGES,
        command,
        lock.wait(),
    )
    .await?;
    let progress = render::migrate::Progress::new(ctx.show_progress());
    let engine = Engine {
        client,
        dbs,
        meta_db,
        lease: &lease,
        observe: progress.observer(),
    };
    let result = work(&engine).await;
    progress.finish();
    let released = lease.release().await;
    let value = result?;
    released?;
    Ok(value)
}

pub fn default_rollback_dir(ws: &Workspace) -> PathBuf {
    ws.root.join(".mongoctl").join("rollback")
}

async fn up_command(
    a: UpArgs,
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    dbs: &Databases,
) -> Result<u8> {
    let opts = UpOptions {
        to: a.to,
        rollback_dir: a.rollback_dir.unwrap_or_else(|| default_rollback_dir(ws)),
        batch_size: a.batch_size as usize,
        drop_source: a.drop_source,
        only: None,
    };
    let report = under_lease(
        ctx,
        ws,
        client,
        dbs,
        "mongoctl migrate up",
        &a.lock,
        async |e| e.up(&ws.migrations, &opts).await,
    )
    .await?;
    if ctx.json() {
        render::json(&report);
    } else if !ctx.global.quiet {
        render::migrate::up(&report);
    }
    if let Some(f) = &report.failed {
        eprintln!("error: {f}");
        return Err(Reported(ERROR).into());
    }
    Ok(SUCCESS)
}

async fn rollback_command(
    a: RollbackArgs,
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    dbs: &Databases,
) -> Result<u8> {
    let meta_db = ws.manifest.metadata_database.as_str();
    let log = changelog::read_all(client, meta_db).await?;
    let targets = rollback::select(&log, a.to.as_deref())?;
    if targets.is_empty() {
        if ctx.json() {
            render::json(&serde_json::json!({"rolled_back": []}));
        } else if !ctx.global.quiet {
            println!("nothing to roll back");
        }
        return Ok(SUCCESS);
    }
    let ids: Vec<&str> = targets.iter().map(|e| e.id.as_str()).collect();
    super::confirm::require(
        &format!("roll back {} (collections are restored as they were before; writes made since to them are lost)", ids.join(", ")),
        ctx.global.yes,
    )
    .await?;
    let to = a.to.as_deref();
    let done = under_lease(
        ctx,
        ws,
        client,
        dbs,
        "mongoctl migrate rollback",
        &a.lock,
        async |e| e.rollback(to).await,
    )
    .await?;
    if ctx.json() {
        render::json(&serde_json::json!({"rolled_back": done}));
    } else if !ctx.global.quiet {
        render::migrate::rolled_back(&done);
    }
    Ok(SUCCESS)
}
