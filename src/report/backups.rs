//! The backups part: the backups of a directory (`backup list`), newest first, their ages,
//! their last drills and, with the oplog slices directory, the window each can be restored to;
//! and the drills recorded in the cluster (`<metadataDatabase>.backup_drills`), which a run
//! without the directory (CI) still shows.

use std::path::Path;

use bson::{Document, doc};
use chrono::Utc;
use futures::TryStreamExt;
use mongodb::Client;
use serde::Serialize;

use super::Part;
use crate::backup::drill::record::DRILLS_COLLECTION;
use crate::backup::drill::report::LastDrill;
use crate::backup::{pitr, retention};
use crate::model::as_f64;

#[derive(Debug, Clone, Serialize)]
pub struct BackupRow {
    pub name: String,
    pub complete: bool,
    pub finished_at: Option<String>,
    /// Hours from its end to the report.
    pub age_hours: Option<f64>,
    pub layout: String,
    pub gzip: bool,
    pub oplog: bool,
    pub namespaces: usize,
    pub documents: u64,
    pub bytes: u64,
    pub last_drill: Option<LastDrill>,
    /// Restorable from … to (UTC), with the oplog slices (`--oplog-dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pitr_window: Option<(String, String)>,
}

/// One drill as `backup drill` recorded it in the cluster.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordedDrill {
    pub backup: String,
    pub at: String,
    pub passed: bool,
    pub restore_secs: Option<f64>,
    /// Seconds between the backup's consistent point and the drill.
    pub rpo_secs: Option<f64>,
    pub findings: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupsPart {
    /// `--backups DIR`, when given.
    pub directory: Option<String>,
    /// Newest first; incomplete ones last.
    pub backups: Vec<BackupRow>,
    /// Whether a PITR window was asked for (`--oplog-dir`).
    pub oplog_dir: Option<String>,
    /// The newest drills recorded in `<metadataDatabase>.backup_drills`, newest first.
    pub recorded_drills: Vec<RecordedDrill>,
    /// Why the recorded drills could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_drills_unavailable: Option<String>,
}

/// The drills kept in the cluster.
const RECORDED_DRILLS: i64 = 10;

pub async fn backups(
    client: &Client,
    metadata_db: &str,
    dir: Option<&Path>,
    oplog_dir: Option<&Path>,
) -> Part<BackupsPart> {
    let (recorded_drills, recorded_drills_unavailable) =
        match recorded_drills(client, metadata_db).await {
            Ok(d) => (d, None),
            Err(e) => (
                Vec::new(),
                Some(
                    crate::stats::Unavailable::new(
                        &e,
                        "find",
                        &format!("{metadata_db}.{DRILLS_COLLECTION}"),
                    )
                    .short(),
                ),
            ),
        };
    let backups = match dir {
        Some(dir) => match listed(dir, oplog_dir) {
            Ok(rows) => rows,
            Err(e) => return Part::failed(&e, "read", &dir.display().to_string()),
        },
        None => Vec::new(),
    };
    if backups.is_empty() && recorded_drills.is_empty() {
        return Part::no_data(match dir {
            Some(d) => format!("no backup in {} and no drill recorded in the cluster", d.display()),
            None => "no backup directory given (--backups DIR, and --oplog-dir DIR for the PITR window) and no drill recorded in the cluster".to_string(),
        });
    }
    Part::Ok {
        data: BackupsPart {
            directory: dir.map(|d| d.display().to_string()),
            backups,
            oplog_dir: oplog_dir.map(|o| o.display().to_string()),
            recorded_drills,
            recorded_drills_unavailable,
        },
    }
}

async fn recorded_drills(
    client: &Client,
    metadata_db: &str,
) -> mongodb::error::Result<Vec<RecordedDrill>> {
    let docs: Vec<Document> = client
        .database(metadata_db)
        .collection::<Document>(DRILLS_COLLECTION)
        .find(doc! {})
        .sort(doc! {"at": -1})
        .limit(RECORDED_DRILLS)
        .projection(doc! {"backup": 1, "at": 1, "passed": 1, "rto.restore_secs": 1, "rpo.age_secs": 1, "findings": 1})
        .await?
        .try_collect()
        .await?;
    let num = |d: &Document, a: &str, b: &str| {
        d.get_document(a)
            .ok()
            .and_then(|x| x.get(b))
            .and_then(as_f64)
    };
    Ok(docs
        .iter()
        .map(|d| RecordedDrill {
            backup: d.get_str("backup").unwrap_or_default().to_string(),
            at: d
                .get_datetime("at")
                .map(|t| t.to_chrono().format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default(),
            passed: d.get_bool("passed").unwrap_or(false),
            restore_secs: num(d, "rto", "restore_secs"),
            rpo_secs: num(d, "rpo", "age_secs"),
            findings: d.get_array("findings").map(|f| f.len()).unwrap_or(0),
        })
        .collect())
}

/// The backups of `dir`, with their PITR windows when `oplog_dir` is given.
fn listed(dir: &Path, oplog_dir: Option<&Path>) -> anyhow::Result<Vec<BackupRow>> {
    let listing = retention::list(dir)?;
    let windows = oplog_dir
        .map(|o| pitr::replay::windows(dir, o))
        .transpose()?
        .unwrap_or_default();
    let now = Utc::now();
    Ok(listing
        .backups
        .into_iter()
        .map(|e| BackupRow {
            finished_at: e
                .finished_at
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            age_hours: e
                .finished_at
                .map(|t| (now - t).num_seconds().max(0) as f64 / 3600.0),
            pitr_window: windows
                .iter()
                .find(|(n, _)| *n == e.name)
                .map(|(_, w)| (w.from.utc(), w.to.utc())),
            name: e.name,
            complete: e.complete,
            layout: e.layout,
            gzip: e.gzip,
            oplog: e.oplog,
            namespaces: e.namespaces,
            documents: e.documents,
            bytes: e.bytes,
            last_drill: e.last_drill,
        })
        .collect())
}
