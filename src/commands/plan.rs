//! `plan`: inspect the live cluster and show what `apply` would change.

use anyhow::{Context, Result};
use mongodb::Client;

use crate::cli::PlanArgs;
use crate::context::Ctx;
use crate::diff::{self, Plan};
use crate::exit::{CHANGES_PENDING, SUCCESS};
use crate::live;
use crate::render;
use crate::spec::Workspace;

/// Loads, connects, inspects and diffs: shared by `plan` and `apply`.
pub async fn compute(
    ctx: &Ctx,
    domains: &[String],
    prune: bool,
) -> Result<(Workspace, Client, Plan)> {
    let ws = ctx.workspace()?;
    let domains = ctx.domains(&ws, domains)?;
    let desired = ctx.desired(&ws, &domains)?;
    let (client, choice) = ctx.connect(Some(&ws)).await?;
    let live = live::inspect(&client, &desired)
        .await
        .with_context(|| format!("reading the cluster at {}", choice.shown))?;
    let plan = diff::diff(&desired, &live, prune);
    Ok((ws, client, plan))
}

pub async fn run(args: PlanArgs, ctx: &Ctx) -> Result<u8> {
    let (_, _, plan) = compute(ctx, &args.scope.domain, args.prune).await?;
    if ctx.json() {
        render::json(&plan);
    } else if !ctx.global.quiet || !plan.is_empty() {
        render::plan(&plan, args.prune, ctx.global.verbose > 0);
    }
    Ok(if args.exit_code && !plan.is_empty() {
        CHANGES_PENDING
    } else {
        SUCCESS
    })
}
