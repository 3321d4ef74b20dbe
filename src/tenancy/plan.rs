//! Plans the fleet: reads the tenant list, adds every tenant's roles and users to the shared
//! desired state, then reads each tenant's databases (one `listDatabases` and one
//! `$listCatalog` for all of them, then `listCollections` per tenant with at most `jobs`
//! tenants at a time; `listIndexes` per collection where the catalog cannot answer) and diffs
//! each one with the pure `diff`. Converged tenants leave only a count behind.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use futures::{StreamExt, TryStreamExt};
use mongodb::Client;

use super::expand::{self, Templates};
use super::fleet::{FleetPlan, TenantPlan};
use crate::diff;
use crate::live;
use crate::model::ClusterState;
use crate::plan::{Action, Change, Plan};
use crate::spec::Workspace;
use crate::spec::tenants::Tenant;

/// `--tenant` and `--jobs`, as the planner takes them.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these tenants (empty: all; orphans are only looked for then).
    pub only: Vec<String>,
    /// Tenants read (and applied) at a time.
    pub jobs: usize,
}

/// The templates and tenants of a run.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub templates: Templates,
    /// Every tenant of the source.
    pub all: Vec<Tenant>,
    /// The tenants this run covers (`--tenant`, else all).
    pub selected: Vec<Tenant>,
    pub narrowed: bool,
    pub jobs: usize,
}

/// Splits `desired` into the shared part and the templates; with templates, reads the tenants
/// and adds all their roles and users to the shared part. `None` for a workspace without
/// templates (then `desired` comes back unchanged).
pub async fn prepare(
    client: &Client,
    ws: &Workspace,
    desired: ClusterState,
    names: &BTreeMap<String, String>,
    selection: &Selection,
) -> Result<(ClusterState, Option<Fleet>)> {
    if !ws.manifest.has_templates() {
        if !selection.only.is_empty() {
            bail!(
                "--tenant: this workspace declares no template domain (\"tenancy\": \"database\")"
            );
        }
        return Ok((desired, None));
    }
    let (mut shared, templates) = expand::split(desired);
    let template_names: Vec<String> = ws
        .manifest
        .domains
        .iter()
        .filter(|d| d.template)
        .filter_map(|d| names.get(&d.name).cloned())
        .collect();
    let all = super::source::tenants(
        client,
        ws,
        |domain| names.get(domain).cloned(),
        &template_names,
    )
    .await?;
    let known: BTreeSet<&str> = all.iter().map(|t| t.id.as_str()).collect();
    if let Some(unknown) = selection.only.iter().find(|t| !known.contains(t.as_str())) {
        let hint = crate::spec::fields::did_you_mean(unknown, known.iter().copied())
            .map(|s| format!("; did you mean \"{s}\"?"))
            .unwrap_or_default();
        bail!("--tenant {unknown}: not in the tenant source{hint}");
    }
    let selected: Vec<Tenant> = all
        .iter()
        .filter(|t| selection.only.is_empty() || selection.only.contains(&t.id))
        .cloned()
        .collect();
    if shared.access.is_some() {
        expand::with_tenant_access(&mut shared, &templates, &all);
    }
    Ok((
        shared,
        Some(Fleet {
            templates,
            all,
            selected,
            narrowed: !selection.only.is_empty(),
            jobs: selection.jobs.max(1),
        }),
    ))
}

