//! `--resume`: how far each namespace of a backup got, recorded in the target cluster
//! (`mongoctl.restore_progress`) as batches complete.

use std::path::Path;

use anyhow::{Context, Result};
use bson::{Document, doc};
use mongodb::{Client, Collection};

use crate::backup::manifest::manifest_path;
use crate::backup::staging::described;

/// Restore progress recorded in the target cluster (`mongoctl.restore_progress`): per backup
/// and target namespace, how many leading documents of the backup's data are known to be in,
/// and whether the namespace is complete (data and indexes).
#[derive(Clone)]
pub(super) struct Journal {
    coll: Collection<Document>,
    backup: String,
}

impl Journal {
    pub(super) fn new(client: &Client, backup: String) -> Self {
        Journal {
            coll: client
                .database("mongoctl")
                .collection::<Document>("restore_progress"),
            backup,
        }
    }

    fn key(&self, ns: &str) -> Document {
        doc! {"backup": &self.backup, "ns": ns}
    }

    pub(super) async fn get(&self, ns: &str) -> Result<(u64, bool)> {
        let d = self
            .coll
            .find_one(doc! {"_id": self.key(ns)})
            .await
            .map_err(described)
            .context("reading mongoctl.restore_progress")?;
        Ok(match d {
            None => (0, false),
            Some(d) => (
                d.get_i64("done").unwrap_or(0) as u64,
                d.get_bool("complete").unwrap_or(false),
            ),
        })
    }

    pub(super) async fn set(&self, ns: &str, done: u64, complete: bool) -> Result<()> {
        self.coll
            .update_one(
                doc! {"_id": self.key(ns)},
                doc! {"$set": {"done": done as i64, "complete": complete, "updated_at": bson::DateTime::now()}},
            )
            .upsert(true)
            .await
            .map_err(described)
            .context("recording restore progress")?;
        Ok(())
    }

    pub(super) async fn clear(&self, ns: &str) -> Result<()> {
        self.coll
            .delete_one(doc! {"_id": self.key(ns)})
            .await
            .map_err(described)
            .context("clearing restore progress")?;
        Ok(())
    }
}

/// Identifies a backup across runs: its manifest's digest, else its canonical path.
pub(super) fn backup_id(path: &Path) -> String {
    let m = manifest_path(path);
    match crate::backup::checksum::hash_file(&m) {
        Ok((_, sums)) => sums.blake3.unwrap_or_default(),
        Err(_) => std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
    }
}
