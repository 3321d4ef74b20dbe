//! `plan`: inspect the live cluster and show what `apply` would change.

use anyhow::{Context, Result};
use clap::Args;
use mongodb::Client;

use crate::context::Ctx;
use crate::diff;
use crate::exit::{CHANGES_PENDING, SUCCESS};
use crate::flags::{LockArgs, ScopeArgs};
use crate::lease::{self, Lease};
use crate::live;
use crate::plan::Plan;
use crate::render;
use crate::spec::Workspace;

/// Loads, connects, inspects and diffs: shared by `plan` and `apply`.
pub async fn compute(
    ctx: &Ctx,
    domains: &[String],
    prune: bool,
) -> Result<(Workspace, Client, Plan)> {
    let (ws, client, plan, _) = compute_with(ctx, domains, prune, None).await?;
    Ok((ws, client, plan))
}

/// As [`compute`], for a run that will change the cluster. A converged cluster gets no
/// write at all, not even the lease's: when the plan is empty it comes back with no lease;
/// otherwise the lease is taken and the plan computed again under it, from a state no other
/// mongoctl run is changing.
pub async fn compute_under_lease(
    ctx: &Ctx,
    domains: &[String],
    prune: bool,
    lock: &LockArgs,
    command: &str,
) -> Result<(Workspace, Client, Plan, Option<Lease>)> {
    compute_with(ctx, domains, prune, Some((lock, command))).await
}

async fn compute_with(
    ctx: &Ctx,
    domains: &[String],
    prune: bool,
    lock: Option<(&LockArgs, &str)>,
) -> Result<(Workspace, Client, Plan, Option<Lease>)> {
    let ws = super::workspace(ctx)?;
    let domains = ctx.domains(&ws, domains)?;
    let desired = ctx.desired(&ws, &domains)?;
    let (client, choice) = ctx.connect(Some(&ws)).await?;
    let inspect = async || {
        live::inspect(&client, &desired)
            .await
            .with_context(|| format!("reading the cluster at {}", choice.shown))
    };
    let plan = diff::diff(&desired, &inspect().await?, prune);
    let Some((lock, command)) = lock.filter(|_| !plan.is_empty()) else {
        return Ok((ws, client, plan, None));
    };
    let lease = lease::acquire(
        &client,
        &ws.manifest.metadata_database,
        lease::CLUSTER_CHANGES,
        command,
        lock.wait(),
    )
    .await?;
    match inspect().await {
        Ok(live) => {
            let plan = diff::diff(&desired, &live, prune);
            Ok((ws, client, plan, Some(lease)))
        }
        Err(e) => {
            let _ = lease.release().await;
            Err(e)
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct PlanArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Also plan dropping unmanaged collections and indexes
    #[arg(long)]
    pub prune: bool,
    /// Exit 2 when changes are pending
    #[arg(long)]
    pub exit_code: bool,
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
