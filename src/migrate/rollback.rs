//! `migrate rollback`: undoes migrations newest first, each step in reverse, from the
//! rollback points `up` recorded: a backup restored in place of the collection, a rename
//! renamed back, a copy's target dropped. Works for applied, failed and interrupted
//! migrations alike (only the steps that started are undone).

use anyhow::{Context, Result, bail};
use bson::{DateTime, Document, doc};
use serde::Serialize;

use super::changelog::{self, Entry, RollbackPoint, Status, StepStatus};
use super::events::Event;
use super::rollback_point;
use super::up::Engine;
use crate::error::described;

#[derive(Debug, Serialize)]
pub struct UndoneStep {
    pub step: usize,
    pub summary: String,
    /// What was done: `restored N documents from DIR`, `renamed back`, `dropped TARGET`.
    pub action: String,
}

#[derive(Debug, Serialize)]
pub struct RolledBack {
    pub id: String,
    pub steps: Vec<UndoneStep>,
}

/// The entries a rollback undoes, newest first: down to (not including) `to`, or the newest
/// one that is not rolled back.
pub fn select<'l>(log: &'l [Entry], to: Option<&str>) -> Result<Vec<&'l Entry>> {
    let mut live: Vec<&Entry> = log
        .iter()
        .filter(|e| e.status != Status::RolledBack)
        .collect();
    live.sort_by(|a, b| b.id.cmp(&a.id));
    match to {
        None => Ok(live.into_iter().take(1).collect()),
        Some(t) => {
            if !log.iter().any(|e| e.id == t) && !live.is_empty() && t != "0" {
                bail!(
                    "--to {t}: the changelog has no migration with that id (use 0 to roll back every migration)"
                );
            }
            Ok(live.into_iter().filter(|e| e.id.as_str() > t).collect())
        }
    }
}

impl Engine<'_> {
    pub async fn rollback(&self, to: Option<&str>) -> Result<Vec<RolledBack>> {
        let log = changelog::read_all(self.client, self.meta_db).await?;
        let targets: Vec<Entry> = select(&log, to)?.into_iter().cloned().collect();
        let mut out = Vec::new();
        for mut entry in targets {
            entry.status = Status::RollingBack;
            entry.by = changelog::who();
            changelog::save(self.client, self.meta_db, &entry).await?;
            let mut undone = Vec::new();
            for i in (0..entry.steps.len()).rev() {
                let rec = entry.steps[i].clone();
                if matches!(rec.status, StepStatus::Pending | StepStatus::RolledBack) {
                    continue;
                }
                (self.observe)(Event::StepStarted {
                    migration: &entry.id,
                    index: i,
                    summary: &rec.summary,
                    expected: None,
                });
                self.lease.ensure_held(None).await?;
                let mut actions = Vec::new();
                // A move whose source was dropped (--drop-source): the source comes back first.
                if let Some(src) = rec
                    .copy
                    .as_ref()
                    .and_then(|c| c.get_document("source_rollback").ok())
                {
                    let point: RollbackPoint = bson::from_document(src.clone())?;
                    actions.push(
                        self.undo(&point)
                            .await
                            .with_context(|| format!("rolling back {} step {}", entry.id, i + 1))?,
                    );
                }
                if let Some(point) = &rec.rollback {
                    actions.push(
                        self.undo(point)
                            .await
                            .with_context(|| format!("rolling back {} step {}", entry.id, i + 1))?,
                    );
                }
                entry.steps[i].status = StepStatus::RolledBack;
                changelog::update_step(
                    self.client,
                    self.meta_db,
                    &entry.id,
                    i as u32,
                    doc! {"status": "rolled_back"},
                    doc! {},
                    None,
                )
                .await?;
                undone.push(UndoneStep {
                    step: i + 1,
                    summary: rec.summary.clone(),
                    action: if actions.is_empty() {
                        "nothing had been written".into()
                    } else {
                        actions.join("; ")
                    },
                });
                (self.observe)(Event::StepFinished {
                    migration: &entry.id,
                    index: i,
                });
            }
            entry.status = Status::RolledBack;
            entry.finished_at = Some(DateTime::now());
            changelog::save(self.client, self.meta_db, &entry).await?;
            out.push(RolledBack {
                id: entry.id.clone(),
                steps: undone,
            });
        }
        Ok(out)
    }

    async fn undo(&self, point: &RollbackPoint) -> Result<String> {
        match point {
            RollbackPoint::Backup { dir, namespace, .. } => {
                (self.observe)(Event::Phase("restoring the rollback point"));
                let n = rollback_point::restore_backup(self.client, dir, namespace).await?;
                Ok(format!("restored {namespace} ({n} documents) from {dir}"))
            }
            RollbackPoint::InverseRename {
                namespace,
                from,
                to,
            } => {
                let (db, coll) = namespace
                    .split_once('.')
                    .context("a namespace is db.collection")?;
                let r = self
                    .client
                    .database(db)
                    .collection::<Document>(coll)
                    .update_many(
                        doc! {to: {"$exists": true}, from: {"$exists": false}},
                        doc! {"$rename": {to: from}},
                    )
                    .bypass_document_validation(true)
                    .await
                    .map_err(described)?;
                Ok(format!(
                    "renamed {to} back to {from} in {} documents of {namespace}",
                    r.modified_count
                ))
            }
            RollbackPoint::DropTarget { namespace } => {
                let (db, coll) = namespace
                    .split_once('.')
                    .context("a namespace is db.collection")?;
                self.client
                    .database(db)
                    .collection::<Document>(coll)
                    .drop()
                    .await
                    .map_err(described)?;
                Ok(format!("dropped {namespace}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: &str, status: Status) -> Entry {
        Entry {
            id: id.into(),
            checksum: String::new(),
            file: String::new(),
            description: String::new(),
            status,
            by: String::new(),
            started_at: DateTime::now(),
            finished_at: None,
            duration_ms: 0,
            steps: vec![],
            history: vec![],
        }
    }

    #[test]
    fn selects_newest_first_down_to_the_given_id() {
        let log = [
            e("0001_a", Status::Applied),
            e("0002_b", Status::Applied),
            e("0003_c", Status::Failed),
            e("0004_d", Status::RolledBack),
        ];
        let ids = |v: Vec<&Entry>| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(select(&log, None).unwrap()), ["0003_c"]);
        assert_eq!(
            ids(select(&log, Some("0001_a")).unwrap()),
            ["0003_c", "0002_b"]
        );
        assert_eq!(
            ids(select(&log, Some("0")).unwrap()),
            ["0003_c", "0002_b", "0001_a"]
        );
        assert!(select(&log, Some("0009_x")).is_err());
    }
}
