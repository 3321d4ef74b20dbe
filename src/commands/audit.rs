//! `audit`: every user and role in the cluster held against the spec (the findings come from
//! `crate::audit`, the output from `render::audit`). Exit 2 when there is any finding (a CI
//! gate).

use anyhow::Result;
use clap::Args;

use crate::audit::findings;
use crate::context::Ctx;
use crate::exit::{CHANGES_PENDING, SUCCESS};
use crate::live;
use crate::render;

#[derive(Args, Debug, Clone, Default)]
pub struct AuditArgs {}

pub async fn run(_args: AuditArgs, ctx: &Ctx) -> Result<u8> {
    let ws = super::workspace(ctx)?;
    let desired = ctx.desired(&ws, &[])?;
    let (client, _) = ctx.connect(Some(&ws)).await?;
    // Template workspaces: every tenant's roles and users are declared.
    let (desired, _) = super::plan::desired_fleet(
        ctx,
        &ws,
        &client,
        desired,
        &crate::flags::TenantArgs::default(),
    )
    .await?;
    let declared = desired.access.unwrap_or_default();
    let live = live::inspect_access(&client, true).await?;
    let found = findings(&declared, &live);
    if ctx.json() {
        render::audit::json(&live, &found);
    } else {
        render::audit::table(&live, &found, ctx.global.quiet);
    }
    Ok(if found.is_empty() {
        SUCCESS
    } else {
        CHANGES_PENDING
    })
}
