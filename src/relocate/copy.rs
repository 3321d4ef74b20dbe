//! The data copy: the source's cursor read as raw batches into ~16 MiB insert batches, each
//! inserted unordered (validation bypassed) by up to `workers` concurrent inserts, while the
//! cursor keeps reading. Progress is told per batch.

use anyhow::{Context, Result, anyhow, bail};
use bson::doc;
use futures::TryStreamExt;
use mongodb::Client;
use tokio::task::JoinSet;

use super::Namespace;
use crate::backup::bsonio::DocBatch;
use crate::backup::bulk::{InsertStats, insert_batch};
use crate::backup::events::{Event, Observer};

const BATCH_BYTES: usize = 16 << 20;
const BATCH_DOCS: usize = 100_000;

/// Documents read and inserted.
#[derive(Debug, Default)]
pub struct Copied {
    pub documents: u64,
    /// Key collisions in the new target: the source cursor returned a document twice, which
    /// only a write during the copy explains (the verification then tells).
    pub duplicates: u64,
}

/// Copies every document of `source` into `target` (new and empty).
pub async fn copy_documents(
    client: &Client,
    source: &Namespace,
    target: &Namespace,
    workers: usize,
    observe: &Observer,
) -> Result<Copied> {
    let mut cursor = source
        .raw(client)
        .find(doc! {})
        .batch()
        .await
        .with_context(|| format!("reading {source}"))?;
    let coll = target.raw(client);
    let mut set: JoinSet<Result<(u64, InsertStats)>> = JoinSet::new();
    let mut copied = Copied::default();
    let mut settle = |joined: Result<Result<(u64, InsertStats)>, tokio::task::JoinError>| {
        let (bytes, s) = joined.map_err(|e| anyhow!("an insert task failed: {e}"))??;
        observe(Event::Advanced {
            index: 0,
            docs: s.inserted + s.duplicates,
            bytes,
        });
        if let Some(e) = s.first_error {
            bail!("{} document(s) rejected by {target}, first: {e}", s.errors);
        }
        copied.documents += s.inserted;
        copied.duplicates += s.duplicates;
        Ok(())
    };
    let new_batch = || DocBatch::with_capacity(1024, BATCH_BYTES + (1 << 20));
    let mut batch = new_batch();
    let mut send = async |batch: DocBatch, set: &mut JoinSet<_>| -> Result<()> {
        while set.len() >= workers.max(1) {
            if let Some(j) = set.join_next().await {
                settle(j)?;
            }
        }
        let c = coll.clone();
        set.spawn(async move {
            let bytes = batch.byte_len() as u64;
            insert_batch(c, batch).await.map(|s| (bytes, s))
        });
        Ok(())
    };
    let read = async {
        while let Some(raw) = cursor
            .try_next()
            .await
            .with_context(|| format!("reading {source}"))?
        {
            for d in raw.doc_slices()? {
                let d = d
                    .ok()
                    .and_then(|d| d.as_document())
                    .with_context(|| format!("reading {source}: malformed batch"))?;
                batch
                    .push(d.as_bytes())
                    .map_err(|e| anyhow!("{source}: {e}"))?;
                if batch.len() >= BATCH_DOCS || batch.byte_len() >= BATCH_BYTES {
                    send(std::mem::replace(&mut batch, new_batch()), &mut set).await?;
                }
            }
        }
        if !batch.is_empty() {
            send(std::mem::take(&mut batch), &mut set).await?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    // Inserts in flight finish (and count) even when reading failed.
    let mut failed = read.err();
    while let Some(j) = set.join_next().await {
        if let Err(e) = settle(j) {
            failed.get_or_insert(e);
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(copied),
    }
}
