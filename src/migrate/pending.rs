//! What `plan`, `verify` and `apply` know about migrations: the ones not applied (listed in
//! the plan, drift for `verify`, run by `apply` between the structure that must exist first
//! and the validators and indexes that must come after), the namespaces they touch, and the
//! collections they retire (which `apply --prune` leaves to them).

use std::collections::BTreeSet;

use anyhow::Result;
use mongodb::Client;

use super::changelog;
use super::model::{Migration, StepKind};
use super::status::{self, MigrationStatus, State};
use super::target::Databases;
use crate::plan::{Action, Plan};

/// Namespaces (`db.collection`) whose documents the migrations write: updated in place,
/// copy and move targets.
pub fn written(migrations: &[&Migration], dbs: &Databases) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for m in migrations {
        for s in &m.steps {
            let c = match &s.kind {
                StepKind::Update(u) => &u.coll,
                StepKind::Copy { to, .. } => to,
                StepKind::Drop { .. } => continue,
            };
            if let Ok(ns) = dbs.namespace(c) {
                out.insert(ns);
            }
        }
    }
    out
}

/// Namespaces some migration moves away or drops.
pub fn retired(migrations: &[Migration], dbs: &Databases) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for m in migrations {
        for s in &m.steps {
            let c = match &s.kind {
                StepKind::Copy {
                    from,
                    is_move: true,
                    ..
                } => from,
                StepKind::Drop { coll } => coll,
                _ => continue,
            };
            if let Ok(ns) = dbs.namespace(c) {
                out.insert(ns);
            }
        }
    }
    out
}

/// The migrations in scope (touching one of `domains`, or all when it is empty) that are not
/// applied, as the changelog says.
pub async fn not_applied(
    client: &Client,
    meta_db: &str,
    migrations: &[Migration],
    domains: &[String],
) -> Result<Vec<MigrationStatus>> {
    if migrations.is_empty() {
        return Ok(Vec::new());
    }
    let log = changelog::read_all(client, meta_db).await?;
    Ok(status::compare(migrations, &log)
        .into_iter()
        .filter(|s| s.state != State::Applied)
        .filter(|s| {
            domains.is_empty()
                || migrations.iter().find(|m| m.id == s.id).is_none_or(|m| {
                    m.steps
                        .iter()
                        .any(|st| st.collections().iter().any(|c| domains.contains(&c.domain)))
                })
        })
        .collect())
}

/// Puts the pending migrations on the plan, and takes drops of collections the migrations
/// retire out of it: moving or dropping them is the migrations' job (after verification),
/// not `--prune`'s.
pub fn attach(plan: &mut Plan, pending: Vec<MigrationStatus>, retired: &BTreeSet<String>) {
    plan.migrations = pending;
    plan.changes.retain(|c| {
        !(c.action == Action::DropCollection
            && retired.contains(&format!(
                "{}.{}",
                c.database,
                c.collection.as_deref().unwrap_or("")
            )))
    });
}
