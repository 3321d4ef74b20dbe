//! `migrate plan`: for every step of the migrations `up` would run, how many documents it
//! touches, counted by the server, and how it would be undone.

use anyhow::{Context, Result};
use bson::{Document, doc};
use mongodb::Client;
use serde::Serialize;

use super::model::{Migration, StepKind};
use super::target::{Databases, collection_exists};
use crate::error::described;

#[derive(Debug, Clone, Serialize)]
pub struct StepCount {
    pub migration: String,
    /// 1-based, as shown.
    pub step: usize,
    pub op: String,
    pub summary: String,
    pub namespace: String,
    /// Documents the step will match (updates), copy (copies, moves) or delete (drops).
    pub documents: u64,
    /// How `migrate rollback` would undo it: `backup`, `inverse rename`, `drop target`.
    pub rollback: &'static str,
}

/// Counts against the cluster as it is now: a step that depends on an earlier pending step
/// of the same run is counted before that step has run.
pub async fn count(
    client: &Client,
    dbs: &Databases,
    migrations: &[&Migration],
) -> Result<Vec<StepCount>> {
    let mut out = Vec::new();
    for m in migrations {
        for (i, step) in m.steps.iter().enumerate() {
            let first = step.collections()[0];
            let (db, coll) = dbs.resolve(first)?;
            let (documents, rollback) = match &step.kind {
                StepKind::Update(u) => {
                    let n = count_where(client, &db, &coll, u.filter.clone()).await?;
                    let kind = match &u.inverse_rename {
                        Some((from, to)) if collides(client, &db, &coll, from, to).await? == 0 => {
                            "inverse rename"
                        }
                        _ => "backup",
                    };
                    (n, kind)
                }
                StepKind::Copy { .. } => (
                    count_where(client, &db, &coll, doc! {}).await?,
                    "drop target",
                ),
                StepKind::Drop { .. } => {
                    (count_where(client, &db, &coll, doc! {}).await?, "backup")
                }
            };
            out.push(StepCount {
                migration: m.id.clone(),
                step: i + 1,
                op: step.op.clone(),
                summary: step.summary(),
                namespace: format!("{db}.{coll}"),
                documents,
                rollback,
            });
        }
    }
    Ok(out)
}

pub async fn count_where(client: &Client, db: &str, coll: &str, filter: Document) -> Result<u64> {
    if !collection_exists(client, db, coll).await? {
        return Ok(0);
    }
    client
        .database(db)
        .collection::<Document>(coll)
        .count_documents(filter)
        .await
        .map_err(described)
        .with_context(|| format!("counting documents in {db}.{coll}"))
}

/// Documents holding both the rename's source and target field: a rename over them loses
/// the target's value, so undoing it needs a backup instead of a rename back.
pub async fn collides(client: &Client, db: &str, coll: &str, from: &str, to: &str) -> Result<u64> {
    count_where(
        client,
        db,
        coll,
        doc! {from: {"$exists": true}, to: {"$exists": true}},
    )
    .await
}
