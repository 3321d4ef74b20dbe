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
use crate::spec::tenants::substitute;
use diff::{ClusterSharding, NOT_SHARDED, ShardingPlan};
use model::{DeclaredCollection, DeclaredSharding};

/// The declared sharding of `domains` (all when empty), with database names resolved and
/// template domains instantiated for `tenants`.
/// Zones are cluster-wide: a run scoped to some domains leaves them alone.
pub fn declared(
    ws: &Workspace,
    names: &BTreeMap<String, String>,
    domains: &[String],
    tenants: &[String],
) -> DeclaredSharding {
    let collections = ws
        .manifest
        .domains
        .iter()
        .filter(|d| domains.is_empty() || domains.contains(&d.name))
        .flat_map(|d| {
            let db = names.get(&d.name).unwrap_or(&d.database).clone();
            // A template's collections exist once per tenant (the tenants of this run).
            let databases: Vec<String> = if d.template {
                tenants.iter().map(|t| substitute(&db, t)).collect()
            } else {
                vec![db]
            };
            databases.into_iter().flat_map(move |db| {
                d.collections.iter().filter_map(move |c| {
                    let key = c.sharding.shard_key.clone()?;
                    Some(DeclaredCollection {
                        namespace: format!("{db}.{}", c.name),
                        key,
                        zone_ranges: c.sharding.zone_ranges.clone(),
                    })
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

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::spec::{MANIFEST_FILE, load};

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MANIFEST_FILE),
            r#"{"project": "p", "sharding": {"zones": {"eu": ["s1"]}},
                "domains": {
                  "chat": {"database": "chat", "collections": {
                    "events": {"shardKey": {"_id": "hashed"}},
                    "plain": {}}},
                  "ops": {"database": "ops", "collections": {"log": {"shardKey": {"_id": 1}}}}}}"#,
        )
        .unwrap();
        let loaded = load(dir.path());
        assert_eq!(loaded.errors(), 0);
        (dir, loaded.workspace.unwrap())
    }

    #[test]
    fn declared_resolves_namespaces_and_scopes_zones_to_whole_runs() {
        let (_dir, ws) = workspace();
        let names = BTreeMap::from([("chat".to_string(), "dev_chat".to_string())]);
        let all = declared(&ws, &names, &[], &[]);
        let ns: Vec<_> = all
            .collections
            .iter()
            .map(|c| c.namespace.as_str())
            .collect();
        assert_eq!(ns, ["dev_chat.events", "ops.log"]);
        assert_eq!(all.zones["eu"], ["s1"]);
        let scoped = declared(&ws, &names, &["ops".to_string()], &[]);
        assert_eq!(scoped.collections.len(), 1);
        assert!(scoped.zones.is_empty(), "zones are cluster-wide");
    }

    #[test]
    fn a_template_domain_is_sharded_once_per_tenant_never_as_its_template() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MANIFEST_FILE),
            r#"{"project": "p", "tenants": {"file": "tenants.json"},
                "domains": {"chat": {"database": "chat_{tenant}", "tenancy": "database",
                  "collections": {"messages": {"shardKey": {"_id": "hashed"}}}}}}"#,
        )
        .unwrap();
        let loaded = load(dir.path());
        let ws = loaded.workspace.unwrap();
        let tenants = ["acme".to_string(), "globex".to_string()];
        let d = declared(&ws, &BTreeMap::new(), &[], &tenants);
        let ns: Vec<_> = d.collections.iter().map(|c| c.namespace.as_str()).collect();
        assert_eq!(ns, ["chat_acme.messages", "chat_globex.messages"]);
        assert!(
            declared(&ws, &BTreeMap::new(), &[], &[])
                .collections
                .is_empty()
        );
    }

    #[test]
    fn refusal_without_a_mongos_or_with_a_conflict() {
        let step = diff::Step {
            summary: "s".into(),
            command: doc! {"shardCollection": "a.b", "key": {"_id": 1}},
        };
        let no_mongos = ShardingPlan {
            mongos: false,
            note: Some(NOT_SHARDED.into()),
            steps: vec![step.clone()],
            conflicts: vec![],
        };
        assert_eq!(
            refusal(&no_mongos).unwrap(),
            "sharding is declared but the cluster is not sharded (no mongos): 1 sharding step(s) can only be sent through a mongos"
        );
        let fine = ShardingPlan {
            mongos: true,
            steps: vec![step],
            ..Default::default()
        };
        assert_eq!(refusal(&fine), None);
        let conflict = ShardingPlan {
            mongos: true,
            conflicts: vec!["a.b is sharded on another key".into()],
            ..Default::default()
        };
        assert!(
            refusal(&conflict)
                .unwrap()
                .starts_with("1 sharding conflict(s)")
        );
        // Nothing to send and nothing in conflict: no refusal, mongos or not.
        assert_eq!(refusal(&ShardingPlan::default()), None);
    }

    #[test]
    fn sharding_steps_are_pending_only_through_a_mongos() {
        let step = diff::Step {
            summary: "s".into(),
            command: doc! {"addShardToZone": "s1", "zone": "eu"},
        };
        let mut plan = crate::plan::Plan {
            sharding: Some(ShardingPlan {
                mongos: false,
                note: Some(NOT_SHARDED.into()),
                steps: vec![step.clone()],
                conflicts: vec![],
            }),
            ..Default::default()
        };
        assert!(plan.is_empty(), "steps that cannot be sent are not pending");
        plan.sharding = Some(ShardingPlan {
            mongos: true,
            steps: vec![step],
            ..Default::default()
        });
        assert!(!plan.is_empty());
    }
}
