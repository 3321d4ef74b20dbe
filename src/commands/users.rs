//! `users rotate NAME`: a new password for a declared user, from the same source its spec
//! names (env var, file, or generated into the secrets file). The value is never printed.

use std::path::PathBuf;

use anyhow::{Result, bail};
use bson::doc;
use clap::{Args, Subcommand};

use crate::context::{Ctx, describe_driver_error};
use crate::exit::SUCCESS;
use crate::model::PasswordSource;
use crate::secrets;

#[derive(Subcommand, Debug, Clone)]
pub enum UsersCommand {
    /// Set a new password for a declared user from its password source
    #[command(
        after_help = "Example:\n  SVC_AUTH_PASSWORD=… mongoctl users rotate svc_auth\n  mongoctl users rotate svc_auth --secrets-file ~/secrets/prod.jsonl"
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
}

pub async fn run(cmd: UsersCommand, ctx: &Ctx) -> Result<u8> {
    let UsersCommand::Rotate(args) = cmd;
    let ws = ctx.workspace()?;
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
    if *source == PasswordSource::Generate {
        let Some(path) = &args.secrets_file else {
            bail!(
                "{} gets a generated password: pass --secrets-file PATH (or MONGOCTL_SECRETS_FILE)",
                user.id()
            );
        };
        let env = ctx.environment(&ws)?.map(|(n, _)| n);
        secrets::record_generated(
            path,
            &[(user.name.clone(), user.db.clone(), password.clone())],
            env.as_deref(),
        )?;
    }
    client
        .database(&user.db)
        .run_command(
            doc! {"updateUser": &user.name, "pwd": password, "mechanisms": user.mechanisms.clone()},
        )
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "rotating {}: {}",
                user.id(),
                crate::redact::scrub(&describe_driver_error(&e))
            )
        })?;
    if !ctx.global.quiet {
        println!("Password of {} rotated (source: {source}).", user.id());
    }
    Ok(SUCCESS)
}
