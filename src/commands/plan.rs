//! `plan`: inspect the live cluster and show what `apply` would change.

use anyhow::{Context, Result};
use clap::Args;
use mongodb::Client;

use crate::context::Ctx;
use crate::contract_impact;
use crate::diff;
use crate::exit::{CHANGES_PENDING, SUCCESS};
use crate::flags::{LockArgs, ScopeArgs, TenantArgs};
use crate::lease::{self, Lease};
use crate::live;
use crate::migrate::pending;
use crate::migrate::target::Databases;
use crate::model::ClusterState;
use crate::plan::Plan;
use crate::render;
use crate::sharding;
use crate::spec::Workspace;
use crate::tenancy;
use crate::validator_impact;

/// Loads, connects, inspects and diffs: shared by `plan` and `apply`.
pub async fn compute(
    ctx: &Ctx,
    domains: &[String],
    prune: bool,
    tenants: &TenantArgs,
) -> Result<(Workspace, Client, Plan)> {
    let (ws, client, plan, _) = compute_with(ctx, domains, prune, tenants, None).await?;
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
    tenants: &TenantArgs,
    lock: &LockArgs,
    command: &str,
) -> Result<(Workspace, Client, Plan, Option<Lease>)> {
    compute_with(ctx, domains, prune, tenants, Some((lock, command))).await
}

/// The desired state's shared part and, for a template workspace, the fleet of tenants.
pub async fn desired_fleet(
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    desired: ClusterState,
    tenants: &TenantArgs,
) -> Result<(ClusterState, Option<tenancy::plan::Fleet>)> {
    let names = ctx.database_names(ws)?;
    tenancy::plan::prepare(client, ws, desired, &names, &tenants.selection()).await
}

/// `diff`, then (template workspaces) every tenant's plan attached to it.
pub async fn diff_fleet(
    client: &Client,
    desired: &ClusterState,
    live: &ClusterState,
    fleet: Option<&tenancy::plan::Fleet>,
    prune: bool,
) -> Result<Plan> {
    let mut plan = diff::diff(desired, live, prune);
    if let Some(fleet) = fleet {
        tenancy::plan::attach(client, fleet, &mut plan, prune)
            .await
            .context("planning the tenants")?;
    }
    Ok(plan)
}

async fn compute_with(
    ctx: &Ctx,
    domains: &[String],
    prune: bool,
    tenants: &TenantArgs,
    lock: Option<(&LockArgs, &str)>,
) -> Result<(Workspace, Client, Plan, Option<Lease>)> {
    let ws = super::workspace(ctx)?;
    let requested = domains;
    let domains = ctx.domains(&ws, domains)?;
    let desired = ctx.desired(&ws, &domains)?;
    let (client, choice) = ctx.connect(Some(&ws)).await?;
    let (desired, fleet) = desired_fleet(ctx, &ws, &client, desired, tenants).await?;
    let inspect = async || {
        live::inspect(&client, &desired)
            .await
            .with_context(|| format!("reading the cluster at {}", choice.shown))
    };
    let live = inspect().await?;
    let mut plan = diff_fleet(&client, &desired, &live, fleet.as_ref(), prune).await?;
    with_migrations(ctx, &ws, &client, requested, &mut plan).await?;
    with_sharding(ctx, &ws, &client, &domains, fleet.as_ref(), &mut plan).await?;
    let Some((lock, command)) = lock.filter(|_| !plan.is_empty()) else {
        let plan = with_impact(&client, &ws, &desired, &live, plan).await?;
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
    let replanned = async {
        let live = inspect().await?;
        let mut plan = diff_fleet(&client, &desired, &live, fleet.as_ref(), prune).await?;
        with_migrations(ctx, &ws, &client, requested, &mut plan).await?;
        with_sharding(ctx, &ws, &client, &domains, fleet.as_ref(), &mut plan).await?;
        with_impact(&client, &ws, &desired, &live, plan).await
    };
    match replanned.await {
        Ok(plan) => Ok((ws, client, plan, Some(lease))),
        Err(e) => {
            let _ = lease.release().await;
            Err(e)
        }
    }
}

/// Recomputes the plan under a lease already held (after `apply` ran the migrations).
pub async fn replan(
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    requested: &[String],
    prune: bool,
    tenants: &TenantArgs,
) -> Result<Plan> {
    let domains = ctx.domains(ws, requested)?;
    let desired = ctx.desired(ws, &domains)?;
    let (desired, fleet) = desired_fleet(ctx, ws, client, desired, tenants).await?;
    let live = live::inspect(client, &desired).await?;
    let mut plan = diff_fleet(client, &desired, &live, fleet.as_ref(), prune).await?;
    with_migrations(ctx, ws, client, requested, &mut plan).await?;
    with_sharding(ctx, ws, client, &domains, fleet.as_ref(), &mut plan).await?;
    with_impact(client, ws, &desired, &live, plan).await
}

/// The declared sharding's steps, on the plan (read through a mongos, or for a cluster with
/// nothing sharded when there is none).
async fn with_sharding(
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    domains: &[String],
    fleet: Option<&tenancy::plan::Fleet>,
    plan: &mut Plan,
) -> Result<()> {
    let tenants: Vec<String> = fleet
        .map(|f| f.selected.iter().map(|t| t.id.clone()).collect())
        .unwrap_or_default();
    let names = ctx
        .databases(ws)?
        .into_iter()
        .map(|r| (r.domain, r.name))
        .collect();
    let declared = sharding::declared(ws, &names, domains, &tenants);
    plan.sharding = sharding::plan(client, &declared)
        .await
        .context("reading the cluster's sharding state")?;
    Ok(())
}

/// The migrations not applied, on the plan; drops of collections they retire, off it.
pub(crate) async fn with_migrations(
    ctx: &Ctx,
    ws: &Workspace,
    client: &Client,
    requested: &[String],
    plan: &mut Plan,
) -> Result<()> {
    if ws.migrations.is_empty() {
        return Ok(());
    }
    let dbs = Databases::new(&ctx.databases(ws)?);
    let pending = pending::not_applied(
        client,
        &ws.manifest.metadata_database,
        &ws.migrations,
        requested,
    )
    .await
    .context("reading the migrations changelog")?;
    pending::attach(plan, pending, &pending::retired(&ws.migrations, &dbs));
    Ok(())
}

/// The plan with the stored documents each validator change would leave violating, and the
/// query contracts its index changes would break.
async fn with_impact(
    client: &Client,
    ws: &Workspace,
    desired: &crate::model::ClusterState,
    live: &crate::model::ClusterState,
    mut plan: Plan,
) -> Result<Plan> {
    validator_impact::annotate(client, ws, desired, live, &mut plan)
        .await
        .context("counting the stored documents that violate the planned validators")?;
    plan.contract_warnings = contract_impact::warnings(&ws.queries, desired, live, &plan.changes);
    Ok(plan)
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
    #[command(flatten)]
    pub tenants: TenantArgs,
}

pub async fn run(args: PlanArgs, ctx: &Ctx) -> Result<u8> {
    let (_, _, plan) = compute(ctx, &args.scope.domain, args.prune, &args.tenants).await?;
    if ctx.json() {
        render::json(&plan);
    } else if !ctx.global.quiet || !plan.is_empty() {
        render::plan(&plan, args.prune, ctx.global.verbose > 0);
        if let Some(s) = &plan.sharding {
            print!("{}", render::sharding::text(s));
        }
    }
    Ok(if args.exit_code && !plan.is_empty() {
        CHANGES_PENDING
    } else {
        SUCCESS
    })
}
