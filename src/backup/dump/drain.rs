//! Reading a collection: its cursor's raw batches are copied into ~1 MiB chunks (each
//! document copied once, never decoded) for a writer, from a small pool of reused buffers.

use std::sync::Arc;

use anyhow::{Context, Result};
use bson::{Document, RawDocumentBuf};
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::raw_batch_cursor::RawBatchCursor;
use tokio::sync::mpsc;

use crate::backup::events::{Event, Observer};
use crate::relocate::digest::DigestSum;

use super::split::{Range, part_query};

pub(super) const CHUNK: usize = 1 << 20;

/// Chunk buffers handed back by the writers for the drains to fill again: a backup reuses a
/// few dozen buffers instead of allocating (and page-faulting in) a fresh one per MiB.
#[derive(Clone, Default)]
pub struct ChunkPool(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl ChunkPool {
    const KEEP: usize = 4;

    pub(super) fn take(&self) -> Vec<u8> {
        let reused = self.0.lock().ok().and_then(|mut p| p.pop());
        reused.unwrap_or_else(|| Vec::with_capacity(CHUNK + 64 * 1024))
    }

    pub(super) fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        if let Ok(mut p) = self.0.lock()
            && p.len() < Self::KEEP
        {
            p.push(buf);
        }
    }
}

/// Concatenated raw documents of one collection.
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub docs: u64,
}

/// What draining a collection saw: its documents' count and content digest.
pub struct Drained {
    pub docs: u64,
    /// `relocate::digest` over the raw documents as sent (one SHA-256 per document, on the
    /// drain's task: a few percent of a backup's time with SHA-NI).
    pub digest: DigestSum,
}

/// Drains a collection's cursor (the documents of `range`, in `_id` order when it is bounded)
/// as raw BSON into chunks, telling `observe` about each chunk as namespace `index`; returns
/// the document count and content digest.
#[allow(clippy::too_many_arguments)]
pub async fn drain(
    coll: Collection<RawDocumentBuf>,
    filter: Document,
    range: &Range,
    batch_size: u32,
    tx: mpsc::Sender<Chunk>,
    pool: ChunkPool,
    index: usize,
    observe: &Observer,
) -> Result<Drained> {
    let cursor = part_query(&coll, filter, range)
        .batch_size(batch_size)
        .batch()
        .await
        .with_context(|| format!("querying {}", coll.namespace()))?;
    let ns = coll.namespace().to_string();
    let advanced = |docs, bytes| observe(Event::Advanced { index, docs, bytes });
    let mut digest = DigestSum::default();
    let docs = drain_cursor(cursor, &ns, tx, pool, advanced, |d| {
        digest.add(d.as_bytes())
    })
    .await?;
    Ok(Drained { docs, digest })
}

/// Sends a cursor's raw documents as ~1 MiB chunks, showing each document to `each` and each
/// chunk's (documents, bytes) to `advanced`; returns the
/// document count. The driver's raw batches are read in place: each document is copied once,
/// from the server's reply into a chunk, never into an allocation of its own.
pub(super) async fn drain_cursor(
    mut cursor: RawBatchCursor,
    ns: &str,
    tx: mpsc::Sender<Chunk>,
    pool: ChunkPool,
    advanced: impl Fn(u64, u64),
    mut each: impl FnMut(&bson::RawDocument),
) -> Result<u64> {
    let mut buf = pool.take();
    let mut in_buf = 0u64;
    let mut total = 0u64;
    while let Some(batch) = cursor
        .try_next()
        .await
        .with_context(|| format!("reading {ns}"))?
    {
        let docs = batch
            .doc_slices()
            .with_context(|| format!("reading {ns}"))?;
        for doc in docs {
            let doc = doc
                .ok()
                .and_then(|d| d.as_document())
                .with_context(|| format!("reading {ns}: the server sent a malformed batch"))?;
            each(doc);
            buf.extend_from_slice(doc.as_bytes());
            in_buf += 1;
            if buf.len() < CHUNK {
                continue;
            }
            total += in_buf;
            advanced(in_buf, buf.len() as u64);
            let bytes = std::mem::replace(&mut buf, pool.take());
            tx.send(Chunk {
                bytes,
                docs: in_buf,
            })
            .await
            .map_err(|_| anyhow::anyhow!("the writer of {ns} stopped"))?;
            in_buf = 0;
        }
    }
    if in_buf > 0 {
        total += in_buf;
        advanced(in_buf, buf.len() as u64);
        tx.send(Chunk {
            bytes: buf,
            docs: in_buf,
        })
        .await
        .map_err(|_| anyhow::anyhow!("the writer of {ns} stopped"))?;
    }
    Ok(total)
}
