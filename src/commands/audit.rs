//! `audit`: every user and role in the cluster held against the spec (the findings come from
//! `crate::audit`, the output from `render::audit`); in a template workspace, also the proof
//! of tenant isolation from the effective privileges (`crate::audit::isolation`). Exit 2 when
//! there is any finding above `info` (a CI gate).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use clap::Args;

use crate::audit::isolation::{self, Isolation, TenantScope};
use crate::audit::{fails, findings};
use crate::context::Ctx;
use crate::exit::{CHANGES_PENDING, SUCCESS};
use crate::live;
use crate::model::{Access, Privilege};
use crate::render;
use crate::tenancy::{expand, plan::Fleet};

#[derive(Args, Debug, Clone, Default)]
pub struct AuditArgs {}

pub async fn run(_args: AuditArgs, ctx: &Ctx) -> Result<u8> {
    let ws = super::workspace(ctx)?;
    let desired = ctx.desired(&ws, &[])?;
    let (client, _) = ctx.connect(Some(&ws)).await?;
    // Template workspaces: every tenant's roles and users are declared.
    let (desired, fleet) = super::plan::desired_fleet(
        ctx,
        &ws,
        &client,
        desired,
        &crate::flags::TenantArgs::default(),
    )
    .await?;
    let declared = desired.access.unwrap_or_default();
    let live = live::inspect_access(&client, true).await?;
    let mut found = findings(&declared, &live);
    let isolation = match &fleet {
        Some(fleet) => {
            let (proof, more) = isolation_of(&client, fleet, &declared, &live).await?;
            found.extend(more);
            Some(proof)
        }
        None => None,
    };
    if ctx.json() {
        render::audit::json(&live, &found, isolation.as_ref());
    } else {
        render::audit::table(&live, &found, isolation.as_ref(), ctx.global.quiet);
    }
    Ok(if fails(&found) {
        CHANGES_PENDING
    } else {
        SUCCESS
    })
}

/// Reads the effective privileges of every live user and custom role and checks them against
/// the fleet's tenants.
async fn isolation_of(
    client: &mongodb::Client,
    fleet: &Fleet,
    declared: &Access,
    live: &Access,
) -> Result<(Isolation, Vec<crate::audit::Finding>)> {
    let (users, roles) = live::inspect_effective(client, &live.users, &live.roles)
        .await
        .context("reading effective privileges for the tenant isolation audit")?;
    let tenants = scopes(fleet);
    let tenant_users: BTreeSet<&str> = tenants
        .iter()
        .flat_map(|t| t.users.iter().chain(&t.roles).map(String::as_str))
        .collect();
    let custom: BTreeSet<String> = live
        .roles
        .iter()
        .map(|r| format!("{}@{}", r.name, r.db))
        .collect();
    let custom_roles: Vec<_> = roles
        .iter()
        .filter(|r| custom.contains(&r.id))
        .cloned()
        .collect();
    let role_privileges: BTreeMap<String, &[Privilege]> = roles
        .iter()
        .map(|r| (r.id.clone(), r.privileges.as_slice()))
        .collect();
    let input = isolation::Input {
        tenants: &tenants,
        declared_users: declared
            .users
            .iter()
            .map(|u| u.id())
            .filter(|id| !tenant_users.contains(id.as_str()))
            .collect(),
        declared_roles: declared
            .roles
            .iter()
            .map(|r| format!("{}@{}", r.name, r.db))
            .filter(|id| !tenant_users.contains(id.as_str()))
            .collect(),
        users: &users,
        roles: &custom_roles,
        role_privileges,
    };
    Ok(isolation::check(&input))
}

/// Every tenant of the source with its databases and its template users and roles.
fn scopes(fleet: &Fleet) -> Vec<TenantScope> {
    fleet
        .all
        .iter()
        .map(|t| {
            let (roles, users) = expand::access(&fleet.templates, &t.id);
            TenantScope {
                id: t.id.clone(),
                databases: expand::databases(&fleet.templates, &t.id)
                    .into_iter()
                    .map(|d| d.name)
                    .collect(),
                users: users.iter().map(|u| u.id()).collect(),
                roles: roles
                    .iter()
                    .map(|r| format!("{}@{}", r.name, r.db))
                    .collect(),
            }
        })
        .collect()
}
