//! Where an import stands, per source, in `<metadataDatabase>.imports`: the key watermark (the
//! last source key whose batch is inserted and whose rejects are written), the run's start
//! (every document's `migratedFrom.migratedAt`, kept across resumes so a repeated batch is
//! byte-identical), counters, and whether the source is done.

use anyhow::{Context, Result};
use bson::{DateTime, Document, doc};
use mongodb::Client;
use mongodb::options::UpdateOptions;

pub const COLLECTION: &str = "imports";

#[derive(Debug, Clone)]
pub struct SourceState {
    pub id: String,
    pub watermark: Option<String>,
    pub started_at: DateTime,
    pub done: bool,
}

pub fn state_id(import: &str, collection: &str, source: &str) -> String {
    format!("{import}/{collection}/{source}")
}

fn coll(client: &Client, meta_db: &str) -> mongodb::Collection<Document> {
    client.database(meta_db).collection(COLLECTION)
}

/// The source's state, created (watermark none, started now) on its first run.
pub async fn open(client: &Client, meta_db: &str, id: &str) -> Result<SourceState> {
    let c = coll(client, meta_db);
    let now = DateTime::now();
    c.update_one(
        doc! {"_id": id},
        doc! {"$setOnInsert": {"startedAt": now, "watermark": null, "done": false, "imported": 0_i64, "alreadyPresent": 0_i64, "rejected": 0_i64}},
    )
    .with_options(UpdateOptions::builder().upsert(true).build())
    .await
    .with_context(|| format!("recording import state {id} in {meta_db}.{COLLECTION}"))?;
    let d = c
        .find_one(doc! {"_id": id})
        .await?
        .with_context(|| format!("import state {id} vanished"))?;
    Ok(SourceState {
        id: id.to_string(),
        watermark: d.get_str("watermark").ok().map(String::from),
        started_at: d.get_datetime("startedAt").copied().unwrap_or(now),
        done: d.get_bool("done").unwrap_or(false),
    })
}

/// Counters a batch adds.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchCounts {
    pub imported: i64,
    pub already_present: i64,
    pub rejected: i64,
}

/// Moves the watermark past a batch (after its documents and rejects are written).
pub async fn advance(
    client: &Client,
    meta_db: &str,
    id: &str,
    watermark: &str,
    counts: BatchCounts,
) -> Result<()> {
    coll(client, meta_db)
        .update_one(
            doc! {"_id": id},
            doc! {
                "$set": {"watermark": watermark, "updatedAt": DateTime::now()},
                "$inc": {"imported": counts.imported, "alreadyPresent": counts.already_present, "rejected": counts.rejected},
            },
        )
        .await
        .with_context(|| format!("recording the watermark of import {id}"))?;
    Ok(())
}

pub async fn finish(client: &Client, meta_db: &str, id: &str) -> Result<()> {
    coll(client, meta_db)
        .update_one(
            doc! {"_id": id},
            doc! {"$set": {"done": true, "finishedAt": DateTime::now()}},
        )
        .await
        .with_context(|| format!("marking import {id} done"))?;
    Ok(())
}

/// Reads a finished source's counters (for the report of a run that found it done).
pub async fn counters(client: &Client, meta_db: &str, id: &str) -> Result<BatchCounts> {
    let d = coll(client, meta_db)
        .find_one(doc! {"_id": id})
        .await?
        .unwrap_or_default();
    let n = |k: &str| {
        d.get_i64(k)
            .or_else(|_| d.get_i32(k).map(i64::from))
            .unwrap_or(0)
    };
    Ok(BatchCounts {
        imported: n("imported"),
        already_present: n("alreadyPresent"),
        rejected: n("rejected"),
    })
}

/// The run's start of a source (its documents' `migratedAt`), read only; `None` before any run.
pub async fn started_at(client: &Client, meta_db: &str, id: &str) -> Result<Option<DateTime>> {
    let d = coll(client, meta_db)
        .find_one(doc! {"_id": id})
        .await
        .with_context(|| format!("reading import state {id}"))?;
    Ok(d.and_then(|d| d.get_datetime("startedAt").ok().copied()))
}
