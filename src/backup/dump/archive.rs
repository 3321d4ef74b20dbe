//! The archive layout: every namespace's chunks multiplexed into one mongodump archive stream
//! (a file or standard output) by one writer thread, with its users and roles and its oplog.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use bson::{RawDocumentBuf, Timestamp};
use mongodb::Client;
use mongodb::raw_batch_cursor::RawBatchCursor;
use tokio::sync::{Semaphore, mpsc};

use crate::backup::archive::{ArchiveWriter, CollectionEntry, Header};
use crate::backup::checksum::{Checksums, Crc64};
use crate::backup::direct::Access;
use crate::backup::events::{Event, Observer, Phase};
use crate::backup::manifest::{FileEntry, FileKind};

use super::drain::{Chunk, ChunkPool, Drained, drain, drain_cursor};
use super::files::Sink;
use super::oplog::{oplog_cursor, track_ts};
use super::parts::{drain_parts, ranges_for};
use super::split::Range;
use super::targets::Target;
use super::users_roles::{AUTHZ_COLLECTIONS, authz_cursor, authz_namespace};
use super::{BackupOptions, Counts, filter_for, parts_per_target};

/// An archive with users and roles holds credential hashes: readable by the owner only.
pub(super) fn archive_access(opts: &BackupOptions) -> Access {
    if opts.users_and_roles {
        Access::Private
    } else {
        Access::Shared
    }
}

pub(super) enum ArchMsg {
    Segment(usize, Vec<u8>),
    Eof(usize),
}

/// Chunks sent to the returned sender reach the archive writer as segments of namespace `i`.
pub(super) fn forward(
    tx: mpsc::Sender<ArchMsg>,
    i: usize,
) -> (mpsc::Sender<Chunk>, tokio::task::JoinHandle<()>) {
    let (ctx, mut crx) = mpsc::channel::<Chunk>(2);
    let fwd = tokio::spawn(async move {
        while let Some(c) = crx.recv().await {
            if tx.send(ArchMsg::Segment(i, c.bytes)).await.is_err() {
                break;
            }
        }
    });
    (ctx, fwd)
}

