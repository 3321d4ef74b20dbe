//! `--oplog`: where a point-in-time backup starts (the newest oplog entry) and the cursor over
//! the entries written while the backup ran.

use anyhow::{Context, Result, bail};
use bson::{Document, RawDocumentBuf, Timestamp, doc};
use mongodb::Client;
use mongodb::raw_batch_cursor::RawBatchCursor;

/// The newest oplog entry's timestamp (where a point-in-time backup starts).
pub async fn last_oplog_ts(client: &Client) -> Result<Timestamp> {
    let oplog = client.database("local").collection::<Document>("oplog.rs");
    let last = oplog
        .find_one(doc! {})
        .sort(doc! {"$natural": -1})
        .await
        .context("reading local.oplog.rs")?;
    match last.and_then(|d| d.get_timestamp("ts").ok()) {
        Some(ts) => Ok(ts),
        None => bail!("--oplog needs a replica set member (local.oplog.rs is empty or missing)"),
    }
}

/// Where a backup's oplog begins: a no-op entry written for the purpose
/// (`appendOplogNote`), so that the first entry copied (the copy starts there, inclusive) is
/// one every replayer applies harmlessly — not, say, an `admin.system.keys` insert that
/// mongorestore cannot apply on another server. Without the privilege for the note, the
/// newest entry as it is.
pub async fn oplog_start(client: &Client) -> Result<Timestamp> {
    let _ = client
        .database("admin")
        .run_command(doc! {"appendOplogNote": 1, "data": {"mongoctl": "backup start"}})
        .await;
    last_oplog_ts(client).await
}

/// The oplog entries from `start` (the newest entry when the backup began, already in the
/// data; replaying it again is harmless) up to the newest one now, oldest first. Starting
/// at `start` inclusive, as mongodump does, means the copy is never empty: mongorestore
/// 100.3.1 fails on an archive whose announced oplog holds no entry. The upper bound
/// (mongodump's too) keeps the copy finite while writes arrive faster than it reads.
pub(super) async fn oplog_cursor(client: &Client, start: Timestamp) -> Result<RawBatchCursor> {
    let end = last_oplog_ts(client).await?;
    client
        .database("local")
        .collection::<RawDocumentBuf>("oplog.rs")
        .find(doc! {"ts": {"$gte": start, "$lte": end}})
        .sort(doc! {"$natural": 1})
        .batch()
        .await
        .context("reading local.oplog.rs")
}

/// Records an oplog entry's `ts` as the last one seen.
pub(super) fn track_ts(entry: &bson::RawDocument, last: &mut Timestamp) {
    if let Ok(ts) = entry.get_timestamp("ts") {
        *last = ts;
    }
}
