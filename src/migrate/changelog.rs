//! The changelog: one document per migration in `<metadataDatabase>.migrations`, saying what
//! ran, when, by whom, with which checksum, how many documents each step matched and
//! modified, where it stopped (to resume) and how to undo it (its rollback point).

use anyhow::{Context, Result};
use bson::{Bson, DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::{Client, ClientSession, Collection};
use serde::{Deserialize, Serialize};

use crate::error::described;

pub const COLLECTION: &str = "migrations";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Started and not finished: running now, or killed (then `up` resumes it).
    Applying,
    Applied,
    /// A step failed; `up` resumes from it once the cause is fixed.
    Failed,
    RollingBack,
    RolledBack,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applying => "applying",
            Status::Applied => "applied",
            Status::Failed => "failed",
            Status::RollingBack => "rolling_back",
            Status::RolledBack => "rolled_back",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Failed,
    RolledBack,
}

/// How a step is undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RollbackPoint {
    /// A backup (made with the backup engine) of the namespace before the step ran;
    /// rollback restores it in place of the collection.
    Backup {
        dir: String,
        namespace: String,
        documents: u64,
    },
    /// A rename no matched document could collide with: undone by renaming back.
    InverseRename {
        namespace: String,
        from: String,
        to: String,
    },
    /// A copy: undone by dropping the target.
    DropTarget { namespace: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: u32,
    pub op: String,
    pub summary: String,
    pub status: StepStatus,
    #[serde(default)]
    pub matched: u64,
    #[serde(default)]
    pub modified: u64,
    #[serde(default)]
    pub batches: u64,
    /// The last `_id` of the last batch that committed (batched updates resume after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_after: Option<Bson>,
    /// Standalone only: the last `_id` of the batch being written (no transaction ties the
    /// batch to this record; a resume after a kill knows which batch may be half done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<Bson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackPoint>,
    /// A copy or move: what was verified (counts, digests, cluster time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<Document>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime>,
}

impl StepRecord {
    /// A step not started yet.
    pub fn pending(index: u32, op: &str, summary: String) -> Self {
        StepRecord {
            index,
            op: op.to_string(),
            summary,
            status: StepStatus::Pending,
            matched: 0,
            modified: 0,
            batches: 0,
            resume_after: None,
            in_flight: None,
            rollback: None,
            copy: None,
            error: None,
            started_at: None,
            finished_at: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    #[serde(rename = "_id")]
    pub id: String,
    pub checksum: String,
    pub file: String,
    #[serde(default)]
    pub description: String,
    pub status: Status,
    /// `user@host (pid N)` of the run that last changed this entry.
    pub by: String,
    pub started_at: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime>,
    #[serde(default)]
    pub duration_ms: i64,
    pub steps: Vec<StepRecord>,
    /// Earlier runs of this migration that were rolled back (newest last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Document>,
}

pub fn collection(client: &Client, meta_db: &str) -> Collection<Entry> {
    client.database(meta_db).collection(COLLECTION)
}

pub async fn read_all(client: &Client, meta_db: &str) -> Result<Vec<Entry>> {
    let entries: Vec<Entry> = collection(client, meta_db)
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .map_err(described)?
        .try_collect()
        .await
        .map_err(described)
        .with_context(|| format!("reading the changelog {meta_db}.{COLLECTION}"))?;
    Ok(entries)
}

/// Who runs this process, for the changelog.
pub fn who() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "?".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    format!("{user}@{host} (pid {})", std::process::id())
}

/// Writes `entry` whole (insert or replace).
pub async fn save(client: &Client, meta_db: &str, entry: &Entry) -> Result<()> {
    collection(client, meta_db)
        .replace_one(doc! {"_id": &entry.id}, entry)
        .upsert(true)
        .await
        .map_err(described)
        .with_context(|| format!("recording migration {} in {meta_db}.{COLLECTION}", entry.id))?;
    Ok(())
}

/// Sets fields of step `index` of migration `id` (inside `session`'s transaction if given).
pub async fn update_step(
    client: &Client,
    meta_db: &str,
    id: &str,
    index: u32,
    set: Document,
    inc: Document,
    session: Option<&mut ClientSession>,
) -> Result<()> {
    let mut fields = Document::new();
    for (k, v) in set {
        fields.insert(format!("steps.{index}.{k}"), v);
    }
    let mut update = doc! {"$set": fields};
    if !inc.is_empty() {
        let mut incs = Document::new();
        for (k, v) in inc {
            incs.insert(format!("steps.{index}.{k}"), v);
        }
        update.insert("$inc", incs);
    }
    let coll = collection(client, meta_db);
    let action = coll.update_one(doc! {"_id": id}, update);
    let result = match session {
        Some(s) => action.session(s).await,
        None => action.await,
    };
    result
        .map_err(described)
        .with_context(|| format!("recording progress of migration {id}"))?;
    Ok(())
}