/// Streams a cursor into the archive as namespace `i` and ends it: the document count.
pub(super) async fn cursor_to_archive(
    cursor: RawBatchCursor,
    ns: &str,
    tx: &mpsc::Sender<ArchMsg>,
    i: usize,
    pool: ChunkPool,
    each: impl FnMut(&bson::RawDocument),
) -> Result<u64> {
    let (ctx, fwd) = forward(tx.clone(), i);
    let docs = drain_cursor(cursor, ns, ctx, pool, |_, _| {}, each).await?;
    fwd.await?;
    tx.send(ArchMsg::Eof(i))
        .await
        .map_err(|_| anyhow::anyhow!("the archive writer stopped"))?;
    Ok(docs)
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn dump_archive(
    client: &Client,
    opts: &BackupOptions,
    targets: &[Target],
    server_version: &str,
    out: Box<dyn Write + Send>,
    name: String,
    oplog_start: Option<Timestamp>,
    observe: &Observer,
) -> Result<(FileEntry, Counts)> {
    let header = Header {
        concurrent_collections: opts.jobs.max(1) as i32,
        server_version: server_version.to_string(),
        tool_version: format!("mongoctl {}", env!("CARGO_PKG_VERSION")),
    };
    let mut entries: Vec<CollectionEntry> = targets
        .iter()
        .map(|t| CollectionEntry {
            db: t.db.clone(),
            collection: t.meta.name.clone(),
            metadata: t.meta.to_json(),
            size: t.size,
            kind: t.meta.kind.clone(),
        })
        .collect();
    let mut names: Vec<(String, String)> = targets
        .iter()
        .map(|t| (t.db.clone(), t.meta.name.clone()))
        .collect();
    // mongodump announces `$admin.system.*` of the database after its collections, with
    // empty metadata, and streams them before the collections' data.
    let mut authz = Vec::new();
    if opts.users_and_roles {
        let mut dbs: Vec<&str> = targets.iter().map(|t| t.db.as_str()).collect();
        dbs.dedup();
        for db in dbs {
            for coll in AUTHZ_COLLECTIONS {
                let e = CollectionEntry::authz(db, coll);
                authz.push((db.to_string(), coll, names.len()));
                names.push((e.db.clone(), e.collection.clone()));
                entries.push(e);
            }
        }
    }
    // mongorestore only replays an archive's oplog that the prelude announces.
    if oplog_start.is_some() {
        entries.push(CollectionEntry::oplog());
    }
    let oplog_idx = names.len();
    names.push((String::new(), "oplog".into()));
    let enc = opts.encoding();
    let encrypted = !opts.encrypt.is_empty();
    let (tx, mut rx) = mpsc::channel::<ArchMsg>(8);
    let pool = ChunkPool::default();
    let recycle = pool.clone();
    let writer = std::thread::spawn(move || -> Result<(u64, Checksums)> {
        // Compressed on all cores (ParGzWriter), encrypted as a whole on this thread.
        let sink = Sink::new(out, &enc)?;
        let mut w = ArchiveWriter::new(sink, &header, &entries)?;
        let mut crcs = vec![Crc64::default(); names.len()];
        while let Some(m) = rx.blocking_recv() {
            match m {
                ArchMsg::Segment(i, bytes) => {
                    crcs[i].update(&bytes);
                    w.segment(&names[i].0, &names[i].1, &bytes)?;
                    recycle.give(bytes);
                }
                ArchMsg::Eof(i) => w.eof(&names[i].0, &names[i].1, crcs[i].value())?,
            }
        }
        let (mut inner, n, checksums) = w.into_inner().finish()?;
        inner.flush()?;
        Ok((n, checksums))
    });
    let mut failure = None;
    let mut authz_counts = Vec::new();
    if !authz.is_empty() {
        observe(Event::Phase(Phase::UsersAndRoles));
    }
    for (db, coll, i) in &authz {
        let copied = async {
            let cursor = authz_cursor(client, db, coll).await?;
            cursor_to_archive(
                cursor,
                &format!("admin.{coll}"),
                &tx,
                *i,
                pool.clone(),
                |_| {},
            )
            .await
        };
        match copied.await {
            Ok(n) => authz_counts.push(authz_namespace(db, coll, n)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let sem = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let parts = parts_per_target(targets, opts);
    for (i, t) in targets.iter().enumerate() {
        if failure.is_some() {
            break;
        }
        let tx = tx.clone();
        if t.meta.is_view() {
            continue;
        }
        let coll = client
            .database(&t.db)
            .collection::<RawDocumentBuf>(&t.source);
        let filter = filter_for(t, opts);
        let batch = t.batch_size();
        let ns = t.ns();
        observe(Event::NamespaceStarted {
            index: i,
            namespace: &ns,
            expected_docs: t.estimate,
        });
        let observe = observe.clone();
        let sem = sem.clone();
        let pool = pool.clone();
        let (n, t) = (parts[i], t.clone());
        tasks.spawn(async move {
            let copied = async {
                let (drained, used) = if n > 1 {
                    drain_split(coll, filter, &t, n, batch, &tx, pool, sem, i, &observe).await?
                } else {
                    let _permit = sem.acquire_owned().await?;
                    let (ctx, fwd) = forward(tx.clone(), i);
                    let whole = Range::whole();
                    let drained =
                        drain(coll, filter, &whole, batch, ctx, pool, i, &observe).await?;
                    fwd.await?;
                    (drained, 1)
                };
                // One EOF after every part: mongorestore reads a namespace's blocks in
                // arrival order until its EOF, so the parts' blocks may interleave.
                tx.send(ArchMsg::Eof(i))
                    .await
                    .map_err(|_| anyhow::anyhow!("the archive writer stopped"))?;
                Ok::<_, anyhow::Error>((drained, used))
            }
            .await;
            observe(Event::NamespaceFinished {
                index: i,
                ok: copied.is_ok(),
            });
            Ok::<_, anyhow::Error>((ns, copied?))
        });
    }
    let mut counts = Counts {
        authz: authz_counts,
        ..Counts::default()
    };
    while let Some(r) = tasks.join_next().await {
        match r.map_err(anyhow::Error::from).and_then(|x| x) {
            Ok((ns, (drained, used))) => {
                if used > 1 {
                    counts.parts.insert(ns.clone(), used);
                }
                counts.docs.insert(ns.clone(), drained.docs);
                counts.digests.insert(ns, drained.digest.finish().hash);
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    if failure.is_none()
        && let Some(start) = oplog_start
    {
        observe(Event::Phase(Phase::CopyingOplog));
        let mut end = start;
        let copied = async {
            let cursor = oplog_cursor(client, start).await?;
            cursor_to_archive(
                cursor,
                "local.oplog.rs",
                &tx,
                oplog_idx,
                pool.clone(),
                |e| track_ts(e, &mut end),
            )
            .await
        };
        match copied.await {
            Ok(docs) => counts.oplog = Some((docs, end)),
            Err(e) => failure = Some(e),
        }
    }
    drop(tx);
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("archive writer thread panicked"))?;
    if let Some(e) = failure {
        return Err(e);
    }
    let (bytes, checksums) = written?;
    Ok((
        FileEntry {
            path: name,
            kind: FileKind::Archive,
            namespace: None,
            documents: Some(
                counts.docs.values().sum::<u64>()
                    + counts.authz.iter().map(|a| a.documents).sum::<u64>(),
            ),
            bytes,
            checksums,
            encrypted,
        },
        counts,
    ))
}

/// Drains `t` in up to `parts` `_id` ranges, each part's chunks sent on as blocks of
/// namespace `i` as they come: (drained, parts used). The caller ends the namespace.
#[allow(clippy::too_many_arguments)]
async fn drain_split(
    coll: mongodb::Collection<RawDocumentBuf>,
    filter: bson::Document,
    t: &Target,
    parts: usize,
    batch: u32,
    tx: &mpsc::Sender<ArchMsg>,
    pool: ChunkPool,
    cursors: Arc<Semaphore>,
    i: usize,
    observe: &Observer,
) -> Result<(Drained, usize)> {
    let ranges = ranges_for(&coll, t, parts).await?;
    let used = ranges.len();
    let (senders, forwards): (Vec<_>, Vec<_>) = (0..used).map(|_| forward(tx.clone(), i)).unzip();
    let drained = drain_parts(
        coll,
        filter,
        ranges,
        senders,
        batch,
        pool,
        cursors,
        i,
        observe,
        || {},
    )
    .await;
    for f in forwards {
        f.await?;
    }
    Ok((drained?, used))
}
