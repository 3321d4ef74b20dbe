//! `users rotate NAME`: a new password for a declared user, from the same source its spec
//! names (env var, file, or generated into the secrets file). The value is never printed.

use std::path::PathBuf;

use anyhow::{Result, bail};
use bson::doc;
use clap::{Args, Subcommand};

use crate::context::Ctx;
use crate::error::describe_driver_error;
use crate::exit::SUCCESS;
use crate::flags::LockArgs;
use crate::lease;
use crate::model::PasswordSource;
use crate::secrets::{self, Outcome};

#[derive(Subcommand, Debug, Clone)]
pub enum UsersCommand {
    /// Set a new password for a declared user from its password source
    #[command(
        after_help = "A generated password is appended to the secrets file as `pending`, then marked `confirmed` once the server took it (the working password is the newest confirmed entry). A user whose spec names {\"env\": \"VAR\"} or {\"file\": \"PATH\"} gets the value from there.\n\nExample:\n  mongoctl users rotate svc_auth --secrets-file ~/secrets/prod.jsonl"
    )]
    Rotate(RotateArgs),
}

#[derive(Args, Debug, Clone)]
pub struct RotateArgs {
    /// The user's name in the manifest
    pub name: String,
    /// Where a generated password is appended (created 0600, never overwritten)
    #[arg(long, env = "MONGOCTL_SECRETS_FILE", value_name = "PATH")]
    pub secrets_file: Option<PathBuf>,
    #[command(flatten)]
    pub lock: LockArgs,
}

pub async fn run(cmd: UsersCommand, ctx: &Ctx) -> Result<u8> {
    let UsersCommand::Rotate(args) = cmd;
    let ws = super::workspace(ctx)?;
    let desired = ctx.desired(&ws, &[])?;
    let Some(user) = desired
        .access
        .as_ref()
        .and_then(|a| a.users.iter().find(|u| u.name == args.name))
    else {
        bail!(
            "no user \"{}\" in {}",
            args.name,
            crate::spec::MANIFEST_FILE
        );
    };
    let Some(source) = &user.password else {
        bail!("user {} has no password source", user.id())
    };
    let password = secrets::read_source(source)?;
    let (client, _) = ctx.connect(Some(&ws)).await?;
    let pending_in = match source {
        PasswordSource::Generate => Some(args.secrets_file.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "{} gets a generated password: pass --secrets-file PATH (or MONGOCTL_SECRETS_FILE)",
                user.id()
            )
        })?),
        _ => None,
    };
    let lease = lease::acquire(
        &client,
        &ws.manifest.metadata_database,
        lease::CLUSTER_CHANGES,
        "mongoctl users rotate",
        args.lock.wait(),
    )
    .await?;
    // Written before the server sees it (a crash cannot lose it), confirmed only after.
    let pending = match pending_in {
        Some(path) => {
            let env = ctx.environment(&ws)?.map(|(n, _)| n);
            let entries = [(user.name.clone(), user.db.clone(), password.clone())];
            Some((
                path,
                secrets::record_pending(path, &entries, env.as_deref())?,
            ))
        }
        None => None,
    };
    let updated = client
        .database(&user.db)
        .run_command(
            doc! {"updateUser": &user.name, "pwd": password, "mechanisms": user.mechanisms.clone()},
        )
        .await;
    let released = lease.release().await;
    if let Some((path, entries)) = &pending {
        let outcome = if updated.is_ok() {
            Outcome::Confirmed
        } else {
            Outcome::Failed
        };
        let outcomes: Vec<_> = entries.iter().map(|p| (p, outcome)).collect();
        secrets::record_outcomes(path, &outcomes)?;
    }
    updated.map_err(|e| {
        anyhow::anyhow!(
            "rotating {}: {}; the password did not change",
            user.id(),
            crate::redact::scrub(&describe_driver_error(&e))
        )
    })?;
    released?;
    if !ctx.global.quiet {
        println!("Password of {} rotated (source: {source}).", user.id());
    }
    Ok(SUCCESS)
}
