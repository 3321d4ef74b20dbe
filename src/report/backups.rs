//! The backups part: the backups of a directory (`backup list`), newest first, their ages,
//! their last drills and, with the oplog slices directory, the window each can be restored to.

use std::path::Path;

use chrono::Utc;
use serde::Serialize;

use super::Part;
use crate::backup::drill::report::LastDrill;
use crate::backup::{pitr, retention};

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

#[derive(Debug, Clone, Serialize)]
pub struct BackupsPart {
    pub directory: String,
    /// Newest first; incomplete ones last.
    pub backups: Vec<BackupRow>,
    /// Whether a PITR window was asked for (`--oplog-dir`).
    pub oplog_dir: Option<String>,
}

pub fn backups(dir: Option<&Path>, oplog_dir: Option<&Path>) -> Part<BackupsPart> {
    let Some(dir) = dir else {
        return Part::no_data(
            "no backup directory given: pass --backups DIR (and --oplog-dir DIR for the PITR window)",
        );
    };
    let listing = match retention::list(dir) {
        Ok(l) => l,
        Err(e) => return Part::failed(&e, "read", &dir.display().to_string()),
    };
    let windows = match oplog_dir.map(|o| pitr::replay::windows(dir, o)).transpose() {
        Ok(w) => w.unwrap_or_default(),
        Err(e) => return Part::failed(&e, "read", &dir.display().to_string()),
    };
    if listing.backups.is_empty() {
        return Part::no_data(format!("no backup in {}", dir.display()));
    }
    let now = Utc::now();
    let rows = listing
        .backups
        .into_iter()
        .map(|e| BackupRow {
            finished_at: e.finished_at.map(|t| t.to_rfc3339()),
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
        .collect();
    Part::Ok {
        data: BackupsPart {
            directory: dir.display().to_string(),
            backups: rows,
            oplog_dir: oplog_dir.map(|o| o.display().to_string()),
        },
    }
}
