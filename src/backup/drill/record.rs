//! Where a drill's result is kept: `drill.json` inside a directory backup (beside an archive:
//! `FILE.drill.json`), read back by `backup list`; and one document per drill in
//! `<metadataDatabase>.backup_drills` of the workspace's cluster.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mongodb::Client;
use serde::{Deserialize, Serialize};

use super::report::{DrillReport, LastDrill};
use crate::backup::manifest::DRILL_FILE;

/// The collection of `<metadataDatabase>` holding one document per drill.
pub const DRILLS_COLLECTION: &str = "backup_drills";

/// `drill.json` inside a directory backup, `FILE.drill.json` beside an archive file.
pub fn drill_path(backup: &Path) -> PathBuf {
    if backup.is_dir() {
        backup.join(DRILL_FILE)
    } else {
        let mut s = backup.as_os_str().to_owned();
        s.push(".drill.json");
        PathBuf::from(s)
    }
}

/// What `drill.json` holds: the summary `backup list` reads, and the whole report.
#[derive(Serialize, Deserialize)]
struct Stored<T> {
    last: LastDrill,
    report: T,
}

/// Writes `drill.json` atomically (temporary file + rename), replacing the previous drill's.
pub fn write(backup: &Path, report: &DrillReport) -> Result<PathBuf> {
    let path = drill_path(backup);
    let tmp = path.with_extension("json.tmp");
    let stored = Stored {
        last: report.last(),
        report,
    };
    let text = serde_json::to_string_pretty(&stored)? + "\n";
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The last drill recorded beside `backup` (`None`: never drilled, or unreadable).
pub fn read_last(backup: &Path) -> Option<LastDrill> {
    let text = std::fs::read_to_string(drill_path(backup)).ok()?;
    let stored: Stored<serde_json::Value> = serde_json::from_str(&text).ok()?;
    Some(stored.last)
}

/// Appends the drill to `<metadata_db>.backup_drills`.
pub async fn record_in_cluster(
    client: &Client,
    metadata_db: &str,
    report: &DrillReport,
) -> Result<()> {
    let mut doc = bson::to_document(report).context("encoding the drill report")?;
    doc.insert("at", bson::DateTime::from_chrono(report.at));
    client
        .database(metadata_db)
        .collection::<bson::Document>(DRILLS_COLLECTION)
        .insert_one(doc)
        .await
        .map_err(crate::error::described)
        .with_context(|| format!("recording the drill in {metadata_db}.{DRILLS_COLLECTION}"))?;
    Ok(())
}
