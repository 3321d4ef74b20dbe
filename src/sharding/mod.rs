//! Sharding and zones: what the manifest declares ([`model`]), what a sharded cluster has
//! ([`live`], read from `config.*` through a mongos) and the commands between them ([`diff`]).
//! Without a mongos nothing is read: the steps are those for a cluster with nothing sharded,
//! shown so that they can be reviewed, never sent.

pub mod diff;
pub mod live;
pub mod model;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use mongodb::Client;

use crate::spec::Workspace;
use diff::{ClusterSharding, NOT_SHARDED, ShardingPlan};
use model::{DeclaredCollection, DeclaredSharding};

/// The declared sharding of `domains` (all when empty), with database names resolved.
/// Zones are cluster-wide: a run scoped to some domains leaves them alone.
pub fn declared(
    ws: &Workspace,
    names: &BTreeMap<String, String>,
    domains: &[String],
) -> DeclaredSharding {
    let collections = ws
        .manifest
        .domains
        .iter()
        .filter(|d| domains.is_empty() || domains.contains(&d.name))
        .flat_map(|d| {
            let db = names.get(&d.name).unwrap_or(&d.database).clone();
            d.collections.iter().filter_map(move |c| {
                let key = c.sharding.shard_key.clone()?;
                Some(DeclaredCollection {
                    namespace: format!("{db}.{}", c.name),
                    key,
                    zone_ranges: c.sharding.zone_ranges.clone(),
                })
            })
        })
        .collect();
    let zones = if domains.is_empty() {
        ws.manifest.sharding.zones.clone()
    } else {
        BTreeMap::new()
    };
    DeclaredSharding { zones, collections }
}

/// The sharding part of the plan; `None` when nothing is declared.
pub async fn plan(client: &Client, declared: &DeclaredSharding) -> Result<Option<ShardingPlan>> {
    if declared.is_empty() {
        return Ok(None);
    }
    let mongos = live::is_mongos(client).await?;
    let state = if mongos {
        let namespaces: Vec<String> = declared
            .collections
            .iter()
            .map(|c| c.namespace.clone())
            .collect();
        live::read(client, &namespaces).await?
    } else {
        ClusterSharding::default()
    };
    let d = diff::diff(declared, &state);
    Ok(Some(ShardingPlan {
        mongos,
        note: (!mongos).then(|| NOT_SHARDED.to_string()),
        steps: d.steps,
        conflicts: d.conflicts,
    }))
}

/// Why `apply` may not run the sharding steps of `plan`, if it may not.
pub fn refusal(plan: &ShardingPlan) -> Option<String> {
    if !plan.mongos && !plan.steps.is_empty() {
        Some(format!(
            "{NOT_SHARDED}: {} sharding step(s) can only be sent through a mongos",
            plan.steps.len()
        ))
    } else if !plan.conflicts.is_empty() {
        Some(format!(
            "{} sharding conflict(s) cannot be converged by mongoctl: {}",
            plan.conflicts.len(),
            plan.conflicts.join("; ")
        ))
    } else {
        None
    }
}

/// Sends the steps through the mongos, in order, stopping at the first failure; returns
/// how many ran. The error says which step failed and how many ran before it.
pub async fn execute(client: &Client, plan: &ShardingPlan) -> Result<usize> {
    if !plan.mongos {
        bail!("{NOT_SHARDED}: refusing to send sharding commands");
    }
    let admin = client.database("admin");
    for (i, step) in plan.steps.iter().enumerate() {
        admin
            .run_command(step.command.clone())
            .await
            .with_context(|| {
                format!(
                    "sharding step {} of {} failed ({}); the {i} before it ran",
                    i + 1,
                    plan.steps.len(),
                    step.summary
                )
            })?;
    }
    Ok(plan.steps.len())
}