/// Plans every selected tenant and attaches the result to `plan` (the shared plan): the
/// tenants' role and user changes move from it into their tenant's plan (those of tenants not
/// selected are left out).
pub async fn attach(client: &Client, fleet: &Fleet, plan: &mut Plan, prune: bool) -> Result<()> {
    let existing: BTreeSet<String> = live::existing_databases(client)
        .await?
        .into_iter()
        .collect();
    let owners = expand::access_owners(&fleet.templates, &fleet.all);
    let mut access: BTreeMap<String, Vec<Change>> = BTreeMap::new();
    let mut shared = Vec::new();
    for c in std::mem::take(&mut plan.changes) {
        match expand::access_subject(&c).and_then(|s| owners.get(s)) {
            Some(t) if is_access(c.action) => access.entry(t.clone()).or_default().push(c),
            _ => shared.push(c),
        }
    }
    plan.changes = shared;

    let names: Vec<String> = fleet
        .selected
        .iter()
        .flat_map(|t| expand::databases(&fleet.templates, &t.id))
        .map(|d| d.name)
        .filter(|n| existing.contains(n))
        .collect();
    let catalog = live::catalog::Catalog::read(client, &names).await?;
    let plans = futures::stream::iter(fleet.selected.iter().map(|t| {
        let changes = access.remove(&t.id).unwrap_or_default();
        let reads = TenantReads {
            existing: &existing,
            catalog: catalog.as_ref(),
        };
        plan_tenant(client, &fleet.templates, &t.id, reads, changes, prune)
    }))
    .buffer_unordered(fleet.jobs);
    let results: Vec<Option<TenantPlan>> = plans.try_collect().await?;
    let mut out = FleetPlan {
        tenants: fleet.selected.len(),
        ..FleetPlan::default()
    };
    for r in results {
        match r {
            Some(t) => out.changed.push(t),
            None => out.converged += 1,
        }
    }
    if !fleet.narrowed {
        let ids: BTreeSet<String> = fleet.all.iter().map(|t| t.id.clone()).collect();
        out.orphans = expand::orphans(
            &fleet.templates.database_names(),
            &existing.iter().cloned().collect::<Vec<_>>(),
            &ids,
        );
        if prune {
            out.changed
                .extend(out.orphans.iter().map(|o| drop_orphan(&fleet.templates, o)));
        }
    }
    out.changed.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    plan.tenants = Some(out);
    Ok(())
}

fn is_access(a: Action) -> bool {
    matches!(
        a,
        Action::CreateRole | Action::UpdateRole | Action::CreateUser | Action::UpdateUser
    )
}

/// What the tenants' reads share: the databases and (where the server answers
/// `$listCatalog`) the index specs, both read once for the fleet.
#[derive(Clone, Copy)]
struct TenantReads<'a> {
    existing: &'a BTreeSet<String>,
    catalog: Option<&'a live::catalog::Catalog>,
}

/// One tenant's plan, or `None` when it has nothing to do and nothing unmanaged.
async fn plan_tenant(
    client: &Client,
    templates: &Templates,
    id: &str,
    reads: TenantReads<'_>,
    access: Vec<Change>,
    prune: bool,
) -> Result<Option<TenantPlan>> {
    let databases = expand::databases(templates, id);
    let missing = !databases.iter().any(|d| reads.existing.contains(&d.name));
    let live = live::inspect_databases(client, &databases, reads.existing, reads.catalog).await?;
    let desired = ClusterState {
        databases,
        access: None,
    };
    let live = ClusterState {
        databases: live,
        access: None,
    };
    let mut plan = diff::diff(&desired, &live, prune);
    if plan.changes.is_empty() && plan.unmanaged.is_empty() && access.is_empty() {
        return Ok(None);
    }
    plan.changes.extend(access);
    plan.changes.sort_by_key(|c| c.action.phase());
    Ok(Some(tenant_plan(templates, id, missing, false, plan)))
}

fn tenant_plan(
    templates: &Templates,
    id: &str,
    missing: bool,
    orphan: bool,
    plan: Plan,
) -> TenantPlan {
    let pairs = expand::generalizer(templates, id);
    let signature = plan
        .changes
        .iter()
        .map(|c| {
            let line = format!(
                "{} {}{}: {}",
                c.action.label(),
                c.database,
                c.collection
                    .as_deref()
                    .map(|x| format!(".{x}"))
                    .unwrap_or_default(),
                c.summary
            );
            expand::generalize(&line, &pairs)
        })
        .collect();
    TenantPlan {
        tenant: id.to_string(),
        missing,
        orphan,
        plan,
        signature,
    }
}

/// `dropDatabase` of each of an orphan tenant's databases.
fn drop_orphan(templates: &Templates, o: &expand::Orphan) -> TenantPlan {
    let mut plan = Plan::default();
    for db in &o.databases {
        let mut c = Change::new(
            Action::DropDatabase,
            db,
            None,
            format!("orphan tenant {} (not in the tenant source)", o.tenant),
        );
        c.commands.push(bson::doc! {"dropDatabase": 1});
        plan.changes.push(c);
    }
    tenant_plan(templates, &o.tenant, false, true, plan)
}
