//! Laying a backup over live data (`--mode upsert|merge`): each batch becomes one unordered
//! `update` command of `_id`-keyed upserts, so a document of the backup replaces (upsert) or
//! is merged into (merge) the live document with its `_id`, and is inserted where there is
//! none. The server's reply tells inserted (upserted) from changed (modified) from unchanged
//! (matched, not modified) documents. Raw BSON throughout: documents are never decoded.

use anyhow::{Result, anyhow};
use bson::{Document, RawArrayBuf, RawBson, RawDocumentBuf, rawdoc};
use mongodb::Database;
use serde::Serialize;

use crate::backup::bsonio::DocBatch;
use crate::backup::bulk::InsertStats;

/// How a restore writes a document whose `_id` may already be in the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// Insert only: a document whose `_id` is there is a duplicate, counted and left alone
    /// (mongorestore's behaviour).
    #[default]
    Insert,
    /// Replace the live document with the backup's (by `_id`), insert the others.
    Upsert,
    /// Set the backup document's top-level fields on the live document (its other fields
    /// stay), insert the others.
    Merge,
}

/// What one batch did, whatever the mode.
#[derive(Debug, Default)]
pub(super) struct WriteStats {
    pub(super) inserted: u64,
    /// Live documents the batch changed: replaced (upsert) or merged into (merge).
    pub(super) changed: u64,
    /// Live documents that already held what the backup holds.
    pub(super) unchanged: u64,
    pub(super) duplicates: u64,
    pub(super) errors: u64,
    pub(super) first_error: Option<String>,
}

impl From<InsertStats> for WriteStats {
    fn from(s: InsertStats) -> Self {
        WriteStats {
            inserted: s.inserted,
            duplicates: s.duplicates,
            errors: s.errors,
            first_error: s.first_error,
            ..Default::default()
        }
    }
}

/// One `update` command stays well under the server's 16 MiB command limit (a batch is
/// ~2 MiB, but a single document can be up to 16 MiB).
const COMMAND_BYTES: usize = 8 << 20;

/// Upserts (`mode` upsert or merge) every document of `batch` into `db.coll` by `_id`,
/// unordered, bypassing document validation as inserts do.
pub(super) async fn overlay_batch(
    db: Database,
    coll: String,
    batch: DocBatch,
    mode: WriteMode,
) -> Result<WriteStats> {
    let mut total = WriteStats::default();
    let mut updates = RawArrayBuf::new();
    let mut bytes = 0;
    for doc in batch.docs() {
        let id = doc
            .get("_id")
            .map_err(|e| anyhow!("a document of the backup: {e}"))?
            .ok_or_else(|| anyhow!("a document of the backup has no _id (cannot {mode:?} it)"))?;
        let mut q = RawDocumentBuf::new();
        q.append("_id", id.to_raw_bson());
        let owned = doc.to_raw_document_buf();
        let u: RawBson = match mode {
            WriteMode::Upsert => RawBson::Document(owned),
            // `$mergeObjects` of the live document and the backup's (a `$literal`: field names
            // with dots or `$` stay names), so fields the backup lacks stay as they are.
            WriteMode::Merge | WriteMode::Insert => {
                let mut merge = RawArrayBuf::new();
                merge.push("$$ROOT");
                merge.push(rawdoc! {"$literal": owned});
                let mut stages = RawArrayBuf::new();
                stages.push(rawdoc! {"$replaceWith": {"$mergeObjects": merge}});
                RawBson::Array(stages)
            }
        };
        let mut one = RawDocumentBuf::new();
        one.append("q", q);
        one.append("u", u);
        one.append("upsert", true);
        bytes += one.as_bytes().len();
        updates.push(one);
        if bytes >= COMMAND_BYTES {
            add(
                &mut total,
                send(&db, &coll, std::mem::take(&mut updates)).await?,
            );
            bytes = 0;
        }
    }
    if bytes > 0 {
        add(&mut total, send(&db, &coll, updates).await?);
    }
    Ok(total)
}

fn add(total: &mut WriteStats, s: WriteStats) {
    total.inserted += s.inserted;
    total.changed += s.changed;
    total.unchanged += s.unchanged;
    total.duplicates += s.duplicates;
    total.errors += s.errors;
    if total.first_error.is_none() {
        total.first_error = s.first_error;
    }
}

/// Runs one unordered `update` command and reads its reply.
async fn send(db: &Database, coll: &str, updates: RawArrayBuf) -> Result<WriteStats> {
    let mut cmd = RawDocumentBuf::new();
    cmd.append("update", coll);
    cmd.append("updates", updates);
    cmd.append("ordered", false);
    cmd.append("bypassDocumentValidation", true);
    let reply = db
        .run_raw_command(cmd)
        .await
        .map_err(|e| anyhow!(crate::error::describe_driver_error(&e)))?;
    reply_stats(&reply)
}

/// Counts from an `update` reply: `n` matched or upserted, `upserted` the inserted ones,
/// `nModified` the matched ones that changed, `writeErrors` the rest.
fn reply_stats(reply: &Document) -> Result<WriteStats> {
    if let Ok(wce) = reply.get_document("writeConcernError") {
        return Err(anyhow!(
            "write concern error: {}",
            wce.get_str("errmsg").unwrap_or_default()
        ));
    }
    let int = |k: &str| -> u64 {
        match reply.get(k) {
            Some(bson::Bson::Int32(n)) => *n as u64,
            Some(bson::Bson::Int64(n)) => *n as u64,
            _ => 0,
        }
    };
    let upserted = reply.get_array("upserted").map(|a| a.len()).unwrap_or(0) as u64;
    let matched = int("n").saturating_sub(upserted);
    let modified = int("nModified");
    let mut s = WriteStats {
        inserted: upserted,
        changed: modified,
        unchanged: matched.saturating_sub(modified),
        ..Default::default()
    };
    for w in reply.get_array("writeErrors").into_iter().flatten() {
        let Some(w) = w.as_document() else { continue };
        let code = w.get_i32("code").unwrap_or_default();
        if code == 11000 {
            s.duplicates += 1;
        } else {
            s.errors += 1;
            s.first_error.get_or_insert_with(|| {
                format!(
                    "write error {code}: {}",
                    w.get_str("errmsg").unwrap_or_default()
                )
            });
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn an_update_reply_tells_inserted_changed_unchanged_and_errors_apart() {
        let s = reply_stats(&doc! {
            "ok": 1, "n": 5, "nModified": 2,
            "upserted": [{"index": 0, "_id": 1}],
            "writeErrors": [
                {"index": 3, "code": 11000, "errmsg": "dup"},
                {"index": 4, "code": 121, "errmsg": "invalid"},
            ],
        })
        .unwrap();
        assert_eq!(
            (s.inserted, s.changed, s.unchanged, s.duplicates, s.errors),
            (1, 2, 2, 1, 1)
        );
        assert_eq!(s.first_error.as_deref(), Some("write error 121: invalid"));
        assert!(reply_stats(&doc! {"n": 1, "writeConcernError": {"errmsg": "w"}}).is_err());
    }
}
